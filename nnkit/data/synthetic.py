"""Small synthetic 2-D classification sets (float64 features, int64 labels)."""

from __future__ import annotations

import numpy as np


def make_xor(n=200, noise=0.1, seed=0):
    """XOR: ``n`` points around the four corners of the unit square.

    Returns ``X`` of shape ``(n, 2)`` (float64) and ``y`` of shape ``(n,)``
    (int64), ``y = 1`` where exactly one coordinate is near 1. Not linearly
    separable; a two-layer net solves it.
    """
    rng = np.random.default_rng(seed)
    corners = rng.integers(0, 2, size=(n, 2))
    X = corners + noise * rng.standard_normal((n, 2))
    y = (corners[:, 0] ^ corners[:, 1]).astype(np.int64)
    return X.astype(np.float64), y


def make_spirals(n_per_class=100, n_classes=3, noise=0.2, seed=0):
    """Interleaved spirals (the CS231n toy set).

    Returns ``X`` of shape ``(n_per_class * n_classes, 2)`` (float64) and
    ``y`` of shape ``(n_per_class * n_classes,)`` (int64, values
    ``0..n_classes-1``).
    """
    rng = np.random.default_rng(seed)
    N, K = n_per_class, n_classes
    X = np.zeros((N * K, 2))
    y = np.zeros(N * K, dtype=np.int64)
    for k in range(K):
        ix = slice(N * k, N * (k + 1))
        r = np.linspace(0.0, 1.0, N)
        t = np.linspace(k * 4.0, (k + 1) * 4.0, N) + noise * rng.standard_normal(N)
        X[ix] = np.c_[r * np.sin(t), r * np.cos(t)]
        y[ix] = k
    return X, y


def make_blobs(n_per_class=100, n_classes=3, dim=2, spread=1.0, seed=0):
    """Gaussian blobs with unit variance around random centres.

    Returns ``X`` of shape ``(n_per_class * n_classes, dim)`` (float64) and
    ``y`` (int64, ``0..n_classes-1``). ``spread`` scales the distance between
    centres (larger is easier).
    """
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((n_classes, dim)) * 3.0 * spread
    X = np.concatenate([c + rng.standard_normal((n_per_class, dim)) for c in centres])
    y = np.repeat(np.arange(n_classes, dtype=np.int64), n_per_class)
    return X, y
