"""Extra credit: test cells with 0 points whose verdict earns the manifest's ``[extra_credit]`` points.

An extra-credit cell is an ordinary autograded test cell (locked, ``grade: true``) with
``points = 0`` in its metadata, so it adds nothing to any maximum; ``[extra_credit] points``
in ``assignments/<a>.toml`` says what passing it is worth. Where each step happens:

* the worker's :class:`autograder.verifier.scoring.TrustedSaveAutoGrades` scores the cell from the
  verifier's verdict as every test cell: ``auto_score`` stays 0, the earned points go to
  nbgrader's ``Grade.extra_credit`` (which nbgrader adds to the cell's score);
* :func:`autograder.grading.merge_result` writes them into the course gradebook and then
  :func:`settle_gradebook` reduces them (unless ``above_max = true``) so that the student's
  assignment score, every notebook and every score a TA entered included, is at most the
  assignment's maximum; the grading entry keeps what was *earned* per cell
  (:class:`autograder.records.CellResult` ``extra_credit``, ``extra_max``) and the capped total;
* ``export``, ``feedback`` and ``report`` cap again from what was earned and the scores as they
  are now (:func:`capped`, :func:`settle_entry`): a TA's hand grades entered after ``grade``
  can only reduce the extra credit shown, never lift a total above the maximum.

The cap takes the extra credit of the last cells first (notebook order, then cell order).
"""

from __future__ import annotations


def is_extra_credit_cell(grade_id, max_score, extra):
    """Whether a graded cell ``grade_id`` with ``max_score`` earns extra credit under ``extra``
    (a :class:`autograder.manifest.ExtraCredit`): named in its points and worth 0 points itself."""
    return bool(extra) and grade_id in extra.points and float(max_score or 0) == 0.0


def capped(earned, base, max_score, above_max=False):
    """The extra credit each of ``earned`` (a list of points, in cell order) keeps when the rest of
    the student's score is ``base`` and the assignment's maximum is ``max_score``.

    With ``above_max`` everything earned is kept; otherwise the total ``base + sum`` is at most
    ``max_score`` (the last cells give up theirs first; never below 0)."""
    earned = [max(0.0, float(e or 0.0)) for e in earned]
    if above_max:
        return earned
    room = max(0.0, float(max_score) - float(base))
    out = []
    for e in earned:
        keep = min(e, room)
        out.append(round(keep, 6))
        room -= keep
    return out


def settle_entry(entry, extra, max_score):
    """A copy of grading entry ``entry`` (a ``grading.json`` dict, hand grades already in its cells) with
    its extra credit capped against its scores as they are now (``extra``: the manifest's
    :class:`~autograder.manifest.ExtraCredit`, ``max_score``: the assignment's maximum)."""
    from autograder.records import GradingEntry

    cells = entry.get("cells") or []
    if not any(c.get("extra_max") for c in cells):
        return dict(entry)
    record = GradingEntry.from_dict(entry)
    base = sum((c.score or 0.0) for c in record.cells)
    earned = [c.extra_credit or 0.0 for c in record.cells if c.extra_max]
    record.extra_credit = round(sum(capped(earned, base, max_score, extra.above_max if extra else False)), 6)
    return {**entry, **record.to_dict()}


def _grade_total(grade, ec):
    """A gradebook grade's score without its extra credit when it is an extra-credit cell (``ec``)."""
    if grade.manual_score is not None:
        base = float(grade.manual_score)
    else:
        base = float(grade.auto_score or 0.0)
    return base if ec else base + float(grade.extra_credit or 0.0)


def settle_gradebook(gb, a, student, extra, max_score):
    """Cap the extra credit of ``student``'s submission of ``a`` in nbgrader gradebook ``gb`` (see module
    doc); returns ``(earned, kept)`` totals. Extra credit a TA gave in the formgrader on other cells
    counts in the base and is never changed."""
    from nbgrader.api import MissingEntry

    if not extra:
        return 0.0, 0.0
    try:
        sub = gb.find_submission(a, student)
    except MissingEntry:
        return 0.0, 0.0
    order = {nb.name: i for i, nb in enumerate(sub.assignment.notebooks)}
    grades = []
    for nb in sorted(sub.notebooks, key=lambda n: order.get(n.name, 0)):
        cells = {c.name: i for i, c in enumerate(nb.notebook.grade_cells)}
        grades.extend(sorted(nb.grades, key=lambda g: cells.get(g.name, 0)))
    ec = [g for g in grades if is_extra_credit_cell(g.name, g.max_score, extra)]
    base = sum(_grade_total(g, g in ec) for g in grades)
    earned = [float(g.extra_credit or 0.0) for g in ec]
    kept = capped(earned, base, max_score, extra.above_max)
    for g, k in zip(ec, kept):
        g.extra_credit = k
    gb.db.commit()
    return round(sum(earned), 6), round(sum(kept), 6)


__all__ = ["capped", "is_extra_credit_cell", "settle_entry", "settle_gradebook"]
