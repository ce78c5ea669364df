"""Which code of a test cell runs where, and the trusted imports of a notebook.

A test cell (nbgrader: graded, not a solution cell) holds visible code and
optional hidden blocks between ``### BEGIN HIDDEN TESTS`` and
``### END HIDDEN TESTS``. At grading time:

* the **visible** code runs in the student's kernel, exactly as the student
  sees it in the release (its output is shown; it does not decide the score);
* the **verdict** code runs in the verifier: the whole cell, visible code and
  hidden blocks (marker lines removed), as nbgrader would have run it. Its
  outcome is the cell's score, and every name the cell defines for itself
  (``_x = ...`` in the visible part) is a trusted value, never the kernel's.

The verifier's namespace starts from :func:`prelude`: every ``import`` of the
master notebook's instructor cells (setup cells, test cells; never solution
cells) and its module-level constants with literal values, so that
``np``, ``torch``, ``assert_allclose`` or ``MAX_FEATURES`` in a test are
trusted, not names from the student's notebook.
"""

from __future__ import annotations

import ast
import re
import textwrap

BEGIN = "### BEGIN HIDDEN TESTS"
END = "### END HIDDEN TESTS"
_MARKER = re.compile(r"^[ \t]*### (BEGIN|END) HIDDEN TESTS")
_BLOCK = re.compile(r"^[ \t]*### BEGIN HIDDEN TESTS[^\n]*\n(.*?)^[ \t]*### END HIDDEN TESTS[^\n]*(?:\n|$)", re.S | re.M)


def _nbgrader(cell):
    return (cell.get("metadata") or {}).get("nbgrader") or {}


def is_test_cell(cell):
    """A code cell nbgrader scores from its outputs (graded, not a solution cell)."""
    meta = _nbgrader(cell)
    return cell.get("cell_type") == "code" and bool(meta.get("grade")) and not meta.get("solution")


def split_source(source):
    """``(visible, hidden)`` code of a test cell's source (hidden blocks joined, dedented)."""
    blocks = [textwrap.dedent(m.group(1)) for m in _BLOCK.finditer(source)]
    visible = _BLOCK.sub("", source)
    return visible, "\n".join(blocks)


def has_code(source):
    """True when ``source`` holds a statement (not only blank lines and comments)."""
    return any(line.strip() and not line.strip().startswith("#") for line in source.splitlines())


def verdict_code(source):
    """The code whose outcome scores a test cell: its source without the hidden-test marker lines."""
    return "\n".join(line for line in source.splitlines()
                     if line.strip() not in (BEGIN, END) and not _MARKER.match(line))


def _plain(source):
    try:
        from IPython.core.inputtransformer2 import TransformerManager

        return TransformerManager().transform_cell(source)
    except Exception:  # noqa: BLE001 - no IPython: the source as written
        return source


def _parse(source):
    try:
        return ast.parse(_plain(source))
    except SyntaxError:
        return None


def prelude(master):
    """Source of the trusted imports and literal constants of master notebook ``master`` (see module doc)."""
    lines, seen = [], set()

    def add(text):
        if text not in seen:
            seen.add(text)
            lines.append(text)

    for cell in master.cells:
        if cell.get("cell_type") != "code" or _nbgrader(cell).get("solution"):
            continue
        source = cell.get("source", "")
        test = is_test_cell(cell)
        if test:
            visible, hidden = split_source(source)
            sources = [visible, hidden]
        else:
            sources = [source]
        for src in sources:
            tree = _parse(src)
            if tree is None:
                continue
            for node in tree.body:
                if isinstance(node, (ast.Import, ast.ImportFrom)):
                    add(ast.unparse(node))
                elif not test and isinstance(node, ast.Assign) and all(isinstance(t, ast.Name) for t in node.targets):
                    try:
                        ast.literal_eval(node.value)
                    except (ValueError, SyntaxError, TypeError):
                        continue
                    add(ast.unparse(node))
    return "\n".join(lines) + ("\n" if lines else "")


def imported_modules(prelude_source):
    """Names of the modules that ``prelude_source`` (see :func:`prelude`) imports, in order."""
    names = []
    tree = _parse(prelude_source)
    for node in (tree.body if tree is not None else ()):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.append(node.module)
    return list(dict.fromkeys(names))


def datasets_used(prelude_source):
    """The datasets whose loaders ``prelude_source`` (see :func:`prelude`) imports: ``["imdb"]`` when it imports
    ``load_imdb`` from :mod:`nnkit.data`; the verifier loads them once for all the notebook's sessions."""
    tree = _parse(prelude_source)
    for node in (tree.body if tree is not None else ()):
        if (isinstance(node, ast.ImportFrom) and node.module in ("nnkit.data", "nnkit.data.imdb")
                and any(alias.name == "load_imdb" for alias in node.names)):
            return ["imdb"]
    return []
