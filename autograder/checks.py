"""``check``: the static checks of an assignment, in seconds, each problem with its fix.

What is checked (nothing is executed):

* the manifest loads and lists notebooks that exist in ``source/<a>/``;
* grade ids are unique in each master notebook and every cell has an id;
* each notebook's ``[points]`` total equals the points of its graded cells;
* graded code cells are locked test cells;
* every ``NAME = number  # manifest: thresholds.KEY`` literal in a test cell
  equals ``[thresholds] KEY`` (a key may be marked in several test cells, the
  visible check and the hidden test of one bound; each literal that disagrees is
  named) and every manifest threshold is used by a test;
* master notebooks have no outputs;
* every ``{{ ... }}`` placeholder of their markdown (``{{ thresholds.KEY }}``,
  ``{{ points }}``, ``{{ points.total }}``, ``{{ points.GRADE_ID }}``, sums of
  ``points.*``) names a value that ``release`` can write in
  (:mod:`autograder.course_values`);
* the committed ``release/<a>/`` is what nbgrader generates from ``source/<a>/``
  (this one runs nbgrader's generate step in a scratch folder: ``--no-release``
  skips it);
* every ``[extra_credit] points`` id is a graded, locked test cell with 0 points
  in one of the assignment's notebooks (:mod:`autograder.extra_credit`);
* ``tests/mutants/<a>.py``, when present, loads and its edits apply to the
  reference solution.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

THRESHOLD = re.compile(r"^\s*(\w+)\s*=\s*([-+0-9.eE]+)\s*#\s*manifest:\s*thresholds\.(\w+)\s*$", re.M)


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an assignment: where, what, and the fix."""

    where: str
    what: str
    fix: str

    def __str__(self):
        return f"{self.where}: {self.what}. Fix: {self.fix}"


def _meta(cell):
    return (cell.get("metadata") or {}).get("nbgrader") or {}


def check_assignment(course_root, a, release=True):
    """The :class:`Problem` s of assignment ``a`` in course ``course_root`` ([] when it is consistent)."""
    import nbformat

    from autograder.manifest import ManifestError, load_manifest

    root = Path(course_root)
    try:
        manifest = load_manifest(root, a)
    except ManifestError as exc:
        return [Problem(f"assignments/{a}.toml", str(exc), "correct the manifest")]
    from autograder.course_values import placeholder_problems

    problems = []
    thresholds = {}
    masters = {}
    unfillable = False
    for name in manifest.notebooks:
        path = root / "source" / a / name
        where = f"source/{a}/{name}"
        try:
            nb = nbformat.read(path, as_version=4)
        except FileNotFoundError:
            problems.append(Problem(where, "the manifest lists it but the file does not exist",
                                    f"add the notebook or remove it from notebooks in assignments/{a}.toml"))
            continue
        except Exception as exc:  # noqa: BLE001 - any unreadable notebook is a problem to report
            problems.append(Problem(where, f"cannot be read ({exc})", "repair the notebook JSON"))
            continue
        masters[name] = nb
        ids = [_meta(c).get("grade_id") for c in nb.cells if _meta(c)]
        for gid in sorted({g for g in ids if ids.count(g) > 1}):
            problems.append(Problem(where, f"grade id {gid!r} is used by {ids.count(gid)} cells",
                                    "give each nbgrader cell its own grade id (Create Assignment toolbar)"))
        if not all(c.get("id") for c in nb.cells):
            problems.append(Problem(where, "cells without an id", "save it with Jupyter (nbformat 4.5 gives every cell an id)"))
        graded = [c for c in nb.cells if _meta(c).get("grade")]
        total = sum(float(_meta(c).get("points") or 0) for c in graded)
        want = manifest.points.get(name)
        if want is None:
            problems.append(Problem(f"assignments/{a}.toml", f"no [points] entry for {name}",
                                    f'add "{name}" = {total:g} under [points]'))
        elif abs(total - float(want)) > 1e-9:
            problems.append(Problem(f"assignments/{a}.toml", f"[points] says {float(want):g} for {name}, its graded "
                                    f"cells add up to {total:g}", f"set \"{name}\" = {total:g} or change the cells' points"))
        for c in graded:
            m = _meta(c)
            if c.cell_type == "code" and (m.get("solution") or not m.get("locked")):
                problems.append(Problem(where, f"graded code cell {m.get('grade_id')!r} is not a locked test cell",
                                        "make it 'Autograder tests' (locked) or a manually graded answer"))
            for var, value, key in THRESHOLD.findall(c.source):
                thresholds.setdefault(key, []).append((float(value), f"{where} ({m.get('grade_id')})"))
        if any(c.get("outputs") or c.get("execution_count") for c in nb.cells if c.cell_type == "code"):
            problems.append(Problem(where, "has outputs", "clear all outputs in the master and save it"))
        for what, fix in placeholder_problems(nb, manifest, name):
            unfillable = True
            problems.append(Problem(where, what, fix))
    for key, uses in sorted(thresholds.items()):
        if key not in manifest.thresholds:
            value, where = uses[0]
            also = f" (and {len(uses) - 1} more marked literal(s))" if len(uses) > 1 else ""
            problems.append(Problem(f"assignments/{a}.toml", f"threshold {key} = {value:g} in {where}{also} is not in "
                                    "[thresholds]", f"add {key} = {value:g} under [thresholds]"))
            continue
        want = float(manifest.thresholds[key])
        for value, where in uses:  # every marked literal: the visible check and the hidden test of one bound
            if abs(want - value) > 1e-12:
                problems.append(Problem(f"assignments/{a}.toml", f"[thresholds] {key} = {want:g} "
                                        f"but the test in {where} uses {value:g}",
                                        "change both together (the test's literal is what grades)"))
    for key in sorted(set(manifest.thresholds) - set(thresholds)):
        problems.append(Problem(f"assignments/{a}.toml", f"threshold {key} is used by no test cell",
                                f"mark its literal in a test cell with '# manifest: thresholds.{key}' or remove it"))
    problems += _check_extra_credit(a, manifest, masters)
    problems += _check_mutants(root, a, masters)
    if release and masters and len(masters) == len(manifest.notebooks) and not unfillable:  # else release fails
        problems += _check_release(root, a)
    return problems


