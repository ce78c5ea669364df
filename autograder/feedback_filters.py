"""nbconvert preprocessors for student feedback: nothing of a hidden test reaches the student.

nbgrader's ``ClearHiddenTests`` removes hidden-test source from test cells, but
a failing test's traceback still quotes the test's source lines. These
preprocessors run in ``nbgrader generate_feedback`` (see
:data:`autograder.nbconfig.FEEDBACK_PREPROCESSORS`).
"""

from __future__ import annotations

import re

from nbconvert.preprocessors import Preprocessor
from nbformat.notebooknode import NotebookNode
from traitlets import Bool, Unicode

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def failure_message(cell, limit=500):
    """The short failure message of an executed test cell ('' when it passed).

    ``ename: evalue`` of its error, else its stderr text; never traceback
    frames (they quote test source).
    """
    for out in cell.get("outputs", []):
        if out.get("output_type") == "error":
            msg = f"{out.get('ename', 'Error')}: {_ANSI.sub('', str(out.get('evalue', '')))}".strip()
            return msg if len(msg) <= limit else msg[:limit] + " ..."
    for out in cell.get("outputs", []):
        if out.get("output_type") == "stream" and out.get("name") == "stderr":
            text = _ANSI.sub("", out.get("text", "")).strip()
            msg = f"wrote to stderr: {text}"
            return msg if len(msg) <= limit else msg[:limit] + " ..."
    return ""


def _is_test_cell(cell):
    nbg = cell.get("metadata", {}).get("nbgrader", {})
    return cell.get("cell_type") == "code" and nbg.get("grade") and not nbg.get("solution")


class StripTestTracebacks(Preprocessor):
    """In test cells, replace each error's traceback by its one-line message."""

    enabled = Bool(True).tag(config=True)

    def preprocess_cell(self, cell, resources, index):
        if _is_test_cell(cell):
            for out in cell.get("outputs", []):
                if out.get("output_type") == "error":
                    out["traceback"] = [f"{out.get('ename', 'Error')}: {out.get('evalue', '')}"]
        return cell, resources


class AddGradingNotes(Preprocessor):
    """Put a markdown cell with the grader's notes for this student at the top of each notebook.

    ``notes_file`` is a JSON file ``{student: [note, ...]}`` written by
    :mod:`autograder.feedback`; the student comes from nbgrader's resources.
    """

    enabled = Bool(True).tag(config=True)
    notes_file = Unicode("", help="JSON file {student: [notes]}").tag(config=True)

    def preprocess(self, nb, resources):
        import json

        if not self.notes_file:
            return nb, resources
        try:
            with open(self.notes_file, encoding="utf-8") as fh:
                notes = json.load(fh)
        except (OSError, ValueError):
            return nb, resources
        student = resources.get("nbgrader", {}).get("student")
        lines = notes.get(student) or []
        if lines:
            text = "**Notes from the autograder**\n\n" + "\n".join(f"- {_md_escape(line)}" for line in lines)
            nb.cells.insert(0, NotebookNode(cell_type="markdown", metadata={}, source=text, id="nnkit-grader-notes"))
        return nb, resources


def _md_escape(text):
    return re.sub(r"([\\`*_{}\[\]<>#|])", r"\\\1", str(text))
