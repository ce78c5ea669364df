"""Numeric gradient checking (CS231n conventions).

All functions use centred differences ``(f(x+h) - f(x-h)) / 2h`` and restore
the input array exactly (bit for bit) after probing it, so they can be used on
a model's live parameters.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "rel_error",
    "eval_numerical_gradient",
    "eval_numerical_gradient_array",
    "grad_check_sparse",
]


def rel_error(x, y):
    """Maximum relative error ``max(|x - y| / max(1e-8, |x| + |y|))``.

    ``x`` and ``y`` are array-likes of broadcastable shapes (scalars are fine).
    Returns a Python float; 0.0 for two empty arrays.
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if x.size == 0 and y.size == 0:
        return 0.0
    err = np.abs(x - y) / np.maximum(1e-8, np.abs(x) + np.abs(y))
    return float(np.max(err))


def eval_numerical_gradient(f, x, verbose=False, h=1e-5):
    """Numeric gradient of a scalar function ``f`` at ``x``.

    ``f`` takes one argument (an ndarray like ``x``) and returns a scalar.
    ``x`` is a float ndarray probed in place and restored exactly.
    Returns an array of ``x``'s shape and dtype holding ``df/dx``.
    With ``verbose=True`` prints each index and its partial derivative.
    """
    x = _check_float_array(x)
    grad = np.zeros_like(x)
    it = np.nditer(x, flags=["multi_index"], op_flags=["readwrite"])
    while not it.finished:
        ix = it.multi_index
        old = x[ix]
        fxph = float(_probe(f, x, ix, old + h))
        fxmh = float(_probe(f, x, ix, old - h))
        x[ix] = old
        grad[ix] = (fxph - fxmh) / (2 * h)
        if verbose:
            print(ix, grad[ix])
        it.iternext()
    _push(x)
    return grad


def eval_numerical_gradient_array(f, x, df, h=1e-5):
    """Numeric gradient of ``sum(f(x) * df)`` with respect to ``x``.

    ``f`` maps an ndarray like ``x`` to an ndarray of ``df``'s shape (the
    upstream gradient). This is what a layer's ``backward`` should return
    for ``x``. ``x`` is probed in place and restored exactly.
    Returns an array of ``x``'s shape and dtype.
    """
    x = _check_float_array(x)
    df = np.asarray(df)
    grad = np.zeros_like(x)
    it = np.nditer(x, flags=["multi_index"], op_flags=["readwrite"])
    while not it.finished:
        ix = it.multi_index
        old = x[ix]
        pos = np.array(_probe(f, x, ix, old + h), dtype=np.float64, copy=True)
        neg = np.array(_probe(f, x, ix, old - h), dtype=np.float64, copy=True)
        x[ix] = old
        if pos.shape != df.shape:
            raise ValueError(
                f"f(x) has shape {pos.shape} but df has shape {df.shape}: "
                "pass the upstream gradient with the shape of f's output"
            )
        grad[ix] = np.sum((pos - neg) * df) / (2 * h)
        it.iternext()
    _push(x)
    return grad


def grad_check_sparse(f, x, analytic_grad, num_checks=10, h=1e-5, seed=None, verbose=True):
    """Compare ``analytic_grad`` with centred differences at random entries.

    ``f`` maps ``x`` to a scalar; ``analytic_grad`` has ``x``'s shape.
    Checks ``num_checks`` random indices (drawn with ``seed``), restores ``x``
    exactly, prints one line per check when ``verbose`` and returns the list
    of relative errors (floats), one per check.
    """
    x = _check_float_array(x)
    analytic_grad = np.asarray(analytic_grad)
    if analytic_grad.shape != x.shape:
        raise ValueError(f"analytic_grad has shape {analytic_grad.shape}, x has {x.shape}")
    rng = np.random.default_rng(seed)
    errors = []
    for _ in range(num_checks):
        ix = tuple(int(rng.integers(m)) for m in x.shape)
        old = x[ix]
        fxph = float(_probe(f, x, ix, old + h))
        fxmh = float(_probe(f, x, ix, old - h))
        x[ix] = old
        grad_numerical = (fxph - fxmh) / (2 * h)
        grad_analytic = float(analytic_grad[ix])
        err = rel_error(grad_numerical, grad_analytic)
        errors.append(err)
        if verbose:
            print(f"numerical: {grad_numerical:f} analytic: {grad_analytic:f}, relative error: {err:e}")
    _push(x)
    return errors


def _probe(f, x, ix, value):
    """``f(x)`` with ``x[ix]`` set to ``value``."""
    x[ix] = value
    _push(x)
    return f(x)


def _push(x):
    """Send ``x``'s content to where it mirrors (an array the grader copied from a student's model
    carries ``_nnkit_push``, so probing it probes the model); a plain array does nothing."""
    push = getattr(x, "_nnkit_push", None)
    if push is not None:
        push()


def _check_float_array(x):
    if not isinstance(x, np.ndarray):
        raise TypeError(f"x must be a numpy array probed in place, got {type(x).__name__}")
    if not np.issubdtype(x.dtype, np.floating):
        raise TypeError(f"x must have a floating dtype, got {x.dtype}: use x.astype(np.float64)")
    return x
