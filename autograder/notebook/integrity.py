"""Tamper reports on a submitted notebook: a second line, never what a grade depends on.

Verdicts come from the verifier (:mod:`autograder.verifier`), a separate
process that student code cannot reach, so nothing here changes a score.
This module only *names* attempts a TA should know about in the export's
reason column: a student cell that rebinds ``numpy.allclose``, replaces the
grading helpers, hooks IPython's execution, walks interpreter frames, or ends
the kernel; and what the kernel's guard (:mod:`nnkit.guard`) reported while it
ran. Ordinary Python (``getattr`` with a computed name, ``setattr`` on the
student's own objects, ``importlib`` for the student's own modules,
``globals()``) is not reported.

:func:`scan_notebook` parses every code cell the student could have written
(cells identical to a master or release cell are trusted) and returns
:class:`Finding` objects; ``locked_edit`` findings say that a locked cell was
edited (nbgrader restores it from the master).
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

from autograder.records import ProblemKind, problem

# Modules whose attributes a student cell must never rebind or reach into.
PROTECTED_ROOTS = frozenset({
    "numpy", "torch", "nnkit", "builtins", "sys", "IPython", "ipykernel",
    "scipy", "sklearn", "math", "unittest", "pytest", "inspect", "gc", "importlib",
})
# Assignments that are ordinary configuration, not tampering.
ALLOWED_ASSIGN_PREFIXES = ("torch.backends.", "numpy.random.", "torch.random.")

SAFE_MAGICS = frozenset({"time", "timeit", "matplotlib", "load_ext", "autoreload", "config",
                         "precision", "who", "whos", "pip", "%time", "%timeit", "capture"})

PROCESS_CALLS = {
    "sys.exit": "ends the kernel's cell with SystemExit",
    "os._exit": "kills the kernel",
    "os.kill": "sends a signal to a process",
    "os.killpg": "sends a signal to a process group",
    "os.abort": "kills the kernel",
    "os.system": "runs a shell command",
    "os.popen": "runs a shell command",
    "os.fork": "forks the kernel",
    "os.execv": "replaces the kernel process",
    "os.execl": "replaces the kernel process",
    "signal.signal": "installs a signal handler",
    "signal.alarm": "installs a timer signal",
    "ctypes.CDLL": "loads native code",
    "gc.get_objects": "walks the interpreter's objects",
    "gc.get_referrers": "walks the interpreter's objects",
    "sys.settrace": "installs a tracer",
    "sys.setprofile": "installs a profiler",
    "sys._getframe": "reads interpreter frames",
    "importlib.reload": "reloads a module",
}
DYNAMIC_BUILTINS = {"exec", "eval", "compile", "__import__", "exit", "quit", "breakpoint"}
IPYTHON_HOOK_ATTRS = {
    "ast_transformers", "input_transformers_post", "input_transformers_cleanup",
    "input_transformer_manager", "set_custom_exc", "showtraceback", "showsyntaxerror",
    "custom_exceptions", "CustomTB", "InteractiveTB", "SyntaxTB", "excepthook",
    "displayhook", "run_cell", "run_ast_nodes", "run_code", "events", "ex", "user_ns",
}
FRAME_ATTRS = {"f_back", "f_globals", "f_locals", "f_builtins", "tb_frame", "__globals__",
               "__closure__", "__code__", "__builtins__", "__subclasses__", "__dict__"}

TAMPERING_KINDS = frozenset({"monkeypatch", "ipython_hook", "process_control", "dynamic_code",
                             "introspection", "shell", "syntax"})


@dataclass(frozen=True)
class Finding:
    kind: str          # one of TAMPERING_KINDS or "locked_edit"
    cell: str          # grade_id, or "cell <index>"
    line: int
    message: str

    @property
    def is_tampering(self):
        return self.kind in TAMPERING_KINDS

    def __str__(self):
        return f"{self.cell} line {self.line}: {self.message}"


def _cell_label(cell, index):
    gid = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
    return gid or f"cell {index}"


def _to_python(source):
    """IPython source (magics, ``!cmd``) as plain Python."""
    from IPython.core.inputtransformer2 import TransformerManager

    return TransformerManager().transform_cell(source)


class _Scanner(ast.NodeVisitor):
    def __init__(self, label, aliases, provided=None):
        self.label = label
        self.provided = provided if provided is not None else set()  # names bound by trusted cells
        self.aliases = aliases  # name -> dotted module path, shared across cells
        self.findings = []

    def add(self, kind, node, message):
        self.findings.append(Finding(kind, self.label, getattr(node, "lineno", 0), message))

    # -- name resolution -------------------------------------------------
    def dotted(self, node):
        """Dotted path of ``node`` with import aliases resolved, or None."""
        if isinstance(node, ast.Name):
            return self.aliases.get(node.id, node.id if node.id in DYNAMIC_BUILTINS | {"setattr", "delattr", "vars", "globals", "getattr", "get_ipython", "open"} else None)
        if isinstance(node, ast.Attribute):
            base = self.dotted(node.value)
            return f"{base}.{node.attr}" if base else None
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "get_ipython":
            return "IPython.shell"
        return None

    def protected(self, node):
        """True when ``node`` refers (through aliases) into a protected module."""
        path = self.dotted(node)
        if path and path.split(".")[0] in PROTECTED_ROOTS:
            return path
        # expressions such as [np][0] or (lambda: np)() that contain a protected alias
        for sub in ast.walk(node):
            if isinstance(sub, ast.Name) and self.aliases.get(sub.id, "").split(".")[0] in PROTECTED_ROOTS:
                return self.aliases[sub.id]
        return None

    # -- imports define aliases -------------------------------------------
    def visit_Import(self, node):
        for a in node.names:
            name = a.asname or a.name.split(".")[0]
            self.aliases[name] = a.name if a.asname else a.name.split(".")[0]
            if a.name.split(".")[0] in {"ctypes", "signal", "subprocess", "multiprocessing"}:
                self.add("process_control", node, f"imports {a.name}")

    def visit_ImportFrom(self, node):
        mod = node.module or ""
        for a in node.names:
            self.aliases[a.asname or a.name] = f"{mod}.{a.name}" if mod else a.name
        if mod.split(".")[0] in {"ctypes", "signal", "subprocess"}:
            self.add("process_control", node, f"imports from {mod}")

    # -- assignments -------------------------------------------------------
    def _check_target(self, target, node):
        if isinstance(target, (ast.Tuple, ast.List)):
            for t in target.elts:
                self._check_target(t, node)
            return
        if isinstance(target, ast.Name):
            path = self.aliases.get(target.id)
            if target.id in ("get_ipython", "__builtins__"):
                self.add("monkeypatch", node, f"rebinds {target.id}")
            elif path and path.split(".")[0] in PROTECTED_ROOTS and "." in path and isinstance(node, ast.Assign):
                if target.id in self.provided:
                    # test cells may use names that provided cells imported (rel_error, ...)
                    self.add("monkeypatch", node, f"rebinds {target.id}, which the notebook provides ({path})")
                # otherwise `from numpy import allclose; allclose = ...` only rebinds the student's own name
                self.aliases.pop(target.id, None)
            return
        if isinstance(target, (ast.Attribute, ast.Subscript)):
            path = self.protected(target.value)
            if path:
                full = self.dotted(target) or path
                if not any((full + ".").startswith(p) for p in ALLOWED_ASSIGN_PREFIXES):
                    self.add("monkeypatch", node, f"assigns into {full}")
            elif isinstance(target, ast.Attribute) and target.attr in IPYTHON_HOOK_ATTRS and self._is_ipython(target.value):
                self.add("ipython_hook", node, f"replaces IPython's {target.attr}")

    def _is_ipython(self, node):
        path = self.dotted(node) or ""
        return path.startswith("IPython") or path == "get_ipython"

    def visit_Assign(self, node):
        for t in node.targets:
            self._check_target(t, node)
        # aliases through plain assignment: `a = np` or `g = nnkit.grading`
        if isinstance(node.value, (ast.Name, ast.Attribute, ast.Call)):
            path = self.dotted(node.value)
            if path and path.split(".")[0] in PROTECTED_ROOTS | {"IPython"}:
                for t in node.targets:
                    if isinstance(t, ast.Name):
                        self.aliases[t.id] = path
        self.generic_visit(node)

    def visit_AugAssign(self, node):
        self._check_target(node.target, node)
        self.generic_visit(node)

    def visit_AnnAssign(self, node):
        self._check_target(node.target, node)
        self.generic_visit(node)

    def visit_Delete(self, node):
        for t in node.targets:
            self._check_target(t, node)
        self.generic_visit(node)

    def visit_FunctionDef(self, node):
        if node.name in self.provided and node.name in self.aliases:
            self.add("monkeypatch", node, f"redefines {node.name}, which the notebook provides ({self.aliases[node.name]})")
        self.generic_visit(node)

    visit_AsyncFunctionDef = visit_FunctionDef
    visit_ClassDef = visit_FunctionDef

    # -- attribute reads that reach into the interpreter --------------------
    def visit_Attribute(self, node):
        if node.attr in FRAME_ATTRS:
            self.add("introspection", node, f"reads .{node.attr}")
        elif node.attr in IPYTHON_HOOK_ATTRS and self._is_ipython(node.value):
            self.add("ipython_hook", node, f"uses IPython's {node.attr}")
        self.generic_visit(node)

    # -- calls ----------------------------------------------------------
    def visit_Call(self, node):
        path = self.dotted(node.func) or ""
        if path in DYNAMIC_BUILTINS:
            kind = "process_control" if path in ("exit", "quit") else "dynamic_code"
            self.add(kind, node, f"calls {path}()")
        elif path in PROCESS_CALLS:
            self.add("process_control", node, f"calls {path}: {PROCESS_CALLS[path]}")
        elif path.startswith(("subprocess.", "multiprocessing.")):
            self.add("process_control", node, f"calls {path}")
        elif path in ("setattr", "delattr") and node.args and self.protected(node.args[0]):
            self.add("monkeypatch", node, f"{path} on {self.protected(node.args[0])}")
        elif path == "vars" and node.args and self.protected(node.args[0]):
            self.add("introspection", node, f"vars() of {self.protected(node.args[0])}")
        elif path.startswith("IPython.shell.") or path == "get_ipython":
            self._check_ipython_call(node, path)
        elif path == "open" and self._writes_protected_file(node):
            self.add("monkeypatch", node, "opens a library file for writing")
        self.generic_visit(node)

    def _check_ipython_call(self, node, path):
        method = path.rsplit(".", 1)[-1]
        if method in ("run_line_magic", "run_cell_magic") and node.args and isinstance(node.args[0], ast.Constant):
            if str(node.args[0].value).lstrip("%") in SAFE_MAGICS:
                return
            self.add("ipython_hook", node, f"runs the magic %{node.args[0].value}")
        elif method in ("system", "getoutput"):
            self.add("shell", node, "runs a shell command (!cmd)")
        elif path == "get_ipython":
            return  # the call itself; what is done with it is checked by its attribute use
        else:
            self.add("ipython_hook", node, f"calls IPython's {method}")

    def _writes_protected_file(self, node):
        mode = None
        if len(node.args) > 1 and isinstance(node.args[1], ast.Constant):
            mode = str(node.args[1].value)
        for kw in node.keywords:
            if kw.arg == "mode" and isinstance(kw.value, ast.Constant):
                mode = str(kw.value.value)
        if not mode or not any(c in mode for c in "wax+"):
            return False
        target = node.args[0] if node.args else None
        text = ast.unparse(target) if target is not None else ""
        return any(s in text for s in ("nnkit", "site-packages", "__file__", "autograder", "source/", "gradebook"))


def scan_source(source, label="cell", aliases=None, provided=None):
    """Findings for one code cell's source (IPython syntax allowed)."""
    aliases = {} if aliases is None else aliases
    try:
        tree = ast.parse(_to_python(source))
    except SyntaxError:
        return []  # a cell that does not parse cannot run, so it cannot tamper either
    scanner = _Scanner(label, aliases, provided)
    scanner.visit(tree)
    return scanner.findings


