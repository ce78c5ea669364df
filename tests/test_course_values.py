"""One truth per number: the manifest's thresholds and points and the course's install spec reach the
student prose, the release and the hidden tests from one place (:mod:`autograder.course_values`)."""

from __future__ import annotations

import json

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from autograder.checks import check_assignment
from autograder.course_values import DEFAULT_INSTALL, CourseValueError, fill, install_spec, placeholder_problems
from autograder.manifest import load_manifest
from fixtures.autograder_support import put, run_cli

A, NB = "limits", "01_limit.ipynb"


def _meta(gid, **kw):
    return {"nbgrader": {"grade_id": gid, "schema_version": 3, "grade": False, "solution": False, "locked": False, **kw}}


def _master():
    return new_notebook(cells=[
        new_code_cell('try:\n    import nnkit\nexcept ImportError:\n    %pip install -q "' + DEFAULT_INSTALL + '"\n'
                      '    import nnkit', metadata=_meta("setup", locked=True)),
        new_markdown_cell("Write `score()`. Full marks ({{ points }} of {{ points.total }} points) when it reaches "
                          "{{ thresholds.limit }}.", metadata=_meta("intro", locked=True)),
        new_code_cell("def score():\n    ### BEGIN SOLUTION\n    return 0.9\n    ### END SOLUTION",
                      metadata=_meta("answer", solution=True)),
        new_code_cell("limit = 0.5  # manifest: thresholds.limit\nassert score() >= limit, f'score below {limit}'",
                      metadata=_meta("test_limit", grade=True, locked=True, points=3)),
    ], metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}})


def _course(root, limit, install=None):
    (root / "source" / A).mkdir(parents=True)
    (root / "assignments").mkdir()
    nbformat.write(_master(), root / "source" / A / NB)
    (root / "assignments" / f"{A}.toml").write_text(
        f'title = "Limits"\nnotebooks = ["{NB}"]\n[limits]\ncell_timeout = 30\nnotebook_timeout = 60\n'
        f'memory_mb = 1536\n[points]\n"{NB}" = 3\n[thresholds]\nlimit = {limit}\n')
    if install:
        (root / "course.toml").write_text(f'[students]\ninstall = "{install}"\n')
    return root


def test_fill_writes_prose_threshold_literal_and_install_spec(tmp_path):
    manifest = load_manifest(_course(tmp_path, 0.75), A)
    nb = _master()
    assert fill(nb, manifest, NB, "nnkit @ git+https://example.org/fork.git") == 5
    assert "(3 of 3 points) when it reaches 0.75." in nb.cells[1].source
    assert nb.cells[3].source.startswith("limit = 0.75  # manifest: thresholds.limit\n")
    assert '%pip install -q "nnkit @ git+https://example.org/fork.git"' in nb.cells[0].source


def test_unknown_placeholder_names_the_notebook_and_the_fix(tmp_path):
    manifest = load_manifest(_course(tmp_path, 0.75), A)
    nb = _master()
    nb.cells[1].source += " {{ thresholds.missing }}"
    with pytest.raises(CourseValueError, match=r"source/limits/01_limit.ipynb: \{\{ thresholds.missing \}\}.*add it"):
        fill(nb, manifest, NB, DEFAULT_INSTALL)


def _two_parts():
    """The master with a second graded cell (2 points) and a markdown cell naming the points of each part."""
    nb = _master()
    nb.cells.append(new_code_cell("assert score() > 0", metadata=_meta("test_positive", grade=True, locked=True,
                                                                         points=2)))
    nb.cells.insert(2, new_markdown_cell("Part A ({{ points.test_limit }} points), part B ({{points.test_positive}} "
                                         "points), both ({{ points.test_limit + points.test_positive }} points) "
                                         "of {{ points.total }}.", metadata=_meta("parts", locked=True)))
    return nb


def test_points_of_a_part_come_from_its_graded_cells(tmp_path):
    manifest = load_manifest(_course(tmp_path, 0.75), A)
    nb = _two_parts()
    assert fill(nb, manifest, NB, DEFAULT_INSTALL) == 9
    assert nb.cells[2].source == "Part A (3 points), part B (2 points), both (5 points) of 3."
    assert placeholder_problems(_two_parts(), manifest, NB) == []
    # the cell's points are the truth: change them and the prose follows
    nb = _two_parts()
    nb.cells[-1].metadata["nbgrader"]["points"] = 1.5
    fill(nb, manifest, NB, DEFAULT_INSTALL)
    assert nb.cells[2].source == "Part A (3 points), part B (1.5 points), both (4.5 points) of 3."


@pytest.mark.parametrize("placeholder, message", [
    ("{{ points.test_missing }}", r"'test_missing' is the grade id of no graded cell.*test_limit, test_positive"),
    ("{{ points.answer }}", r"'answer' is the grade id of no graded cell"),  # a solution cell: no points
    ("{{ points.test_limit + points.nope }}", r"'nope' is the grade id of no graded cell"),
    ("{{ points.test_limit + }}", r"is not a placeholder release can fill.*points.GRADE_ID"),
    ("{{ thresholds }}", r"is not a placeholder release can fill"),
])
def test_a_points_placeholder_naming_no_graded_cell_is_an_error_with_the_fix(tmp_path, placeholder, message):
    manifest = load_manifest(_course(tmp_path, 0.75), A)
    nb = _two_parts()
    nb.cells[2].source += " " + placeholder
    with pytest.raises(CourseValueError, match=r"^source/limits/01_limit.ipynb: .*" + message):
        fill(nb, manifest, NB, DEFAULT_INSTALL)
    assert len(placeholder_problems(nb, manifest, NB)) == 1


