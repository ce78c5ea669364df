"""Visible checks that check behaviour (issue 11): every visible test cell of every release notebook asserts a value.

A student who passes the visible cells should rarely lose hidden points for a kind of mistake nobody
mentioned, so the visible part of a graded test cell (the code outside ``### BEGIN HIDDEN TESTS`` /
``### END HIDDEN TESTS``, what the release shows) must compare at least one *value* computed from the
student's code, not only its type or shape. Read statically (``ast``), nothing is run. A value check is

* an ``assert`` (or an ``if ...: raise AssertionError``) whose test compares two operands with ``==``,
  ``!=``, ``<``, ``<=``, ``>`` or ``>=``, neither of them only a type, a length, a shape or a dtype
  (``isinstance(x, float)``, ``len(x)``, ``x.shape``, ``tuple(x.shape)``, ``x.dtype``, ``x.dim()``,
  ``x.format``, ...), and not a subset test of sets (``set(out.unique()) <= {0, 2}``: which values
  occur, not how many or where); or an ``assert`` that calls a value-comparing function on operands
  that are not only shapes (``np.allclose``, ``np.array_equal``, ``torch.allclose``, ``torch.equal``,
  ``math.isclose``, ...);
* a call of a checking helper that compares values and raises by itself: ``assert_allclose`` and
  ``assert_rel_error`` of :mod:`nnkit.grading` (``rel_error`` of :mod:`nnkit.gradcheck` counts when an
  ``assert`` compares it with a bound), or numpy's and torch's ``testing`` equivalents.
  ``assert_shape`` and ``assert_finite`` do not count.

A graded test cell without any visible code (only comments) is a hidden-test cell; the assignments
that use them (``numpy_nets``) name them ``*_hidden`` and put the visible check of the same function in
a cell of its own, which this test checks. A test cell of another name must show a check.
"""

from __future__ import annotations

import ast
import textwrap
from pathlib import Path

import nbformat
import pytest
from IPython.core.inputtransformer2 import TransformerManager

from autograder.manifest import list_assignments, load_manifest
from autograder.verifier.cells import has_code, is_test_cell, split_source
from fixtures.assignment_support import nbgrader_meta

REPO = Path(__file__).resolve().parents[1]

VALUE_OPS = (ast.Eq, ast.NotEq, ast.Lt, ast.LtE, ast.Gt, ast.GtE)
ORDER_OPS = (ast.Lt, ast.LtE, ast.Gt, ast.GtE)
#: Functions that return whether two values agree (count inside an ``assert``).
COMPARING = {"allclose", "isclose", "array_equal", "array_equiv", "equal"}
#: Functions that compare values and raise by themselves (count wherever they are called).
ASSERTING = {"assert_allclose", "assert_rel_error", "assert_close", "assert_array_equal", "assert_array_almost_equal",
             "assert_almost_equal", "assert_equal", "assert_array_less"}
#: What only describes a value's type or layout, never its content.
META_FUNCTIONS = {"len", "type", "isinstance", "issubclass", "hasattr", "callable", "id", "issparse", "is_tensor"}
META_ATTRIBUTES = {"shape", "dtype", "ndim", "format", "size", "layout", "is_sparse", "nnz", "__class__", "__name__",
                   "__qualname__"}
META_METHODS = {"dim", "size", "numel", "ndimension", "nelement", "type", "get_shape"}
CONVERSIONS = {"tuple", "list", "set", "frozenset", "sorted", "int", "str", "bool", "repr"}


def _name(func):
    """The called name of ``func`` (``np.testing.assert_allclose`` -> ``assert_allclose``), or ''."""
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return ""


def is_meta(node):
    """True when expression ``node`` only describes a type, a length, a shape or a dtype."""
    if isinstance(node, ast.Call):
        name = _name(node.func)
        if isinstance(node.func, ast.Name) and name in META_FUNCTIONS:
            return True
        if isinstance(node.func, ast.Attribute) and name in META_METHODS:
            return True
        if isinstance(node.func, ast.Name) and name in CONVERSIONS and node.args:
            return all(is_meta(a) or isinstance(a, ast.Constant) for a in node.args) and any(is_meta(a) for a in node.args)
        return False
    if isinstance(node, ast.Attribute):
        return node.attr in META_ATTRIBUTES or is_meta(node.value)
    if isinstance(node, ast.Subscript):
        return is_meta(node.value)
    if isinstance(node, (ast.Tuple, ast.List)):
        return bool(node.elts) and all(is_meta(e) or isinstance(e, ast.Constant) for e in node.elts) \
            and any(is_meta(e) for e in node.elts)
    if isinstance(node, ast.BinOp):
        return (is_meta(node.left) or isinstance(node.left, ast.Constant)) and \
            (is_meta(node.right) or isinstance(node.right, ast.Constant)) and (is_meta(node.left) or is_meta(node.right))
    return False