def _trusted_sources(*notebooks):
    out = set()
    for nb in notebooks:
        if nb is None:
            continue
        for cell in nb.cells:
            if cell.cell_type == "code":
                out.add(cell.source.strip())
    return out


def scan_notebook(submission, master=None, release=None, also=()):
    """Findings for a submitted notebook (an ``nbformat`` NotebookNode).

    Cells whose source equals a cell of ``master`` (the source notebook, hidden
    tests included), of ``release`` or of the notebooks ``also`` (the master as
    ``release`` writes it, with the manifest's values filled in) are trusted and
    skipped. Locked cells of the master that the student changed give
    ``locked_edit`` findings.
    """
    trusted = _trusted_sources(master, release, *also)
    findings, aliases, provided = [], {}, set()
    for i, cell in enumerate(submission.cells):
        if cell.get("cell_type") != "code":
            continue
        src = cell.get("source", "")
        label = _cell_label(cell, i)
        if src.strip() in trusted:
            # still learn its imports, so aliases such as `np` resolve in later cells
            before = dict(aliases)
            try:
                _Scanner(label, aliases).visit(ast.parse(_to_python(src)))
            except SyntaxError:
                pass
            provided.update(k for k, v in aliases.items()
                            if before.get(k) != v and v.split(".")[0] in PROTECTED_ROOTS and "." in v)
            continue
        findings.extend(scan_source(src, label, aliases, provided))
    if master is not None:
        findings.extend(locked_edits(submission, master, release, also))
    return findings


