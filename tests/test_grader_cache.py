"""grader_cache: trusted reference work done once per grading worker and shared by its verifier sessions."""

import time

import pytest

from autograder.verifier import helpers
from autograder.verifier.host import KernelLink, VerifierProcess
from nnkit.data import NgramVectorizer

TEXTS = ["a good film", "not a good film", "a bad film"]


@pytest.fixture
def cache_dir(tmp_path, monkeypatch):
    monkeypatch.setattr(helpers, "CACHE_DIR", str(tmp_path))
    return tmp_path


def _builder(calls):
    def build():
        calls.append(1)
        return NgramVectorizer((1, 2)).fit(TEXTS)
    return build


def test_the_first_call_builds_and_later_calls_load(cache_dir):
    calls = []
    first = helpers.grader_cache("three reviews", NgramVectorizer, _builder(calls))
    second = helpers.grader_cache("three reviews", NgramVectorizer, _builder(calls))
    assert len(calls) == 1 and second is not first and second.vocabulary_ == first.vocabulary_
    helpers.grader_cache("another key", NgramVectorizer, _builder(calls))
    assert len(calls) == 2, "a different key must be built on its own"
    assert not [p for p in cache_dir.iterdir() if p.name.endswith(".tmp")]


def test_an_unreadable_copy_is_built_again(cache_dir):
    calls = []
    helpers.grader_cache("k", NgramVectorizer, _builder(calls))
    (saved,) = cache_dir.glob("*.npz")
    saved.write_bytes(b"not an npz file")
    again = helpers.grader_cache("k", NgramVectorizer, _builder(calls))
    assert len(calls) == 2 and len(again) == len(NgramVectorizer((1, 2)).fit(TEXTS))
    assert helpers.grader_cache("k", NgramVectorizer, _builder(calls)) and len(calls) == 2, "the rebuilt copy is saved"


def test_without_a_cache_folder_it_builds_every_time(monkeypatch):
    monkeypatch.setattr(helpers, "CACHE_DIR", None)
    calls = []
    helpers.grader_cache("k", NgramVectorizer, _builder(calls))
    helpers.grader_cache("k", NgramVectorizer, _builder(calls))
    assert len(calls) == 2


def test_a_build_of_the_wrong_class_is_refused(cache_dir):
    with pytest.raises(TypeError, match="not NgramVectorizer"):
        helpers.grader_cache("k", NgramVectorizer, lambda: {"a": 1})


CELL = """
v = grader_cache("three reviews", NgramVectorizer,
                 lambda: (print("built here"), NgramVectorizer((1, 2)).fit(["a good film", "not a good film"]))[1])
assert v.vocabulary_["a good"] >= 0
"""


def test_sessions_of_one_verifier_share_the_cache():
    """Two notebooks graded by one worker: the second notebook's session loads what the first one built."""
    verifier = VerifierProcess()
    link = KernelLink(lambda: (_ for _ in ()).throw(ConnectionError("no kernel in this test")), lambda: None)
    try:
        outputs = []
        for notebook in ("first", "second"):
            session = verifier.session(notebook, 1, "from nnkit.data import NgramVectorizer\n")
            try:
                verdict = session.run_cell("test_cache", CELL, link, time.monotonic() + 60)
            finally:
                session.close()
            assert verdict.passed, verdict.message()
            outputs.append(verdict.stdout)
        assert outputs == ["built here\n", ""], outputs
    finally:
        verifier.close()


def test_dicts_of_arrays_are_cached_without_pickles(cache_dir):
    import numpy as np

    calls = []

    def build():
        calls.append(1)
        return {"W1": np.arange(6.0).reshape(2, 3), "acc": 0.875}

    first = helpers.grader_cache("a recipe on data with digest abc", dict, build)
    again = helpers.grader_cache("a recipe on data with digest abc", dict, build)
    assert len(calls) == 1 and first["acc"] == 0.875
    assert np.array_equal(again["W1"], first["W1"]) and float(again["acc"]) == 0.875
    np.savez(next(cache_dir.glob("*.npz")), bad=np.array([object()], dtype=object))
    helpers.grader_cache("a recipe on data with digest abc", dict, build)
    assert len(calls) == 2, "a file that needs pickles to load is rebuilt, never unpickled"


def test_keys_name_arrays_and_sparse_matrices_by_content(cache_dir):
    import numpy as np
    import scipy.sparse as sp

    calls = []

    def build():
        calls.append(1)
        return {"acc": np.array(0.5)}

    X = sp.random(20, 30, density=0.1, format="csr", random_state=0, dtype=np.float32)
    y = np.arange(20) % 2
    helpers.grader_cache(("recipe", X, y), dict, build)
    helpers.grader_cache(("recipe", X.copy(), y.copy()), dict, build)
    assert len(calls) == 1, "equal matrices and labels name the same entry"
    X2 = X.copy()
    X2.data[0] += 1
    helpers.grader_cache(("recipe", X2, y), dict, build)
    helpers.grader_cache(("recipe", X, y.astype(np.int32)), dict, build)
    assert len(calls) == 3, "one changed value, or another dtype, names another entry"
    with pytest.raises(TypeError, match="object array"):
        helpers.grader_cache(("recipe", np.array([object()], dtype=object)), dict, build)


DATA_CELL = """
from nnkit.data import imdb, load_imdb
kept = sorted(path.name.rsplit("-", 1)[-1].split(".")[0] for path in (imdb._KEPT or {}))  # imdb-...-<split>.npz
print(kept, len(load_imdb("test").texts))
"""


@pytest.mark.parametrize("prelude, kept", [("from nnkit.data import load_imdb\n", "['test', 'train'] 120"),
                                           ("from nnkit.data import NgramVectorizer\nfrom nnkit.data import load_imdb as li\n",
                                            "['test', 'train'] 120"),
                                           ("import nnkit.data\nfrom nnkit.data import load_imdb as _\n", "['test', 'train'] 120"),
                                           ("from nnkit.data import NgramVectorizer\n", "[] 120")])
def test_the_verifier_loads_imdb_once_for_notebooks_whose_tests_load_it(tmp_path, prelude, kept):
    """A notebook that imports load_imdb: the verifier process loads both splits before forking its sessions, which
    read them from memory; another notebook's sessions load the data themselves."""
    import os
    from pathlib import Path

    from autograder.verifier.cells import datasets_used

    sample = Path(__file__).parent / "data" / "imdb_sample.tar.gz"
    env = {**os.environ, "NNKIT_IMDB_PATH": str(sample), "NNKIT_DATA_DIR": str(tmp_path / "data")}
    verifier = VerifierProcess(env=env)
    link = KernelLink(lambda: (_ for _ in ()).throw(ConnectionError("no kernel in this test")), lambda: None)
    try:
        session = verifier.session("nb", 1, prelude)
        try:
            verdict = session.run_cell("test_data", DATA_CELL, link, time.monotonic() + 60)
        finally:
            session.close()
        assert verdict.passed, verdict.message()
        assert verdict.stdout.strip() == kept and bool(datasets_used(prelude)) == ("'train'" in kept)
    finally:
        verifier.close()
