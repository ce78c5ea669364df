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

__all__ = ["rel_error", "assert_rel_error", "assert_allclose", "assert_shape", "assert_finite", "run_on_device"]


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


# What PyTorch says when code meets tensors of two devices, converts a device tensor to numpy, or needs the
# data of a ``meta`` tensor (which has a shape and a dtype but no values).
_MIXED_DEVICES = ("is not on the expected device", "Expected all tensors to be on the same device",
                  "found at least two devices")
_TO_NUMPY = ("device type tensor to numpy",)
_COPY_OUT = ("Cannot copy out of meta tensor",)


def run_on_device(call, device, what, copies_out=False):
    """Run ``call()``, which runs the notebook's code on tensors of ``device``, and judge how it went.

    Hidden tests use it to catch code that works on the CPU but breaks on a GPU, without a GPU: on
    PyTorch's ``meta`` device a tensor has a shape and a dtype but no data, and an operation that mixes
    it with a CPU tensor raises, as it would with a CUDA tensor. Returns ``(True, result)`` when
    ``call()`` finished, and ``(False, None)`` when, on the meta device, the notebook's code stopped at a
    step that needs values (``.item()``, ``float(t)``; a copy to the CPU when ``copies_out``, as for
    results returned on the CPU; an operation PyTorch does not implement for meta tensors): up to there
    it ran on the device. Raises ``AssertionError`` naming the mistake when tensors of two devices met
    (a mask or a new tensor made on the CPU, a batch not moved to the device), when a device tensor was
    converted to numpy, or, unless ``copies_out``, when data was copied off the device. Any other error
    propagates.
    """
    device = str(getattr(device, "type", device))
    try:
        return True, call()
    except AssertionError:
        raise
    except Exception as err:  # noqa: BLE001 - judged below; what is not a device matter propagates
        if not hasattr(err, "remote_traceback"):  # not raised by the notebook's code
            raise
        text = str(err)
        if any(s in text for s in _MIXED_DEVICES):
            raise AssertionError(
                f"{what} mixes devices: a tensor on {device} met a tensor on another device (PyTorch: {text.strip()[:120]!r}). "
                "Make new tensors on the device of the inputs (torch.zeros_like(x), torch.rand_like(x), device=x.device) "
                "and move every batch, labels included, with .to(device)") from None
        if any(s in text for s in _TO_NUMPY):
            raise AssertionError(
                f"{what} converts a tensor on {device} to numpy (.numpy() or a numpy function of a tensor), which fails "
                "for a tensor on a GPU: compute with torch operations on the tensor's device") from None
        if device != "meta":
            raise
        if any(s in text for s in _COPY_OUT):
            if copies_out:
                return False, None
            raise AssertionError(
                f"{what} copies data off the device of its inputs ({device}): .cpu(), .tolist(), or results written "
                "into a tensor made on the CPU; keep the computation and the result on the inputs' device") from None
        if "meta" in text.lower():  # .item() of a meta tensor, or an operation not implemented for meta tensors
            return False, None
        raise
