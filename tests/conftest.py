"""Shared fixtures: repository paths and the full IMDB data when it is there."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_IMDB = (REPO / ".." / "shared" / "data" / "imdb" / "aclImdb_labeled.tar.gz").resolve()


def full_imdb_path():
    """Path of the full IMDB archive (NNKIT_IMDB_PATH, else ../shared), or None."""
    env = os.environ.get("NNKIT_IMDB_PATH")
    if env and Path(env).exists():
        return Path(env)
    return SHARED_IMDB if SHARED_IMDB.exists() else None


@pytest.fixture(scope="session")
def repo():
    return REPO


@pytest.fixture(scope="session")
def imdb_path():
    """The full IMDB archive; skips the test (saying why) when it is not on this machine."""
    p = full_imdb_path()
    if p is None:
        pytest.skip(f"full IMDB data not found: set NNKIT_IMDB_PATH or put it at {SHARED_IMDB}")
    return p
