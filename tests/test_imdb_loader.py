"""nnkit.data.imdb: loading IMDB from local sources (no network)."""

from __future__ import annotations

import gzip
import io
import os
import re
import shutil
import tarfile
from pathlib import Path

import numpy as np
import pytest

from nnkit.data import IMDBSplit, imdb_movie_groups, load_imdb
from nnkit.data import imdb

HERE = Path(__file__).resolve().parent
SAMPLE = HERE / "data" / "imdb_sample.tar.gz"
N_SAMPLE = 60  # reviews per split and label in SAMPLE
ENV_VARS = ("NNKIT_IMDB_PATH", "NNKIT_DATA_DIR", "NNKIT_IMDB_URL", "NNKIT_IMDB_MD5")
# Read before the autouse fixture below clears the environment.
FULL_DATA = Path(
    os.environ.get("NNKIT_IMDB_PATH")
    or HERE.parent / "../shared/data/imdb/aclImdb_labeled.tar.gz"
)


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    """No test sees the caller's IMDB settings (the Makefile exports NNKIT_IMDB_PATH)."""
    for var in ENV_VARS:
        monkeypatch.delenv(var, raising=False)


@pytest.fixture
def cache(tmp_path):
    return tmp_path / "cache"


def make_tar(path: Path, files: dict, gz: bool = True) -> Path:
    """Write a tar(.gz) holding ``files`` ({member name: str or bytes})."""
    with tarfile.open(path, "w:gz" if gz else "w") as tar:
        for name, data in files.items():
            data = data.encode() if isinstance(data, str) else data
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def tiny_layout(n: int = 2, urls: bool = True, splits=("train", "test")) -> dict:
    """Members of a minimal archive in the official layout."""
    files = {}
    for split in splits:
        for label, rating in (("neg", 2), ("pos", 9)):
            for i in range(n):
                files[f"aclImdb/{split}/{label}/{i}_{rating}.txt"] = f"{split} {label} review {i} \u00e9"
            if urls:
                files[f"aclImdb/{split}/urls_{label}.txt"] = "".join(
                    f"http://www.imdb.com/title/tt{i // 2:07d}/usercomments\n" for i in range(n)
                )
    return files


def extract(archive: Path, dest: Path) -> None:
    with tarfile.open(archive) as tar:
        if hasattr(tarfile, "data_filter"):  # Python 3.12+ (and security backports)
            tar.extractall(dest, filter="data")
        else:
            tar.extractall(dest)


def sample_members() -> dict:
    with tarfile.open(SAMPLE, "r:gz") as tar:
        return {m.name: tar.extractfile(m).read() for m in tar if m.isfile()}


# ---------------------------------------------------------------- contents


@pytest.mark.parametrize("split", ["train", "test"])
def test_sample_split_contents(split, cache):
    d = load_imdb(split, SAMPLE, cache_dir=cache)
    n = 2 * N_SAMPLE
    assert isinstance(d, IMDBSplit) and d.split == split and len(d) == n
    for arr in (d.labels, d.ids, d.ratings):
        assert arr.dtype == np.int64 and arr.shape == (n,)
    assert all(isinstance(t, str) and t for t in d.texts)
    # negatives first, then positives, each by numeric id
    assert d.labels.tolist() == [0] * N_SAMPLE + [1] * N_SAMPLE
    for lab in (0, 1):
        ids = d.ids[d.labels == lab]
        assert (np.diff(ids) > 0).all()
    assert set(d.ratings[d.labels == 0].tolist()) <= {1, 2, 3, 4}
    assert set(d.ratings[d.labels == 1].tolist()) <= {7, 8, 9, 10}
    assert len(d.urls) == n and all(u.startswith("http://www.imdb.com/title/tt") for u in d.urls)


def test_texts_ids_ratings_and_urls_match_the_archive(cache):
    members = sample_members()
    d = load_imdb("test", SAMPLE, cache_dir=cache)
    url_lists = {
        lab: members[f"aclImdb/test/urls_{lab}.txt"].decode().splitlines() for lab in ("neg", "pos")
    }
    for text, lab, rid, rating, url in zip(d.texts, d.labels, d.ids, d.ratings, d.urls):
        name = f"aclImdb/test/{('neg', 'pos')[lab]}/{rid}_{rating}.txt"
        assert text == members[name].decode("utf-8")
        assert url == url_lists[("neg", "pos")[lab]][rid]


