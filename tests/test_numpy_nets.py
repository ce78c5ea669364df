"""The numpy_nets assignment (source/numpy_nets, release/numpy_nets, assignments/numpy_nets.toml).

Fast checks: the release is generated from source (fresh, no solutions, no hidden tests,
no outputs), source outputs are stripped, the manifest's points and thresholds agree with
the notebooks, and the mutant file covers every graded function.

Slow checks (nbgrader on this machine): the solution of every notebook earns every
autograded point, the untouched release earns 0 without crashing the grader, every
realistic mistake in ``tests/mutants/numpy_nets.py`` loses points in the test cells it
names, and every correct alternative keeps full marks.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from autograder import engine
from autograder.manifest import load_manifest
from conftest import full_imdb_path
from fixtures.assignment_support import assert_outputs_stripped, assert_release_is_clean, grade_cells as _grade_cells, \
    grade_with_blank, load_mutants, nbgrader_meta as _meta, source_reader

A = "numpy_nets"
REPO = Path(__file__).resolve().parents[1]
SOURCE = REPO / "source" / A
RELEASE = REPO / "release" / A
MANIFEST = load_manifest(REPO, A)
IMDB_NOTEBOOK = "05_putting_it_together.ipynb"
THRESHOLD = re.compile(r"^\s*(\w+)\s*=\s*([-+0-9.eE]+)\s*#\s*manifest:\s*thresholds\.(\w+)\s*$", re.M)


_source = source_reader(A)


def _manual_ids(nb):
    return {_meta(c)["grade_id"] for c in _grade_cells(nb) if c.cell_type == "markdown"}


# ---------------------------------------------------------------- fast checks


def test_manifest_lists_the_source_notebooks():
    assert sorted(MANIFEST.notebooks) == sorted(p.name for p in SOURCE.glob("*.ipynb"))
    assert sorted(MANIFEST.notebooks) == sorted(p.name for p in RELEASE.glob("*.ipynb"))
    assert MANIFEST.data.get("imdb") is True


@pytest.mark.parametrize("name", MANIFEST.notebooks)
def test_manifest_points_equal_cell_points(name):
    nb = _source(name)
    ids = [_meta(c)["grade_id"] for c in nb.cells if _meta(c)]
    assert len(ids) == len(set(ids)), f"{name}: duplicate grade ids"
    assert all(c.get("id") for c in nb.cells), f"{name}: every cell needs a stable id"
    assert sum(float(_meta(c)["points"]) for c in _grade_cells(nb)) == MANIFEST.points[name]


def test_thresholds_match_hidden_test_literals():
    found = {}
    for name in MANIFEST.notebooks:
        for cell in _grade_cells(_source(name)):
            for var, value, key in THRESHOLD.findall(cell.source):
                assert key not in found, f"threshold {key} is set in two test cells"
                assert re.search(rf"(>=|<=|>|<)\s*{var}\b", cell.source), f"{name}: {var} is not used in a comparison"
                found[key] = float(value)
    assert found == {k: float(v) for k, v in MANIFEST.thresholds.items()}


@pytest.mark.parametrize("name", MANIFEST.notebooks)
def test_source_outputs_are_stripped(name):
    assert_outputs_stripped(_source(name), name)


@pytest.mark.parametrize("name", MANIFEST.notebooks)
def test_release_has_no_solutions_hidden_tests_or_outputs(name):
    assert_release_is_clean(A, name)


@pytest.mark.slow
def test_release_is_fresh():
    stale = engine.stale_release_files(A)
    assert stale == [], (f"release/{A} is stale: {stale}; regenerate it with "
                         f"python -c \"from autograder.engine import refresh_release; refresh_release('{A}')\"")


def _functions(src):
    """{top-level function or class name: its source} of a cell."""
    tree = ast.parse(src)
    return {n.name: ast.get_source_segment(src, n) for n in tree.body
            if isinstance(n, (ast.FunctionDef, ast.ClassDef))}


def test_every_graded_function_has_a_realistic_mistake():
    mod = load_mutants(A)
    wrong = [m for m in mod.MUTANTS if m["kind"] == "wrong"]
    assert all(m["must_fail"] for m in wrong), "every wrong mutant names the test cells it must fail"
    touched = set()
    for m in wrong:
        for gid, new in m["cells"].items():
            old = mod.reference_cell_source(m["notebook"], gid)
            a, b = _functions(old), _functions(new)
            touched |= {(m["notebook"], f) for f in a if a[f] != b.get(f)}
    graded = set()
    for name in MANIFEST.notebooks[:4]:
        nb = engine.solution_notebook(A, name)
        test_ids = {_meta(c)["grade_id"] for c in _grade_cells(nb)}
        deps = mod.dependencies(name)
        for cell in nb.cells:
            gid = _meta(cell).get("grade_id")
            # answer cells whose code the tests of this notebook grade (not the pasted earlier work)
            if _meta(cell).get("solution") and cell.cell_type == "code" and not gid.startswith(("layers_from", "pasted")):
                for f in _functions(cell.source):
                    assert any((gid, f) in deps[t] for t in test_ids), f"{name}:{gid}:{f} is not graded by any test cell"
                    graded.add((name, f))
    missing = sorted(graded - touched)
    assert not missing, f"graded functions without a wrong mutant: {missing}"
    assert any(m["notebook"] == IMDB_NOTEBOOK for m in wrong)
    correct = [m for m in mod.MUTANTS if m["kind"] == "correct"]
    assert len({m["notebook"] for m in correct}) >= 4 and len(correct) >= 8


def test_mutant_batches_keep_mistakes_independent():
    """Each mistake of a batch changes its own functions, and its must_fail cells use none of the others'."""
    mod = load_mutants(A)
    batches = mod.batches(mod.MUTANTS)
    by_name = {m["name"]: m for m in mod.MUTANTS}
    assert sorted(p for b in batches for p in b["parts"]) == sorted(by_name)
    for b in batches:
        deps = mod.dependencies(b["notebook"])
        parts = [by_name[p] for p in b["parts"]]
        changed = [mod.touched(p) for p in parts]
        assert mod.touched(b) == set().union(*changed), f"{b['name']}: the batch is not the union of its parts"
        for i, p in enumerate(parts):
            others = set().union(*(changed[j] for j in range(len(parts)) if j != i))
            assert not changed[i] & others, f"{b['name']}: {p['name']} changes a unit another part changes"
            if b["kind"] == "wrong":
                assert not mod.reach(p, deps) & others, f"{b['name']}: {p['name']}'s tests use a unit another part changes"
                for gid, unit in changed[i]:  # the part's own edit is in the batch
                    assert unit != "*" and mod.units(p["cells"][gid])[unit] == mod.units(b["cells"][gid])[unit], \
                        f"{b['name']}: {p['name']}'s edit of {gid}:{unit} is missing"


