"""Each attack from the security model, through the real `grade` command, in one batch
with an honest student: no unearned points, a reason in the export, the rest graded right."""

from __future__ import annotations

import csv
import hashlib
import json

import pytest

from fixtures.autograder_support import A, NB1, NB2, edit, new_course, put, run_cli, solution

import nnkit

WRONG_RELU = "def relu(x):\n    return x\n"
NNKIT_DIR = __import__("pathlib").Path(nnkit.__file__).resolve().parent

ATTACKS = {
    # student: (01_basics relu cell, expected total score, words expected in the export's reason)
    "patch_numpy": ("import numpy as np\nnp.allclose = lambda *a, **k: True\nnp.abs = lambda x: x * 0\n" + WRONG_RELU,
                    4, ["numpy.allclose"]),
    "replace_helper": ("import nnkit.grading as g\ng.assert_allclose = lambda *a, **k: None\n" + WRONG_RELU,
                       4, ["nnkit.grading"]),
    "rebind_provided": ("assert_allclose = lambda *a, **k: None\n" + WRONG_RELU, 4, ["assert_allclose"]),
    "swallow_ast": (
        "import ast\n"
        "class Swallow(ast.NodeTransformer):\n"
        "    def visit_Module(self, node):\n"
        "        h = ast.ExceptHandler(type=None, name=None, body=[ast.Pass()])\n"
        "        node.body = [ast.Try(body=node.body or [ast.Pass()], handlers=[h], orelse=[], finalbody=[])]\n"
        "        return ast.fix_missing_locations(node)\n"
        "get_ipython().ast_transformers.append(Swallow())\n" + WRONG_RELU, 4, ["ast_transformers"]),
    "hide_traceback": ("get_ipython().showtraceback = lambda *a, **k: None\n" + WRONG_RELU, 4, ["showtraceback"]),
    "exit_cell": ("import numpy as np\ndef relu(x):\n    return np.maximum(x, 0)\nimport sys\nsys.exit(0)\n",
                  8, ["sys.exit"]),
    "write_nnkit": ("import os, nnkit\n"
                    "open(os.path.join(os.path.dirname(nnkit.__file__), 'grading.py'), 'a').write('\\nassert_allclose = print\\n')\n"
                    "import numpy as np\ndef relu(x):\n    return np.maximum(x, 0)\n", 4, ["nnkit"]),
}
KILLS = {  # softmax cell replaced: relu's point and 02's four stay, softmax's three are lost
    "os_exit": ("import os\nos._exit(1)", 5, ["os._exit"]),
    "kill_kernel": ("import os, signal\nos.kill(os.getpid(), signal.SIGKILL)", 5, ["os.kill"]),
}


def _nnkit_digest():
    h = hashlib.sha256()
    for p in sorted(NNKIT_DIR.rglob("*.py")):
        h.update(p.read_bytes())
    return h.hexdigest()


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    course = new_course(tmp_path_factory.mktemp("attacks") / "course")
    s1, s2 = solution(NB1), solution(NB2)
    put(course, "honest", {NB1: s1, NB2: s2})
    for student, (src, _, _) in ATTACKS.items():
        put(course, student, {NB1: edit(s1, "relu", src), NB2: s2})
    for student, (src, _, _) in KILLS.items():
        put(course, student, {NB1: edit(s1, "softmax", src), NB2: s2})
    # a locked test cell edited to pass whatever relu does: restored from the master
    locked = edit(edit(s1, "relu", WRONG_RELU), "test_relu", "pass")
    put(course, "edit_locked", {NB1: locked, NB2: s2})
    before = _nnkit_digest()
    proc = run_cli("grade", A, "--workers", "2", course=course, check=False)
    out = course / "grades.csv"
    run_cli("export", A, "--format", "csv", "--to", str(out), course=course)
    rows = {r["student"]: r for r in csv.DictReader(out.open())}
    state = json.loads((course / "grades" / A / "grading.json").read_text())["students"]
    return {"rows": rows, "state": state, "proc": proc, "nnkit_changed": _nnkit_digest() != before}


def test_honest_student_in_the_same_batch_gets_full_marks(graded):
    row = graded["rows"]["honest"]
    assert float(row["score"]) == 8 and row["reason"] == "", row
    assert graded["state"]["honest"]["problems"] == []


@pytest.mark.parametrize("student", sorted(ATTACKS) + sorted(KILLS))
def test_attack_earns_nothing_unearned_and_is_reported(graded, student):
    _, score, words = {**ATTACKS, **KILLS}[student]
    row = graded["rows"][student]
    assert float(row["score"]) == score, (student, row)
    for w in words:
        assert w in row["reason"], (student, row["reason"])


def test_edited_locked_cell_is_restored_and_reported(graded):
    row = graded["rows"]["edit_locked"]
    assert float(row["score"]) == 7, row  # test_relu restored and failed; softmax's three and 02's four stay
    assert "locked cell" in row["reason"]


def test_library_files_are_untouched(graded):
    assert not graded["nnkit_changed"]