def test_unsup_and_other_members_are_skipped(cache):
    assert any("/unsup/" in name for name in sample_members())
    d = load_imdb("train", SAMPLE, cache_dir=cache)
    assert len(d) == 2 * N_SAMPLE and 0 not in d.ratings


def test_unpacks_to_texts_and_labels(cache):
    d = load_imdb("train", SAMPLE, cache_dir=cache)
    X, y = d
    assert X is d.texts and y is d.labels
    assert "n=120" in repr(d) and "Once" not in repr(d)


def test_non_ascii_text_round_trips_through_cache(tmp_path, cache):
    src = make_tar(tmp_path / "tiny.tar.gz", tiny_layout())
    first = load_imdb("train", src, cache_dir=cache)
    second = load_imdb("train", src, cache_dir=cache)
    assert first.texts == second.texts and first.texts[0] == "train neg review 0 \u00e9"


def test_numeric_not_lexicographic_order(tmp_path, cache):
    files = {f"aclImdb/test/{lab}/{i}_{r}.txt": f"{lab}{i}" for lab, r in (("pos", 8), ("neg", 3)) for i in (10, 9, 100, 0)}
    d = load_imdb("test", make_tar(tmp_path / "t.tar.gz", files), cache_dir=cache)
    assert d.ids.tolist() == [0, 9, 10, 100] * 2
    assert d.texts[:2] == ["neg0", "neg9"] and d.texts[4] == "pos0"
    assert d.urls is None


@pytest.mark.parametrize("split", ["val", "Train", "", None])
def test_bad_split_is_a_value_error(split, cache):
    with pytest.raises(ValueError, match=r"'train', 'test'"):
        load_imdb(split, SAMPLE, cache_dir=cache)


# ---------------------------------------------------------------- movie groups


def test_movie_groups_follow_urls(cache):
    d = load_imdb("train", SAMPLE, cache_dir=cache)
    g = imdb_movie_groups(d)
    assert g.dtype == np.int64 and g.shape == (len(d),)
    assert g[0] == 0 and set(g.tolist()) == set(range(g.max() + 1))
    titles = [re.search(r"tt\d+", u).group(0) for u in d.urls]
    for i in range(len(d)):
        for j in range(len(d)):
            assert (g[i] == g[j]) == (titles[i] == titles[j])


def test_movie_groups_share_ids_for_same_movie(tmp_path, cache):
    d = load_imdb("test", make_tar(tmp_path / "t.tar.gz", tiny_layout(n=4)), cache_dir=cache)
    # ids 0,1 -> tt0000000, ids 2,3 -> tt0000001 in both label lists
    assert imdb_movie_groups(d).tolist() == [0, 0, 1, 1, 0, 0, 1, 1]


def test_movie_groups_without_urls_is_a_clear_error(tmp_path, cache):
    d = load_imdb("test", make_tar(tmp_path / "t.tar.gz", tiny_layout(urls=False)), cache_dir=cache)
    assert d.urls is None
    with pytest.raises(ValueError, match="no movie urls"):
        imdb_movie_groups(d)


def test_url_lists_beside_the_archive_are_used(tmp_path, cache):
    """The shared copy keeps its url lists in urls/ next to the archive."""
    src = make_tar(tmp_path / "aclImdb_labeled.tar.gz", tiny_layout(n=4, urls=False))
    (tmp_path / "urls").mkdir()
    for split in ("train", "test"):
        for lab in ("neg", "pos"):
            lines = "".join(f"http://www.imdb.com/title/tt{i:07d}/usercomments\n" for i in range(4))
            (tmp_path / "urls" / f"{split}_urls_{lab}.txt.gz").write_bytes(gzip.compress(lines.encode()))
    d = load_imdb("train", src, cache_dir=cache)
    assert d.urls[5] == "http://www.imdb.com/title/tt0000001/usercomments"
    assert imdb_movie_groups(d).tolist() == [0, 1, 2, 3] * 2


# ---------------------------------------------------------------- sources


def test_folder_sources_give_the_same_data(tmp_path, cache):
    ref = load_imdb("test", SAMPLE, cache_dir=cache)
    extract(SAMPLE, tmp_path / "extracted")
    holder = tmp_path / "holder"
    holder.mkdir()
    shutil.copy(SAMPLE, holder / "aclImdb_v1.tar.gz")
    for src in (tmp_path / "extracted" / "aclImdb", tmp_path / "extracted", holder):
        d = load_imdb("test", src, cache_dir=tmp_path / f"cache-{src.name}")
        assert d.texts == ref.texts and d.urls == ref.urls
        np.testing.assert_array_equal(d.ids, ref.ids)
        np.testing.assert_array_equal(d.ratings, ref.ratings)


