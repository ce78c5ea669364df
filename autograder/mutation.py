"""Mutation testing of hidden tests: wrong implementations must lose points,
correct alternatives must earn full marks.

A mutant file (``tests/mutants/<assignment>.py``) defines ``MUTANTS``, a list
of dicts::

    {"name": "relu_backward_passes_negative",   # unique, short
     "kind": "wrong",                            # or "correct"
     "notebook": "01_layers.ipynb",
     "cells": {"relu_backward": "<full new source of that solution cell>"},
     "must_fail": ["test_relu_backward"]}       # optional: test cells that must lose points

Each mutant is the reference solution (source with markers stripped) of that
one notebook with the named solution cells (by nbgrader ``grade_id``)
replaced. A helper ``replace_in_cell(assignment, notebook, grade_id, old,
new)`` builds a cell's new source from the reference with a textual edit,
failing loudly when ``old`` is not there (so mutants cannot rot silently).
"""

from __future__ import annotations

import importlib.util
import shutil
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from autograder import engine
from autograder.engine import REPO_ROOT


@dataclass
class MutantResult:
    name: str
    kind: str
    notebook: str
    score: float
    max_score: float
    failed_cells: list = field(default_factory=list)
    must_fail: list = field(default_factory=list)

    @property
    def ok(self):
        if self.kind == "correct":
            return self.max_score > 0 and self.score == self.max_score
        lost = self.score < self.max_score
        return lost and all(c in self.failed_cells for c in self.must_fail)


def _cell_by_id(nb, grade_id):
    for cell in nb.cells:
        if cell.get("metadata", {}).get("nbgrader", {}).get("grade_id") == grade_id:
            return cell
    raise KeyError(f"no cell with grade_id {grade_id!r}")


def reference_cell_source(assignment, notebook, grade_id, source_root=REPO_ROOT):
    """Source of one cell of the reference solution (markers stripped)."""
    return _cell_by_id(engine.solution_notebook(assignment, notebook, source_root), grade_id).source


def replace_in_cell(assignment, notebook, grade_id, old, new, source_root=REPO_ROOT, count=1):
    """The reference source of cell ``grade_id`` with ``old`` replaced by ``new``.

    Raises ``ValueError`` when ``old`` does not occur exactly ``count`` times
    (``count=None``: any number, at least once).
    """
    src = reference_cell_source(assignment, notebook, grade_id, source_root)
    n = src.count(old)
    if n == 0 or (count is not None and n != count):
        raise ValueError(f"mutant edit for {notebook}:{grade_id}: {old!r} occurs {n} times, expected {count or '>=1'}")
    return src.replace(old, new)


