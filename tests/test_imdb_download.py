"""nnkit.data.download: fetching the archive, against a local HTTP server."""

from __future__ import annotations

import hashlib
import io
import socket
import tarfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest

from nnkit.data import download, imdb, load_imdb

ENV_VARS = ("NNKIT_IMDB_PATH", "NNKIT_DATA_DIR", "NNKIT_IMDB_URL", "NNKIT_IMDB_MD5")


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    for var in ENV_VARS:
        monkeypatch.delenv(var, raising=False)
    # requests must not send 127.0.0.1 through a proxy set for the machine
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")


def official_like_archive(n: int = 3) -> bytes:
    """A small .tar.gz in the layout of aclImdb_v1.tar.gz (unsup and extras included)."""
    files = {"aclImdb/README": "tiny", "aclImdb/imdb.vocab": "the\nand\n"}
    for split in ("train", "test"):
        for label, rating in (("neg", 1), ("pos", 10)):
            for i in range(n):
                files[f"aclImdb/{split}/{label}/{i}_{rating}.txt"] = f"{split} {label} {i}"
            files[f"aclImdb/{split}/urls_{label}.txt"] = "".join(
                f"http://www.imdb.com/title/tt{i:07d}/usercomments\n" for i in range(n)
            )
        files[f"aclImdb/{split}/labeledBow.feat"] = "0 0:1\n"
    files["aclImdb/train/unsup/0_0.txt"] = "unlabeled"
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, text in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(text.encode())
            tar.addfile(info, io.BytesIO(text.encode()))
    return buf.getvalue()


class _Handler(BaseHTTPRequestHandler):
    """Serves ``server.files`` ({url path: bytes}), with Range support; logs requests."""

    def do_GET(self):  # noqa: N802 (http.server API)
        self.server.requests.append(self.path)
        body = self.server.files.get(self.path)
        if body is None:
            self.send_error(404)
            return
        start, status = 0, 200
        rng = self.headers.get("Range", "")
        if rng.startswith("bytes=") and rng[6:].split("-")[0].isdigit():
            start, status = min(int(rng[6:].split("-")[0]), len(body)), 206
        self.send_response(status)
        self.send_header("Content-Type", "application/gzip")
        self.send_header("Content-Length", str(len(body) - start))
        if status == 206:
            self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
        self.end_headers()
        self.wfile.write(body[start:])

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.files, httpd.requests = {}, []
    body = official_like_archive()
    httpd.files["/data/aclImdb_v1.tar.gz"] = body
    httpd.url = f"http://127.0.0.1:{httpd.server_address[1]}/data/aclImdb_v1.tar.gz"
    httpd.md5 = hashlib.md5(body).hexdigest()
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()
    thread.join(5)


def closed_port_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/aclImdb_v1.tar.gz"


def test_defaults_are_the_official_archive():
    assert download.archive_url() == download.IMDB_URL
    assert download.IMDB_URL == "https://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz"
    assert download.archive_md5() == download.IMDB_MD5 == "7c2ac02c03563afcf9b574c7e56c153a"
    assert download.archive_filename() == "aclImdb_v1.tar.gz"


def test_download_verifies_and_loads(server, tmp_path):
    d = imdb._load("test", cache_dir=tmp_path, url=server.url, md5=server.md5, progress=False)
    assert len(d) == 6 and d.labels.tolist() == [0, 0, 0, 1, 1, 1]
    assert d.texts[0] == "test neg 0" and d.ratings.tolist() == [1, 1, 1, 10, 10, 10]
    assert d.urls[4] == "http://www.imdb.com/title/tt0000001/usercomments"
    archive = tmp_path / "imdb" / "aclImdb_v1.tar.gz"
    assert hashlib.md5(archive.read_bytes()).hexdigest() == server.md5
    assert server.requests == ["/data/aclImdb_v1.tar.gz"]


def test_second_call_does_not_hit_the_server(server, tmp_path):
    kw = dict(cache_dir=tmp_path, url=server.url, md5=server.md5, progress=False)
    first = imdb._load("train", **kw)
    assert len(server.requests) == 1
    again = imdb._load("train", **kw)
    other = imdb._load("test", **kw)
    assert len(server.requests) == 1
    assert again.texts == first.texts and len(other) == 6
    # without the parsed cache the verified archive is reused, still no request
    for p in (tmp_path / "imdb" / "parsed").glob("*.npz"):
        p.unlink()
    np.testing.assert_array_equal(imdb._load("train", **kw).ids, first.ids)
    assert len(server.requests) == 1
    # and download=False finds the cached archive too
    assert len(imdb._load("test", cache_dir=tmp_path, url=server.url, download=False)) == 6
    assert len(server.requests) == 1