def test_env_path_and_data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("NNKIT_IMDB_PATH", str(SAMPLE))
    monkeypatch.setenv("NNKIT_DATA_DIR", str(tmp_path / "data"))
    d = load_imdb("train", download=False)
    assert len(d) == 2 * N_SAMPLE
    assert list((tmp_path / "data" / "imdb" / "parsed").glob("*-train.npz"))


def test_path_argument_wins_over_env(tmp_path, cache, monkeypatch):
    monkeypatch.setenv("NNKIT_IMDB_PATH", str(tmp_path / "missing.tar.gz"))
    assert len(load_imdb("test", SAMPLE, cache_dir=cache)) == 2 * N_SAMPLE


def test_extracted_folder_in_cache_dir(tmp_path, cache):
    extract(SAMPLE, cache / "imdb")
    assert len(load_imdb("test", cache_dir=cache, download=False)) == 2 * N_SAMPLE


# ---------------------------------------------------------------- parsed cache


def test_second_load_reads_the_cache_not_the_archive(cache, monkeypatch):
    first = load_imdb("test", SAMPLE, cache_dir=cache)

    def no_reading(*args):
        raise AssertionError("archive read again")

    monkeypatch.setattr(imdb, "_read_archive", no_reading)
    again = load_imdb("test", SAMPLE, cache_dir=cache)
    other = load_imdb("train", SAMPLE, cache_dir=cache)  # parsed in the same pass
    assert again.texts == first.texts and again.urls == first.urls
    np.testing.assert_array_equal(again.labels, first.labels)
    assert len(other) == 2 * N_SAMPLE


def test_cache_follows_changes_to_the_source(tmp_path, cache):
    src = tmp_path / "data.tar.gz"
    make_tar(src, tiny_layout(n=2))
    assert len(load_imdb("test", src, cache_dir=cache)) == 4
    make_tar(src, tiny_layout(n=3))
    os.utime(src, ns=(1, 10**18))
    assert len(load_imdb("test", src, cache_dir=cache)) == 6
    assert len(list((cache / "imdb" / "parsed").glob("*-test.npz"))) == 1


@pytest.fixture
def kept(monkeypatch):
    """keep_loaded_splits() for one test only."""
    monkeypatch.setattr(imdb, "_KEPT", None)
    imdb.keep_loaded_splits()
    return imdb


def test_kept_splits_answer_later_loads_with_copies(tmp_path, cache, kept, monkeypatch):
    src = tmp_path / "data.tar.gz"
    make_tar(src, tiny_layout(n=2))
    first = load_imdb("test", src, cache_dir=cache)  # parsed from the archive (both splits), then kept
    first.texts[0] = "changed by the caller"
    first.labels[:] = 7

    def no_reading(*args, **kwargs):
        raise AssertionError("read again although kept")

    with monkeypatch.context() as m:
        m.setattr(imdb.np, "load", no_reading)  # neither the cache file
        m.setattr(imdb, "_read_archive", no_reading)  # nor the archive
        again, other = load_imdb("test", src, cache_dir=cache), load_imdb("train", src, cache_dir=cache)
        assert again.texts[0] == "test neg review 0 \u00e9" and list(again.labels) == [0, 0, 1, 1], "the kept split was changed"
        assert again.texts is not load_imdb("test", src, cache_dir=cache).texts, "each load must get its own list"
        assert other.split == "train" and len(other) == 4
    make_tar(src, tiny_layout(n=3))  # a new version of the source is read, not the kept one
    os.utime(src, ns=(1, 10**18))
    assert len(load_imdb("test", src, cache_dir=cache)) == 6


def test_kept_splits_read_from_the_cache_file(cache, kept, monkeypatch):
    first = load_imdb("test", SAMPLE, cache_dir=cache)  # parsed from the archive; the cache file written
    monkeypatch.setattr(imdb, "_KEPT", {})
    imdb.keep_loaded_splits()
    from_file = load_imdb("test", SAMPLE, cache_dir=cache)
    with monkeypatch.context() as m:
        m.setattr(imdb.np, "load", lambda *a, **k: pytest.fail("the cache file read again although kept"))
        again = load_imdb("test", SAMPLE, cache_dir=cache)
    for data in (from_file, again):
        assert data.texts == first.texts and data.urls == first.urls and data.split == "test"
        np.testing.assert_array_equal(data.ratings, first.ratings)
    assert again.labels is not from_file.labels and again.texts is not from_file.texts


