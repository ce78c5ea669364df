"""Learning curves and comparisons with matplotlib.

Every function returns the matplotlib ``Figure`` it drew (so notebooks show it
and tests can inspect it) and never calls ``plt.show()`` itself.
"""

from __future__ import annotations

import numpy as np


def _plt():
    import matplotlib.pyplot as plt

    return plt


def smooth(values, window=20):
    """Moving average of ``values`` (1-D) with a window of ``window`` samples.

    Returns a float64 array of length ``len(values) - window + 1`` (or the
    values themselves when there are fewer than ``window``).
    """
    v = np.asarray(values, dtype=np.float64)
    if window <= 1 or len(v) < window:
        return v
    kernel = np.ones(window) / window
    return np.convolve(v, kernel, mode="valid")


def plot_history(loss_history=None, train_acc=None, val_acc=None, title=None, smooth_window=20):
    """Plot a loss curve (per iteration) and accuracy curves (per epoch) side by side.

    Accepts lists of floats; pass a ``Solver`` via :func:`plot_solver`.
    """
    plt = _plt()
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(11, 4))
    if loss_history is not None and len(loss_history):
        ax_loss.plot(loss_history, ".", alpha=0.25, label="minibatch")
        s = smooth(loss_history, smooth_window)
        if len(s) != len(loss_history):
            ax_loss.plot(np.arange(len(s)) + smooth_window - 1, s, label=f"mean of {smooth_window}")
        ax_loss.legend()
    ax_loss.set_xlabel("iteration")
    ax_loss.set_ylabel("loss")
    ax_loss.set_title("training loss")
    if train_acc is not None:
        ax_acc.plot(train_acc, "-o", label="train")
    if val_acc is not None:
        ax_acc.plot(val_acc, "-o", label="validation")
    ax_acc.set_xlabel("epoch")
    ax_acc.set_ylabel("accuracy")
    ax_acc.set_title("accuracy")
    if train_acc is not None or val_acc is not None:
        ax_acc.legend()
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_solver(solver, title=None):
    """:func:`plot_history` for a trained :class:`nnkit.solver.Solver`."""
    return plot_history(solver.loss_history, solver.train_acc_history, solver.val_acc_history, title=title)


def compare_histories(histories, key="loss_history", smooth_window=20, title=None, ylabel=None):
    """Overlay one curve per run: ``histories`` maps a label to a Solver or a list of floats.

    ``key`` picks the attribute of a Solver (``loss_history``,
    ``train_acc_history``, ``val_acc_history``).
    """
    plt = _plt()
    fig, ax = plt.subplots(figsize=(7, 4))
    for label, h in histories.items():
        values = getattr(h, key) if hasattr(h, key) else h
        values = np.asarray(values, dtype=np.float64)
        if key == "loss_history":
            values = smooth(values, smooth_window)
        ax.plot(values, label=label)
    ax.set_xlabel("iteration" if key == "loss_history" else "epoch")
    ax.set_ylabel(ylabel or key.replace("_history", "").replace("_", " "))
    ax.legend()
    if title:
        ax.set_title(title)
    fig.tight_layout()
    return fig


def plot_decision_boundary(predict, X, y, resolution=200, title=None):
    """Colour the plane by ``predict(points) -> labels`` and scatter ``X`` (2-D) by ``y``."""
    plt = _plt()
    X = np.asarray(X)
    pad = 0.5
    x0 = np.linspace(X[:, 0].min() - pad, X[:, 0].max() + pad, resolution)
    x1 = np.linspace(X[:, 1].min() - pad, X[:, 1].max() + pad, resolution)
    g0, g1 = np.meshgrid(x0, x1)
    Z = np.asarray(predict(np.c_[g0.ravel(), g1.ravel()])).reshape(g0.shape)
    fig, ax = plt.subplots(figsize=(5, 5))
    ax.contourf(g0, g1, Z, alpha=0.3, cmap="coolwarm")
    ax.scatter(X[:, 0], X[:, 1], c=y, s=12, cmap="coolwarm", edgecolors="k", linewidths=0.3)
    if title:
        ax.set_title(title)
    fig.tight_layout()
    return fig
