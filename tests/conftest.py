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


# `make test` runs the suite on every core (pytest -n auto, pytest-xdist). Tests that share expensive work stay on
# one worker, so that nothing is graded twice: a test module is one unit of work (its module-scoped fixtures are built
# once), except that the modules below split into one unit per test parameter (each assignment's mutant report on
# its own worker), and the modules that share the cached graded batch are one unit. (xdist's own --dist loadgroup
# marks do not group anything under pytest 9: it renames a node attribute pytest no longer reads.)
SPLIT_BY_PARAMETER = {"tests/test_assignments.py"}
SHARED_BATCH_MODULES = {"tests/test_autograder_grading.py", "tests/test_autograder_outputs.py"}


def pytest_xdist_make_scheduler(config, log):
    from xdist.scheduler import LoadScopeScheduling

    class SharedWorkScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid):
            module = nodeid.split("::", 1)[0]
            if module in SHARED_BATCH_MODULES:
                return "graded-batch"
            if module in SPLIT_BY_PARAMETER and nodeid.endswith("]"):
                return module + nodeid[nodeid.rindex("["):]
            return module

    # units in collection order, not largest first: the mutant reports (test_assignments.py, first) are the longest
    # units and start at once; xdist's default order (most tests first) left them for the end
    config.option.loadscopereorder = False
    return SharedWorkScheduling(config, log)


def pytest_configure(config):
    # Under pytest -n, each worker grades on its share of the CPUs (NNKIT_GRADING_CPUS, which the grade commands
    # the tests start inherit): its grading processes and each kernel's torch threads. Two kernels of two workers
    # each running torch on every core made a report 2-3x slower (OpenMP threads spinning on a busy core).
    share = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "0") or 0)
    if share > 1 and not os.environ.get("NNKIT_GRADING_CPUS"):
        os.environ["NNKIT_GRADING_CPUS"] = str(max(1, (os.cpu_count() or 1) // share))


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
