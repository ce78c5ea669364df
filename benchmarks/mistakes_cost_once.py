"""Each mistake costs once (issue 11): a broken function loses points only in the notebook that grades it.

    python benchmarks/mistakes_cost_once.py [--workers 2] [--seed S] [--keep DIR] [--seconds]

Builds a course from this repository's ``numpy_nets`` (its manifest and master notebooks) in a temporary
folder, with three students who hand in the reference solution of all five notebooks except for ONE broken
function, broken everywhere it appears (the notebook that grades it and the paste cell of each later notebook):

* ``wrong_affine_backward``: ``dw`` divided by N, in 01 and in the paste cells of 02, 04 and 05;
* ``wrong_relu_forward``: a leaky ReLU, ``max(0.01 x, x)``, in 01 and in the paste cells of 02, 04 and 05;
* ``wrong_adam``: a step uphill, ``w + lr * m_hat / ...``, in 03 and in 05's paste cell.

It grades them with the ``grade`` command's own function (sandboxed kernels, the verifier, the gradebook:
:func:`autograder.grading.grade_assignment`), prints each student's autograded points per notebook and the
test cells that lost points, and exits 1 unless every student lost points in the notebook that grades the
broken function and kept every autograded point of the other four. ``--seconds`` also prints how long the
verdicts of the test cells that run on reference versions of pasted functions took (with_references: the
student's network calls them back in the verifier). About 2.5 minutes with 2 workers on 2 busy cores.
The test suite guards the same property notebook by notebook, at no extra grading: the mutants of
``tests/mutants/numpy_nets.py`` break these functions in 01 and 03 (wrong: they lose points there) and in
the paste cells of 02, 04 and 05 (``PASTED_MISTAKES_COST_NOTHING``: correct, they keep full marks).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

A = "numpy_nets"
NB = {n: f for n, f in zip(("01", "02", "03", "04", "05"), (
    "01_activations_and_affine.ipynb", "02_fully_connected_net.ipynb", "03_optimizers.ipynb",
    "04_dropout_and_normalization.ipynb", "05_putting_it_together.ipynb"))}

_DW = ("    dw = x.reshape(x.shape[0], -1).T @ dout\n", "    dw = x.reshape(x.shape[0], -1).T @ dout / x.shape[0]\n")
_RELU_PASTED = ("def relu_forward(x):\n    return np.maximum(0, x), x", "def relu_forward(x):\n    return np.maximum(0.01 * x, x), x")
_ADAM = ('    next_w = w - config["learning_rate"] * m_hat / (np.sqrt(v_hat) + config["epsilon"])',
         '    next_w = w + config["learning_rate"] * m_hat / (np.sqrt(v_hat) + config["epsilon"])')

#: student -> (the notebook that grades the function, {notebook: {answer cell: [(old, new), ...]}})
STUDENTS = {
    "wrong_affine_backward": ("01", {"01": {"affine": [_DW]}, "02": {"layers_from_01": [_DW]},
                                     "04": {"pasted_01_02": [_DW]}, "05": {"pasted_01_04": [_DW]}}),
    "wrong_relu_forward": ("01", {"01": {"relu": [("    out = np.maximum(0, x)", "    out = np.maximum(0.01 * x, x)")]},
                                  "02": {"layers_from_01": [_RELU_PASTED]}, "04": {"pasted_01_02": [_RELU_PASTED]},
                                  "05": {"pasted_01_04": [_RELU_PASTED]}}),
    "wrong_adam": ("03", {"03": {"adam": [_ADAM]}, "05": {"pasted_01_04": [_ADAM]}}),
}


def submission(student):
    """{notebook file: notebook}: the five reference solutions with ``student``'s function broken."""
    from autograder.mutation import correct, mutant_notebook, replace
    from autograder.notebook import solution_notebook

    _, edits = STUDENTS[student]
    out = {}
    for key, name in NB.items():
        cells = edits.get(key)
        if cells:
            m = correct(f"{student}_{key}", name, {g: [replace(old, new) for old, new in pairs] for g, pairs in cells.items()})
            out[name] = mutant_notebook(REPO, A, [m])
        else:
            out[name] = solution_notebook(REPO, A, name)
    return out


