"""Extra credit (``[extra_credit]`` in a manifest): a 0-point test cell whose verdict earns bonus points.

Fast tests: the manifest's validation, ``check``, the cap, the mutation report's view of a lost
bonus. The slow test builds a temporary copy of the fixture course whose ``02_more`` gets a bonus
exercise (``cube``, test cell ``test_bonus`` with 0 points, 2 extra-credit points) and a written
answer graded by hand, and grades it through the real ``grade`` command.
"""

from __future__ import annotations

import csv
import re

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell

from autograder.course import Course
from autograder.extra_credit import capped
from autograder.manifest import ManifestError, parse_manifest
from fixtures.autograder_support import A, edit, new_course, put, run_cli, solution

NB1, NB2 = "01_basics.ipynb", "02_more.ipynb"
BONUS, WRITTEN = "test_bonus", "written_why"


def _meta(gid, **kw):
    return {"nbgrader": {"grade_id": gid, "schema_version": 3, **kw}}


def _course_with_bonus(dest, above_max=False, points=2, bonus_points=0, written=True):
    """The fixture course with a bonus exercise in 02_more (and a 2-point written answer when ``written``)."""
    course = new_course(dest)
    path = course / "source" / A / NB2
    nb = nbformat.read(path, as_version=4)
    nb.cells.append(new_markdown_cell("## Extra credit: cube\n\n`cube(x)` returns `x ** 3` elementwise "
                                      "(up to {{ extra_credit.test_bonus }} extra points).", id="bonus_md"))
    nb.cells.append(new_code_cell("def cube(x):\n    ### BEGIN SOLUTION\n    return x ** 3\n    ### END SOLUTION",
                                  id="bonus", metadata=_meta("bonus", grade=False, solution=True, locked=False)))
    nb.cells.append(new_code_cell(
        "assert_allclose(cube(np.array([2.0])), np.array([8.0]), what='cube')\n"
        "### BEGIN HIDDEN TESTS\n"
        "_x = np.random.default_rng(3).normal(size=(4, 3))\n"
        "assert_allclose(cube(_x), _x ** 3, what='cube on random input')\n"
        "### END HIDDEN TESTS", id=BONUS,
        metadata=_meta(BONUS, grade=True, solution=False, locked=True, points=bonus_points)))
    total = 4 + bonus_points
    if written:
        nb.cells.append(new_markdown_cell("Why does the test above use a tolerance? Answer below.", id="why_md"))
        nb.cells.append(new_markdown_cell("Sums of floats round.", id=WRITTEN,
                                          metadata=_meta(WRITTEN, grade=True, solution=True, locked=False, points=2)))
        total += 2
    nbformat.write(nb, path)
    manifest = course / "assignments" / f"{A}.toml"
    text = manifest.read_text().replace(f'"{NB2}" = 4', f'"{NB2}" = {total}')
    text += f"\n[extra_credit]\nabove_max = {'true' if above_max else 'false'}\npoints = {{ {BONUS} = {points} }}\n"
    manifest.write_text(text)
    return course


def _set_above_max(course, value):
    manifest = course / "assignments" / f"{A}.toml"
    text = manifest.read_text()
    manifest.write_text(re.sub(r"above_max = \w+", f"above_max = {'true' if value else 'false'}", text))


# --------------------------------------------------------------------------- fast


def _raw(extra):
    return {"title": "t", "notebooks": ["a.ipynb"], "points": {"a.ipynb": 3}, "extra_credit": extra}


def test_manifest_reads_extra_credit():
    m = parse_manifest(_raw({"points": {"test_own": 2}}), "t")
    assert m.extra_credit.points == {"test_own": 2.0} and m.extra_credit.above_max is False and m.extra_credit
    assert parse_manifest(_raw({"points": {"x": 1.5}, "above_max": True}), "t").extra_credit.above_max is True
    assert not parse_manifest({"title": "t", "notebooks": ["a.ipynb"]}, "t").extra_credit