def _locked_sources(nb, into):
    for cell in nb.cells:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if meta.get("locked") and meta.get("grade_id"):
            into.setdefault(meta["grade_id"], set()).add(cell.source.strip())


def _without_hidden_tests(nb):
    """A copy of master ``nb`` with hidden-test blocks removed, as the release shows them."""
    import copy
    import re

    out = copy.deepcopy(nb)
    block = re.compile(r"[ \t]*### BEGIN HIDDEN TESTS.*?### END HIDDEN TESTS[ \t]*\n?", re.S)
    for cell in out.cells:
        if cell.get("cell_type") == "code":
            cell.source = block.sub("", cell.source)
    return out


def locked_edits(submission, master, release=None, also=()):
    """``locked_edit`` findings: locked cells whose submitted source matches neither
    the master (markers stripped; or a master of ``also``) nor the release."""
    from autograder.notebook import strip_markers

    allowed = {}
    for nb in (master, *also):
        _locked_sources(strip_markers(nb), allowed)
        _locked_sources(nb, allowed)
        _locked_sources(_without_hidden_tests(nb), allowed)
    if release is not None:
        _locked_sources(release, allowed)
    out = []
    for cell in submission.cells:
        gid = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        if gid in allowed and cell.get("source", "").strip() not in allowed[gid]:
            out.append(Finding("locked_edit", gid, 0, "edited a locked cell (restored from the master before grading)"))
    return out