# ---------------------------------------------------------------- grading (slow)


@pytest.fixture(scope="module")
def graded():
    """Grade the solutions, the correct alternatives and the mistakes (run_mutants, 2 workers)
    and, alongside, the untouched release (grade_in_temp_course). Kernels use one BLAS thread each."""
    with_imdb = full_imdb_path() is not None
    notebooks = [n for n in MANIFEST.notebooks if with_imdb or n != IMDB_NOTEBOOK]
    mod = load_mutants(A)
    batches = [b for b in mod.batches(mod.MUTANTS) if b["notebook"] in notebooks]
    solutions = [{"name": f"solution_{n[:2]}", "kind": "correct", "notebook": n, "cells": {}} for n in notebooks]
    # the long IMDB notebook first in one worker's queue, its mutant first in the other's
    slow = [m for m in solutions + batches if m["notebook"] == IMDB_NOTEBOOK]
    rest = [m for m in solutions + batches if m["notebook"] != IMDB_NOTEBOOK]
    queue = slow + rest
    results, blank, seconds = grade_with_blank(A, queue, notebooks,
                                               {"NNKIT_IMDB_PATH": full_imdb_path()} if with_imdb else {})
    return {"results": results, "blank": blank, "batches": batches, "mutants": mod.MUTANTS,
            "notebooks": notebooks, "seconds": seconds, "with_imdb": with_imdb}


