"""The records the pipeline passes between its layers: a problem and its kind, a graded cell,
a grading entry (one student's state in ``grades/<a>/grading.json``).

They are dataclasses in code and plain JSON in the state files (``to_dict``/``from_dict``);
a :class:`ProblemKind` is a ``str`` enum, so ``"cell_timeout" == ProblemKind.CELL_TIMEOUT``
and the JSON written by earlier versions still reads.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from enum import Enum


class ProblemKind(str, Enum):
    """Why a submission (or one of its notebooks) was not graded normally."""

    MISSING_NOTEBOOK = "missing_notebook"          # an expected notebook was not handed in
    UNREADABLE = "unreadable"                      # not a notebook (broken JSON, empty, binary)
    LOCKED_EDIT = "locked_edit"                    # a locked cell was edited (restored from the master)
    TAMPERING = "tampering"                        # the guard or the static scan reported something
    CELL_TIMEOUT = "cell_timeout"                  # a cell (or its verdict) ran past the cell limit
    NOTEBOOK_TIMEOUT = "notebook_timeout"          # the notebook ran past its limit
    KERNEL_DIED = "kernel_died"
    KERNEL_UNRESPONSIVE = "kernel_unresponsive"    # it did not stop after an interrupt
    KERNEL_START_FAILED = "kernel_start_failed"
    OUTPUT_TRUNCATED = "output_truncated"
    MEMORY_LIMIT = "memory_limit"
    GRADER_CHANNEL = "grader_channel"              # the channel to the verifier broke (the kernel lives)
    GRADER_ERROR = "grader_error"                  # the grader itself failed on this submission
    NBGRADER_ERROR = "nbgrader_error"
    WORKER_TIMEOUT = "worker_timeout"
    WORKER_CRASHED = "worker_crashed"

    def __str__(self):
        return self.value


@dataclass(frozen=True)
class Problem:
    """One problem of a submission: its kind, a message for the export's reason column, the notebook."""

    kind: ProblemKind
    message: str
    notebook: str = ""

    def to_dict(self):
        return {"kind": ProblemKind(self.kind).value, "notebook": self.notebook, "message": self.message}

    @classmethod
    def from_dict(cls, d):
        return cls(ProblemKind(d["kind"]), str(d.get("message", "")), str(d.get("notebook", "") or ""))


def problem(kind, message, notebook=""):
    """A problem as the JSON dict the state files and workers carry (kind checked against :class:`ProblemKind`)."""
    return Problem(ProblemKind(kind), message, notebook).to_dict()


@dataclass
class CellResult:
    """The score of one graded cell of one notebook (``manual``: graded by a TA; ``score`` None until then)."""

    notebook: str
    grade_id: str
    score: float | None
    max_score: float
    manual: bool = False
    message: str = ""
    extra_credit: float = 0.0          # extra credit earned (before the cap; :mod:`autograder.extra_credit`)
    extra_max: float = 0.0             # the extra credit this cell can earn ([extra_credit] of the manifest)


@dataclass
class GradingEntry:
    """One student's grading of one assignment, as kept in ``grades/<a>/grading.json``.

    ``status``: "graded" or "failed"; ``hash``: of the submission and the masters it was graded
    against (an unchanged one is not regraded); ``seed``: the run's secret for hidden-test inputs.
    """

    hash: str
    status: str
    graded_at: str
    seconds: float | None
    notes: list
    problems: list                     # of Problem
    cells: list                        # of CellResult
    seconds_late: float = 0.0
    seed: int | None = None
    extra_credit: float = 0.0          # extra credit counted in the score (after the cap)

    @property
    def score(self):
        return round(sum((c.score or 0.0) for c in self.cells) + (self.extra_credit or 0.0), 6)

    @property
    def max_score(self):
        return round(sum(c.max_score for c in self.cells), 6)

    def to_dict(self):
        """The JSON form (with the totals the exports read: score, max_score, auto_max, manual_pending; with
        extra credit also extra_credit (kept, in the score), extra_credit_earned and extra_credit_max)."""
        cells = [dataclasses.asdict(c) for c in self.cells]
        extra = {}
        if any(c.extra_max for c in self.cells):  # only assignments with extra credit carry these keys
            extra = {"extra_credit": round(self.extra_credit or 0.0, 6),
                     "extra_credit_earned": round(sum(c.extra_credit or 0.0 for c in self.cells), 6),
                     "extra_credit_max": round(sum(c.extra_max or 0.0 for c in self.cells), 6)}
        else:
            for c in cells:
                del c["extra_credit"], c["extra_max"]
        return {
            "hash": self.hash, "status": self.status, "graded_at": self.graded_at, "seconds": self.seconds,
            "notes": list(self.notes), "problems": [p.to_dict() for p in self.problems], "cells": cells,
            "score": self.score, "max_score": self.max_score,
            "auto_max": round(sum(c.max_score for c in self.cells if not c.manual), 6),
            "manual_pending": round(sum(c.max_score for c in self.cells if c.manual and c.score is None), 6),
            "seconds_late": self.seconds_late, **({"seed": self.seed} if self.seed is not None else {}), **extra,
        }

    @classmethod
    def from_dict(cls, d):
        return cls(hash=d.get("hash", ""), status=d.get("status", ""), graded_at=d.get("graded_at", ""),
                   seconds=d.get("seconds"), notes=list(d.get("notes", [])),
                   problems=[Problem.from_dict(p) for p in d.get("problems", [])],
                   cells=[CellResult(**{k: c.get(k) for k in ("notebook", "grade_id", "score", "max_score")},
                                     manual=bool(c.get("manual")), message=c.get("message", ""),
                                     extra_credit=c.get("extra_credit") or 0.0, extra_max=c.get("extra_max") or 0.0)
                          for c in d.get("cells", [])],
                   seconds_late=d.get("seconds_late") or 0.0, seed=d.get("seed"),
                   extra_credit=d.get("extra_credit") or 0.0)
