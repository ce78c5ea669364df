"""Mutation testing of the hidden tests, on the grading path that grades students.

Wrong implementations must lose points; correct alternatives must keep full
marks. A mutant file ``tests/mutants/<assignment>.py`` defines ``MUTANTS``::

    from autograder.mutation import SKIPPED, correct, replace, wrong

    MUTANTS = [
        wrong("relu_backward_passes_negative", "01_layers.ipynb",
              {"relu": replace("dout * (x > 0)", "dout")},          # a textual edit of the reference cell
              must_fail=["test_relu_backward"]),                       # test cells that must lose points
        correct("relu_with_where", "01_layers.ipynb",
                {"relu": "def relu_forward(x):\\n    ..."}),              # a cell's whole new source
    ]

A cell change is the cell's new source (a string), :func:`replace` (or a list
of them: edits applied in turn to the reference solution's cell, each failing
loudly when its text is not there, so mutants cannot rot) or :data:`SKIPPED`
(a one-line cell that raises: a wrong mutant may skip heavy cells its
``must_fail`` tests do not need). The reference is the master of the course
being graded (``source/``, markers stripped), so every mutant is built from the
course it is graded in.

:func:`run` grades every mutant with :func:`autograder.grading.grade_assignment`
(the ``grade`` command's own function: staging, repair, sandboxed kernels,
guard, verifier, limits, gradebook) in a temporary copy of the course.
Independent mistakes of one notebook share one graded notebook (a
:class:`Batch`) when no mistake's ``must_fail`` tests use code another one
changes (:func:`batches`); each mistake is still counted on its own.
Hand-graded cells count in neither rate.
"""

from __future__ import annotations

import ast
import importlib.util
import re
import shutil
import tempfile
import textwrap
import time
from dataclasses import dataclass, field
from pathlib import Path

SKIPPED = 'raise RuntimeError("skipped in this mutant: the tests it must fail do not need this cell")'
KINDS = ("wrong", "correct")


class MutantError(ValueError):
    """A mutant that cannot be built (its edit's text is not in the reference cell, an unknown cell...)."""


@dataclass(frozen=True)
class Replace:
    """A textual edit: ``old`` (which must occur ``count`` times, None: at least once) becomes ``new``."""

    old: str
    new: str
    count: int | None = 1

    def apply(self, source, where=""):
        n = source.count(self.old)
        if n == 0 or (self.count is not None and n != self.count):
            expected = self.count if self.count is not None else ">= 1"
            raise MutantError(f"{where}: {self.old!r} occurs {n} times in the reference, expected {expected}")
        return source.replace(self.old, self.new)


def replace(old, new, count=1):
    """The edit ``old`` -> ``new`` of a reference cell (see module doc)."""
    return Replace(old, new, count)


@dataclass
class Mutant:
    """One realistic mistake (``kind="wrong"``) or correct alternative (``"correct"``) in one notebook.

    ``cells``: ``{grade_id: change}`` (see module doc). ``must_fail``: test cells a
    wrong mutant must make lose points. ``slow``: graded only when asked
    (full training to kill one more bug).
    """

    name: str
    kind: str
    notebook: str
    cells: dict
    must_fail: tuple = ()
    slow: bool = False


def wrong(name, notebook, cells, must_fail, slow=False):
    """A wrong implementation: its ``must_fail`` test cells must lose points."""
    return Mutant(name, "wrong", notebook, dict(cells), tuple(must_fail), slow)


def correct(name, notebook, cells):
    """A correct alternative: it must keep every autograded point of its notebook."""
    return Mutant(name, "correct", notebook, dict(cells))


def _as_mutant(m):
    if isinstance(m, Mutant):
        return m
    if isinstance(m, dict):  # the older dict form: {"name", "kind", "notebook", "cells", "must_fail"}
        return Mutant(m["name"], m["kind"], m["notebook"], dict(m.get("cells", {})), tuple(m.get("must_fail", ())),
                      bool(m.get("slow")))
    raise MutantError(f"not a mutant: {m!r}")


def mutant_file(course_root, assignment):
    """``tests/mutants/<assignment>.py`` under ``course_root`` (None when absent)."""
    p = Path(course_root) / "tests" / "mutants" / f"{assignment}.py"
    return p if p.is_file() else None


