"""The command line: --help everywhere, release, and the demo end to end (on the fixture course)."""

from __future__ import annotations

import subprocess
import sys

import nbformat
import pytest

from autograder.cli import build_parser
from fixtures.autograder_support import A, NB1, REPO, new_course, run_cli

COMMANDS = ["release", "collect", "grade", "feedback", "export", "report", "gradescope", "demo"]


def test_every_command_has_help():
    out = subprocess.run([sys.executable, "-m", "autograder", "--help"], capture_output=True, text=True,
                         cwd=str(REPO), timeout=60)
    assert out.returncode == 0
    for cmd in COMMANDS:
        assert cmd in out.stdout
    parser = build_parser()
    for cmd in COMMANDS:
        with pytest.raises(SystemExit) as exit_:
            parser.parse_args([cmd, "--help"])
        assert exit_.value.code == 0


def test_console_script_entry_point_is_main():
    from autograder import cli

    assert callable(cli.main)


def test_errors_are_one_line_with_the_fix(tmp_path):
    course = new_course(tmp_path / "course")
    proc = run_cli("collect", A, str(tmp_path / "missing.zip"), course=course, check=False)
    assert proc.returncode == 2 and "does not exist" in proc.stderr and "Traceback" not in proc.stderr
    proc = run_cli("report", "nope", course=course, check=False)
    assert proc.returncode == 2 and "known assignments" in proc.stderr


@pytest.mark.slow
def test_release_writes_student_versions(tmp_path):
    course = new_course(tmp_path / "course")
    first = run_cli("release", A, course=course)
    assert first.stdout.strip().splitlines()[-1].startswith("release: 1 assignment(s), 2 files written")
    nb = nbformat.read(course / "release" / A / NB1, as_version=4)
    text = nbformat.writes(nb)
    assert "np.maximum" not in text and "HIDDEN-MARKER" not in text and "BEGIN SOLUTION" not in text
    assert "raise NotImplementedError()" in text
    assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code")
    again = run_cli("release", course=course)  # all assignments: tiny unchanged, bench new
    assert "release tiny: 0 written, 2 unchanged" in again.stdout
    assert "release bench: 1 written" in again.stdout


@pytest.mark.slow
def test_demo_end_to_end(tmp_path):
    out = tmp_path / "demo"
    proc = run_cli("demo", "--assignment", A, "--out", str(out), course=new_course(tmp_path / "course"))
    lines = proc.stdout.splitlines()
    table = {tuple(l.split()[:2]): l.split()[2:4] for l in lines if l.startswith(f"{A} ")}
    assert table[(A, "solution")] == ["8", "8"]
    assert table[(A, "blank-release")] == ["0", "8"]
    # relu_identity from the fixture's tests/mutants/tiny.py (-1) and fit_line left unanswered (-2)
    assert table[(A, "typical-mistakes")] == ["5", "8"]
    assert f"{A}: solution full marks: yes; blank release 0: yes" in proc.stdout
    assert lines[-1].startswith("demo: 1 assignment(s), 3 submissions graded") and "all checks passed" in lines[-1]
    assert (out / "course" / "reports" / A / "scores.png").is_file()
    assert (out / "course" / "feedback" / "typical-mistakes" / A / "index.html").is_file()
