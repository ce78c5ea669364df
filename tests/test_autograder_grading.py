"""grade: a batch of broken, slow and hostile submissions; resume; interruption; nbgrader CLI compatibility."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path
import time

import nbformat
import pytest

from autograder.course import read_json
from fixtures.autograder_support import (
    A, NB1, NB2, REPO, graded_batch, new_course, put, release, run_cli, solution,
)

pytestmark = pytest.mark.slow


def gradebook_scores(course):
    from nbgrader.api import Gradebook

    with Gradebook("sqlite:///" + str(course / "gradebook.db")) as gb:
        assignment = gb.find_assignment(A)
        return {s.student.id: float(s.score) for s in assignment.submissions}


def test_every_submission_gets_the_right_grade_and_reason():
    course, expected, proc = graded_batch()
    state = read_json(course / "grades" / A / "grading.json")["students"]
    scores = gradebook_scores(course)
    wrong = {}
    for student, (score, kinds) in expected.items():
        got_kinds = {p["kind"] for p in state[student]["problems"]}
        if scores.get(student) != score or state[student]["score"] != score or not kinds <= got_kinds:
            wrong[student] = (scores.get(student), state[student]["score"], sorted(got_kinds), score, sorted(kinds))
    assert not wrong, f"(gradebook, state, problems, expected score, expected problems): {wrong}"
    # problems that did happen are the only ones reported for clean submissions
    for student in ("sol", "blank", "colab", "deleted", "probe"):
        assert state[student]["problems"] == [], (student, state[student]["problems"])
    # the summary line names the failures
    last = proc.stdout.strip().splitlines()[-1]
    assert last.startswith(f"grade {A}: graded {len(expected)}, failed ")
    assert "kernel died: 1" in last
    from autograder.execution.sandbox import bwrap_available

    assert ("worker crashed: 1" in last) != bwrap_available(), last  # sandboxed kernels cannot kill the worker


def test_repairs_are_recorded_as_notes():
    course, _, _ = graded_batch()
    state = read_json(course / "grades" / A / "grading.json")["students"]
    notes = " | ".join(state["colab"]["notes"])
    assert "'Copy of 01_basics.ipynb' graded as 01_basics.ipynb" in notes
    assert "nbgrader metadata missing" in notes
    assert any("'test_softmax_values' was missing" in n for n in state["deleted"]["notes"])
    assert any("removed a duplicate of test cell 'test_relu'" in n for n in state["deleted"]["notes"])
    assert any("altered" in n for n in state["tamper"]["notes"])


def test_failure_messages_per_test_cell():
    course, _, _ = graded_batch()
    cells = {c["grade_id"]: c for c in read_json(course / "grades" / A / "grading.json")["students"]["blank"]["cells"]}
    assert cells["test_relu"]["score"] == 0 and cells["test_relu"]["message"].startswith("NotImplementedError")
    dies = {c["grade_id"]: c for c in read_json(course / "grades" / A / "grading.json")["students"]["dies"]["cells"]}
    assert dies["test_relu"]["score"] == 1
    assert dies["test_softmax_values"]["message"].startswith("NotRun: not run: the kernel died")


def test_rerun_skips_unchanged_and_regrades_changed(tmp_path):
    course = new_course(tmp_path / "course")
    put(course, "a", {NB1: solution(NB1), NB2: solution(NB2)})
    put(course, "b", {NB1: release(NB1), NB2: release(NB2)})
    run_cli("grade", A, "--workers", "2", course=course)
    again = run_cli("grade", A, course=course)
    assert again.stdout.strip().splitlines()[-1].startswith(f"grade {A}: graded 0, failed 0, skipped 2 up to date")
    put(course, "b", {NB1: solution(NB1)})  # b fixes notebook 1
    third = run_cli("grade", A, course=course)
    assert "graded 1," in third.stdout and "skipped 1 up to date" in third.stdout
    assert gradebook_scores(course) == {"a": 8.0, "b": 4.0}
    forced = run_cli("grade", A, "--force", "--student", "a", course=course)
    assert "graded 1," in forced.stdout


def test_interrupted_run_resumes_without_losing_or_duplicating(tmp_path):
    course = new_course(tmp_path / "course")
    for i in range(6):
        put(course, f"s{i}", {NB1: solution(NB1) if i % 2 == 0 else release(NB1), NB2: solution(NB2)})
    env = dict(os.environ)
    cmd = [sys.executable, "-m", "autograder", "grade", A, "--workers", "1", "--no-progress", "--course", str(course)]
    proc = subprocess.Popen(cmd, cwd=str(REPO), env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            start_new_session=True)
    state_path = course / "grades" / A / "grading.json"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        done = (read_json(state_path) or {}).get("students", {})
        if len(done) >= 2:
            break
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGKILL)  # a crash of the whole grading run, workers and kernels included
    proc.wait(timeout=30)
    done_before = set((read_json(state_path) or {}).get("students", {}))
    assert 2 <= len(done_before) < 6
    assert list((course / "grades" / A).glob(".work-*")), "the killed run's scratch folder is left behind"
    resumed = run_cli("grade", A, "--workers", "2", course=course)
    assert not list((course / "grades" / A).glob(".work-*")), "the next run cleans it up"
    assert not list(Path(tempfile.gettempdir()).glob(f"nnkit-w{proc.pid}-*")), "and the killed workers' temp folders"
    last = resumed.stdout.strip().splitlines()[-1]
    assert f"skipped {len(done_before)} up to date" in last, last
    scores = gradebook_scores(course)
    assert scores == {f"s{i}": (8.0 if i % 2 == 0 else 4.0) for i in range(6)}
    from nbgrader.api import Gradebook

    with Gradebook("sqlite:///" + str(course / "gradebook.db")) as gb:
        assert len(gb.find_assignment(A).submissions) == 6
        assert len(gb.students) == 6


def test_sigterm_stops_the_workers_and_keeps_what_was_graded(tmp_path):
    """A scheduler or container stopping grade with SIGTERM (to the parent only): its workers and their kernels
    stop with it, instead of grading on without a parent; the next run grades the rest."""
    import psutil

    course = new_course(tmp_path / "course")
    for i in range(4):
        put(course, f"s{i}", {NB1: solution(NB1), NB2: solution(NB2)})
    cmd = [sys.executable, "-m", "autograder", "grade", A, "--workers", "1", "--no-progress", "--course", str(course)]
    proc = subprocess.Popen(cmd, cwd=str(REPO), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    state_path = course / "grades" / A / "grading.json"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not (read_json(state_path) or {}).get("students"):
        time.sleep(0.2)
    children = psutil.Process(proc.pid).children(recursive=True)
    assert children, "no worker running"
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130 and "INTERRUPTED: run the same command again" in out, (proc.returncode, out, err)
    _, alive = psutil.wait_procs(children, timeout=15)
    assert not alive, f"left running after SIGTERM: {[p.cmdline()[:3] for p in alive]}"
    done_before = set((read_json(state_path) or {}).get("students", {}))
    assert 1 <= len(done_before) < 4
    resumed = run_cli("grade", A, course=course)
    assert f"skipped {len(done_before)} up to date" in resumed.stdout.strip().splitlines()[-1]
    assert gradebook_scores(course) == {f"s{i}": 8.0 for i in range(4)}


def test_unknown_student_and_assignment_errors(tmp_path):
    course = new_course(tmp_path / "course")
    put(course, "a", {NB1: solution(NB1)})
    proc = run_cli("grade", A, "--student", "zed", course=course, check=False)
    assert proc.returncode == 2 and "no submission of tiny for zed" in proc.stderr
    proc = run_cli("grade", "nope", course=course, check=False)
    assert proc.returncode == 2 and "known assignments: bench, tiny" in proc.stderr
    from autograder.course import Course
    from autograder.grading import _lock

    held = _lock(Course(course), A)  # another grading run holds the course
    try:
        proc = run_cli("grade", A, course=course, check=False)
        assert proc.returncode == 2 and "another 'grade tiny' is running" in proc.stderr
    finally:
        held.close()


def test_master_changes_after_grading_need_force(tmp_path):
    course = new_course(tmp_path / "course")
    put(course, "a", {NB1: solution(NB1), NB2: solution(NB2)})
    run_cli("grade", A, course=course)
    master = course / "source" / A / NB2
    nb = nbformat.read(master, as_version=4)
    nb.cells = [c for c in nb.cells if c.get("metadata", {}).get("nbgrader", {}).get("grade_id") != "test_fit_line"]
    nbformat.write(nb, master)
    proc = run_cli("grade", A, course=course, check=False)
    assert proc.returncode == 2 and "--force" in proc.stderr
    forced = run_cli("grade", A, "--force", course=course)
    assert "graded 1," in forced.stdout
    assert gradebook_scores(course) == {"a": 6.0}


def test_nbgrader_cli_path_uses_the_guarded_executor():
    """Plain ``nbgrader autograde`` with the course's nbgrader_config.py uses the guarded executor."""
    from fixtures.nbgrader_cli import grade_in_temp_course
    from fixtures.autograder_support import FIXTURE_COURSE, edit

    res = grade_in_temp_course(A, {
        "dies": {NB1: edit(solution(NB1), "softmax", "import os\nos._exit(1)"), NB2: solution(NB2)},
    }, source_root=FIXTURE_COURSE)
    # plain nbgrader would abort the notebook on the dead kernel; the guarded executor keeps the rest
    assert res["dies"].score == 5 and res["dies"].max_score == 8
    assert res["dies"].failed() == ["test_softmax_shape", "test_softmax_values"]