@pytest.mark.parametrize("extra, says", [
    ({"points": {"x": 0}}, r"points\.x = 0: extra-credit points must be a number above 0; write points = \{ x = 2 \}"),
    ({"points": {"x": -1}}, r"must be a number above 0"),
    ({"points": {"x": "2"}}, r"must be a number above 0"),
    ({"points": {"x": True}}, r"must be a number above 0"),
    ({"points": {"x": 1}, "above_max": "no"}, r"above_max must be true or false.*write above_max = false"),
    ({"points": [1, 2]}, r"points must be a table of grade id = points"),
    ({"bonus": {}}, r"unknown \[extra_credit\] keys \['bonus'\]"),
    ("yes", r"extra_credit must be a table"),
])
def test_manifest_errors_name_the_fix(extra, says):
    with pytest.raises(ManifestError, match=says):
        parse_manifest(_raw(extra), "t")


def test_the_cap():
    assert capped([2.0], 8, 10) == [2.0]
    assert capped([2.0], 9, 10) == [1.0]
    assert capped([2.0], 10, 10) == [0.0]
    assert capped([2.0, 3.0], 7, 10) == [2.0, 1.0]      # the last cells give theirs up first
    assert capped([2.0], 10, 10, above_max=True) == [2.0]
    assert capped([2.0], 12, 10) == [0.0]               # never negative


def test_check_names_a_bad_extra_credit_id(tmp_path):
    from autograder.checks import check_assignment

    course = _course_with_bonus(tmp_path / "c", written=False)
    assert [str(p) for p in check_assignment(course, A, release=False)] == []
    manifest = course / "assignments" / f"{A}.toml"
    for gid, says, fix in [
        ("test_bonsu", "'test_bonsu', which is no cell of", "use the grade id of a locked test cell with points = 0"),
        ("bonus", "'bonus', which is not a graded test cell in source/tiny/02_more.ipynb", "'Autograder tests'"),
        ("test_mse", "'test_mse', a test cell of source/tiny/02_more.ipynb with 2 points", "set the cell's points to 0"),
    ]:
        manifest.write_text(re.sub(r"points = \{ \w+ = 2 \}", f"points = {{ {gid} = 2 }}", manifest.read_text()))
        problems = [str(p) for p in check_assignment(course, A, release=False)]
        assert any(says in p and fix in p for p in problems), problems
        # the prose's {{ extra_credit.test_bonus }} names points the manifest no longer has
        assert len(problems) == 2 and any("{{ extra_credit.test_bonus }} names no [extra_credit]" in p
                                          for p in problems), problems
    manifest.write_text(manifest.read_text().replace("test_mse = 2", "test_mse = 0"))
    problems = [str(p) for p in check_assignment(course, A, release=False)]
    assert len(problems) == 1 and "extra-credit points must be a number above 0" in problems[0], problems


def test_a_lost_bonus_counts_as_lost_points_in_the_mutation_report():
    from autograder.mutation import MutantResult, _notebook_points

    def entry(extra):
        return {"cells": [{"notebook": NB2, "grade_id": "test_mse", "score": 2.0, "max_score": 2.0},
                          {"notebook": NB2, "grade_id": BONUS, "score": 0.0, "max_score": 0.0,
                           "extra_credit": extra, "extra_max": 2.0}]}

    assert _notebook_points(entry(2.0), NB2) == (2.0, 2.0, [])
    score, mx, lost = _notebook_points(entry(0.0), NB2)
    assert (score, mx, lost) == (2.0, 2.0, [BONUS])
    assert MutantResult("m", "wrong", NB2, "b", score, mx, lost, [BONUS]).ok          # killed
    assert not MutantResult("m", "wrong", NB2, "b", 2.0, 2.0, [], [BONUS]).ok         # survived
    assert not MutantResult("c", "correct", NB2, "b", score, mx, lost, []).ok         # a correct bonus must keep it
    assert MutantResult("c", "correct", NB2, "b", 2.0, 2.0, [], []).ok


# --------------------------------------------------------------------------- graded for real


def _csv(course):
    out = course / "grades.csv"
    run_cli("export", A, "--format", "csv", "--to", str(out), course=course)
    return {r["student"]: r for r in csv.DictReader(out.open())}


def _set_manual_score(course, student, score):
    with Course(course).gradebook() as gb:
        grade = gb.find_grade(WRITTEN, NB2.removesuffix(".ipynb"), A, student)
        grade.manual_score = score
        gb.db.commit()