def tampering(findings):
    """The findings that report tampering (not ``locked_edit``)."""
    return [f for f in findings if f.is_tampering]


def guard_reports(executed):
    """``nnkit-guard:`` lines a kernel wrote into an executed notebook's outputs (list of str)."""
    from nnkit.guard import MARKER

    lines = []
    for cell in executed.cells:
        for out in cell.get("outputs", []):
            if out.get("output_type") == "stream":
                for line in str(out.get("text", "")).splitlines():
                    if line.startswith(MARKER) and line not in lines:
                        lines.append(line)
    return lines


#: Folder of a worker's course holding ``source/<a>`` as ``release`` writes it (placeholders filled).
FILLED_SOURCE = "source-filled"


def check_submission(course_dir, assignment, student, result):
    """Add the tamper reports of a graded ``result`` (see :mod:`autograder.execution.worker`) to its problems.

    Reads the submitted notebooks (static scan against ``source/`` and
    ``release/``) and the autograded ones (guard reports). Each finding becomes
    a problem (kind ``tampering``; ``locked_edit`` for edited locked cells) that
    the export's reason column shows. Scores are left as the verifier decided.
    Returns ``result``.
    """
    import nbformat

    root = Path(course_dir)
    for entry in result.get("notebooks", []):
        name = entry["name"] + ".ipynb"
        findings, reports = [], []
        sub = root / "submitted" / student / assignment / name
        master = root / "source" / assignment / name
        filled = root / FILLED_SOURCE / assignment / name  # the master with the manifest's values (grading.py)
        release = root / "release" / assignment / name
        graded = root / "autograded" / student / assignment / name
        try:
            if sub.is_file() and master.is_file():
                findings = scan_notebook(nbformat.read(sub, as_version=4), nbformat.read(master, as_version=4),
                                         nbformat.read(release, as_version=4) if release.is_file() else None,
                                         [nbformat.read(filled, as_version=4)] if filled.is_file() else [])
            if graded.is_file():
                reports = guard_reports(nbformat.read(graded, as_version=4))
        except Exception as exc:  # noqa: BLE001 - an unreadable notebook is reported, not fatal
            result.setdefault("problems", []).append(
                problem(ProblemKind.GRADER_ERROR, f"integrity check failed: {exc}", name))
            continue
        for f in findings:
            kind = ProblemKind.LOCKED_EDIT if f.kind == "locked_edit" else ProblemKind.TAMPERING
            result.setdefault("problems", []).append(problem(kind, str(f), name))
        for line in reports:
            result.setdefault("problems", []).append(problem(ProblemKind.TAMPERING, line, name))
    return result
