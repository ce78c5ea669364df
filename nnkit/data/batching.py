"""Minibatches and splits for dense numpy arrays and scipy sparse matrices."""

from __future__ import annotations

import numpy as np


def _n_rows(X):
    return X.shape[0]


def iterate_minibatches(X, y=None, batch_size=128, shuffle=True, seed=None, drop_last=False):
    """Yield minibatches ``(X_batch, y_batch)`` (or ``X_batch`` when ``y`` is None).

    ``X`` is a numpy array or a scipy sparse matrix (rows are samples; a sparse
    ``X`` yields sparse CSR batches, call ``.toarray()`` for dense ones); ``y``
    is an array of ``X.shape[0]`` labels. One pass over the data, in random
    order when ``shuffle`` (drawn from ``seed``). The last, smaller batch is
    kept unless ``drop_last``.
    """
    n = _n_rows(X)
    if y is not None and len(y) != n:
        raise ValueError(f"X has {n} rows but y has {len(y)} labels")
    if batch_size <= 0:
        raise ValueError(f"batch_size must be positive, got {batch_size}")
    order = np.random.default_rng(seed).permutation(n) if shuffle else np.arange(n)
    if hasattr(X, "tocsr"):
        X = X.tocsr()
    for start in range(0, n, batch_size):
        idx = order[start : start + batch_size]
        if drop_last and len(idx) < batch_size:
            break
        xb = X[idx]
        if y is None:
            yield xb
        else:
            yield xb, np.asarray(y)[idx]


def train_val_split(n, val_fraction=0.1, seed=0, groups=None):
    """Split ``range(n)`` into train and validation indices (int64 arrays).

    With ``groups`` (an array of ``n`` group ids, e.g. the movie of each IMDB
    review), whole groups go to one side, so validation shares no group with
    training and behaves like a held-out test set.
    """
    rng = np.random.default_rng(seed)
    if not 0.0 < val_fraction < 1.0:
        raise ValueError(f"val_fraction must be in (0, 1), got {val_fraction}")
    if groups is None:
        perm = rng.permutation(n)
        n_val = int(round(n * val_fraction))
        return np.sort(perm[n_val:]), np.sort(perm[:n_val])
    groups = np.asarray(groups)
    if len(groups) != n:
        raise ValueError(f"groups has {len(groups)} entries, expected {n}")
    uniq = rng.permutation(np.unique(groups))
    counts = {g: c for g, c in zip(*np.unique(groups, return_counts=True))}
    val_groups, total = [], 0
    for g in uniq:
        if total >= n * val_fraction:
            break
        val_groups.append(g)
        total += counts[g]
    is_val = np.isin(groups, val_groups)
    return np.flatnonzero(~is_val).astype(np.int64), np.flatnonzero(is_val).astype(np.int64)