def test_env_vars_and_progress_bar(server, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("NNKIT_IMDB_URL", server.url)
    monkeypatch.setenv("NNKIT_IMDB_MD5", server.md5)
    monkeypatch.setenv("NNKIT_DATA_DIR", str(tmp_path / "data"))
    d = load_imdb("train")  # progress=True: pooch draws a tqdm bar on stderr
    assert len(d) == 6 and server.requests == ["/data/aclImdb_v1.tar.gz"]
    assert (tmp_path / "data" / "imdb" / "aclImdb_v1.tar.gz").is_file()
    assert "B" in capsys.readouterr().err


def test_checksum_mismatch(server, tmp_path):
    with pytest.raises(imdb.IMDBChecksumError) as err:
        imdb._load("test", cache_dir=tmp_path, url=server.url, md5="0" * 32, progress=False)
    msg = str(err.value)
    assert "md5" in msg and "0" * 32 in msg and "by hand" in msg and "path=" in msg
    folder = tmp_path / "imdb"
    assert not (folder / "aclImdb_v1.tar.gz").exists()
    assert not [p for p in folder.rglob("*") if p.is_file()]  # no temp file left either
    # nothing bad was cached: the right md5 downloads and loads
    d = imdb._load("test", cache_dir=tmp_path, url=server.url, md5=server.md5, progress=False)
    assert len(d) == 6 and len(server.requests) == 2


def test_damaged_cached_archive_is_downloaded_again(server, tmp_path):
    archive = tmp_path / "imdb" / "aclImdb_v1.tar.gz"
    archive.parent.mkdir(parents=True)
    archive.write_bytes(official_like_archive()[:100])  # an interrupted copy
    d = imdb._load("test", cache_dir=tmp_path, url=server.url, md5=server.md5, progress=False)
    assert len(d) == 6 and len(server.requests) == 1
    assert hashlib.md5(archive.read_bytes()).hexdigest() == server.md5


def test_server_down_says_how_to_get_the_data(tmp_path):
    url = closed_port_url()
    t0 = time.perf_counter()
    with pytest.raises(imdb.IMDBDownloadError) as err:
        imdb._load("test", cache_dir=tmp_path, url=url, md5="0" * 32, progress=False)
    assert time.perf_counter() - t0 < 20
    msg = str(err.value)
    assert url in msg and "no internet access" in msg
    assert "aclImdb_v1.tar.gz by hand" in msg and "path=" in msg and "NNKIT_IMDB_PATH" in msg
    assert isinstance(err.value, imdb.IMDBDataError)
    assert not (tmp_path / "imdb" / "aclImdb_v1.tar.gz").exists()


def test_http_error_is_a_download_error(server, tmp_path):
    url = server.url.replace("aclImdb_v1", "missing")
    with pytest.raises(imdb.IMDBDownloadError, match="404"):
        imdb._load("test", cache_dir=tmp_path, url=url, md5=server.md5, progress=False)


def test_no_download_when_disabled(server, tmp_path):
    with pytest.raises(imdb.IMDBNotFoundError, match="download=True"):
        imdb._load("test", cache_dir=tmp_path, url=server.url, download=False)
    assert server.requests == []


def test_local_path_never_downloads(server, tmp_path, monkeypatch):
    monkeypatch.setenv("NNKIT_IMDB_URL", server.url)
    local = tmp_path / "aclImdb_v1.tar.gz"
    local.write_bytes(official_like_archive(n=2))
    assert len(load_imdb("test", local, cache_dir=tmp_path / "c")) == 4
    assert server.requests == []


def test_fetch_archive_directly(server, tmp_path):
    got = download.fetch_archive(tmp_path, url=server.url, md5=server.md5.upper(), progress=False)
    assert got == tmp_path / "aclImdb_v1.tar.gz" and got.is_file()
    assert download.fetch_archive(tmp_path, url=server.url, md5=server.md5, progress=False) == got
    assert len(server.requests) == 1


def test_range_requests_are_served(server):
    """The test server honours Range, as real mirrors do (resumed downloads)."""
    import requests

    r = requests.get(server.url, headers={"Range": "bytes=10-"}, timeout=10)
    assert r.status_code == 206 and r.content == server.files["/data/aclImdb_v1.tar.gz"][10:]
