"""The notebook model: what a submitted file is and what its cells are, before any kernel runs.

* :mod:`~autograder.notebook.reading`: bytes to a clean nbformat-4 notebook, or :class:`UnreadableNotebook`
  with a reason a student understands;
* :mod:`~autograder.notebook.cells`: cell predicates on nbgrader's metadata (answer, test, locked cells),
  the reference solution of a master;
* :mod:`~autograder.notebook.repairing`: a submission's cells matched back to the release (:func:`repair`)
  and which release a stray notebook is a copy of (:func:`identify`);
* :mod:`~autograder.notebook.names`: whose submission a file is (LMS download names) and which notebook;
* :mod:`~autograder.notebook.integrity`: tamper reports (a second line, never what a grade depends on).

The names most callers need are importable from this package directly.
"""

from autograder.notebook.cells import (grade_id, is_answer_cell, is_graded_cell, is_locked_cell,  # noqa: F401
                                       is_nbgrader_cell, nbgrader_meta, normalized_source, solution_notebook,
                                       strip_markers)
from autograder.notebook.reading import (UnreadableNotebook, clean_notebook, parse_notebook,  # noqa: F401
                                         read_notebook_file)
from autograder.notebook.repairing import RepairResult, identify, repair  # noqa: F401
