"""GuardedExecute on its own: the per-notebook time limit and output caps (one kernel each)."""

from __future__ import annotations

import time

import nbformat
import pytest
from traitlets.config import Config

from autograder.execution.execute import GuardedExecute
from autograder.records import ProblemKind

pytestmark = pytest.mark.slow


def graded_cell(source, gid):
    return nbformat.v4.new_code_cell(source, metadata={"nbgrader": {
        "grade": True, "solution": False, "locked": True, "grade_id": gid, "points": 1, "schema_version": 3}})


def run(nb, tmp_path, **settings):
    c = Config()
    for key, value in settings.items():
        setattr(c.GuardedExecute, key, value)
    t0 = time.monotonic()
    nb, _ = GuardedExecute(config=c).preprocess(nb, {"metadata": {"path": str(tmp_path)}})
    return nb, time.monotonic() - t0


def test_notebook_time_limit_stops_the_rest(tmp_path):
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("import time"),
        graded_cell("time.sleep(2.5)", "t1"),
        graded_cell("time.sleep(2.5)", "t2"),
        graded_cell("time.sleep(2.5)", "t3"),
        graded_cell("x = 1", "t4"),
    ])
    nb, seconds = run(nb, tmp_path, timeout=30, notebook_timeout=6)
    problems = nb.metadata["nnkit_grading"]["problems"]
    assert any(p["kind"] == ProblemKind.NOTEBOOK_TIMEOUT for p in problems), problems
    last = nb.cells[-1].outputs
    assert last and last[0]["ename"] == "NotRun" and "notebook time limit (6 s)" in last[0]["evalue"]
    assert seconds < 6 + 15


def test_output_cap_keeps_the_start_and_the_verdict(tmp_path):
    nb = nbformat.v4.new_notebook(cells=[
        graded_cell("for i in range(200):\n    print('y' * 10_000)", "spam"),
        graded_cell("import sys\nprint('x' * 5000)\nsys.stderr.write('late error\\n')", "stderr_after_cap"),
    ])
    nb, _ = run(nb, tmp_path, max_output_chars=4000)
    text = "".join(o.get("text", "") for o in nb.cells[0].outputs)
    assert len(text) < 4000 + 200 and "characters of output dropped" in text
    kinds = [p["kind"] for p in nb.metadata["nnkit_grading"]["problems"]]
    assert kinds.count(ProblemKind.OUTPUT_TRUNCATED) == 2
    # stderr that arrived after the cap still counts (nbgrader scores a test cell with stderr 0)
    assert any(o.get("name") == "stderr" for o in nb.cells[1].outputs)


def test_kernel_environment_gives_torch_its_threads_and_numpy_one():
    from autograder.execution.kernel import kernel_environment

    env = kernel_environment("cpu", 2)
    assert env["OMP_NUM_THREADS"] == env["MKL_NUM_THREADS"] == "2"
    assert env["OPENBLAS_NUM_THREADS"] == "1"  # numpy's small matrices: a spinning second thread only costs
    assert env["CUDA_VISIBLE_DEVICES"] == "" and env["NNKIT_GRADING"] == "1"
    assert "CUDA_VISIBLE_DEVICES" not in kernel_environment("cuda", 1)


def test_grading_shares_the_cpus_it_is_given(monkeypatch):
    """NNKIT_GRADING_CPUS (a machine that also runs other work) caps the grade command's default workers and
    each kernel's torch threads; a value that is not a number is named with its fix."""
    import os

    import pytest

    from autograder.execution.kernel import grading_cpus, threads_per_kernel

    monkeypatch.delenv("NNKIT_GRADING_CPUS", raising=False)
    assert grading_cpus() == (os.cpu_count() or 1)
    monkeypatch.setenv("NNKIT_GRADING_CPUS", "3")
    assert grading_cpus() == 3 and threads_per_kernel(1) == 3 and threads_per_kernel(2) == 1 and threads_per_kernel(9) == 1
    monkeypatch.setenv("NNKIT_GRADING_CPUS", "two")
    with pytest.raises(ValueError, match="NNKIT_GRADING_CPUS='two'.*integer"):
        grading_cpus()
