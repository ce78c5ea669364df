"""``feedback``: per-student HTML feedback with scores and failure messages, never hidden-test source.

Runs nbgrader's ``GenerateFeedback`` in-process with the course's feedback
preprocessors (:data:`autograder.nbconfig.FEEDBACK_PREPROCESSORS`: hidden
tests cleared, test tracebacks reduced to their message) plus a notes cell at
the top of each notebook with what the grader had to repair or what went wrong
(``grades/<a>/grading.json``). Output: ``feedback/<student>/<a>/<notebook>.html``.

Every page is inert: notebooks are sanitized (``SanitizeOutputs``), pages are
written by :class:`autograder.feedback_filters.SafeFeedbackExporter` and carry a
Content-Security-Policy that allows no script (:data:`autograder.sanitize.PAGE_CSP`),
and the index page escapes every name and message.
"""

from __future__ import annotations

import datetime as _dt
import json
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from autograder.course import Course, close_logger, nbgrader_logger
from autograder.extra_credit import settle_entry
from autograder.hand_grades import read_hand_grades, with_hand_grades


@dataclass
class FeedbackSummary:
    assignment: str
    written: list = field(default_factory=list)   # students with feedback
    summary_only: list = field(default_factory=list)  # no graded notebook: index.html only
    failed: dict = field(default_factory=dict)    # student -> reason
    seconds: float = 0.0

    def line(self):
        text = f"feedback {self.assignment}: wrote {len(self.written)}"
        if self.summary_only:
            text += f" ({len(self.summary_only)} with a summary page only: nothing could be run)"
        text += f", failed {len(self.failed)}"
        if self.failed:
            text += " (" + "; ".join(f"{s}: {r}" for s, r in sorted(self.failed.items())[:5]) + ")"
        return text + f" in {self.seconds:.1f} s"


def student_notes(entry):
    """Lines for the notes cell: score, what was repaired, what went wrong (no test source)."""
    hand = [c for c in entry.get("cells", []) if c.get("manual") and c.get("score") is not None]
    lines = [f"Score: {entry.get('score', 0):g} / {entry.get('max_score', 0):g}"
             + (f" ({sum(c['score'] for c in hand):g} of them graded by hand)" if hand else "")]
    if entry.get("manual_pending"):
        lines.append(f"{entry['manual_pending']:g} points are graded by hand and not included yet")
    if entry.get("extra_credit_max"):
        kept, earned = entry.get("extra_credit") or 0.0, entry.get("extra_credit_earned") or 0.0
        lines.append(f"extra credit: {kept:g} (in the score; {earned:g} of {entry['extra_credit_max']:g} earned"
                     + (", the rest above the assignment's maximum)" if kept < earned else ")"))
    for p in entry.get("problems", []):
        lines.append(p["message"])
    for n in entry.get("notes", []):
        lines.append(n)
    failed = [c for c in entry.get("cells", []) if not c.get("manual") and (c.get("score") or 0) < c["max_score"]]
    for c in failed:
        msg = c.get("message") or "failed"
        lines.append(f"{c['notebook']} {c['grade_id']}: {c.get('score') or 0:g}/{c['max_score']:g}: {msg}")
    for c in entry.get("cells", []):
        if c.get("extra_max") and (c.get("extra_credit") or 0) < c["extra_max"]:
            msg = c.get("message") or "failed"
            lines.append(f"{c['notebook']} {c['grade_id']}: extra credit {c.get('extra_credit') or 0:g}/"
                         f"{c['extra_max']:g}: {msg}")
    return lines