@pytest.mark.slow
def test_extra_credit_is_earned_capped_and_shown(tmp_path):
    course = _course_with_bonus(tmp_path / "course")
    run_cli("release", A, course=course)
    assert "up to 2 extra points" in nbformat.read(course / "release" / A / NB2, as_version=4).cells[-5].source
    s1, s2 = solution(NB1, course=course), solution(NB2, course=course)
    wrong_relu = edit(s1, "relu", "def relu(x):\n    return x")                    # loses test_relu (1 point)
    wrong_cube = edit(s2, "bonus", "def cube(x):\n    return x ** 2")
    put(course, "full", {NB1: s1, NB2: s2})              # 8/8 automatic + bonus, 2 written points pending
    put(course, "partial", {NB1: wrong_relu, NB2: s2})   # 7/8 + bonus
    put(course, "nobonus", {NB1: wrong_relu, NB2: wrong_cube})  # 7/8, bonus failed
    run_cli("grade", A, course=course)

    rows = _csv(course)
    assert all(r["max"] == "10" for r in rows.values())
    # the written answer is not graded yet: 8 + 2 and 7 + 2 stay within 10
    assert (rows["full"]["score"], rows["full"]["extra_credit"]) == ("10", "2"), rows["full"]
    assert (rows["partial"]["score"], rows["partial"]["extra_credit"]) == ("9", "2"), rows["partial"]
    assert (rows["nobonus"]["score"], rows["nobonus"]["extra_credit"]) == ("7", "0"), rows["nobonus"]
    with Course(course).gradebook() as gb:
        g = gb.find_grade(BONUS, "02_more", A, "full")
        assert (g.auto_score, g.extra_credit, g.max_score) == (0.0, 2.0, 0.0)
        assert gb.find_grade(BONUS, "02_more", A, "nobonus").extra_credit == 0.0
    state = Course(course).state(A, "grading.json")["students"]
    bonus = next(c for c in state["nobonus"]["cells"] if c["grade_id"] == BONUS)
    assert (bonus["extra_credit"], bonus["extra_max"]) == (0.0, 2.0) and "cube" in bonus["message"]

    # a TA grades the written answers: full marks + bonus stays at the maximum, the bonus fills the rest
    for s in ("full", "partial", "nobonus"):
        _set_manual_score(course, s, 2)
    rows = _csv(course)
    assert (rows["full"]["score"], rows["full"]["extra_credit"]) == ("10", "0"), rows["full"]
    assert (rows["partial"]["score"], rows["partial"]["extra_credit"]) == ("10", "1"), rows["partial"]
    assert (rows["nobonus"]["score"], rows["nobonus"]["extra_credit"]) == ("9", "0"), rows["nobonus"]

    run_cli("feedback", A, course=course)
    page = (course / "feedback" / "partial" / A / "index.html").read_text()
    assert "Score: 10 / 10" in page and "extra credit: 1 (in the score; 2 of 2 earned, the rest above" in page, page
    page = (course / "feedback" / "nobonus" / A / "index.html").read_text()
    assert "extra credit: 0 (in the score; 0 of 2 earned)" in page and "test_bonus: extra credit 0/2" in page
    run_cli("report", A, course=course)
    report = (course / "reports" / A / "report.md").read_text()
    assert "- extra credit: 1 students" in report and "- lowest / highest: 9 / 10" in report, report

    # a regrade keeps the cap with the TA's scores in the gradebook too
    run_cli("grade", A, "--force", "--student", "full", course=course)
    with Course(course).gradebook() as gb:
        sub = gb.find_submission(A, "full")
        assert float(sub.score) == 10 and gb.find_grade(BONUS, "02_more", A, "full").extra_credit == 0.0

    # above_max = true: the bonus lifts totals above the maximum
    _set_above_max(course, True)
    run_cli("grade", A, course=course)   # the manifest's extra credit is part of what a grade depends on
    rows = _csv(course)
    assert (rows["full"]["score"], rows["full"]["extra_credit"]) == ("12", "2"), rows["full"]
    assert (rows["partial"]["score"], rows["partial"]["extra_credit"]) == ("11", "2"), rows["partial"]
    assert (rows["nobonus"]["score"], rows["nobonus"]["extra_credit"]) == ("9", "0"), rows["nobonus"]
    assert all(r["max"] == "10" for r in rows.values())
