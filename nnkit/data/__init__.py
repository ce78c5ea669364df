"""Data sets for the course: real IMDB reviews, small synthetic sets, minibatches.

- :func:`load_imdb` reads the Large Movie Review Dataset (local copy, cache or
  download).
- :func:`make_xor`, :func:`make_spirals`, :func:`make_blobs` make small 2-D
  classification sets for the numpy notebooks.
- :func:`iterate_minibatches` slices dense arrays or scipy sparse matrices.
- :class:`NgramVectorizer` turns many texts into n-gram count vectors at once (numpy).
- :mod:`nnkit.data.torch_sparse` has sparse batches for PyTorch and a linear layer for them.
"""

from nnkit.data.batching import iterate_minibatches, train_val_split
from nnkit.data.features import NgramVectorizer
from nnkit.data.imdb import IMDBSplit, imdb_movie_groups, load_imdb
from nnkit.data.synthetic import make_blobs, make_spirals, make_xor

__all__ = [
    "load_imdb",
    "IMDBSplit",
    "imdb_movie_groups",
    "make_xor",
    "make_spirals",
    "make_blobs",
    "iterate_minibatches",
    "train_val_split",
    "NgramVectorizer",
]