def test_preloaded_splits_are_read_now_and_not_again(tmp_path, cache, kept, monkeypatch):
    src = tmp_path / "data.tar.gz"
    make_tar(src, tiny_layout(n=2))
    imdb.keep_loaded_splits(preload=("train", "test"), path=src, cache_dir=cache)  # nothing cached yet: parsed
    assert len(imdb._KEPT) == 2
    imdb._KEPT.clear()
    imdb.keep_loaded_splits(preload=("test",), path=src, cache_dir=cache)  # from the cache file, not decoded
    assert [p.name.endswith("-test.npz") for p in imdb._KEPT] == [True]
    with monkeypatch.context() as m:
        m.setattr(imdb.np, "load", lambda *a, **k: pytest.fail("the cache file read again although preloaded"))
        m.setattr(imdb, "_read_archive", lambda *a, **k: pytest.fail("the archive read again although preloaded"))
        assert load_imdb("test", src, cache_dir=cache).texts[1] == "test neg review 1 \u00e9"
    imdb.keep_loaded_splits(preload=("test",), path=tmp_path / "absent.tar.gz", cache_dir=cache)  # left to later loads
    monkeypatch.setenv("NNKIT_DATA_DIR", str(tmp_path / "empty"))
    imdb.keep_loaded_splits(preload=("test",))  # no data anywhere, nothing downloaded


def test_a_damaged_kept_split_is_read_again(cache, kept):
    first = load_imdb("test", SAMPLE, cache_dir=cache)
    arrays = next(a for path, a in imdb._KEPT.items() if path.name.endswith("-test.npz"))
    arrays["text_ends"] = arrays["text_ends"][:-1]
    assert load_imdb("test", SAMPLE, cache_dir=cache).texts == first.texts


def test_splits_are_not_kept_unless_asked(cache, monkeypatch):
    monkeypatch.setattr(imdb, "_KEPT", None)
    load_imdb("test", SAMPLE, cache_dir=cache)
    assert imdb._KEPT is None