def load_mutants(path):
    """The ``MUTANTS`` list of a mutant file (validated)."""
    path = Path(path)
    spec = importlib.util.spec_from_file_location(f"mutants_{path.stem}", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    mutants = list(mod.MUTANTS)
    names = [m["name"] for m in mutants]
    dup = {n for n in names if names.count(n) > 1}
    if dup:
        raise ValueError(f"{path}: duplicate mutant names {sorted(dup)}")
    for m in mutants:
        if m.get("kind") not in ("wrong", "correct"):
            raise ValueError(f"{path}: mutant {m.get('name')!r} has kind {m.get('kind')!r}; use 'wrong' or 'correct'")
    return mutants


def mutant_notebook(assignment, mutant, source_root=REPO_ROOT):
    """The submitted notebook for one mutant."""
    nb = engine.solution_notebook(assignment, mutant["notebook"], source_root)
    for grade_id, src in mutant["cells"].items():
        _cell_by_id(nb, grade_id).source = src
    return nb


def _student_id(mutant):
    return "m_" + "".join(ch if ch.isalnum() else "_" for ch in mutant["name"])


def run_mutants(assignment, mutants, workers=2, source_root=REPO_ROOT, cell_timeout=None):
    """Grade every mutant with nbgrader; returns a list of :class:`MutantResult`.

    One release is generated; mutants are split over ``workers`` copies of
    the course, each graded by one ``nbgrader autograde`` call.
    """
    from autograder.manifest import load_manifest

    manifest = load_manifest(source_root, assignment)
    timeout = cell_timeout or manifest.limits.cell_timeout
    env = engine.kernel_env()
    with tempfile.TemporaryDirectory(prefix="nnkit-mutants-") as tmp:
        base = Path(tmp) / "base"
        engine.new_course(assignment, base, source_root, cell_timeout=timeout)
        engine.generate_release(base, assignment, env=env)
        groups = [mutants[i::workers] for i in range(max(1, workers))]
        groups = [g for g in groups if g]
        courses = []
        for i, group in enumerate(groups):
            course = Path(tmp) / f"w{i}"
            shutil.copytree(base, course)
            engine.write_course_config(course, cell_timeout=timeout)
            for m in group:
                nb = mutant_notebook(assignment, m, source_root)
                engine.place_submission(course, assignment, _student_id(m), {m["notebook"]: nb})
            courses.append((course, group))

        def grade(course_group):
            course, group = course_group
            try:
                engine.run_nbgrader(course, ["autograde", assignment, "--force", f"--Execute.timeout={timeout}"], env=env)
            except engine.NbgraderError:
                pass  # scores of the notebooks that did grade are still read below
            out = []
            for m in group:
                s = engine.read_scores(course, assignment, _student_id(m))
                cells = [c for c in s.cells if c.notebook == m["notebook"]]
                out.append(MutantResult(
                    name=m["name"], kind=m["kind"], notebook=m["notebook"],
                    score=sum(c.score for c in cells), max_score=sum(c.max_score for c in cells),
                    failed_cells=[c.grade_id for c in cells if c.score < c.max_score],
                    must_fail=list(m.get("must_fail", [])),
                ))
            return out

        with ThreadPoolExecutor(max_workers=len(courses)) as pool:
            results = [r for chunk in pool.map(grade, courses) for r in chunk]
    order = {m["name"]: i for i, m in enumerate(mutants)}
    return sorted(results, key=lambda r: order[r.name])


def summarize(results):
    """``(kill_rate, acceptance_rate)`` as fractions (None when there are no mutants of a kind)."""
    wrong = [r for r in results if r.kind == "wrong"]
    right = [r for r in results if r.kind == "correct"]
    kill = sum(r.ok for r in wrong) / len(wrong) if wrong else None
    acc = sum(r.ok for r in right) / len(right) if right else None
    return kill, acc


def mutant_file(course_dir, assignment):
    """``tests/mutants/<assignment>.py`` under ``course_dir`` (None when absent)."""
    p = Path(course_dir) / "tests" / "mutants" / f"{assignment}.py"
    return p if p.is_file() else None


def validate_assignment(assignment, course_dir=REPO_ROOT, workers=2):
    """Grade every mutant of ``assignment`` and count per mutant (not per batch).

    Uses the mutant file's ``batches(MUTANTS)`` when it defines one (mistakes
    graded together only where they cannot mask each other); a wrong mutant
    is killed when its notebook loses points and its ``must_fail`` cells fail.
    Returns ``(killed, n_wrong, accepted, n_correct, failures)``.
    """
    path = mutant_file(course_dir, assignment)
    if path is None:
        raise FileNotFoundError(f"no mutant file tests/mutants/{assignment}.py under {course_dir}")
    spec = importlib.util.spec_from_file_location(f"mutants_{assignment}", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    mutants = list(mod.MUTANTS)
    queue = mod.batches(mutants) if hasattr(mod, "batches") else [dict(m, parts=[m["name"]]) for m in mutants]
    results = {r.name: r for r in run_mutants(assignment, queue, workers=workers, source_root=course_dir)}
    by_name = {m["name"]: m for m in mutants}
    killed = accepted = n_wrong = n_right = 0
    failures = []
    for b in queue:
        r = results[b["name"]]
        for part in b.get("parts", [b["name"]]):
            m = by_name[part]
            if m["kind"] == "wrong":
                n_wrong += 1
                ok = r.score < r.max_score and all(c in r.failed_cells for c in m.get("must_fail", []))
                killed += ok
            else:
                n_right += 1
                ok = r.ok
                accepted += ok
            if not ok:
                failures.append((part, m["kind"], r.failed_cells))
    return killed, n_wrong, accepted, n_right, failures
