"""A CS231n-style training loop for numpy models.

A *model* has a dict ``model.params`` of numpy arrays and a method
``model.loss(X, y=None)``: with ``y=None`` it returns class scores of shape
``(N, C)``; with labels it returns ``(loss, grads)`` where ``grads`` has the
keys of ``params``. An *update rule* is ``rule(w, dw, config) -> (next_w,
config)``; each parameter gets its own copy of ``optim_config``, so state such
as momentum velocities is kept per parameter.
"""

from __future__ import annotations

import copy
import sys

import numpy as np

from nnkit.progress import progress_bar

__all__ = ["Solver"]


class Solver:
    """Train a numpy classification model with minibatch gradient descent.

    Parameters
    ----------
    model : object with ``params`` (dict of ndarrays) and ``loss(X, y=None)``.
    data : dict with ``X_train``, ``y_train``, ``X_val``, ``y_val``. ``X`` may
        be a numpy array or a scipy sparse matrix (rows are samples).
    update_rule : callable ``(w, dw, config) -> (next_w, config)``, or the
        name of one, looked up in ``update_rules`` (a dict or module) or, when
        that is None, in the notebook's namespace (``__main__``).
    optim_config : dict of hyperparameters for the update rule
        (``learning_rate`` at least); copied for each parameter.
    lr_decay : multiply ``learning_rate`` by this after every epoch.
    lr_schedule : optional callable ``epoch -> learning rate`` (``epoch`` counts
        from 0, fractional within an epoch); overrides ``lr_decay``.
    batch_size, num_epochs : minibatch size and number of passes.
    num_train_samples, num_val_samples : how many samples to use when
        measuring accuracy each epoch (None: all of them).
    seed : seed of the minibatch order (None: not reproducible).
    progress : show a tqdm bar over iterations.
    verbose, print_every : print the loss every ``print_every`` iterations.

    After :meth:`train`: ``loss_history`` (one float per iteration),
    ``train_acc_history`` / ``val_acc_history`` (one per epoch, plus the start),
    ``lr_history``, ``best_val_acc`` and ``best_params``, which are also copied
    into ``model.params`` at the end.
    """

    def __init__(self, model, data, update_rule="sgd", optim_config=None, lr_decay=1.0,
                 lr_schedule=None, batch_size=100, num_epochs=10, num_train_samples=1000,
                 num_val_samples=None, seed=0, progress=True, verbose=False, print_every=100,
                 update_rules=None):
        missing = [k for k in ("X_train", "y_train", "X_val", "y_val") if k not in data]
        if missing:
            raise KeyError(f"data is missing {missing}; expected X_train, y_train, X_val, y_val")
        if not hasattr(model, "params") or not hasattr(model, "loss"):
            raise TypeError("model needs a dict `params` and a method `loss(X, y=None)`")
        self.model = model
        self.X_train, self.y_train = data["X_train"], np.asarray(data["y_train"])
        self.X_val, self.y_val = data["X_val"], np.asarray(data["y_val"])
        self.update_rule = self._resolve_rule(update_rule, update_rules)
        self.optim_config = dict(optim_config or {})
        self.lr_decay = lr_decay
        self.lr_schedule = lr_schedule
        self.batch_size = int(batch_size)
        self.num_epochs = num_epochs
        self.num_train_samples = num_train_samples
        self.num_val_samples = num_val_samples
        self.progress = progress
        self.verbose = verbose
        self.print_every = print_every
        self._rng = np.random.default_rng(seed)
        self._reset()

    @staticmethod
    def _resolve_rule(rule, update_rules):
        if callable(rule):
            return rule
        if not isinstance(rule, str):
            raise TypeError(f"update_rule must be a callable or a name, got {type(rule).__name__}")
        if update_rules is None:
            space = vars(sys.modules["__main__"])
        elif isinstance(update_rules, dict):
            space = update_rules
        else:
            space = vars(update_rules)
        fn = space.get(rule)
        if not callable(fn):
            raise ValueError(
                f"update rule {rule!r} not found: define `{rule}(w, dw, config)` first, "
                "or pass the function itself as update_rule="
            )
        return fn

    def _reset(self):
        self.epoch = 0
        self.best_val_acc = 0.0
        self.best_params = {}
        self.loss_history = []
        self.train_acc_history = []
        self.val_acc_history = []
        self.lr_history = []
        self.optim_configs = {p: dict(self.optim_config) for p in self.model.params}

    def _step(self, t, iterations_per_epoch):
        n = self.X_train.shape[0]
        idx = self._rng.choice(n, self.batch_size, replace=n < self.batch_size)
        X_batch, y_batch = self.X_train[idx], self.y_train[idx]
        loss, grads = self.model.loss(X_batch, y_batch)
        loss = float(loss)
        if not np.isfinite(loss):
            raise FloatingPointError(
                f"loss became {loss} at iteration {t}: lower the learning rate or check the loss"
            )
        self.loss_history.append(loss)
        if self.lr_schedule is not None:
            lr = float(self.lr_schedule(t / iterations_per_epoch))
            for cfg in self.optim_configs.values():
                cfg["learning_rate"] = lr
        for name, w in self.model.params.items():
            if name not in grads:
                raise KeyError(f"model.loss returned no gradient for parameter {name!r}")
            next_w, next_config = self.update_rule(w, grads[name], self.optim_configs[name])
            if isinstance(next_w, np.ndarray) and isinstance(w, np.ndarray) and next_w.dtype != w.dtype:
                next_w = next_w.astype(w.dtype)  # keep a float32 model float32
            self.model.params[name] = next_w
            self.optim_configs[name] = next_config
        first = next(iter(self.optim_configs.values()), {})
        self.lr_history.append(first.get("learning_rate"))
        return loss

    def check_accuracy(self, X, y, num_samples=None, batch_size=100):
        """Fraction of ``X``'s rows whose argmax score equals ``y`` (a float).

        With ``num_samples`` a random subset of that size is used.
        """
        y = np.asarray(y)
        N = X.shape[0]
        if num_samples is not None and N > num_samples:
            idx = self._rng.choice(N, num_samples, replace=False)
            X, y, N = X[idx], y[idx], num_samples
        preds = []
        for start in range(0, N, batch_size):
            scores = self.model.loss(X[start : start + batch_size])
            preds.append(np.argmax(scores, axis=1))
        return float(np.mean(np.concatenate(preds) == y)) if preds else 0.0

    def _record_accuracy(self):
        train_acc = self.check_accuracy(self.X_train, self.y_train, num_samples=self.num_train_samples)
        val_acc = self.check_accuracy(self.X_val, self.y_val, num_samples=self.num_val_samples)
        self.train_acc_history.append(train_acc)
        self.val_acc_history.append(val_acc)
        if val_acc > self.best_val_acc or not self.best_params:
            self.best_val_acc = val_acc
            self.best_params = {k: v.copy() for k, v in self.model.params.items()}
        return train_acc, val_acc

    def train(self):
        """Run ``num_epochs`` epochs; returns ``self`` (histories filled in)."""
        n = self.X_train.shape[0]
        per_epoch = max(n // self.batch_size, 1)
        total = int(self.num_epochs * per_epoch)
        self._record_accuracy()
        bar = progress_bar(total=total, desc="training", disable=not self.progress)
        try:
            for t in range(total):
                loss = self._step(t, per_epoch)
                bar.update(1)
                if self.verbose and t % self.print_every == 0:
                    print(f"(Iteration {t + 1} / {total}) loss: {loss:f}")
                if (t + 1) % per_epoch == 0:
                    self.epoch += 1
                    if self.lr_schedule is None:
                        for cfg in self.optim_configs.values():
                            if "learning_rate" in cfg:
                                cfg["learning_rate"] *= self.lr_decay
                    train_acc, val_acc = self._record_accuracy()
                    bar.set_postfix(loss=f"{loss:.3f}", train=f"{train_acc:.3f}", val=f"{val_acc:.3f}")
                    if self.verbose:
                        print(f"(Epoch {self.epoch} / {self.num_epochs}) train acc: {train_acc:f}; val_acc: {val_acc:f}")
        finally:
            bar.close()
        self.model.params = copy.deepcopy(self.best_params)
        return self
