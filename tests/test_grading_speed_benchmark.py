"""benchmarks/grading_speed.py's figures from a grading.json: warm seconds per submission, cells graded differently."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

from grading_speed import cell_differences, warm_seconds  # noqa: E402


def _state(*times):
    return {f"s{i}": {"graded_at": f"2026-12-01T10:{m:02d}:{s:02d}"} for i, (m, s) in enumerate(times)}


def test_warm_seconds_is_the_time_per_submission_after_each_worker_finished_one():
    # two workers finish their first submissions at 1:30 and 1:31, then two more 76 s and 80 s later
    state = _state((1, 30), (1, 31), (2, 47), (2, 51))
    assert warm_seconds(state, 2) == (171 - 91) / 2
    assert warm_seconds(state, 1) == (171 - 90) / 3
    assert warm_seconds(_state((1, 30), (1, 31)), 2) is None, "no submission after the first ones"


def test_cell_differences_name_the_student_notebook_and_cell():
    a = {"ann": [("01.ipynb", "test_a", 1.0), ("01.ipynb", "test_b", 2.0)]}
    b = {"ann": [("01.ipynb", "test_a", 1.0), ("01.ipynb", "test_b", 0.0)]}
    assert cell_differences(a, a) == []
    assert cell_differences(a, b) == ["ann 01.ipynb test_b: 2.0 then 0.0"]
    assert cell_differences(a, {}) == ["ann 01.ipynb test_a: 1.0 then None", "ann 01.ipynb test_b: 2.0 then None"]
