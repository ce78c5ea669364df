# Two commands do all set-up on a fresh Linux or macOS machine (only python3 needed):
#   make demo   grade the bundled sample submissions
#   make test   run the test suite
# Each creates .venv from the pinned versions in constraints.txt when missing.

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.nnkit-installed
# nbgrader runs the `alembic` executable: the venv's bin/ must be on PATH.
export PATH := $(abspath $(VENV))/bin:$(PATH)
# Tests and CI read the shared IMDB copy when it is there.
export NNKIT_IMDB_PATH ?= $(wildcard $(abspath ../shared/data/imdb/aclImdb_labeled.tar.gz))

.PHONY: demo test mutants venv benchmarks clean-venv

venv: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	@# The grader sandboxes student kernels with bubblewrap (Linux); install it when we can.
	@command -v bwrap >/dev/null 2>&1 || { [ "$$(uname)" = Linux ] && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 \
	  && (apt-get update -qq && apt-get install -y -qq bubblewrap) >/dev/null 2>&1; } \
	  || command -v bwrap >/dev/null 2>&1 \
	  || echo "WARNING: bubblewrap (bwrap) is not installed: grading will run student code UNSANDBOXED. Install it: sudo apt-get install bubblewrap"
	@# Headless Chromium lets the tests prove feedback pages run no student script (skipped without it); best effort.
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || command -v google-chrome >/dev/null 2>&1 \
	  || { [ "$$(uname)" = Linux ] && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 \
	       && (apt-get install -y -qq chromium || (apt-get update -qq && apt-get install -y -qq chromium)) >/dev/null 2>&1; } \
	  || echo "note: no Chromium: the browser check in tests/test_feedback_security.py will be skipped (apt-get install chromium)"
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --disable-pip-version-check -q -c constraints.txt -e ".[grader,dev]"
	touch $(STAMP)

demo: $(STAMP)
	$(PY) -m autograder demo

# every core (pytest-xdist): tests that share expensive work stay on one worker (tests/conftest.py)
test: $(STAMP)
	$(PY) -m pytest -q -n auto

# Every mutant of every assignment (make test grades the quick tier: see tests/test_assignments.py).
mutants: $(STAMP)
	$(PY) -m autograder mutants --solutions

benchmarks: $(STAMP)
	$(PY) benchmarks/imdb_load.py
	$(PY) benchmarks/imdb_classifier.py
	$(PY) benchmarks/grading_speed.py

clean-venv:
	rm -rf $(VENV)
