"""Fetch the official IMDB archive (``aclImdb_v1.tar.gz``) into a cache folder.

The URL and md5 are the module constants :data:`IMDB_URL` and
:data:`IMDB_MD5`; the environment variables ``NNKIT_IMDB_URL`` and
``NNKIT_IMDB_MD5`` (or the ``url=`` / ``md5=`` arguments) override them, so a
mirror or a local test server can stand in for Stanford's server.
"""

from __future__ import annotations

import logging
import os
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Optional, Union

from nnkit.data.errors import IMDBChecksumError, IMDBDownloadError

IMDB_URL = "https://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz"
IMDB_MD5 = "7c2ac02c03563afcf9b574c7e56c153a"
DEFAULT_FILENAME = "aclImdb_v1.tar.gz"
TIMEOUT_S = 60


def archive_url(url: Optional[str] = None) -> str:
    """The archive URL: ``url``, else ``$NNKIT_IMDB_URL``, else :data:`IMDB_URL`."""
    return url or os.environ.get("NNKIT_IMDB_URL") or IMDB_URL


def archive_md5(md5: Optional[str] = None) -> str:
    """The expected md5 (hex): ``md5``, else ``$NNKIT_IMDB_MD5``, else :data:`IMDB_MD5`."""
    return (md5 or os.environ.get("NNKIT_IMDB_MD5") or IMDB_MD5).lower()


def archive_filename(url: Optional[str] = None) -> str:
    """The file name the archive from ``url`` is cached under."""
    name = archive_url(url).split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1]
    return name or DEFAULT_FILENAME


def manual_download_hint(url: Optional[str] = None) -> str:
    """One sentence telling a user how to get the data without this module."""
    return (
        f"download {DEFAULT_FILENAME} by hand from {archive_url(url)} (on any "
        "machine with internet access) and pass "
        "load_imdb(split, path='/path/to/aclImdb_v1.tar.gz') or set the "
        "NNKIT_IMDB_PATH environment variable to that file"
    )


def fetch_archive(
    folder: Union[str, os.PathLike],
    *,
    url: Optional[str] = None,
    md5: Optional[str] = None,
    progress: bool = True,
) -> Path:
    """Return the path of a complete, md5-verified archive in ``folder``.

    A file already there with the right md5 is reused without any network
    access; otherwise the archive is downloaded (with a progress bar when
    ``progress``). A file that fails the md5 check is never left in
    ``folder``. Raises :class:`IMDBChecksumError` on an md5 mismatch and
    :class:`IMDBDownloadError` when the server cannot be reached.
    """
    import pooch
    import requests.exceptions

    url, md5 = archive_url(url), archive_md5(md5)
    target = Path(folder).expanduser() / archive_filename(url)
    downloader = pooch.HTTPDownloader(
        progressbar=progress, chunk_size=1 << 18, timeout=TIMEOUT_S
    )
    try:
        with _quiet_pooch(not progress):
            got = pooch.retrieve(
                url,
                known_hash=f"md5:{md5}",
                fname=target.name,
                path=target.parent,
                downloader=downloader,
                progressbar=progress,
            )
    except requests.exceptions.RequestException as err:
        raise IMDBDownloadError(
            f"Could not download the IMDB data from {url} ({_reason(err)}). "
            f"If this machine has no internet access, {manual_download_hint(url)}."
        ) from err
    except ValueError as err:
        if "hash" not in str(err).lower():
            raise
        _remove(target)
        raise IMDBChecksumError(
            f"The file downloaded from {url} does not have the expected md5 "
            f"{md5}, so it was deleted and not cached ({err}). Try again (the "
            f"download may have been cut short); if it keeps failing, "
            f"{manual_download_hint(url)}."
        ) from err
    return Path(got)


def _reason(err: Exception) -> str:
    """A short description of a requests error (the innermost cause)."""
    inner = err
    while inner.__context__ is not None and len(str(inner)) > 200:
        inner = inner.__context__
    text = str(inner) or type(inner).__name__
    return text if len(text) <= 300 else text[:300] + "..."


def _remove(path: Path) -> None:
    try:
        path.unlink()
    except FileNotFoundError:
        pass


@contextmanager
def _quiet_pooch(quiet: bool) -> Iterator[None]:
    """Silence pooch's "Downloading ..." log lines while ``quiet``."""
    import pooch

    logger = pooch.get_logger()
    old = logger.level
    if quiet:
        logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        logger.setLevel(old)
