"""The instructor pipeline for nnkit courses, built on nbgrader.

``python -m autograder --help`` lists the commands.
"""

__version__ = "0.1.0"
