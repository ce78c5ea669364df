"""feedback, export (CSV, Gradescope results.json) and report on the graded batch."""

from __future__ import annotations

import csv
import json

import pytest

from autograder.course import read_json, write_json
from fixtures.autograder_support import A, graded_batch, run_cli

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def course():
    course, expected, _ = graded_batch()
    # a roster student who never handed anything in
    collected = read_json(course / "grades" / A / "collect.json", {})
    collected.setdefault("students", {})
    collected["roster"] = sorted(set(expected) | {"ghost"})
    write_json(course / "grades" / A / "collect.json", collected)
    return course


@pytest.fixture(scope="module")
def feedback_run(course):
    return run_cli("feedback", A, course=course)


def test_feedback_has_scores_and_messages_but_no_hidden_tests(course, feedback_run):
    assert feedback_run.stdout.strip().splitlines()[-1].startswith(f"feedback {A}: wrote ")
    pages = sorted(p for p in (course / "feedback").glob(f"*/{A}/*.html") if p.name != "index.html")
    students = {p.parts[-3] for p in pages}
    assert {"sol", "blank", "colab", "dies", "loop"} <= students
    for page in pages:
        text = page.read_text()
        assert "HIDDEN-MARKER" not in text, page
        assert "BEGIN HIDDEN TESTS" not in text, page
    blank = (course / "feedback" / "blank" / A / "01_basics.html").read_text()
    assert "NotImplementedError" in blank and "Score: 0 / 8" in blank
    assert "Cell In[" not in blank  # test tracebacks quote test source: reduced to the message
    colab = (course / "feedback" / "colab" / A / "01_basics.html").read_text()
    assert "nbgrader metadata missing" in colab
    dies = (course / "feedback" / "dies" / A / "01_basics.html").read_text()
    assert "the kernel died" in dies


def test_feedback_for_students_without_graded_notebooks(course, feedback_run):
    assert "with a summary page only" in feedback_run.stdout
    from autograder.execution.sandbox import bwrap_available

    page = (course / "feedback" / "hostile" / A / "index.html").read_text()
    if bwrap_available():  # the sandboxed kernel could not kill its worker: graded, attempt reported
        assert "os.kill" in page
    else:
        assert "crashed" in page and "Score: 0 / 8" in page
    page = (course / "feedback" / "notanotebook" / A / "index.html").read_text()
    assert "not a Jupyter notebook" in page
    for index in (course / "feedback").glob(f"*/{A}/index.html"):
        assert "HIDDEN-MARKER" not in index.read_text()


def test_csv_export(course, tmp_path):
    out = tmp_path / "grades.csv"
    proc = run_cli("export", A, "--format", "csv", "--to", str(out), course=course)
    rows = {r["student"]: r for r in csv.DictReader(out.open())}
    assert list(next(csv.reader(out.open()))) == ["student", "score", "max", "late", "hours_late", "reason"]
    assert rows["sol"]["score"] == "8" and rows["sol"]["max"] == "8"
    assert rows["sol"]["late"] == "yes" and "late by" in rows["sol"]["reason"]
    assert rows["blank"]["score"] == "0" and rows["blank"]["late"] == "no" and rows["blank"]["reason"] == ""
    assert "broken JSON" in rows["broken"]["reason"]
    assert "empty file" in rows["empty"]["reason"]
    assert "not handed in" in rows["missing"]["reason"]
    assert "time limit" in rows["loop"]["reason"]
    assert "kernel died" in rows["dies"]["reason"]
    assert "did not stop" in rows["swallow"]["reason"]
    from autograder.execution.sandbox import bwrap_available

    assert ("os.kill" if bwrap_available() else "crashed") in rows["hostile"]["reason"]
    assert "os._exit" in rows["dies"]["reason"]
    assert "truncated" in rows["spam"]["reason"]
    assert "graded as 01_basics.ipynb" in rows["colab"]["reason"]
    assert rows["ghost"]["score"] == "0" and rows["ghost"]["reason"] == "no submission"
    assert proc.stdout.strip().splitlines()[-1].startswith(f"export {A}: {len(rows)} students to ")


def test_gradescope_export(course, tmp_path):
    run_cli("export", A, "--format", "gradescope", "--to", str(tmp_path / "gs"), course=course)
    res = json.loads((tmp_path / "gs" / "dies" / "results.json").read_text())
    assert res["score"] == 5 and set(res) >= {"score", "execution_time", "output", "visibility",
                                             "stdout_visibility", "tests"}
    tests = {t["name"]: t for t in res["tests"]}
    assert tests["01_basics.ipynb: test_relu"]["status"] == "passed"
    assert tests["01_basics.ipynb: test_softmax_values"]["status"] == "failed"
    assert sum(t["max_score"] for t in res["tests"]) == 8
    for t in res["tests"]:
        assert set(t) >= {"score", "max_score", "status", "name", "number", "output", "visibility"}
        assert "HIDDEN-MARKER" not in t["output"]
    single = tmp_path / "one.json"
    run_cli("export", A, "--format", "gradescope", "--to", str(single), "--student", "sol", course=course)
    assert json.loads(single.read_text())["score"] == 8


def test_report(course):
    proc = run_cli("report", A, course=course)
    out = course / "reports" / A
    for name in ("report.md", "scores.png", "tests.png", "per_test.csv"):
        assert (out / name).is_file()
    assert (out / "scores.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    rows = list(csv.DictReader((out / "per_test.csv").open()))
    failed = {r["test"]: int(r["students_failed"]) for r in rows}
    state = read_json(course / "grades" / A / "grading.json")["students"]
    expect = {}
    for entry in state.values():
        for c in entry["cells"]:
            expect[c["grade_id"]] = expect.get(c["grade_id"], 0) + int(c["score"] < c["max_score"])
    assert failed == expect
    rates = [int(r["students_failed"]) / int(r["students_graded"]) for r in rows]
    assert rates == sorted(rates, reverse=True)  # hardest first
    text = (out / "report.md").read_text()
    assert "mean:" in text and "median:" in text and "| 01_basics.ipynb | test_relu |" in text
    assert proc.stdout.strip().splitlines()[-1].startswith(f"report {A}: ")