def test_check_names_a_placeholder_release_cannot_fill(tmp_path):
    course = _course(tmp_path, 0.5)
    assert check_assignment(course, A, release=False) == []
    nb = nbformat.read(course / "source" / A / NB, as_version=4)
    nb.cells[1].source += " {{ points.test_limt }} {{ thresholds.limt }}"
    nbformat.write(nb, course / "source" / A / NB)
    problems = [str(p) for p in check_assignment(course, A, release=True)]
    assert len(problems) == 2, problems  # and no second report from the release it cannot generate
    assert problems[0].startswith(f"source/{A}/{NB}: {{{{ points.test_limt }}}}: 'test_limt' is the grade id of no "
                                  "graded cell") and "Fix: use the grade id of one of its test cells" in problems[0]
    assert "{{ thresholds.limt }} names no value of assignments/limits.toml" in problems[1]


def test_a_threshold_may_be_marked_in_several_test_cells_when_each_has_the_manifest_value(tmp_path):
    """The visible check and the hidden test of one bound both mark it: check accepts that when every literal
    has the manifest's value, names each one that does not, and release writes the manifest's value into all."""
    course = _course(tmp_path, 0.5)
    path = course / "source" / A / NB
    nb = nbformat.read(path, as_version=4)
    nb.cells.append(new_code_cell("LIMIT = 0.5  # manifest: thresholds.limit\nassert score() >= LIMIT, f'below {LIMIT}'",
                                  metadata=_meta("test_limit_again", grade=True, locked=True, points=0)))
    nbformat.write(nb, path)
    assert check_assignment(course, A, release=False) == []
    manifest = load_manifest(course, A)
    filled = nbformat.read(path, as_version=4)
    manifest.thresholds["limit"] = 0.75  # what release writes follows the manifest, in both cells
    assert fill(filled, manifest, NB, DEFAULT_INSTALL) == 6  # 2 literals, prose (2 points, 1 threshold), install
    assert [c.source.splitlines()[0] for c in filled.cells[3:]] == [
        "limit = 0.75  # manifest: thresholds.limit", "LIMIT = 0.75  # manifest: thresholds.limit"]
    # a literal that disagrees with the manifest is named, with its cell, and only that one
    nb.cells[-1].source = nb.cells[-1].source.replace("LIMIT = 0.5", "LIMIT = 0.6")
    nbformat.write(nb, path)
    problems = [str(p) for p in check_assignment(course, A, release=False)]
    assert problems == [f"assignments/{A}.toml: [thresholds] limit = 0.5 but the test in source/{A}/{NB} (test_limit_again) "
                        "uses 0.6. Fix: change both together (the test's literal is what grades)"], problems


def test_install_spec_comes_from_course_toml(tmp_path):
    assert install_spec(tmp_path) == DEFAULT_INSTALL
    (tmp_path / "course.toml").write_text('[students]\ninstall = "nnkit @ git+https://example.org/fork.git"\n')
    assert install_spec(tmp_path) == "nnkit @ git+https://example.org/fork.git"
    (tmp_path / "course.toml").write_text('[students]\ninstall = "numpy"\n')
    with pytest.raises(CourseValueError, match="must be a pip spec for nnkit"):
        install_spec(tmp_path)


@pytest.mark.slow
def test_a_threshold_changed_in_the_manifest_reaches_prose_and_hidden_test(tmp_path):
    fork = "nnkit @ git+https://example.org/our-course/nnkit.git"
    course = _course(tmp_path / "course", 0.5, install=fork)
    run_cli("release", A, course=course)
    rel = nbformat.read(course / "release" / A / NB, as_version=4)
    assert "reaches 0.5." in rel.cells[1].source and f'"{fork}"' in rel.cells[0].source
    solution = nbformat.read(course / "source" / A / NB, as_version=4)
    put(course, "ann", {NB: solution}, a=A)
    # a student's copy: the release (values filled in, the fork's install line) with the answer written
    answered = nbformat.read(course / "release" / A / NB, as_version=4)
    answered.cells[2].source = "def score():\n    return 0.9"
    put(course, "bea", {NB: answered}, a=A)
    run_cli("grade", A, course=course)
    students = json.loads((course / "grades" / A / "grading.json").read_text())["students"]
    state = students["ann"]
    assert state["score"] == 3, state
    # the filled-in locked cells are the master as students got it, not an edit
    assert students["bea"]["score"] == 3 and not students["bea"]["problems"], students["bea"]

    # one change, in the manifest: the prose and the hidden test follow it
    manifest = course / "assignments" / f"{A}.toml"
    manifest.write_text(manifest.read_text().replace("limit = 0.5", "limit = 0.95"))
    run_cli("release", A, course=course)
    rel = nbformat.read(course / "release" / A / NB, as_version=4)
    assert "reaches 0.95." in rel.cells[1].source
    run_cli("grade", A, "--force", course=course)
    state = json.loads((course / "grades" / A / "grading.json").read_text())["students"]["ann"]
    cell = next(c for c in state["cells"] if c["grade_id"] == "test_limit")
    assert state["score"] == 0 and "score below 0.95" in cell["message"], state
