"""Assertions for test cells (visible and hidden) in the course notebooks.

Each check raises ``AssertionError`` with a message a student can act on
(what was compared, the error found, the bound) and prints nothing on
success, so a correct answer never writes to stderr (nbgrader scores a test
cell that does 0).

The numpy functions these checks rely on are captured when this module is
first imported, so a notebook that later rebinds ``numpy.allclose`` or
friends does not change what the checks compute.
"""

from __future__ import annotations

import numpy as _np

_asarray = _np.asarray
_abs = _np.abs
_max = _np.max
_maximum = _np.maximum
_isfinite = _np.isfinite
_all = _np.all
_float64 = _np.float64

__all__ = ["rel_error", "assert_rel_error", "assert_allclose", "assert_shape", "assert_finite"]


def rel_error(x, y):
    """``max(|x - y| / max(1e-8, |x| + |y|))`` as a float (pristine copy of nnkit.gradcheck.rel_error)."""
    x = _asarray(x, dtype=_float64)
    y = _asarray(y, dtype=_float64)
    if x.shape != y.shape and x.size != 1 and y.size != 1:
        raise AssertionError(f"shapes differ: {x.shape} vs {y.shape}")
    if x.size == 0 and y.size == 0:
        return 0.0
    return float(_max(_abs(x - y) / _maximum(1e-8, _abs(x) + _abs(y))))


def assert_shape(x, shape, what="output"):
    """Fail unless ``x`` has exactly ``shape``."""
    actual = tuple(getattr(x, "shape", ()))
    if actual != tuple(shape):
        raise AssertionError(f"{what} has shape {actual}, expected {tuple(shape)}")


def assert_finite(x, what="output"):
    """Fail when ``x`` holds NaN or inf."""
    if not bool(_all(_isfinite(_asarray(x, dtype=_float64)))):
        raise AssertionError(f"{what} contains NaN or inf")


def assert_rel_error(actual, expected, tol=1e-7, what="output"):
    """Fail unless ``rel_error(actual, expected) <= tol`` (shapes must match)."""
    if actual is None:
        raise AssertionError(f"{what} is None: did you return it?")
    a = _asarray(actual, dtype=_float64)
    e = _asarray(expected, dtype=_float64)
    if a.shape != e.shape:
        raise AssertionError(f"{what} has shape {a.shape}, expected {e.shape}")
    err = rel_error(a, e)
    if not err <= tol:  # also catches NaN
        raise AssertionError(f"{what}: relative error {err:.2e} exceeds {tol:.0e}")


def assert_allclose(actual, expected, rtol=1e-6, atol=1e-8, what="output"):
    """Fail unless ``|actual - expected| <= atol + rtol * |expected|`` everywhere."""
    if actual is None:
        raise AssertionError(f"{what} is None: did you return it?")
    a = _asarray(actual, dtype=_float64)
    e = _asarray(expected, dtype=_float64)
    if a.shape != e.shape:
        raise AssertionError(f"{what} has shape {a.shape}, expected {e.shape}")
    diff = _abs(a - e)
    ok = diff <= atol + rtol * _abs(e)
    if not bool(_all(ok)):
        worst = float(_max(diff))
        raise AssertionError(f"{what}: max abs difference {worst:.3e} (rtol={rtol}, atol={atol})")