def _check_extra_credit(a, manifest, masters):
    """An ``[extra_credit]`` id that is not a graded test cell with 0 points of a notebook of ``a``."""
    out = []
    where = f"assignments/{a}.toml"
    for gid in sorted(manifest.extra_credit.points):
        cells = [(name, c) for name, nb in masters.items() for c in nb.cells if _meta(c).get("grade_id") == gid]
        if not cells:
            out.append(Problem(where, f"[extra_credit] names {gid!r}, which is no cell of "
                               f"{', '.join(manifest.notebooks)}",
                               f"use the grade id of a locked test cell with points = 0, or remove {gid} from "
                               "[extra_credit] points"))
            continue
        name, cell = cells[0]
        m = _meta(cell)
        if cell.cell_type != "code" or not m.get("grade") or m.get("solution") or not m.get("locked"):
            out.append(Problem(where, f"[extra_credit] names {gid!r}, which is not a graded test cell in "
                               f"source/{a}/{name}",
                               "make it an 'Autograder tests' cell (locked, graded) with points = 0, or name "
                               "such a cell in [extra_credit] points"))
        elif float(m.get("points") or 0) != 0:
            out.append(Problem(where, f"[extra_credit] names {gid!r}, a test cell of source/{a}/{name} with "
                               f"{float(m.get('points')):g} points (they count in the maximum)",
                               f"set the cell's points to 0 (extra credit adds nothing to the maximum) and "
                               f"lower \"{name}\" under [points] by {float(m.get('points')):g}, or remove {gid} "
                               "from [extra_credit] points"))
    return out


def _check_mutants(root, a, masters):
    from autograder import mutation

    path = mutation.mutant_file(root, a)
    if path is None:
        return []
    where = str(path.relative_to(root))
    try:
        mutants = mutation.load_mutants(path)
        for m in mutants:
            if m.notebook not in masters:
                raise mutation.MutantError(f"mutant {m.name} is for {m.notebook}, not a notebook of {a}")
            mutation.cell_sources(root, a, [m])
    except Exception as exc:  # noqa: BLE001 - a broken mutant file is one problem to report
        return [Problem(where, f"does not load: {exc}", "correct the mutant file (see autograder/mutation.py)")]
    return []


def _check_release(root, a):
    from autograder.releasing import stale_release_files

    try:
        stale = stale_release_files(root, a)
    except Exception as exc:  # noqa: BLE001 - nbgrader's failure is the problem
        return [Problem(f"source/{a}", f"nbgrader cannot generate the release: {exc}", "fix the master notebooks")]
    if stale:
        return [Problem(f"release/{a}", f"stale: {', '.join(stale)} differ from what source/ generates",
                        f"python -m autograder release {a}")]
    return []
