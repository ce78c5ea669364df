"""The instructor pipeline for nnkit courses, built on nbgrader.

``python -m autograder --help`` lists the commands.
"""

import sys as _sys

__version__ = "0.1.0"

# jsonschema (imported by nbformat) builds an RFC 3987 grammar with lark when the optional
# rfc3987_syntax package is installed: about 2 s per process here, for an "iri" format check
# that notebook validation never uses. Every grading process imports nbformat, so skip it.
if "jsonschema" not in _sys.modules:
    _sys.modules.setdefault("rfc3987_syntax", None)
