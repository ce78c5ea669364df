"""The nbgrader settings every nnkit course uses."""

from __future__ import annotations

import os
import sys

CODE_STUB = "# YOUR CODE HERE\nraise NotImplementedError()"

# Feedback without hidden-test source (nbgrader shows it by default).
FEEDBACK_PREPROCESSORS = [
    "nbgrader.preprocessors.GetGrades",
    "nbgrader.preprocessors.ClearHiddenTests",
    "nbconvert.preprocessors.CSSHTMLHeaderPreprocessor",
]


def apply_course_defaults(c, root, cell_timeout=None):
    """Fill a traitlets ``Config`` ``c`` with the course settings for course root ``root``."""
    c.CourseDirectory.root = os.path.abspath(root)
    c.CourseDirectory.course_id = "nnkit"
    c.ClearSolutions.code_stub = {"python": CODE_STUB}
    c.ClearSolutions.enforce_metadata = True
    # A deleted or renamed grade cell is put back from the master instead of silently scoring 0.
    c.OverwriteCells.add_missing_cells = True
    c.GenerateFeedback.preprocessors = list(FEEDBACK_PREPROCESSORS)
    if cell_timeout is not None:
        c.Execute.timeout = int(cell_timeout)
        c.ExecutePreprocessor.timeout = int(cell_timeout)
    return c


def make_config(root, cell_timeout=None):
    """A fresh ``traitlets.config.Config`` with :func:`apply_course_defaults` applied."""
    from traitlets.config import Config

    return apply_course_defaults(Config(), root, cell_timeout=cell_timeout)


def ensure_alembic_on_path():
    """Put this interpreter's ``bin/`` first on PATH: nbgrader runs the ``alembic`` executable."""
    bindir = os.path.dirname(sys.executable)
    parts = os.environ.get("PATH", "").split(os.pathsep)
    if bindir not in parts:
        os.environ["PATH"] = os.pathsep.join([bindir] + parts)