@pytest.mark.slow
def test_solution_earns_every_autograded_point(graded):
    for name in graded["notebooks"]:
        r = graded["results"][f"solution_{name[:2]}"]
        manual = _manual_ids(_source(name))
        autograded_max = MANIFEST.points[name] - sum(
            float(_meta(c)["points"]) for c in _grade_cells(_source(name)) if _meta(c)["grade_id"] in manual)
        assert r.max_score == MANIFEST.points[name], f"{name}: graded {r.max_score} points, manifest says {MANIFEST.points[name]}"
        assert set(r.failed_cells) == manual, f"{name}: the solution lost points in {sorted(set(r.failed_cells) - manual)}"
        assert r.score == autograded_max, f"{name}: solution scored {r.score} of {autograded_max} autograded points"
    print(f"\nsolution: every autograded point in {len(graded['notebooks'])} notebooks "
          f"(manual cells left for a TA: {sorted(set().union(*(_manual_ids(_source(n)) for n in graded['notebooks'])))})")


@pytest.mark.slow
def test_untouched_release_earns_zero(graded):
    blank = graded["blank"]
    graded_nbs = {c.notebook for c in blank.cells}
    assert graded_nbs == set(graded["notebooks"]), f"the grader did not grade {set(graded['notebooks']) - graded_nbs}"
    assert blank.max_score == sum(MANIFEST.points[n] for n in graded["notebooks"])
    assert blank.score == 0, f"the blank release scored {blank.score}: {[(c.grade_id, c.score) for c in blank.cells if c.score]}"


@pytest.mark.slow
def test_mistakes_lose_points_and_alternatives_keep_them(graded):
    results, by_name = graded["results"], {m["name"]: m for m in graded["mutants"]}
    killed, survived, accepted, rejected = [], [], [], []
    for b in graded["batches"]:
        r = results[b["name"]]
        for part in b["parts"]:
            m = by_name[part]
            if m["kind"] == "wrong":
                ok = r.score < r.max_score and all(c in r.failed_cells for c in m["must_fail"])
                (killed if ok else survived).append((part, sorted(set(m["must_fail"]) - set(r.failed_cells))))
            else:
                (accepted if r.ok else rejected).append((part, r.failed_cells))
    n_wrong, n_right = len(killed) + len(survived), len(accepted) + len(rejected)
    print(f"\nmistakes killed: {len(killed)}/{n_wrong} ({len(killed) / n_wrong:.0%}); correct alternatives accepted: "
          f"{len(accepted)}/{n_right} ({len(accepted) / n_right:.0%}); graded as {len(graded['batches'])} batches "
          f"+ {len(graded['notebooks'])} solutions, alongside the blank release, in {graded['seconds']:.0f} s")
    assert not survived, f"mistakes that kept their points (cells that should have failed): {survived}"
    assert not rejected, f"correct alternatives that lost points: {rejected}"
    assert all(results[b["name"]].ok for b in graded["batches"])


@pytest.mark.slow
def test_imdb_notebook_was_graded(graded):
    if not graded["with_imdb"]:
        pytest.skip("full IMDB data not found (NNKIT_IMDB_PATH): notebook 05 was not graded")
    assert f"solution_{IMDB_NOTEBOOK[:2]}" in graded["results"]
    assert any(b["notebook"] == IMDB_NOTEBOOK for b in graded["batches"])