def load_mutants(path):
    """The validated ``MUTANTS`` of a mutant file (a list of :class:`Mutant`)."""
    path = Path(path)
    spec = importlib.util.spec_from_file_location(f"nnkit_mutants_{path.stem}", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    mutants = [_as_mutant(m) for m in getattr(mod, "MUTANTS", [])]
    names = [m.name for m in mutants]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise MutantError(f"{path}: duplicate mutant names {dup}")
    for m in mutants:
        if m.kind not in KINDS:
            raise MutantError(f"{path}: mutant {m.name!r} has kind {m.kind!r}; use wrong(...) or correct(...)")
        if m.kind == "wrong" and not m.must_fail:
            raise MutantError(f"{path}: wrong mutant {m.name!r} names no must_fail test cells")
    return mutants


# ---------------------------------------------------------------------------------------------
# building notebooks


def reference_sources(course_root, assignment, notebook):
    """``{grade_id: source}`` of the reference solution's nbgrader cells."""
    from autograder.notebook import grade_id, solution_notebook

    nb = solution_notebook(course_root, assignment, notebook)
    return {grade_id(c): c.source for c in nb.cells if grade_id(c)}


def _changed_source(reference, gid, change, where):
    if gid not in reference:
        raise MutantError(f"{where}: the reference has no cell {gid!r}")
    if isinstance(change, str):
        return change
    edits = [change] if isinstance(change, Replace) else list(change)
    src = reference[gid]
    for e in edits:
        if not isinstance(e, Replace):
            raise MutantError(f"{where}: cell {gid!r}: {e!r} is neither a source nor replace(...)")
        src = e.apply(src, f"{where}, cell {gid!r}")
    return src


def cell_sources(course_root, assignment, mutants):
    """``{grade_id: new source}`` for the cells that ``mutants`` (of one notebook) change, their edits applied
    in turn to the course's reference solution."""
    mutants = [_as_mutant(m) for m in mutants]
    reference = reference_sources(course_root, assignment, mutants[0].notebook)
    merged = dict(reference)
    out = {}
    for m in mutants:
        for gid, change in m.cells.items():
            if isinstance(change, str):
                out[gid] = merged[gid] = change
            else:
                out[gid] = merged[gid] = _changed_source(merged, gid, change, f"mutant {m.name}")
    return out


def mutant_notebook(course_root, assignment, mutants):
    """The notebook a student would hand in with ``mutants`` (one, or several of one notebook) applied."""
    from autograder.notebook import grade_id, solution_notebook

    mutants = [_as_mutant(m) for m in (mutants if isinstance(mutants, (list, tuple)) else [mutants])]
    nb = solution_notebook(course_root, assignment, mutants[0].notebook)
    sources = cell_sources(course_root, assignment, mutants)
    for cell in nb.cells:
        if grade_id(cell) in sources:
            cell.source = sources[grade_id(cell)]
    return nb


# ---------------------------------------------------------------------------------------------
# which mistakes can share one graded notebook


def _plain(source):
    try:
        from IPython.core.inputtransformer2 import TransformerManager

        return TransformerManager().transform_cell(source)
    except Exception:  # noqa: BLE001
        return source


def _statement_units(gid, source):
    """``[(unit, bound names, used names, source text)]`` of a cell: a function or class is a unit of its
    own (``(gid, name)``), the rest of the cell is ``(gid, "*")``. None when the cell does not parse."""
    src = _plain(source)
    try:
        tree = ast.parse(src)
    except SyntaxError:
        return None
    out = []
    for node in tree.body:
        used = _global_names(ast.get_source_segment(src, node) or "")
        if isinstance(node, _DEFINITIONS):
            out.append(((gid, node.name), {node.name}, used, ast.get_source_segment(src, node) or ""))
            continue
        used &= _read_before_bound(node)  # `for x in ...: f(x)` reads its own x, not an earlier cell's
        bound = set()
        for sub in ast.walk(node):
            if isinstance(sub, ast.Name) and isinstance(sub.ctx, (ast.Store, ast.Del)):
                bound.add(sub.id)
            elif isinstance(sub, (ast.Import, ast.ImportFrom)):
                bound.update((a.asname or a.name).split(".")[0] for a in sub.names)
        out.append(((gid, "*"), bound, used, ast.get_source_segment(src, node) or ""))
    return out


_DEFINITIONS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
_SCOPES = _DEFINITIONS + (ast.Lambda, ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)


def _read_before_bound(statement):
    """Names a module-level ``statement`` may read before it binds them itself, in evaluation order.

    Conservative where order is not certain: a branch (``if``/``else``, ``try`` handlers, a loop body
    that may not run) binds nothing for the code after it, and a nested scope (function, lambda,
    comprehension) reads every name it mentions."""
    reads = set()

    def block(body, bound):
        for n in body:
            visit(n, bound)

    def visit(n, bound):
        if isinstance(n, ast.Name):
            if isinstance(n.ctx, ast.Load):
                if n.id not in bound:
                    reads.add(n.id)
            else:
                bound.add(n.id)
        elif isinstance(n, _SCOPES):
            reads.update(sub.id for sub in ast.walk(n) if isinstance(sub, ast.Name) and sub.id not in bound)
            if isinstance(n, _DEFINITIONS):
                bound.add(n.name)
        elif isinstance(n, (ast.Import, ast.ImportFrom)):
            bound.update((a.asname or a.name).split(".")[0] for a in n.names)
        elif isinstance(n, ast.Assign):
            visit(n.value, bound)
            for t in n.targets:
                visit(t, bound)
        elif isinstance(n, ast.AnnAssign):
            visit(n.annotation, bound)
            if n.value is not None:
                visit(n.value, bound)
            visit(n.target, bound)
        elif isinstance(n, ast.AugAssign):
            if isinstance(n.target, ast.Name):
                if n.target.id not in bound:
                    reads.add(n.target.id)
            else:
                visit(n.target, bound)
            visit(n.value, bound)
            if isinstance(n.target, ast.Name):
                bound.add(n.target.id)
        elif isinstance(n, ast.NamedExpr):
            visit(n.value, bound)
            visit(n.target, bound)
        elif isinstance(n, (ast.For, ast.AsyncFor)):
            visit(n.iter, bound)
            inner = set(bound)
            visit(n.target, inner)
            block(n.body, inner)
            block(n.orelse, set(bound))
        elif isinstance(n, ast.While):
            visit(n.test, bound)
            block(n.body, set(bound))
            block(n.orelse, set(bound))
        elif isinstance(n, ast.If):
            visit(n.test, bound)
            b1, b2 = set(bound), set(bound)
            block(n.body, b1)
            block(n.orelse, b2)
            bound |= b1 & b2
        elif isinstance(n, (ast.Try, getattr(ast, "TryStar", ast.Try))):
            b1 = set(bound)
            block(n.body, b1)
            block(n.orelse, b1)
            for h in n.handlers:
                hb = set(bound)
                if h.type is not None:
                    visit(h.type, hb)
                if h.name:
                    hb.add(h.name)
                block(h.body, hb)
            block(n.finalbody, set(bound))
        elif isinstance(n, (ast.With, ast.AsyncWith)):
            for item in n.items:
                visit(item.context_expr, bound)
                if item.optional_vars is not None:
                    visit(item.optional_vars, bound)
            block(n.body, bound)
        else:
            for child in ast.iter_child_nodes(n):
                visit(child, bound)

    visit(statement, set())
    return reads


def _global_names(source):
    """Module-level names that ``source`` (one statement) reads, by Python's scoping rules (``symtable``):
    names local to a function or a comprehension do not count."""
    import symtable

    try:
        top = symtable.symtable(textwrap.dedent(source), "unit", "exec")
    except SyntaxError:
        return set()
    used = {s.get_name() for s in top.get_symbols() if s.is_referenced()}
    todo = list(top.get_children())
    while todo:
        table = todo.pop()
        todo.extend(table.get_children())
        for sym in table.get_symbols():
            if sym.is_global() and sym.is_referenced():
                used.add(sym.get_name())
    return used


def _units_text(gid, source):
    units = _statement_units(gid, source)
    if units is None:
        return None
    text = {}
    for unit, _, _, seg in units:
        text[unit] = text.get(unit, "") + seg + "\n"
    return text


@dataclass
class _Graph:
    cells: list            # grade ids in order
    reach: dict            # test grade id -> set of units it depends on
    units_of: dict         # grade id -> set of its units


def _dependency_graph(reference_nb):
    from autograder.notebook import grade_id, is_graded_cell

    cells = [c for c in reference_nb.cells if c.cell_type == "code"]
    order, units_of, stmts = [], {}, []
    for i, cell in enumerate(cells):
        gid = grade_id(cell) or f"cell-{i}"
        order.append(gid)
        parsed = _statement_units(gid, cell.source) or [((gid, "*"), set(), set(), cell.source)]
        units_of[gid] = {u for u, _, _, _ in parsed}
        stmts.extend((i, u, b, used) for u, b, used, _ in parsed)
    deps = {}
    for k, (i, unit, bound, used) in enumerate(stmts):
        found = set()
        for name in used:
            for j in range(k - 1, -1, -1):  # the latest earlier binding is what a top-to-bottom run uses
                if name in stmts[j][2]:
                    found.add(stmts[j][1])
                    break
        deps.setdefault(unit, set()).update(found - {unit})
    reach = {}
    for i, cell in enumerate(cells):
        if not is_graded_cell(cell) or not grade_id(cell):
            continue
        seen, todo = set(units_of[order[i]]), list(units_of[order[i]])
        while todo:
            for d in deps.get(todo.pop(), ()):
                if d not in seen:
                    seen.add(d)
                    todo.append(d)
        reach[order[i]] = seen
    return _Graph(order, reach, units_of)


def _touched(reference, sources, graph):
    """The units a mutant's cell sources change (all units of a cell that no longer parses)."""
    out = set()
    for gid, new in sources.items():
        old_units, new_units = _units_text(gid, reference.get(gid, "")), _units_text(gid, new)
        if old_units is None or new_units is None:
            out |= graph.units_of.get(gid, set()) | {(gid, "*")}
            continue
        changed = {u for u in set(old_units) | set(new_units) if old_units.get(u) != new_units.get(u)}
        if (gid, "*") in changed:  # code outside functions changed: everything of the cell may differ
            changed |= graph.units_of.get(gid, set())
        out |= changed
    return out


@dataclass
class Batch:
    """What one graded notebook holds: ``parts`` (mutants of one kind and notebook) and their cell sources."""

    name: str
    kind: str
    notebook: str
    parts: list
    sources: dict
    must_fail: list = field(default_factory=list)


def _slug(text):
    return re.sub(r"[^A-Za-z0-9_.-]", "_", text)


def batches(course_root, assignment, mutants):
    """Pack ``mutants`` into :class:`Batch` es (see module doc): a wrong mutant joins a batch of its
    notebook when they skip the same cells, change different code, and no one's ``must_fail`` tests
    depend on code another changes; correct mutants join when they change different cells."""
    from autograder.notebook import solution_notebook

    mutants = [_as_mutant(m) for m in mutants]
    graphs, refs, out = {}, {}, []
    for m in mutants:
        nb = m.notebook
        if nb not in graphs:
            ref_nb = solution_notebook(course_root, assignment, nb)
            graphs[nb] = _dependency_graph(ref_nb)
            refs[nb] = reference_sources(course_root, assignment, nb)
        graph, ref = graphs[nb], refs[nb]
        own = cell_sources(course_root, assignment, [m])
        skipped = frozenset(g for g, s in own.items() if s == SKIPPED)
        edited = {g: s for g, s in own.items() if s != SKIPPED}
        touched = _touched(ref, edited, graph)
        unknown = [t for t in m.must_fail if t not in graph.reach]
        if unknown:
            raise MutantError(f"mutant {m.name}: must_fail names {unknown}, which are not graded cells of {nb}")
        reach = set().union(*(graph.reach[t] for t in m.must_fail)) if m.must_fail else None
        placed = False
        for b in out:
            if m.slow or b.kind != m.kind or b.notebook != nb or b._slow:
                continue
            if m.kind == "correct":
                if set(b.sources) & set(own):
                    continue
            else:
                if b._skipped != skipped or reach is None or b._reach is None:
                    continue
                if touched & b._touched or reach & b._touched or b._reach & touched:
                    continue
            try:
                sources = cell_sources(course_root, assignment, b.parts + [m])
            except MutantError:  # the edits overlap textually
                continue
            b.parts.append(m)
            b.sources = sources
            b.must_fail = sorted(set(b.must_fail) | set(m.must_fail))
            b._touched |= touched
            if m.kind == "wrong":
                b._reach |= reach
            placed = True
            break
        if not placed:
            b = Batch(f"{m.kind}_{_slug(nb.split('.')[0])}_{len(out) + 1:02d}", m.kind, nb, [m], own,
                      sorted(m.must_fail))
            b._touched, b._reach, b._skipped, b._slow = set(touched), reach, skipped, m.slow
            out.append(b)
    return out


# ---------------------------------------------------------------------------------------------
# grading


@dataclass
class MutantResult:
    """How one mutant was graded: the points of its notebook's autograded cells and the cells that lost some."""

    name: str
    kind: str
    notebook: str
    batch: str
    score: float
    max_score: float
    lost: list
    must_fail: list
    batch_size: int = 1

    @property
    def ok(self):
        """Killed (a wrong mutant whose ``must_fail`` cells all lost points) or accepted (full marks).

        An extra-credit cell (0 points) counts as losing points when it earns less extra credit than it
        can (``lost``, :func:`_notebook_points`): a wrong bonus is killed there, a correct one must keep it."""
        if self.kind == "wrong":
            return (self.score < self.max_score or bool(self.lost)) and all(c in self.lost for c in self.must_fail)
        return self.max_score > 0 and self.score >= self.max_score and not self.lost

    def line(self):
        word = {("wrong", True): "KILLED  ", ("wrong", False): "SURVIVED", ("correct", True): "ACCEPTED",
                ("correct", False): "REJECTED"}[(self.kind, self.ok)]
        lost = ", ".join(self.lost) or "none"
        shared = f"graded with {self.batch_size - 1} other independent mistake(s), " if self.batch_size > 1 else ""
        text = (f"  {word} {self.name} ({self.notebook}, {shared}{self.score:g}/{self.max_score:g}): "
                f"lost points in {lost}")
        missing = [c for c in self.must_fail if c not in self.lost]
        if self.kind == "wrong" and missing:
            text += f"; should also have lost {', '.join(missing)}"
        return text


@dataclass
class MutationReport:
    """The outcome of :func:`run` for one assignment."""

    assignment: str
    results: list
    batches: int
    grader: str
    seconds: float
    solutions: dict = field(default_factory=dict)   # notebook -> (score, autograded max, lost cells)
    blank: dict = field(default_factory=dict)       # notebook -> (score, autograded max)
    tier: str = ""                                  # which mutants, when not all of them

    def rate(self, kind):
        mine = [r for r in self.results if r.kind == kind]
        return (sum(r.ok for r in mine), len(mine))

    @property
    def ok(self):
        return all(r.ok for r in self.results)

    def lines(self):
        killed, n_wrong = self.rate("wrong")
        accepted, n_right = self.rate("correct")

        def pct(a, n):
            return f"{a}/{n} ({a / n:.0%})" if n else "none"

        out = [f"{self.assignment}: wrong implementations that lose points (kill rate): {pct(killed, n_wrong)}; "
               f"correct alternatives with full marks (acceptance rate): {pct(accepted, n_right)}; "
               f"{self.batches} graded notebooks in {self.seconds:.0f} s" + (f" ({self.tier})" if self.tier else ""),
               f"  grader: the grade command's path ({self.grader})"]
        out += [r.line() for r in self.results]
        return out


def _grader_settings():
    import os

    if os.environ.get("NNKIT_SANDBOX", "1") == "0":
        return "NOT sandboxed: NNKIT_SANDBOX=0"
    from autograder.execution.sandbox import probe

    status = probe()
    return ("sandboxed: " if status.sandboxed else "") + status.summary()


def _student_id(batch):
    return "m-" + _slug(batch.name)


def quick_tier(mutants):
    """The mutants that ``make test`` grades: every correct alternative and, per notebook, the first wrong
    mutant of each distinct set of ``must_fail`` cells, so that every hidden test a mistake is written
    against is shown to catch one. ``python -m autograder mutants`` grades them all."""
    seen, out = set(), []
    for m in (_as_mutant(x) for x in mutants):
        key = (m.notebook, frozenset(m.must_fail))
        if m.kind == "wrong" and key in seen:
            continue
        seen.add(key)
        out.append(m)
    return out


def run(course_root, assignment, mutants=None, *, workers=2, seed=None, include_slow=False, notebooks=None,
        solutions=False, blank=False, progress=None, keep=None, quick=False):
    """Grade the mutants of ``assignment`` (default: its mutant file) through the ``grade`` path.

    ``quick``: only the :func:`quick_tier` (what the test suite grades).
    ``notebooks``: only mutants of these notebooks. ``solutions``/``blank``: also
    grade the reference solution and the release of each notebook (in the same
    run). ``keep``: build the temporary course in this folder and leave it there.
    Returns a :class:`MutationReport`.
    """
    from autograder.course import IGNORED, Course
    from autograder.grading import grade_assignment
    import nbformat

    t0 = time.monotonic()
    root = Path(course_root)
    if mutants is None:
        path = mutant_file(root, assignment)
        mutants = load_mutants(path) if path else []
    mutants = [_as_mutant(m) for m in mutants]
    manifest = Course(root).manifest(assignment)
    wanted = [n for n in manifest.notebooks if notebooks is None or n in notebooks]
    mutants = [m for m in mutants if m.notebook in wanted and (include_slow or not m.slow)]
    available = len(mutants)
    if quick:
        mutants = quick_tier(mutants)
    packed = batches(root, assignment, mutants)
    tmp = None
    if keep is None:
        tmp = tempfile.TemporaryDirectory(prefix="nnkit-mutants-")
        course_dir = Path(tmp.name) / "course"
    else:
        course_dir = Path(keep)
        if course_dir.exists():
            shutil.rmtree(course_dir)
    try:
        (course_dir / "assignments").mkdir(parents=True)
        shutil.copy2(root / "assignments" / f"{assignment}.toml", course_dir / "assignments")
        shutil.copytree(root / "source" / assignment, course_dir / "source" / assignment, ignore=IGNORED)

        def place(student, files):
            dest = course_dir / "submitted" / student / assignment
            dest.mkdir(parents=True, exist_ok=True)
            for name, nb in files.items():
                nbformat.write(nb, dest / name)

        for b in packed:
            place(_student_id(b), {b.notebook: mutant_notebook(root, assignment, b.parts)})
        if solutions:
            from autograder.notebook import solution_notebook

            for n in wanted:
                place(f"solution-{_slug(n.split('.')[0])}", {n: solution_notebook(root, assignment, n)})
        course = Course(course_dir)
        if blank:
            course.sync_gradebook(assignment)
            place("blank", {n: nb for n, nb in course.release_notebooks(assignment).items() if n in wanted})
        # longest first (whole notebooks before ones that skip cells, later notebooks before earlier),
        # so that no worker is left alone with a long notebook at the end
        index = {n: i for i, n in enumerate(manifest.notebooks)}
        students = (["blank"] if blank else []) + \
            [f"solution-{_slug(n.split('.')[0])}" for n in sorted(wanted, key=index.get, reverse=True) if solutions] + \
            [_student_id(b) for b in sorted(packed, key=lambda b: (b.kind != "correct",
                                                                     any(v == SKIPPED for v in b.sources.values()),
                                                                     -index[b.notebook]))]
        summary = grade_assignment(course, assignment, students, workers=workers, seed=seed, progress=progress)
        results = []
        for b in packed:
            score, max_score, lost = _notebook_points(summary.entries.get(_student_id(b), {}), b.notebook)
            for m in b.parts:
                results.append(MutantResult(m.name, m.kind, m.notebook, b.name, score, max_score, lost, list(m.must_fail),
                                            len(b.parts)))
        report = MutationReport(assignment, results, len(packed), _grader_settings(), 0.0)
        if quick:
            report.tier = f"quick tier: {len(mutants)} of {available} mutants"
        if solutions:
            for n in wanted:
                report.solutions[n] = _notebook_points(summary.entries.get(f"solution-{_slug(n.split('.')[0])}", {}), n)
        if blank:
            for n in wanted:
                report.blank[n] = _notebook_points(summary.entries.get("blank", {}), n)[:2]
        order = {m.name: i for i, m in enumerate(mutants)}
        report.results.sort(key=lambda r: order[r.name])
        report.seconds = time.monotonic() - t0
        return report
    finally:
        if tmp is not None:
            tmp.cleanup()


def _notebook_points(entry, notebook):
    """``(score, max, lost cells)`` of the autograded cells of ``notebook`` in a grading entry; an
    extra-credit cell is lost when it earns less extra credit than it can (score and max leave extra
    credit out)."""
    cells = [c for c in entry.get("cells", []) if c["notebook"] == notebook and not c.get("manual")]
    score = sum((c["score"] or 0.0) for c in cells)
    max_score = sum(c["max_score"] for c in cells)
    lost = [c["grade_id"] for c in cells if (c["score"] or 0.0) < c["max_score"]
            or (c.get("extra_credit") or 0.0) < (c.get("extra_max") or 0.0)]
    return round(score, 6), round(max_score, 6), lost