@pytest.mark.parametrize("damage", [b"", b"not a zip file", None])
def test_corrupt_cache_is_rebuilt(damage, cache):
    ref = load_imdb("test", SAMPLE, cache_dir=cache)
    (cached,) = (cache / "imdb" / "parsed").glob("*-test.npz")
    blob = cached.read_bytes()
    cached.write_bytes(blob[: len(blob) // 2] if damage is None else damage)
    d = load_imdb("test", SAMPLE, cache_dir=cache)
    assert d.texts == ref.texts and d.urls == ref.urls
    assert cached.read_bytes() == blob


def test_unwritable_cache_dir_still_loads(tmp_path):
    blocker = tmp_path / "file-not-dir"
    blocker.write_text("x")
    assert len(load_imdb("test", SAMPLE, cache_dir=blocker)) == 2 * N_SAMPLE


# ---------------------------------------------------------------- bad input


def test_missing_path_names_the_fix(tmp_path, cache):
    missing = tmp_path / "nope" / "aclImdb_v1.tar.gz"
    with pytest.raises(imdb.IMDBNotFoundError) as err:
        load_imdb("train", missing, cache_dir=cache)
    msg = str(err.value)
    assert str(missing) in msg and "path=" in msg and "NNKIT_IMDB_PATH" in msg
    assert isinstance(err.value, FileNotFoundError) and isinstance(err.value, RuntimeError)


def test_missing_env_path_is_named(tmp_path, cache, monkeypatch):
    monkeypatch.setenv("NNKIT_IMDB_PATH", str(tmp_path / "gone"))
    with pytest.raises(imdb.IMDBNotFoundError, match="NNKIT_IMDB_PATH"):
        load_imdb("train", cache_dir=cache)


def test_nothing_cached_and_no_download(cache):
    with pytest.raises(imdb.IMDBNotFoundError) as err:
        load_imdb("train", cache_dir=cache, download=False)
    msg = str(err.value)
    assert str(cache / "imdb") in msg and "path=" in msg and "download=True" in msg


def _truncated(tmp_path, frac):
    blob = SAMPLE.read_bytes()
    p = tmp_path / "truncated.tar.gz"
    p.write_bytes(blob[: int(len(blob) * frac)])
    return p


def _write(tmp_path, data):
    p = tmp_path / "bad.tar.gz"
    p.write_bytes(data)
    return p


@pytest.mark.parametrize(
    "make_bad",
    [
        pytest.param(lambda t: _truncated(t, 0.5), id="truncated-half"),
        pytest.param(lambda t: _truncated(t, 0.999), id="truncated-end"),
        pytest.param(lambda t: _truncated(t, 0.0005), id="truncated-start"),
        pytest.param(lambda t: _write(t, b""), id="empty"),
        pytest.param(lambda t: _write(t, b"<html>404 Not Found</html>"), id="not-a-tar"),
        pytest.param(lambda t: _write(t, gzip.compress(b"plain text " * 100)), id="gzip-not-tar"),
    ],
)
def test_bad_archive_is_one_clear_error(make_bad, tmp_path, cache):
    bad = make_bad(tmp_path)
    with pytest.raises(imdb.IMDBArchiveError) as err:
        load_imdb("test", bad, cache_dir=cache)
    msg = str(err.value)
    assert str(bad) in msg and "Delete" in msg and "aclImdb_v1.tar.gz" in msg
    assert not list(cache.rglob("*.npz"))


def test_corrupted_gzip_data_is_detected(tmp_path, cache):
    blob = bytearray(SAMPLE.read_bytes())
    for i in range(len(blob) // 2, len(blob) // 2 + 64):
        blob[i] ^= 0x5A
    bad = tmp_path / "flipped.tar.gz"
    bad.write_bytes(bytes(blob))
    with pytest.raises(imdb.IMDBArchiveError):
        load_imdb("test", bad, cache_dir=cache)


@pytest.mark.parametrize("gz", [True, False])
def test_wrong_layout(gz, tmp_path, cache):
    bad = make_tar(tmp_path / "reviews.tar", {"data/train/pos/0_9.txt": "good", "README": "x"}, gz=gz)
    with pytest.raises(imdb.IMDBLayoutError) as err:
        load_imdb("train", bad, cache_dir=cache)
    msg = str(err.value)
    assert "aclImdb/{train,test}/{pos,neg}" in msg and "data/train/pos/0_9.txt" in msg


def test_split_missing_from_archive(tmp_path, cache):
    src = make_tar(tmp_path / "train_only.tar.gz", tiny_layout(splits=("train",)))
    assert len(load_imdb("train", src, cache_dir=cache)) == 4
    with pytest.raises(imdb.IMDBLayoutError, match="aclImdb/test/pos"):
        load_imdb("test", src, cache_dir=cache)


def test_folder_without_data(tmp_path, cache):
    (tmp_path / "empty").mkdir()
    with pytest.raises(imdb.IMDBLayoutError, match="aclImdb"):
        load_imdb("train", tmp_path / "empty", cache_dir=cache)


def test_errors_share_one_base_class():
    for cls in (
        imdb.IMDBNotFoundError,
        imdb.IMDBArchiveError,
        imdb.IMDBLayoutError,
        imdb.IMDBChecksumError,
        imdb.IMDBDownloadError,
    ):
        assert issubclass(cls, imdb.IMDBDataError) and issubclass(cls, RuntimeError)


# ---------------------------------------------------------------- full data


@pytest.fixture(scope="module")
def full(tmp_path_factory):
    if not FULL_DATA.exists():
        pytest.skip(
            f"full IMDB data not found at {FULL_DATA}: set NNKIT_IMDB_PATH to "
            "aclImdb_v1.tar.gz or aclImdb_labeled.tar.gz to run this test"
        )
    cache = tmp_path_factory.mktemp("imdb-cache")
    # the first load parses both splits; the second comes from the cache
    return {s: load_imdb(s, FULL_DATA, cache_dir=cache, progress=False) for s in ("test", "train")}


@pytest.mark.imdb
@pytest.mark.slow
@pytest.mark.parametrize("split", ["test", "train"])
def test_full_data(full, split):
    d = full[split]
    assert len(d) == 25_000 and len(d.texts) == 25_000
    assert np.bincount(d.labels).tolist() == [12_500, 12_500]
    for lab in (0, 1):
        assert d.ids[d.labels == lab].tolist() == list(range(12_500))
    assert set(np.unique(d.ratings).tolist()) == {1, 2, 3, 4, 7, 8, 9, 10}
    assert "<br />" in "".join(d.texts[:200])
    if d.urls is not None:
        g = imdb_movie_groups(d)
        assert g.shape == (25_000,) and 1_000 < g.max() < 25_000
        if split == "train":
            assert len(np.unique(g[d.labels == 1])) == 1_390  # per the data README
