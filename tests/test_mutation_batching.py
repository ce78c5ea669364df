"""The static analysis that lets independent mistakes share one graded notebook (autograder.mutation).

Two mistakes may share a notebook only when neither one's must-fail tests use code the other
changes; a test that reads a name it bound itself (a loop variable, a value assigned earlier in the
same statement) does not depend on an earlier cell's binding of that name, while a branch or a
loop body that may not run binds nothing for the code after it.
"""

import ast

import nbformat
import pytest

from autograder.mutation import _dependency_graph, _read_before_bound


def reads(src):
    return _read_before_bound(ast.parse(src).body[0])


@pytest.mark.parametrize("src,expected", [
    ("for x in xs:\n    f(x)", {"xs", "f"}),
    ("x = g(x)", {"g", "x"}),                      # reads the earlier x before binding its own
    ("for i in r:\n    y = h(i)\n    z = y", {"r", "h"}),
    ("if c:\n    for i in r:\n        y = 1\n    print(y)", {"c", "r", "print", "y"}),  # the loop may not run
    ("if c:\n    x = 1\nelse:\n    z = x", {"c", "x"}),   # the else branch reads the earlier x
    ("if c:\n    x = 1\nelse:\n    x = 2", {"c"}),
    ("try:\n    x = f()\nexcept E:\n    g(x)", {"f", "E", "g", "x"}),
    ("with open(p) as fh:\n    fh.read()", {"open", "p"}),
    ("x += 1", {"x"}),
    ("(y := f(y))", {"f", "y"}),
    ("for k in ks:\n    fn = lambda: k + w", {"ks", "w"}),  # nested scopes read what is not bound yet
    ("import numpy as np", set()),
])
def test_names_read_before_the_statement_binds_them(src, expected):
    assert reads(src) == expected


def _nb(*sources):
    cells = []
    for i, src in enumerate(sources):
        cell = nbformat.v4.new_code_cell(src)
        if src.startswith("# test"):
            cell.metadata["nbgrader"] = {"grade": True, "grade_id": f"t{i}", "points": 1, "locked": True,
                                         "solution": False}
        else:
            cell.metadata["nbgrader"] = {"grade": False, "grade_id": f"a{i}", "solution": True, "locked": False}
        cells.append(cell)
    return nbformat.v4.new_notebook(cells=cells)


def test_a_test_that_rebinds_a_loop_variable_does_not_depend_on_an_earlier_test():
    nb = _nb("def f(x):\n    return x", "def g(x):\n    return x",
             "# test f\nx = 1\ny = f(x)\nassert y == 1",
             "# test g\nfor x in [1, 2]:\n    assert g(x) == x",
             "# test g uses the f test's y\nassert g(y) == 1")
    graph = _dependency_graph(nb)
    assert ("a0", "f") in graph.reach["t2"]
    assert ("a0", "f") not in graph.reach["t3"], "the loop binds its own x"
    assert ("a1", "g") in graph.reach["t3"]
    assert {("t2", "*"), ("a0", "f")} <= graph.reach["t4"], "y comes from the f test's cell, made by f"
