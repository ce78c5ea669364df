"""nbconvert pieces for student feedback: nothing of a hidden test reaches the student, nothing runs.

nbgrader's ``ClearHiddenTests`` removes hidden-test source from test cells, but
a failing test's traceback still quotes the test's source lines. These
preprocessors run in ``nbgrader generate_feedback`` (see
:data:`autograder.nbconfig.FEEDBACK_PREPROCESSORS`).

Feedback pages are inert: :class:`SanitizeOutputs` cleans every notebook
(:func:`autograder.sanitize.sanitize_notebook`) and :class:`SafeFeedbackExporter`
writes the page with a Content-Security-Policy that allows no script at all
(:data:`autograder.sanitize.PAGE_CSP`), renders markdown through the sanitizer
and leaves out nbgrader's MathJax loader (math shows as its TeX source).
:func:`configure_feedback_exporter` puts that exporter into a config.
"""

from __future__ import annotations

import html
import os
import re
from pathlib import Path

from jinja2 import pass_context
from nbconvert.exporters import HTMLExporter
from nbconvert.preprocessors import Preprocessor
from nbformat.notebooknode import NotebookNode
from traitlets import Bool, Unicode

from autograder.sanitize import SanitizePreprocessor, markdown_to_html, with_csp

#: Folder of nnkit's nbconvert templates (``nnkit_feedback``: nbgrader's ``feedback`` without MathJax).
TEMPLATES = Path(__file__).resolve().parent / "templates"
FEEDBACK_TEMPLATE = "nnkit_feedback"

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


class SanitizeOutputs(SanitizePreprocessor):
    """Make the notebook inert before it becomes a page (:func:`autograder.sanitize.sanitize_notebook`).

    Runs after nbgrader's ``GetGrades`` (which needs the cells' grade ids as they are). Also
    HTML-escapes the notebook name nbgrader's feedback template prints unescaped.
    """

    enabled = Bool(True).tag(config=True)

    def preprocess(self, nb, resources):
        nb, resources = super().preprocess(nb, resources)
        info = resources.get("nbgrader")
        if isinstance(info, dict) and isinstance(info.get("notebook"), str):
            info["notebook"] = html.escape(info["notebook"])
        return nb, resources


class SafeFeedbackExporter(HTMLExporter):
    """nbgrader's feedback page, inert: CSP meta first in ``<head>``, markdown sanitized, no MathJax.

    Configure it with :func:`configure_feedback_exporter` (template ``nnkit_feedback``, which
    is nbgrader's ``feedback`` template with an empty ``mathjax()`` macro).
    """

    @pass_context
    def markdown2html(self, context, source):
        """Markdown cells, ``text/markdown`` outputs and grader comments: rendered, then sanitized."""
        cell = context.get("cell", {}) or {}
        return markdown_to_html(source, attachments=cell.get("attachments", {}))

    def from_notebook_node(self, nb, resources=None, **kw):
        output, resources = super().from_notebook_node(nb, resources, **kw)
        return with_csp(output), resources


def configure_feedback_exporter(cfg):
    """Make nbgrader's ``GenerateFeedback`` in traitlets config ``cfg`` write :class:`SafeFeedbackExporter` pages."""
    import nbgrader

    nbgrader_templates = os.path.join(os.path.dirname(nbgrader.__file__), "server_extensions", "formgrader",
                                      "templates")
    cfg.GenerateFeedback.exporter_class = SafeFeedbackExporter
    cfg.SafeFeedbackExporter.template_name = FEEDBACK_TEMPLATE
    cfg.SafeFeedbackExporter.extra_template_basedirs = [str(TEMPLATES), nbgrader_templates]
    return cfg