def _is_set(node):
    return isinstance(node, (ast.Set, ast.SetComp)) or (isinstance(node, ast.Call) and _name(node.func) in ("set", "frozenset"))


def compares_values(test):
    """True when the expression ``test`` (an assert's condition) compares two values (see module doc)."""
    for node in ast.walk(test):
        if isinstance(node, ast.Compare):
            operands = [node.left, *node.comparators]
            for op, left, right in zip(node.ops, operands, operands[1:]):
                if not isinstance(op, VALUE_OPS) or is_meta(left) or is_meta(right):
                    continue
                if isinstance(left, ast.Constant) and isinstance(right, ast.Constant):
                    continue
                if isinstance(op, ORDER_OPS) and (_is_set(left) or _is_set(right)):
                    continue  # a subset test: which values occur
                return True
        elif isinstance(node, ast.Call) and _name(node.func) in COMPARING:
            args = list(node.args) + [k.value for k in node.keywords if k.arg in ("input", "other", "a", "b")]
            if len(args) >= 2 and not any(is_meta(a) for a in args[:2]):
                return True
    return False


def _raises_assertion(body):
    return any(isinstance(s, ast.Raise) and s.exc is not None and "AssertionError" in ast.unparse(s.exc) for s in body)


def value_checks(visible):
    """The value checks of the visible code ``visible`` of a test cell: a list of their sources."""
    try:
        tree = ast.parse(TransformerManager().transform_cell(visible))
    except SyntaxError as exc:
        raise AssertionError(f"the visible code does not parse: {exc}") from None
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Assert) and compares_values(node.test):
            found.append(ast.unparse(node))
        elif isinstance(node, ast.If) and _raises_assertion(node.body) and compares_values(node.test):
            found.append(ast.unparse(node.test))
        elif isinstance(node, ast.Call) and _name(node.func) in ASSERTING:
            args = list(node.args[:2]) + [k.value for k in node.keywords if k.arg in ("actual", "expected", "desired")]
            if len(args) >= 2 and not any(is_meta(a) for a in args[:2]):
                found.append(ast.unparse(node))
    return found


def _release_notebooks():
    out = []
    for a in list_assignments(REPO):
        for name in load_manifest(REPO, a).notebooks:
            if (REPO / "release" / a / name).exists():
                out.append((a, name))
    return out


def thin_cells(nb):
    """``[(grade_id, why)]`` of the graded test cells of ``nb`` whose visible part checks no value."""
    thin = []
    for cell in nb.cells:
        if not is_test_cell(cell):
            continue
        gid = nbgrader_meta(cell).get("grade_id")
        visible, _ = split_source(cell.source)
        if not has_code(visible):
            if not str(gid).endswith("_hidden"):
                thin.append((gid, "no visible check at all (a hidden-test cell is named *_hidden and follows a "
                                  "visible check of the same function)"))
            continue
        if not value_checks(visible):
            thin.append((gid, "no visible assertion compares a value (only types, shapes, lengths or none)"))
    return thin


def test_the_release_notebooks_are_found():
    found = _release_notebooks()
    assert {a for a, _ in found} >= {"numpy_nets", "pytorch_imdb"} and len(found) >= 8, found


@pytest.mark.parametrize("a,name", _release_notebooks())
def test_every_visible_test_cell_checks_a_value(a, name):
    nb = nbformat.read(REPO / "release" / a / name, as_version=4)
    thin = thin_cells(nb)
    assert not thin, f"release/{a}/{name}: test cells whose visible part checks no value (issue 11):\n" + \
        "\n".join(f"  {gid}: {why}" for gid, why in thin)


# ---------------------------------------------------------------- what counts as a value check


def _checks(code):
    return value_checks(textwrap.dedent(code))


