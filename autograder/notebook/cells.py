"""Cell predicates on nbgrader's metadata, and the reference solution of a master notebook."""

from __future__ import annotations

import re
from pathlib import Path

import nbformat

# ---------------------------------------------------------------------------------------------
# cell helpers


def nbgrader_meta(cell):
    meta = cell.get("metadata", {}).get("nbgrader")
    return meta if isinstance(meta, dict) else {}


def grade_id(cell):
    gid = nbgrader_meta(cell).get("grade_id")
    return gid if isinstance(gid, str) and gid else None


def is_nbgrader_cell(cell):
    m = nbgrader_meta(cell)
    return bool(grade_id(cell)) and bool(m.get("grade") or m.get("solution") or m.get("locked") or m.get("task"))


def is_locked_cell(cell):
    m = nbgrader_meta(cell)
    return bool(m.get("locked")) and not m.get("solution")


def is_answer_cell(cell):
    return bool(nbgrader_meta(cell).get("solution"))


def is_graded_cell(cell):
    m = nbgrader_meta(cell)
    return bool(m.get("grade") or m.get("task"))


_MARKER = re.compile(r"^\s*### (BEGIN|END) (SOLUTION|HIDDEN TESTS)\s*$")


def strip_markers(nb):
    """A copy of master notebook ``nb`` with its solution and hidden-test marker lines removed: the
    reference solution as a student would hand it in (the hidden tests stay; grading restores them)."""
    out = nbformat.reads(nbformat.writes(nbformat.from_dict(nb)), as_version=4)
    for cell in out.cells:
        if cell.cell_type == "code":
            cell.source = "\n".join(line for line in cell.source.split("\n") if not _MARKER.match(line))
    return out


def solution_notebook(course_root, assignment, notebook):
    """The reference solution of ``<course_root>/source/<assignment>/<notebook>`` (markers stripped)."""
    return strip_markers(nbformat.read(Path(course_root) / "source" / assignment / notebook, as_version=4))


def normalized_source(src):
    return "\n".join(line.rstrip() for line in str(src).strip().splitlines())


