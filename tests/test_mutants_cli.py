"""`python -m autograder mutants`: kill and acceptance rates from one command, graded through the
grade path (fixture course), with every mutant's lost cells and the grader settings printed."""

import shutil
import subprocess
import sys

import pytest

from conftest import REPO

MUTANTS = '''
from autograder.mutation import correct, replace, wrong
NB = "01_basics.ipynb"
MUTANTS = [
    wrong("relu_min", NB, {"relu": replace("np.maximum(x, 0)", "np.minimum(x, 0)")}, ["test_relu"]),
    wrong("softmax_no_shift", NB, {"softmax": replace("np.exp(z - z.max(axis=1, keepdims=True))", "np.exp(z)")},
          ["test_softmax_values"]),
    correct("relu_where", NB, {"relu": "import numpy as np\\ndef relu(x):\\n    return np.where(x > 0, x, 0.0)"}),
    wrong("relu_lies", NB, {"relu": "import numpy as np\\nnp.allclose = lambda *a, **k: True\\ndef relu(x):\\n    return x"},
          ["test_relu"]),
]
'''


@pytest.mark.slow
def test_mutants_command_prints_both_rates(tmp_path):
    course = tmp_path / "course"
    shutil.copytree(REPO / "tests" / "fixtures" / "course", course)
    (course / "tests" / "mutants").mkdir(parents=True, exist_ok=True)
    (course / "tests" / "mutants" / "tiny.py").write_text(MUTANTS)
    proc = subprocess.run([sys.executable, "-m", "autograder", "mutants", "tiny", "--solutions", "--no-progress",
                           "--course", str(course)], capture_output=True, text=True, timeout=600, cwd=str(REPO))
    out = proc.stdout
    assert proc.returncode == 0, out + proc.stderr
    assert "kill rate): 3/3 (100%)" in out and "acceptance rate): 1/1 (100%)" in out, out
    assert "grader: the grade command's path (" in out
    assert "KILLED   relu_min (01_basics.ipynb" in out and "lost points in test_relu" in out
    assert "ACCEPTED relu_where" in out
    assert "solution 01_basics.ipynb: 4/4" in out and "blank release 01_basics.ipynb: 0/4" in out
    assert out.strip().splitlines()[-1] == "mutants: 1 assignment(s), 0 graded wrongly"


@pytest.mark.slow
def test_a_mistake_that_keeps_its_points_fails_the_command(tmp_path):
    course = tmp_path / "course"
    shutil.copytree(REPO / "tests" / "fixtures" / "course", course)
    (course / "tests" / "mutants").mkdir(parents=True, exist_ok=True)
    (course / "tests" / "mutants" / "tiny.py").write_text(
        'from autograder.mutation import wrong, replace\n'
        'MUTANTS = [wrong("harmless", "02_more.ipynb", {"mse": replace("np.mean(", "np.average(")}, ["test_mse"])]\n')
    proc = subprocess.run([sys.executable, "-m", "autograder", "mutants", "tiny", "--no-progress", "--course", str(course)],
                          capture_output=True, text=True, timeout=600, cwd=str(REPO))
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "SURVIVED harmless (02_more.ipynb, 4/4): lost points in none; should also have lost test_mse" in proc.stdout
