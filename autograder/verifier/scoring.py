"""Scores from the verifier's verdicts, written into nbgrader's gradebook.

nbgrader's ``SaveAutoGrades`` scores a test cell from its outputs (an error or
any stderr output scores 0, a number printed last is partial credit). Those
outputs come from the student's kernel, so they decide nothing here:
:class:`TrustedSaveAutoGrades` scores every test cell from the verdict that
:class:`autograder.execution.execute.GuardedExecute` left in ``resources["nnkit_verdicts"]``
(a test cell without a verdict scores 0). Manually graded cells behave as in
nbgrader.

Extra credit (:mod:`autograder.extra_credit`): a test cell with 0 points whose grade id is in
``extra_credit`` (the manifest's ``[extra_credit] points``) keeps ``auto_score`` 0 and its
verdict earns those points as nbgrader's ``Grade.extra_credit``.
"""

from __future__ import annotations

from nbgrader.preprocessors import SaveAutoGrades
from traitlets import Dict

from autograder.verifier.cells import is_test_cell


class TrustedSaveAutoGrades(SaveAutoGrades):
    """``SaveAutoGrades`` with test-cell scores from the verifier's verdicts (see module doc)."""

    extra_credit = Dict(help="{grade_id: points}: 0-point test cells whose verdict earns extra credit").tag(config=True)

    def preprocess(self, nb, resources):
        self._verdicts = dict(resources.get("nnkit_verdicts") or {})
        return super().preprocess(nb, resources)

    def _add_score(self, cell, resources):
        if not is_test_cell(cell):
            return super()._add_score(cell, resources)
        meta = cell.metadata["nbgrader"]
        grade = self.gradebook.find_grade(meta["grade_id"], self.notebook_id, self.assignment_id, self.student_id)
        verdict = self._verdicts.get(meta["grade_id"])
        max_points = float(meta.get("points", 0) or 0)
        grade.auto_score = verdict.points(max_points) if verdict is not None else 0.0
        bonus = float(self.extra_credit.get(meta["grade_id"], 0) or 0)
        if bonus > 0 and max_points == 0:  # an extra-credit cell (autograder.extra_credit)
            grade.extra_credit = verdict.points(bonus) if verdict is not None else 0.0
        grade.needs_manual_grade = grade.manual_score is not None
        self.gradebook.db.commit()
        self.log.debug("%s: %s (trusted verdict)", meta["grade_id"], grade.auto_score)


__all__ = ["TrustedSaveAutoGrades"]
