# nbgrader configuration for the course directory at the repository root.
# `python -m autograder` builds the same settings itself (autograder/nbconfig.py);
# this file serves instructors who run the plain `nbgrader` CLI from here.
import os
import sys

c = get_config()  # noqa: F821  (provided by nbgrader)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from autograder.nbconfig import apply_course_defaults  # noqa: E402

apply_course_defaults(c, os.path.dirname(os.path.abspath(__file__)))
