"""Scores a TA entered by hand (nbgrader's formgrader), read from the gradebook and folded into grading entries.

Hand-graded cells (written answers) have no score in ``grades/<a>/grading.json``
until a TA grades them in the formgrader, which writes ``manual_score`` into
``gradebook.db``. :func:`read_hand_grades` reads those scores and
:func:`with_hand_grades` puts them into the entries that ``feedback`` and
``export`` show, so a page or a CSV written after hand grading includes them
and no longer says they are pending. ``grade`` (even ``--force``) never
overwrites a manual score: it writes ``auto_score`` only
(:func:`autograder.grading.merge_result`).
"""

from __future__ import annotations

from autograder.records import GradingEntry


def read_hand_grades(course, a):
    """``{student: {(notebook file, grade id): manual score}}`` of every score a TA entered for ``a``."""
    from nbgrader.api import MissingEntry

    out = {}
    if not course.db_path.exists():
        return out
    with course.gradebook() as gb:
        try:
            assignment = gb.find_assignment(a)
        except MissingEntry:
            return out
        for sub in assignment.submissions:
            for nb in sub.notebooks:
                for grade in nb.grades:
                    if grade.manual_score is not None:
                        out.setdefault(sub.student.id, {})[(f"{nb.name}.ipynb", grade.name)] = float(grade.manual_score)
    return out


def with_hand_grades(entry, hand):
    """A copy of grading entry ``entry`` (a dict from ``grading.json``) with the hand scores ``hand``
    (``{(notebook file, grade id): score}``) in its cells and its totals recomputed."""
    if not hand or not entry.get("cells"):
        return dict(entry)
    record = GradingEntry.from_dict(entry)
    for cell in record.cells:
        if (cell.notebook, cell.grade_id) in hand:
            cell.score = hand[(cell.notebook, cell.grade_id)]
    return {**entry, **record.to_dict()}