def points(entry, notebook):
    """``(score, max, cells that lost points)`` of ``notebook``'s autograded cells in a grading entry."""
    cells = [c for c in entry.get("cells", []) if c["notebook"] == notebook and not c.get("manual")]
    lost = [c["grade_id"] for c in cells if (c["score"] or 0.0) < c["max_score"]]
    return sum(c["score"] or 0.0 for c in cells), sum(c["max_score"] for c in cells), lost


def verdict_seconds(course, student):
    """{notebook: {grade_id: seconds}} of the verdicts that rebind notebook names to references."""
    import nbformat

    from autograder.verifier import cells as vcells

    out = {}
    for name in NB.values():
        master = nbformat.read(REPO / "source" / A / name, as_version=4)
        uses = {c.metadata["nbgrader"]["grade_id"] for c in master.cells
                if vcells.is_test_cell(c) and "with_references(" in c.source}
        if not uses:
            continue
        path = Path(course.autograded_dir(student, A)) / name
        if not path.exists():
            continue
        graded = nbformat.read(path, as_version=4)
        verdicts = (graded.metadata.get("nnkit_grading") or {}).get("verdicts", {})
        out[name] = {g: verdicts[g]["seconds"] for g in sorted(uses) if g in verdicts}
    return out


def grade(course_dir, workers=2, seed=None):
    """Build the course in ``course_dir`` (a new folder), grade the students of :data:`STUDENTS`; returns
    ``(course, {student: {notebook key: (score, max score, cells that lost points)}})``."""
    import nbformat

    from autograder.course import IGNORED, Course
    from autograder.grading import grade_assignment

    course_dir = Path(course_dir)
    (course_dir / "assignments").mkdir(parents=True)
    shutil.copy2(REPO / "assignments" / f"{A}.toml", course_dir / "assignments")
    shutil.copytree(REPO / "source" / A, course_dir / "source" / A, ignore=IGNORED)
    for student in STUDENTS:
        dest = course_dir / "submitted" / student / A
        dest.mkdir(parents=True)
        for name, nb in submission(student).items():
            nbformat.write(nb, dest / name)
    course = Course(course_dir)
    summary = grade_assignment(course, A, list(STUDENTS), workers=workers, seed=seed)
    return course, {student: {key: points(summary.entries.get(student, {}), name) for key, name in NB.items()}
                    for student in STUDENTS}


def each_mistake_costs_once(table):
    """True when every student lost points in the broken function's own notebook and nowhere else."""
    return all(max_score > 0 and (key == STUDENTS[student][0]) == bool(lost)
               for student, row in table.items() for key, (_, max_score, lost) in row.items())


def lines(table):
    """The table of points (the broken function's own notebook marked *) and the cells that lost points."""
    out = [f"{A}: autograded points per notebook (the broken function's own notebook marked *)",
           f"  {'student':<22}" + "".join(f"{k:>12}" for k in NB)]
    lost_lines = []
    for student, row in table.items():
        home = STUDENTS[student][0]
        cells = []
        for key, (score, max_score, lost) in row.items():
            cells.append(f"{'*' if key == home else ''}{score:g}/{max_score:g}")
            if lost:
                lost_lines.append(f"  {student} lost points in {key}: {', '.join(lost)}")
        out.append(f"  {student:<22}" + "".join(f"{c:>12}" for c in cells))
    return out + lost_lines


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=None, help="grading seed (default: a fresh one)")
    parser.add_argument("--keep", help="build the course in this folder and leave it there")
    parser.add_argument("--seconds", action="store_true", help="also print the verdict seconds of the cells on references")
    args = parser.parse_args(argv)
    tmp = None
    if args.keep:
        course_dir = Path(args.keep)
        if course_dir.exists():
            shutil.rmtree(course_dir)
    else:
        tmp = tempfile.TemporaryDirectory(prefix="nnkit-mistakes-")
        course_dir = Path(tmp.name) / "course"
    try:
        course, table = grade(course_dir, workers=args.workers, seed=args.seed)
        print("\n".join(lines(table)))
        if args.seconds:
            for student in STUDENTS:
                for name, secs in verdict_seconds(course, student).items():
                    print(f"  verdict seconds, {student}, {name}: " + ", ".join(f"{g} {s:.1f}" for g, s in secs.items()))
        ok = each_mistake_costs_once(table)
        print("each mistake cost points once, in its own notebook" if ok else
              "FAILED: a mistake cost points outside its own notebook, or none in it")
        return 0 if ok else 1
    finally:
        if tmp is not None:
            tmp.cleanup()


if __name__ == "__main__":
    sys.exit(main())
