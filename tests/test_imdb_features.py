"""nnkit.data.features.NgramVectorizer and nnkit.data.torch_sparse on small texts (no IMDB data needed)."""

import collections
import re

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from nnkit.data import NgramVectorizer
from nnkit.data.torch_sparse import SparseLinear, to_torch_sparse

TEXTS = [
    "Don't watch it!<br />10/10, NOT a good film... not a good film at all.",
    "A good film. A GOOD film!",
    "",
    "<br /><br />",
    "Café naïve résumé: 7/10 -- it's 'fine' x2",
    "the the the the end",
]


def reference_analyze(text, n_max, punctuation):
    pattern = r"[a-z0-9']+" + (r"|[!-&(-/:-@\[-`{-~]" if punctuation else "")
    tokens = re.findall(pattern, text.replace("<br />", " ").lower())
    return [" ".join(tokens[i:i + n]) for n in range(1, n_max + 1) for i in range(len(tokens) - n + 1)]


@pytest.mark.parametrize("n_max,punctuation", [(1, False), (2, False), (3, True)])
def test_counts_match_plain_python(n_max, punctuation):
    v = NgramVectorizer((1, n_max), punctuation=punctuation, chunk_size=2).fit(TEXTS)
    vocab = v.vocabulary_
    total = collections.Counter(f for t in TEXTS for f in reference_analyze(t, n_max, punctuation))
    assert set(vocab) == set(total)
    assert sorted(vocab.values()) == list(range(len(vocab)))
    counts = [total[f] for f in v.feature_names_]
    assert counts == sorted(counts, reverse=True) and list(v.counts_) == counts
    X = v.transform(TEXTS)
    assert X.format == "csr" and X.dtype == np.float32 and X.shape == (len(TEXTS), len(vocab)) and X.has_sorted_indices
    for i, t in enumerate(TEXTS):
        assert collections.Counter(v.analyze(t)) == collections.Counter(reference_analyze(t, n_max, punctuation))
        want = collections.Counter(vocab[f] for f in reference_analyze(t, n_max, punctuation))
        row = X[i]
        assert dict(zip(row.indices.tolist(), row.data.tolist())) == want


def test_max_features_unknown_tokens_and_columns():
    v = NgramVectorizer((1, 2), max_features=3).fit(TEXTS)
    assert len(v) == 3 and v.counts_[0] == 4  # "the" ... ties among the 4-times features, but deterministic
    assert list(NgramVectorizer((1, 2), max_features=3).fit(TEXTS).vocabulary_) == list(v.vocabulary_)
    docs = ["zzz unseen words the the", "a good film"]
    X = v.transform(docs)
    want = sum(f in v.vocabulary_ for d in docs for f in v.analyze(d))
    assert X.shape == (2, 3) and X.sum() == want and X[0, v.vocabulary_["the"]] == 2
    assert list(v.columns(["the", "not in it", "", "the  the"])) == [v.vocabulary_["the"], -1, -1, -1]


@pytest.mark.parametrize("max_features", [None, 5])
def test_fit_transform_is_fit_then_transform(max_features):
    """fit_transform tokenizes once; the matrix must be the one transform gives after fit."""
    texts = TEXTS * 3 + ["a good film, not a bad one"]
    v = NgramVectorizer((1, 3), max_features=max_features, punctuation=True, chunk_size=4)
    X = v.fit_transform(texts)
    Y = NgramVectorizer((1, 3), max_features=max_features, punctuation=True, chunk_size=5).fit(texts).transform(texts)
    assert X.shape == Y.shape and X.has_sorted_indices and (X != Y).nnz == 0


def test_code_table_agrees_with_a_dict_on_colliding_codes():
    from nnkit.data.features import _CodeTable

    rng = np.random.default_rng(0)
    # codes that share low and high bits (many land in the same slots) and random ones
    codes = np.unique(np.concatenate([np.arange(0, 1 << 40, 1 << 30), rng.integers(0, 1 << 62, 3000)]))
    columns = rng.permutation(len(codes))
    table = _CodeTable(codes, columns)
    queries = np.concatenate([codes, rng.integers(0, 1 << 62, 5000), codes[::7] + 1])
    want = dict(zip(codes.tolist(), columns.tolist()))
    assert table.get(queries).tolist() == [want.get(q, -1) for q in queries.tolist()]
    assert _CodeTable(np.zeros(0, np.int64), np.zeros(0, np.int64)).get(np.array([0, 5])).tolist() == [-1, -1]


def test_errors():
    with pytest.raises(ValueError, match="ngram_range"):
        NgramVectorizer((1, 4))
    with pytest.raises(RuntimeError, match="fit"):
        NgramVectorizer().transform(["a"])


def test_sparse_linear_matches_dense():
    torch.manual_seed(0)
    layer = SparseLinear(40, 5)
    X = sp.random(9, 40, density=0.2, format="csr", random_state=np.random.default_rng(0), dtype=np.float32)
    X = sp.vstack([X[:3], sp.csr_matrix((1, 40), dtype=np.float32), X[3:]], format="csr")  # an empty row
    dense = torch.from_numpy(X.toarray())
    out_sparse, out_dense = layer(to_torch_sparse(X)), layer(dense)
    assert torch.allclose(out_sparse, out_dense, atol=1e-6)
    assert torch.allclose(layer(to_torch_sparse(X).to_sparse_coo()), out_dense, atol=1e-6)
    out_sparse.square().sum().backward()
    g = layer.weight.grad.clone()
    layer.weight.grad = None
    out_dense.square().sum().backward()
    assert torch.allclose(g, layer.weight.grad, atol=1e-6)
    with pytest.raises(TypeError):
        to_torch_sparse(np.zeros((2, 2)))


