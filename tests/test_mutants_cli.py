"""`python -m autograder mutants`: kill and acceptance rates from one command (fixture course)."""

import shutil
import subprocess
import sys

import pytest

from conftest import REPO

MUTANTS = '''
from pathlib import Path
from autograder.mutation import replace_in_cell
R = Path(__file__).resolve().parents[2]
NB = "01_basics.ipynb"
MUTANTS = [
    {"name": "relu_min", "kind": "wrong", "notebook": NB, "must_fail": ["test_relu"],
     "cells": {"relu": replace_in_cell("tiny", NB, "relu", "np.maximum(x, 0)", "np.minimum(x, 0)", source_root=R)}},
    {"name": "relu_where", "kind": "correct", "notebook": NB,
     "cells": {"relu": "import numpy as np\\ndef relu(x):\\n    return np.where(x > 0, x, 0.0)"}},
    {"name": "relu_lies", "kind": "wrong", "notebook": NB,
     "cells": {"relu": "import numpy as np\\nnp.allclose = lambda *a, **k: True\\ndef relu(x):\\n    return x"}},
]
'''


@pytest.mark.slow
def test_mutants_command_prints_both_rates(tmp_path):
    course = tmp_path / "course"
    shutil.copytree(REPO / "tests" / "fixtures" / "course", course)
    (course / "tests" / "mutants").mkdir(parents=True, exist_ok=True)
    (course / "tests" / "mutants" / "tiny.py").write_text(MUTANTS)
    proc = subprocess.run([sys.executable, "-m", "autograder", "mutants", "tiny", "--course", str(course)],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "kill rate): 2/2 (100%)" in proc.stdout and "acceptance rate): 1/1 (100%)" in proc.stdout
    assert proc.stdout.strip().splitlines()[-1] == "mutants: 1 assignment(s), 0 mutant(s) graded wrongly"
