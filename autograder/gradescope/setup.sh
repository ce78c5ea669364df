#!/usr/bin/env bash
# Gradescope runs this once, when it builds the autograder image. It installs what grading
# needs into a virtualenv at /autograder/venv (run_autograder uses it); the course code
# (autograder, nnkit) and the master notebooks with their hidden tests come with this
# package under source/. constraints.txt pins exact versions: the image's python3 must
# satisfy them (Python 3.11+: pick Gradescope's Ubuntu 24.04 base image).
set -euo pipefail
cd "$(dirname "$0")"
ROOT="${NNKIT_AUTOGRADER_ROOT:-/autograder}"
if ! python3 -m venv --help >/dev/null 2>&1 || ! python3 -c "import ensurepip" >/dev/null 2>&1; then
    apt-get update -q && apt-get install -y -q python3 python3-venv python3-pip
fi
python3 -m venv "$ROOT/venv"
PIP="$ROOT/venv/bin/python -m pip install -q --disable-pip-version-check"
# CPU build of torch (Gradescope has no GPU); the default index would pull the CUDA build.
TORCH_PIN=$(grep -E '^torch==' constraints.txt || echo torch)
$PIP --index-url https://download.pytorch.org/whl/cpu "$TORCH_PIN" || $PIP -c constraints.txt torch
$PIP -c constraints.txt -r requirements.txt
# Datasets the assignment reads (IMDB for pytorch_imdb) are fetched now, while there is
# network, into $ROOT/data; run_autograder reads them from there.
PYTHONPATH="$PWD/lib" "$ROOT/venv/bin/python" -m autograder.gradescope prepare --root "$ROOT"
