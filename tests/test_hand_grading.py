"""Hand grading: a TA's score entered in nbgrader's formgrader reaches export and feedback, and survives regrading.

The formgrader writes a hand-graded cell's score into ``gradebook.db`` as the
grade's ``manual_score``; this test writes it the same way (nbgrader's
``Gradebook`` API) for a written answer of the fixture course.
"""

from __future__ import annotations

import csv
import re

import nbformat
import pytest
from nbformat.v4 import new_markdown_cell

from autograder.course import Course
from fixtures.autograder_support import A, new_course, put, run_cli, solution

pytestmark = pytest.mark.slow

NB = "02_more.ipynb"
WRITTEN = "written_why"


def _add_written_answer(course):
    """Give ``02_more`` a hand-graded written answer worth 2 points (and the manifest its points)."""
    path = course / "source" / A / NB
    nb = nbformat.read(path, as_version=4)
    nb.cells.append(new_markdown_cell("Why does the test above use a tolerance? Answer below."))
    nb.cells.append(new_markdown_cell("Sums of floats round; the exact answer is off by a few ulps.", metadata={"nbgrader": {
        "grade": True, "solution": True, "locked": False, "points": 2, "grade_id": WRITTEN, "schema_version": 3}}))
    nbformat.write(nb, path)
    manifest = course / "assignments" / f"{A}.toml"
    manifest.write_text(manifest.read_text().replace(f'"{NB}" = 4', f'"{NB}" = 6'))


def _set_manual_score(course, student, score):
    """What the formgrader does when a TA types a score for the written answer."""
    with Course(course).gradebook() as gb:
        grade = gb.find_grade(WRITTEN, NB.removesuffix(".ipynb"), A, student)
        grade.manual_score = score
        gb.db.commit()


def _csv_row(course, student):
    out = course / "grades.csv"
    run_cli("export", A, "--format", "csv", "--to", str(out), course=course)
    return next(r for r in csv.DictReader(out.open()) if r["student"] == student)


def test_a_hand_score_reaches_export_and_feedback_and_survives_regrading(tmp_path):
    course = new_course(tmp_path / "course")
    _add_written_answer(course)
    run_cli("release", A, course=course)
    put(course, "ann", {name: solution(name, course=course) for name in ("01_basics.ipynb", NB)})
    run_cli("grade", A, course=course)

    before = _csv_row(course, "ann")
    assert float(before["score"]) == 8 and float(before["max"]) == 10, before
    assert "2 points to be graded by hand" in before["reason"], before

    _set_manual_score(course, "ann", 1.5)
    after = _csv_row(course, "ann")
    assert float(after["score"]) == 9.5, after
    assert "graded by hand" not in after["reason"], after

    run_cli("feedback", A, course=course)
    index = (course / "feedback" / "ann" / A / "index.html").read_text()
    assert re.search(r"Score: 9\.5 / 10\b", index), index[:2000]
    assert "not included yet" not in index
    assert "1.5 / 2" in index  # the written answer's row in the table of tests

    # a forced regrade rewrites every automatic score and keeps the TA's
    run_cli("grade", A, "--force", course=course)
    again = _csv_row(course, "ann")
    assert float(again["score"]) == 9.5, again
    with Course(course).gradebook() as gb:
        assert gb.find_grade(WRITTEN, NB.removesuffix(".ipynb"), A, "ann").manual_score == 1.5
