"""`python -m autograder check`: the static checks of an assignment, with each problem and its fix."""

import json
import re
import shutil
import subprocess
import sys

import pytest

from conftest import REPO

A = "numpy_nets"


def _check(course, *extra):
    return subprocess.run([sys.executable, "-m", "autograder", "check", A, "--course", str(course), *extra],
                          capture_output=True, text=True, timeout=300, cwd=str(REPO))


def _copy(tmp_path):
    course = tmp_path / "course"
    for sub in (f"source/{A}", f"release/{A}"):
        shutil.copytree(REPO / sub, course / sub)
    (course / "assignments").mkdir()
    shutil.copy2(REPO / "assignments" / f"{A}.toml", course / "assignments")
    (course / "tests" / "mutants").mkdir(parents=True)
    shutil.copy2(REPO / "tests" / "mutants" / f"{A}.py", course / "tests" / "mutants")
    return course


@pytest.mark.slow
def test_the_course_assignment_passes_with_a_one_line_summary():
    proc = subprocess.run([sys.executable, "-m", "autograder", "check", A], capture_output=True, text=True,
                          timeout=300, cwd=str(REPO))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.strip().splitlines() == [f"check {A}: OK", proc.stdout.strip().splitlines()[-1]]
    assert re.match(r"check: 1 assignment\(s\), 0 problem\(s\) in [0-9.]+ s$", proc.stdout.strip().splitlines()[-1])


def test_points_threshold_and_duplicate_grade_id_are_each_named(tmp_path):
    course = _copy(tmp_path)
    toml = course / "assignments" / f"{A}.toml"
    text = toml.read_text()
    text = re.sub(r'("01_activations_and_affine.ipynb"\s*=\s*)(\d+)', lambda m: m.group(1) + str(int(m.group(2)) + 5),
                  text, count=1)
    key, value = re.search(r"^(\w+)\s*=\s*([0-9.]+)", text.split("[thresholds]")[1], re.M).groups()
    text = text.replace(f"{key} = {value}", f"{key} = {float(value) / 2}", 1)
    toml.write_text(text)
    nb_path = course / "source" / A / "02_fully_connected_net.ipynb"
    nb = json.loads(nb_path.read_text())
    graded = [c for c in nb["cells"] if c["metadata"].get("nbgrader", {}).get("grade")]
    renamed = graded[1]["metadata"]["nbgrader"]["grade_id"]
    graded[1]["metadata"]["nbgrader"]["grade_id"] = graded[0]["metadata"]["nbgrader"]["grade_id"]
    nb_path.write_text(json.dumps(nb, indent=1))
    proc = _check(course, "--no-release")
    out = proc.stdout
    assert proc.returncode == 1, out + proc.stderr
    assert "[points] says" in out and "01_activations_and_affine.ipynb" in out, out
    assert f"[thresholds] {key} = {float(value) / 2:g}" in out and "Fix:" in out, out
    # the key is marked in two test cells (the visible check and the hidden test): each literal is named
    marked = [c["metadata"]["nbgrader"]["grade_id"] for c in graded if f"# manifest: thresholds.{key}" in "".join(c["source"])]
    assert len(marked) == 2, marked
    for gid in marked:
        assert f"the test in source/{A}/02_fully_connected_net.ipynb ({gid}) uses {float(value):g}" in out, out
    assert f"grade id {graded[0]['metadata']['nbgrader']['grade_id']!r} is used by 2 cells" in out, out
    # and the prose still names the renamed cell's points ({{ points.<its old id> }} in its part's heading)
    assert f"{renamed!r} is the grade id of no graded cell" in out, out
    assert "check: 1 assignment(s), 5 problem(s)" in out, out


def test_a_stale_release_and_a_broken_mutant_file_are_named(tmp_path):
    course = _copy(tmp_path)
    nb_path = course / "source" / A / "01_activations_and_affine.ipynb"
    nb = json.loads(nb_path.read_text())
    nb["cells"].append({"cell_type": "markdown", "id": "added-cell", "metadata": {}, "source": "A new question."})
    nb_path.write_text(json.dumps(nb, indent=1))
    (course / "tests" / "mutants" / f"{A}.py").write_text("MUTANTS = [{'name': 'x', 'kind': 'bogus'}]\n")
    proc = _check(course)
    assert proc.returncode == 1
    assert f"release/{A}: stale: 01_activations_and_affine.ipynb" in proc.stdout
    assert f"python -m autograder release {A}" in proc.stdout
    assert f"tests/mutants/{A}.py: does not load" in proc.stdout
