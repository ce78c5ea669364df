"""``demo``: the whole pipeline on sample submissions generated from ``source/``, in a temporary course.

For every assignment (manifest + ``source/``) three students hand in, as a
Canvas download would name their files:

* ``solution``: the master with the solution/hidden-test markers stripped;
* ``blank-release``: the release exactly as students receive it;
* ``typical-mistakes``: the solution with typical mistakes: per notebook the
  first wrong implementation of ``tests/mutants/<a>.py`` when there is one
  (otherwise its last answer left unanswered), a scratch cell added, and the
  first notebook saved the way Colab does it (nbgrader metadata stripped,
  file renamed ``Copy of ...``).

Then release, collect, grade, feedback, report and export run as a TA would run
them, and the grade table is printed. The solution must get every
autograded point and the blank release none.
"""

from __future__ import annotations

import copy
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from autograder.course import IGNORED, Course, CourseError
from autograder.notebook import solution_notebook
from autograder.notebook import is_answer_cell

STUDENTS = ("solution", "blank-release", "typical-mistakes")


@dataclass
class DemoResult:
    root: Path
    rows: list = field(default_factory=list)        # (assignment, student, score, auto_max, reason)
    checks: dict = field(default_factory=dict)      # assignment -> (solution full, blank zero)
    feedback: dict = field(default_factory=dict)    # assignment -> folder
    reports: dict = field(default_factory=dict)     # assignment -> report.md
    exports: dict = field(default_factory=dict)     # assignment -> csv

    @property
    def ok(self):
        return bool(self.checks) and all(a and b for a, b in self.checks.values())


def _first_wrong_mutants(course_root, a):
    """``{notebook: mutant}``: the first 'wrong' mutant per notebook from tests/mutants/<a>.py, if any."""
    from autograder.mutation import load_mutants, mutant_file

    path = mutant_file(course_root, a)
    if path is None:
        return {}
    out = {}
    for m in load_mutants(path):
        if m.kind == "wrong":
            out.setdefault(m.notebook, m)
    return out


def typical_mistakes(course_root, a, notebooks, releases):
    """``{file name: notebook}`` of the typical-mistakes student (see module doc)."""
    from autograder.mutation import mutant_notebook

    mutants = _first_wrong_mutants(course_root, a)
    files = {}
    for i, name in enumerate(notebooks):
        m = mutants.get(name)
        if m is not None:
            nb = mutant_notebook(course_root, a, [m])
        else:  # no mutant file: the last answer cell left unanswered
            nb = solution_notebook(course_root, a, name)
            rel = {c.get("metadata", {}).get("nbgrader", {}).get("grade_id"): c for c in releases[name].cells}
            answers = [c for c in nb.cells if is_answer_cell(c) and c.cell_type == "code"]
            if answers:
                gid = answers[-1].metadata["nbgrader"]["grade_id"]
                answers[-1].source = rel[gid].source if gid in rel else "raise NotImplementedError()"
        nb.cells.append(nbformat.v4.new_code_cell("# trying things out\nprint('hello from a scratch cell')"))
        if i == 0:
            for c in nb.cells:
                c.get("metadata", {}).pop("nbgrader", None)
            files[f"Copy of {name}"] = nb
        else:
            files[name] = nb
    return files


def write_lms_download(folder, submissions):
    """Write ``{student: {file: notebook}}`` as a Canvas 'download submissions' folder."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for k, (student, files) in enumerate(sorted(submissions.items()), start=1):
        for j, (fname, nb) in enumerate(sorted(files.items()), start=1):
            nbformat.write(nb, folder / f"{student}_{1000 + k}_{50000 + 10 * k + j}_{fname}")
    return folder


def run_demo(course_root=None, assignments=None, out=None, workers=2, progress=None, echo=print):
    """Run the demo; returns a :class:`DemoResult` (``.ok`` when every check passed)."""
    from autograder.collect import collect
    from autograder.export import class_rows, export_csv
    from autograder.feedback import generate_feedback
    from autograder.grading import grade_assignment
    from autograder.releasing import release_assignment
    from autograder.report import build_report

    src = Course(course_root)
    names = list(assignments) if assignments else src.assignments()
    if not names:
        raise CourseError(f"no assignment with a manifest in {src.root / 'assignments'} and a source/ folder")
    root = Path(out) if out else Path(tempfile.mkdtemp(prefix="nnkit-demo-"))
    course_dir = root / "course"
    (course_dir / "assignments").mkdir(parents=True, exist_ok=True)
    result = DemoResult(root)
    for a in names:
        src.manifest(a)
        shutil.copy2(src.root / "assignments" / f"{a}.toml", course_dir / "assignments" / f"{a}.toml")
        if (course_dir / "source" / a).exists():
            shutil.rmtree(course_dir / "source" / a)
        shutil.copytree(src.source_dir(a), course_dir / "source" / a, ignore=IGNORED)
    course = Course(course_dir)
    for a in names:
        echo(f"== {a}")
        manifest = course.manifest(a)
        echo("  " + release_assignment(course, a).line())
        releases = {n: nbformat.read(course.release_dir(a) / n, as_version=4) for n in manifest.notebooks}
        subs = {
            "solution": {n: solution_notebook(src.root, a, n) for n in manifest.notebooks},
            "blank-release": {n: copy.deepcopy(releases[n]) for n in manifest.notebooks},
            "typical-mistakes": typical_mistakes(src.root, a, manifest.notebooks, releases),
        }
        download = write_lms_download(root / "downloads" / a, subs)
        col = collect(course, a, download)
        echo(f"  collect {a}: placed {len(col.students)} students from {download}"
             + (f", could not place {len(col.unplaced)}" if col.unplaced else ""))
        summary = grade_assignment(course, a, workers=workers, progress=progress, echo=echo)
        echo("  " + summary.line())
        fb = generate_feedback(course, a, progress=progress)
        echo("  " + fb.line())
        rep = build_report(course, a)
        csv_path = course.state_dir(a) / f"{a}_grades.csv"
        export_csv(course, a, csv_path)
        result.feedback[a] = course.root / "feedback"
        result.reports[a] = rep.files["report"]
        result.exports[a] = csv_path
        by_student = {}
        for row in class_rows(course, a):
            auto_max = row.entry.get("auto_max", row.max_score)
            auto_score = sum((c.get("score") or 0.0) for c in row.entry.get("cells", []) if not c.get("manual"))
            by_student[row.student] = (auto_score, auto_max)
            extra = row.extra_credit or 0.0  # counted in the exported score, not in these autograded columns
            reason = "; ".join(x for x in (f"+{extra:g} extra credit" if extra else "", row.reason) if x)
            result.rows.append((a, row.student, auto_score, auto_max, reason))
        sol, blank = by_student.get("solution", (0, 1)), by_student.get("blank-release", (1, 1))
        result.checks[a] = (sol[1] > 0 and sol[0] == sol[1], blank[0] == 0)
    return result


def format_table(result):
    """The grade table as text."""
    lines = [f"{'assignment':<18} {'student':<18} {'score':>7} {'max':>6}  reason"]
    lines.append("-" * 80)
    for a, s, score, mx, reason in result.rows:
        short = reason if len(reason) <= 70 else reason[:67] + "..."
        lines.append(f"{a:<18} {s:<18} {score:>7g} {mx:>6g}  {short}")
    return "\n".join(lines)
