"""PyTorch helpers: choosing a device and seeding every generator."""

from __future__ import annotations

import os
import random

import numpy as np


def pick_device(prefer=None):
    """Return a ``torch.device``: ``prefer`` if given, else cuda, then mps, then cpu.

    ``prefer`` may be a string or device (``"cpu"``, ``"cuda"``, ``"cuda:1"``);
    the environment variable ``NNKIT_DEVICE`` plays the same role (the
    autograder sets it from the assignment manifest). Asking for a device that
    is not available raises ``RuntimeError`` naming what is.
    """
    import torch

    prefer = prefer or os.environ.get("NNKIT_DEVICE") or None
    if prefer is not None:
        dev = torch.device(prefer)
        if dev.type == "cuda" and not torch.cuda.is_available():
            raise RuntimeError(f"device {prefer!r} requested but CUDA is not available; {_available()}")
        if dev.type == "mps" and not _mps_available():
            raise RuntimeError(f"device {prefer!r} requested but MPS is not available; {_available()}")
        return dev
    if torch.cuda.is_available():
        return torch.device("cuda")
    if _mps_available():
        return torch.device("mps")
    return torch.device("cpu")


def _mps_available():
    import torch

    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())


def _available():
    import torch

    names = ["cpu"]
    if torch.cuda.is_available():
        names.append("cuda")
    if _mps_available():
        names.append("mps")
    return "available: " + ", ".join(names)


def seed_everything(seed=0, deterministic=False):
    """Seed ``random``, numpy's global generator and torch (CPU and all GPUs).

    With ``deterministic=True`` also asks torch for deterministic algorithms
    (slower; some GPU ops then raise). Returns ``seed``.
    """
    random.seed(seed)
    np.random.seed(seed % (2**32))
    os.environ["PYTHONHASHSEED"] = str(seed)
    try:
        import torch
    except ImportError:
        return seed
    torch.manual_seed(seed)
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(seed)
    if deterministic:
        torch.use_deterministic_algorithms(True, warn_only=True)
        if hasattr(torch.backends, "cudnn"):
            torch.backends.cudnn.deterministic = True
            torch.backends.cudnn.benchmark = False
    return seed