@pytest.mark.parametrize("max_features,punctuation", [(None, False), (4, True)])
def test_save_and_load_give_the_same_vectorizer(tmp_path, max_features, punctuation):
    v = NgramVectorizer((1, 3), max_features=max_features, punctuation=punctuation, chunk_size=2).fit(TEXTS)
    v.save(tmp_path / "v.npz")
    w = NgramVectorizer.load(tmp_path / "v.npz")
    assert (w.ngram_range, w.max_features, w.punctuation, w.chunk_size) == ((1, 3), max_features, punctuation, 2)
    assert w.vocabulary_ == v.vocabulary_ and list(w.counts_) == list(v.counts_)
    docs = TEXTS + ["a good film, not a bad one", "zzz"]
    assert (w.transform(docs) != v.transform(docs)).nnz == 0
    assert list(w.columns(list(v.vocabulary_) + ["not in it"])) == list(range(len(v))) + [-1]


def test_load_refuses_files_save_did_not_write(tmp_path):
    v = NgramVectorizer((1, 2)).fit(TEXTS)
    v.save(tmp_path / "v.npz")
    with np.load(tmp_path / "v.npz") as z:
        arrays = dict(z)
    np.savez(tmp_path / "short.npz", **{**arrays, "counts": arrays["counts"][:-1]})
    with pytest.raises(ValueError, match="do not match"):
        NgramVectorizer.load(tmp_path / "short.npz")
    np.savez(tmp_path / "pickled.npz", **{**arrays, "tokens": np.array([object()], dtype=object)})
    with pytest.raises(ValueError):  # object arrays need pickles, which load never reads
        NgramVectorizer.load(tmp_path / "pickled.npz")
    np.savez(tmp_path / "other.npz", counts=arrays["counts"])
    with pytest.raises(ValueError, match="not written by NgramVectorizer.save: it has no chunk_size"):
        NgramVectorizer.load(tmp_path / "other.npz")
    with pytest.raises(RuntimeError, match="not fitted"):
        NgramVectorizer().save(tmp_path / "unfitted.npz")


def reference_counts(v, texts, n_max, punctuation):
    """The count matrix of texts over v's vocabulary, counted from reference_analyze (dense)."""
    out = np.zeros((len(texts), len(v)), dtype=np.float32)
    for i, t in enumerate(texts):
        for f in reference_analyze(t, n_max, punctuation):
            if f in v.vocabulary_:
                out[i, v.vocabulary_[f]] += 1
    return out


def random_texts(rng, n):
    """Texts of words, punctuation, <br /> tags (either case), non-ASCII letters and marks whose lower case is ASCII."""
    words = ["good", "film", "not", "a", "bad", "it's", "10", "GOOD", "Film", "<br />", "<BR />", "!", "...", "(x)",
             "café", "\u212aelvin", "\u0130stanbul", "naïve", "7/10", "'", "a" * 40]
    return [" ".join(rng.choice(words, size=int(rng.integers(0, 30)))) for _ in range(n)]


@pytest.mark.parametrize("n_max,punctuation,max_features", [(2, False, None), (3, True, None), (3, True, 25)])
def test_random_texts_match_plain_python(n_max, punctuation, max_features):
    rng = np.random.default_rng(n_max + 10 * punctuation)
    train, other = random_texts(rng, 60), random_texts(rng, 40)
    v = NgramVectorizer((1, n_max), max_features=max_features, punctuation=punctuation, chunk_size=7)
    X = v.fit_transform(train)
    for texts, M in ((train, X), (other, v.transform(other))):
        assert M.has_sorted_indices and np.array_equal(M.toarray(), reference_counts(v, texts, n_max, punctuation))


def test_ngrams_never_span_two_texts():
    # "good film" and "film good" are in the vocabulary, but in these texts only across the end of one text
    v = NgramVectorizer((1, 3), chunk_size=10).fit(["good film good", "film good film"])
    X = v.transform(["a good", "film b", "good", "film", "good", "film good"])
    want = reference_counts(v, ["a good", "film b", "good", "film", "good", "film good"], 3, False)
    assert np.array_equal(X.toarray(), want) and X[:5, v.vocabulary_["good film"]].nnz == 0


def test_tokens_longer_than_32767_characters():
    long = "a" * 40_000
    texts = [f"{long} b {long}", "b " * 3 + "a", long + "!"]
    v = NgramVectorizer((1, 2), punctuation=True).fit(texts)
    assert v.vocabulary_.keys() >= {long, "b", f"{long} b", f"b {long}"}
    assert np.array_equal(v.transform(texts).toarray(), reference_counts(v, texts, 2, True))


def test_a_vocabulary_missing_the_parts_of_its_ngrams(tmp_path):
    """Bigrams are looked up only where both words are in the vocabulary when that is true of every vocabulary
    bigram (as it is of a fitted one); a vocabulary where it is not still counts every feature it has."""
    texts = ["good film good film", "a good film", "not a good one"]
    v = NgramVectorizer((1, 2)).fit(texts)
    v.save(tmp_path / "v.npz")
    with np.load(tmp_path / "v.npz") as z:
        arrays = dict(z)
    film = v._tokens.tolist().index("film")  # a unigram's code is its token's id
    keep = ~((arrays["vocab_n"] == 1) & (arrays["vocab_code"] == film))  # every feature but the unigram "film"
    for key in ("vocab_n", "vocab_code", "counts"):
        arrays[key] = arrays[key][keep]
    np.savez(tmp_path / "w.npz", **arrays)
    w = NgramVectorizer.load(tmp_path / "w.npz")
    assert "film" not in w.vocabulary_ and "good film" in w.vocabulary_ and not w._closed[2]
    assert np.array_equal(w.transform(texts).toarray(), reference_counts(w, texts, 2, False))
