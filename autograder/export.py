"""``export``: grades for an LMS (CSV) and Gradescope-style ``results.json``.

Scores come from the gradebook (so grades a TA entered by hand in nbgrader's
formgrader count), reasons from the pipeline's state: unreadable or missing
notebooks, repairs, time limits, dead kernels, lateness, hand-graded points
still pending, no submission at all.

Extra credit (:mod:`autograder.extra_credit`) is in the score, capped again here from what
each student earned and their scores as they are now (hand grades included), so that with
``above_max = false`` no total is above the maximum; the CSV then has an ``extra_credit``
column (last, after :data:`CSV_COLUMNS`).
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from pathlib import Path

from autograder.course import Course
from autograder.extra_credit import capped, is_extra_credit_cell, settle_entry
from autograder.hand_grades import read_hand_grades, with_hand_grades

CSV_COLUMNS = ["student", "score", "max", "late", "hours_late", "reason"]
#: The column an assignment with ``[extra_credit]`` adds after :data:`CSV_COLUMNS` (extra credit in the score).
EXTRA_CREDIT_COLUMN = "extra_credit"


@dataclass
class Row:
    student: str
    score: float
    max_score: float
    submitted: bool
    seconds_late: float = 0.0
    late: bool = False
    reasons: list = field(default_factory=list)
    entry: dict = field(default_factory=dict)   # grading.json entry ({} when not graded)
    extra_credit: float | None = None           # extra credit in ``score`` (None: the assignment has none)

    @property
    def reason(self):
        return "; ".join(self.reasons)


def class_rows(course, a):
    """One :class:`Row` per student known for ``a`` (graded, collected or on the roster), sorted."""
    from nbgrader.api import MissingEntry

    course = course if isinstance(course, Course) else Course(course)
    manifest = course.manifest(a)
    extra = manifest.extra_credit
    hand = read_hand_grades(course, a)
    grading = {s: with_hand_grades(e, hand.get(s))
               for s, e in course.state(a, "grading.json", {"students": {}}).get("students", {}).items()}
    collected = course.state(a, "collect.json", {"students": {}})
    roster = set(collected.get("roster", []))
    subs = {}
    max_score = manifest.total_points
    if course.db_path.exists():
        with course.gradebook() as gb:
            try:
                assignment = gb.find_assignment(a)
                max_score = float(assignment.max_score)
                for sub in assignment.submissions:
                    in_gb = [float(g.extra_credit or 0.0) for nb in sub.notebooks for g in nb.grades
                             if is_extra_credit_cell(g.name, g.max_score, extra)]
                    subs[sub.student.id] = (float(sub.score), float(sub.total_seconds_late or 0.0), in_gb)
            except MissingEntry:
                pass
    if extra:
        grading = {s: settle_entry(e, extra, max_score) for s, e in grading.items()}
    students = sorted(set(subs) | set(grading) | set(collected.get("students", {})) | roster)
    rows = []
    for s in students:
        entry = grading.get(s, {})
        coll = collected.get("students", {}).get(s, {})
        lms_late = any(f.get("late") for f in coll.get("files", {}).values())
        if s in subs:
            score, late_s, in_gb = subs[s]
            row = Row(s, score, max_score, True, late_s, late_s > 0 or lms_late, entry=entry)
            if extra:  # the gradebook's extra credit, capped again against the scores as they are now
                earned = [c.get("extra_credit") or 0.0 for c in entry.get("cells", []) if c.get("extra_max")]
                base = score - sum(in_gb)
                kept = sum(capped(earned if entry.get("cells") else in_gb, base, max_score, extra.above_max))
                row.score, row.extra_credit = round(base + kept, 6), round(kept, 6)
        else:
            row = Row(s, 0.0, max_score, False, 0.0, False, entry=entry, extra_credit=0.0 if extra else None)
            row.reasons.append("no submission" if s not in collected.get("students", {}) else "collected but not graded yet")
        row.reasons.extend(p["message"] for p in entry.get("problems", []))
        row.reasons.extend(entry.get("notes", []))
        if entry.get("manual_pending"):
            row.reasons.append(f"{entry['manual_pending']:g} points to be graded by hand")
        if row.late:
            row.reasons.append(f"late by {row.seconds_late / 3600:.1f} h" if row.seconds_late else "marked late by the LMS")
        rows.append(row)
    return rows


#: First characters that make a spreadsheet read a cell as a formula (OWASP "CSV injection").
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def csv_text(value):
    """``value`` as a CSV cell a spreadsheet shows as text: a leading ``'`` when it starts with a
    formula trigger (:data:`FORMULA_TRIGGERS`), as OWASP recommends."""
    text = str(value)
    return "'" + text if text.startswith(FORMULA_TRIGGERS) else text


def export_csv(course, a, path, students=None):
    """Write the LMS CSV (columns :data:`CSV_COLUMNS`, then :data:`EXTRA_CREDIT_COLUMN` when the assignment has
    extra credit; only ``students`` when given); returns the rows.

    Text a student can influence (student id, reasons) goes through :func:`csv_text`; the
    numeric columns are written as numbers (never negative here).
    """
    rows = [r for r in class_rows(course, a) if not students or r.student in students]
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    extra = any(r.extra_credit is not None for r in rows)
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(CSV_COLUMNS + ([EXTRA_CREDIT_COLUMN] if extra else []))
        for r in rows:
            w.writerow([csv_text(r.student), f"{r.score:g}", f"{r.max_score:g}", "yes" if r.late else "no",
                        f"{r.seconds_late / 3600:.2f}", csv_text(r.reason)]
                       + ([f"{r.extra_credit or 0.0:g}"] if extra else []))
    return rows


def gradescope_results(entry, score=None, execution_time=None, extra_output=""):
    """A Gradescope ``results.json`` dict for one graded submission (``entry`` from grading.json)."""
    tests = []
    for i, c in enumerate(entry.get("cells", []), start=1):
        got = c.get("score")
        if c.get("manual"):
            status, out = "failed", "graded by hand after the deadline"
            got = got or 0.0
        elif c.get("extra_max"):  # an extra-credit cell: 0 points of its own, the extra credit is in the total
            got = got or 0.0
            status = "passed" if (c.get("extra_credit") or 0.0) >= c["extra_max"] else "failed"
            out = (f"extra credit: {c.get('extra_credit') or 0.0:g} of {c['extra_max']:g}"
                   + ("" if status == "passed" else f": {c.get('message') or 'failed'}"))
        else:
            got = got or 0.0
            status = "passed" if got >= c["max_score"] else "failed"
            out = c.get("message") or ("" if status == "passed" else "failed")
        tests.append({
            "score": float(got), "max_score": float(c["max_score"]), "status": status,
            "name": f"{c['notebook']}: {c['grade_id']}", "number": str(i), "output": out,
            "output_format": "text", "tags": [c["notebook"]], "visibility": "visible",
        })
    lines = [p["message"] for p in entry.get("problems", [])] + list(entry.get("notes", []))
    if entry.get("extra_credit_max"):
        lines.append(f"extra credit: {entry.get('extra_credit') or 0.0:g}")
    if extra_output:
        lines.append(extra_output)
    total = float(score if score is not None else sum(t["score"] for t in tests) + (entry.get("extra_credit") or 0.0))
    return {
        "score": total,
        "execution_time": float(execution_time if execution_time is not None else (entry.get("seconds") or 0.0)),
        "output": "\n".join(lines) if lines else "All notebooks graded.",
        "output_format": "text",
        "visibility": "visible",
        "stdout_visibility": "hidden",
        "tests": tests,
    }


def export_gradescope(course, a, path, students=None):
    """Write ``<path>/<student>/results.json`` for every graded student (or a single file when
    ``path`` ends with ``.json`` and exactly one student is exported). Returns the written paths."""
    rows = [r for r in class_rows(course, a) if r.entry and (not students or r.student in students)]
    path = Path(path)
    written = []
    if path.suffix == ".json":
        if len(rows) != 1:
            raise ValueError(f"{path} is a single file but {len(rows)} students are graded: give a folder, "
                             "or --student ID")
        targets = [(rows[0], path)]
    else:
        targets = [(r, path / r.student / "results.json") for r in rows]
    for r, out in targets:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(gradescope_results(r.entry, score=r.score), indent=1))
        written.append(out)
    return written
