"""Sparse count vectors in PyTorch: scipy CSR batches as torch tensors, and a linear layer for them.

A batch of 128 reviews over 200,000 n-gram features is 102 MB as a dense float32 tensor but holds
only about 50,000 nonzeros. :func:`to_torch_sparse` turns a scipy sparse batch into a torch sparse
CSR tensor (three small arrays: row pointers, column indices, values), and :class:`SparseLinear`
computes ``x @ weight + bias`` from those nonzeros only: each output row is the sum of the weight
rows of its nonzero columns, scaled by their values (``torch.nn.functional.embedding_bag`` with
``mode="sum"``). Its gradient touches only those weight rows, so a step costs time in proportion to
the nonzeros, not to the 200,000 x hidden weights (the optimizer's update of all weights remains).
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

__all__ = ["SparseLinear", "to_torch_sparse"]


def to_torch_sparse(X, device=None) -> torch.Tensor:
    """A float32 torch sparse CSR tensor (on ``device``) of the scipy sparse matrix ``X``."""
    import scipy.sparse as sp

    if not sp.issparse(X):
        raise TypeError(f"to_torch_sparse takes a scipy sparse matrix, got {type(X).__name__}")
    X = X.tocsr()
    with warnings.catch_warnings():  # "Sparse CSR tensor support is in beta state"
        warnings.simplefilter("ignore")
        t = torch.sparse_csr_tensor(torch.from_numpy(X.indptr.astype(np.int64)),
                                    torch.from_numpy(X.indices.astype(np.int64)),
                                    torch.from_numpy(np.asarray(X.data, dtype=np.float32)), size=X.shape)
        return t if device is None else t.to(device)


class SparseLinear(nn.Module):
    """``x @ weight + bias`` for a sparse (or dense) input ``x`` of shape ``(B, in_features)``.

    Same function and initialisation as ``nn.Linear(in_features, out_features)`` (uniform in
    ``+-1/sqrt(in_features)``), but ``weight`` is stored transposed, one row per input feature:
    shape ``(in_features, out_features)``. ``x`` may be a torch sparse CSR or COO tensor (computed
    from its nonzeros) or a dense tensor.
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True):
        super().__init__()
        self.in_features, self.out_features = int(in_features), int(out_features)
        bound = 1.0 / math.sqrt(self.in_features) if self.in_features > 0 else 0.0
        self.weight = nn.Parameter(torch.empty(self.in_features, self.out_features).uniform_(-bound, bound))
        self.bias = nn.Parameter(torch.empty(self.out_features).uniform_(-bound, bound)) if bias else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.layout == torch.sparse_coo:
            x = x.coalesce().to_sparse_csr()
        if x.layout == torch.sparse_csr:
            rows = x.crow_indices()
            out = F.embedding_bag(x.col_indices().to(torch.int64), self.weight, rows[:-1].to(torch.int64),
                                  mode="sum", per_sample_weights=x.values().to(self.weight.dtype))
        elif x.layout == torch.strided:
            out = x @ self.weight
        else:
            raise TypeError(f"SparseLinear takes a dense, sparse CSR or sparse COO tensor, got layout {x.layout}")
        return out if self.bias is None else out + self.bias

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"