def generate_feedback(course, a, students=None, progress=None):
    """Write HTML feedback for ``students`` (default: everyone graded); returns a :class:`FeedbackSummary`."""
    import time

    from nbgrader.converters import GenerateFeedback
    from nbgrader.converters.base import NbGraderException
    from nbgrader.coursedir import CourseDirectory

    from autograder.feedback_filters import configure_feedback_exporter
    from autograder.nbconfig import FEEDBACK_PREPROCESSORS

    t0 = time.monotonic()
    course = course if isinstance(course, Course) else Course(course)
    manifest = course.manifest(a)
    state = course.state(a, "grading.json", {"students": {}}).get("students", {})
    hand = read_hand_grades(course, a)
    state = {s: with_hand_grades(e, hand.get(s)) for s, e in state.items()}
    if manifest.extra_credit:  # capped again with the hand grades as they are now
        state = {s: settle_entry(e, manifest.extra_credit, manifest.total_points) for s, e in state.items()}
    summary = FeedbackSummary(a)
    targets = list(students) if students else sorted(state)
    for s in targets:
        if s not in state:
            summary.failed[s] = "not graded yet (run grade first)"
        elif not course.autograded_dir(s, a).is_dir():
            write_index(course, a, s, state[s])
            summary.summary_only.append(s)
            summary.written.append(s)
    todo = [s for s in targets if s in state and course.autograded_dir(s, a).is_dir()]
    iterator = progress(todo, desc=f"feedback {a}", unit="student") if (progress and todo) else todo
    log = nbgrader_logger(course.state_dir(a) / "logs" / "feedback.log", mode="w")
    try:
        with tempfile.TemporaryDirectory(prefix="nnkit-feedback-") as tmp:
            notes_path = Path(tmp) / "notes.json"
            notes_path.write_text(json.dumps({s: student_notes(state[s]) for s in todo}))
            for s in iterator:
                cfg = course.config(a)
                pre = list(FEEDBACK_PREPROCESSORS)
                before = ("autograder.feedback_filters.SanitizeOutputs" if "autograder.feedback_filters.SanitizeOutputs"
                          in pre else "nbconvert.preprocessors.CSSHTMLHeaderPreprocessor")
                pre.insert(pre.index(before), "autograder.feedback_filters.AddGradingNotes")
                cfg.GenerateFeedback.preprocessors = pre
                configure_feedback_exporter(cfg)
                cfg.AddGradingNotes.notes_file = str(notes_path)
                cfg.CourseDirectory.assignment_id = a
                cfg.CourseDirectory.student_id = s
                cfg.GenerateFeedback.force = True
                try:
                    GenerateFeedback(coursedir=CourseDirectory(config=cfg, log=log), config=cfg, log=log).start()
                except NbGraderException as exc:
                    summary.failed[s] = f"nbgrader: {exc}"
                    continue
                except Exception as exc:  # one student's feedback never stops the others
                    summary.failed[s] = f"{type(exc).__name__}: {exc}"
                    continue
                if any(course.feedback_dir(s, a).glob("*.html")):
                    write_index(course, a, s, state[s])
                    summary.written.append(s)
                else:
                    summary.failed[s] = "nbgrader wrote no feedback (see grades/%s/logs/feedback.log)" % a
    finally:
        close_logger(log)
    summary.seconds = time.monotonic() - t0
    state_fb = course.state(a, "feedback.json", {})
    state_fb["generated_at"] = _dt.datetime.now().isoformat(timespec="seconds")
    state_fb["students"] = sorted(set(state_fb.get("students", [])) | set(summary.written))
    course.save_state(a, "feedback.json", state_fb)
    return summary


def write_index(course, a, student, entry):
    """``feedback/<student>/<a>/index.html``: the score, every note and a link per notebook page.

    Every text is HTML-escaped and the page carries :data:`autograder.sanitize.PAGE_CSP`.
    """
    import html
    from urllib.parse import quote

    from autograder.sanitize import with_csp

    folder = course.feedback_dir(student, a)
    folder.mkdir(parents=True, exist_ok=True)
    pages = sorted(p.name for p in folder.glob("*.html") if p.name != "index.html")
    rows = "".join(
        f"<tr><td>{html.escape(str(c['notebook']))}</td><td>{html.escape(str(c['grade_id']))}</td>"
        f"<td>{'' if c.get('score') is None else format(c['score'], 'g')} / {c['max_score']:g}"
        + (f" (extra credit {c.get('extra_credit') or 0:g} / {c['extra_max']:g})" if c.get("extra_max") else "")
        + "</td>"
        f"<td>{html.escape(str(c.get('message') or ''))}</td></tr>"
        for c in entry.get("cells", []))
    notes = "".join(f"<li>{html.escape(str(line))}</li>" for line in student_notes(entry))
    links = "".join(f'<li><a href="{html.escape(quote(p))}">{html.escape(p)}</a></li>' for p in pages) or \
        "<li>no notebook could be run (see the notes above)</li>"
    (folder / "index.html").write_text(with_csp(
        "<!DOCTYPE html><html><head><meta charset='utf-8'>"
        f"<title>{html.escape(a)}: feedback for {html.escape(student)}</title></head><body>"
        f"<h1>{html.escape(a)}: feedback for {html.escape(student)}</h1>"
        f"<p><b>Score: {entry.get('score', 0):g} / {entry.get('max_score', 0):g}</b></p>"
        f"<h2>Notes</h2><ul>{notes}</ul><h2>Tests</h2><table border='1' cellpadding='4'>"
        f"<tr><th>notebook</th><th>test</th><th>points</th><th>message</th></tr>{rows}</table>"
        f"<h2>Notebooks</h2><ul>{links}</ul></body></html>\n"), encoding="utf-8")
    return folder / "index.html"
