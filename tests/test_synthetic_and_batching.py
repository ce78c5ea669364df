import numpy as np
import pytest
import scipy.sparse as sp

from nnkit.data import iterate_minibatches, make_blobs, make_spirals, make_xor, train_val_split


def test_xor_is_balanced_and_deterministic():
    X, y = make_xor(400, seed=3)
    X2, y2 = make_xor(400, seed=3)
    assert X.shape == (400, 2) and X.dtype == np.float64 and y.dtype == np.int64
    assert np.array_equal(X, X2) and np.array_equal(y, y2)
    assert 0.4 < y.mean() < 0.6
    # not linearly separable: the best linear rule through the centre is at chance
    assert abs(np.mean((X[:, 0] > 0.5) == y) - 0.5) < 0.1


def test_spirals_and_blobs_shapes():
    X, y = make_spirals(50, 3, seed=0)
    assert X.shape == (150, 2) and set(y) == {0, 1, 2}
    X, y = make_blobs(20, 4, dim=5, seed=0)
    assert X.shape == (80, 5) and np.bincount(y).tolist() == [20] * 4


@pytest.mark.parametrize("sparse", [False, True])
def test_minibatches_cover_every_row_once(sparse):
    X = np.arange(23 * 3, dtype=float).reshape(23, 3)
    y = np.arange(23)
    Xin = sp.csr_matrix(X) if sparse else X
    seen = []
    sizes = []
    for xb, yb in iterate_minibatches(Xin, y, batch_size=5, seed=0):
        dense = xb.toarray() if sparse else xb
        assert np.array_equal(dense[:, 0] / 3, yb)
        seen.extend(yb.tolist())
        sizes.append(len(yb))
    assert sorted(seen) == list(range(23)) and sizes == [5, 5, 5, 5, 3]
    assert len(list(iterate_minibatches(Xin, y, batch_size=5, drop_last=True))) == 4


def test_minibatch_errors():
    with pytest.raises(ValueError, match="rows"):
        next(iterate_minibatches(np.zeros((3, 2)), np.zeros(4)))
    with pytest.raises(ValueError, match="batch_size"):
        next(iterate_minibatches(np.zeros((3, 2)), batch_size=0))


def test_train_val_split_random_and_grouped():
    tr, va = train_val_split(100, 0.2, seed=0)
    assert len(va) == 20 and len(np.intersect1d(tr, va)) == 0 and len(tr) + len(va) == 100
    groups = np.repeat(np.arange(20), 5)
    tr, va = train_val_split(100, 0.2, seed=0, groups=groups)
    assert not set(groups[tr]) & set(groups[va])
    assert len(va) == 20