@pytest.mark.parametrize("code", [
    "assert isinstance(_loss, float), 'train_epoch must return a float'",
    "assert set(out.unique().tolist()) <= {0.0, 2.0}, 'outputs 0 or 2x'",
    "assert_shape(net(x), (6, 3), 'output')",
    "assert len(ds) == 5",
    "assert tuple(out.shape) == (5, 2), f'shape {tuple(out.shape)}'",
    "assert X_train.shape == (25_000, len(vocabulary)) and X_test.shape == (25_000, len(vocabulary))",
    "assert isinstance(vocabulary, dict) and 0 < len(vocabulary) <= MAX_FEATURES",
    "assert hasattr(model, 'parameters'), 'model must be an nn.Module'",
    "assert sp.issparse(X) and X.format == 'csr' and X.dtype == np.float32",
    "assert type(x).__name__ == 'float'",
    "assert x.dim() == 0 and x.size(0) == 3",
    "assert np.array_equal(a.shape, b.shape)",
    "assert 1 == 1",
    "assert_finite(out, 'loss')",
    "# Hidden test: the grader measures it",
    "print(rel_error(dx, dx_num))",
])
def test_types_shapes_and_lengths_are_not_value_checks(code):
    assert _checks(code) == [], code


@pytest.mark.parametrize("code", [
    "assert_allclose(out, [[1.0, 2.0]], what='Affine forward')",
    "assert_rel_error(dx, dx_num, 1e-7, 'relu_backward')",
    "np.testing.assert_allclose(out, want, rtol=1e-6)",
    "assert rel_error(dx, dx_num) < 1e-7, 'gradient check'",
    "assert abs(loss - np.log(10)) < 0.01, 'loss with tiny scores'",
    "assert accuracy >= XOR_MIN_ACCURACY, f'accuracy {accuracy}'",
    "assert torch.equal(Dropout(0.5).eval()(x), x), 'eval mode is the identity'",
    "assert not torch.equal(drop(x), drop(x)), 'a fresh mask per call'",
    "assert np.allclose(log_counts(X).toarray(), np.log1p(X.toarray()))",
    "assert math.isclose(a, b, rel_tol=1e-9)",
    "assert tokenize('a b') == ['a', 'b']",
    "assert len(res) == 5 and res[0][1] >= res[-1][1], 'best first'",
    "assert set(v) == {'a', 'b'}, 'the two most frequent'",
    "assert {p.device.type for p in net.parameters()} == {device.type}, 'on the device'",
    "if abs(a - b) > 1e-6:\n    raise AssertionError('a and b differ')",
    "for k in range(3):\n    assert_allclose(w[k], want[k], what=f'step {k}')",
])
def test_compared_values_are_value_checks(code):
    assert _checks(code), code


def test_a_thin_cell_is_named_and_a_hidden_only_cell_must_be_named_hidden():
    def cell(gid, source):
        return nbformat.v4.new_code_cell(source, metadata={"nbgrader": {
            "grade": True, "solution": False, "locked": True, "grade_id": gid, "points": 1, "schema_version": 3}})

    nb = nbformat.v4.new_notebook(cells=[
        cell("test_value", "assert_allclose(f(1), 2.0, what='f(1)')\n### BEGIN HIDDEN TESTS\nassert f(2) == 4\n### END HIDDEN TESTS"),
        cell("test_thin", "assert isinstance(f(1), float), 'a float'\n### BEGIN HIDDEN TESTS\nassert f(2) == 4\n### END HIDDEN TESTS"),
        cell("test_f_hidden", "# Hidden tests: f on many inputs\n### BEGIN HIDDEN TESTS\nassert f(3) == 6\n### END HIDDEN TESTS"),
        cell("test_no_check", "# Hidden test: f is right\n### BEGIN HIDDEN TESTS\nassert f(3) == 6\n### END HIDDEN TESTS"),
        nbformat.v4.new_code_cell("assert isinstance(f, object)"),  # not graded
    ])
    assert [gid for gid, _ in thin_cells(nb)] == ["test_thin", "test_no_check"]
    # the value check of a hidden block does not count for the visible part
    nb.cells[1].source = "### BEGIN HIDDEN TESTS\nassert f(2) == 4\n### END HIDDEN TESTS\nassert isinstance(f(1), float)"
    assert "test_thin" in [gid for gid, _ in thin_cells(nb)]
