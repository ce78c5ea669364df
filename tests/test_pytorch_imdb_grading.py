"""Grading the pytorch_imdb assignment with nbgrader (slow; notebooks 02 and 03 are graded only where
the full IMDB data is, see tests/conftest.py).

One module fixture grades, in one ``run_mutants`` call with two workers: the reference solution
of every notebook (as a "correct" mutant without edits), every mutant of
``tests/mutants/pytorch_imdb.py`` (``"slow"`` ones only with NNKIT_SLOW_MUTANTS=1; independent
mistakes of one notebook packed into one graded notebook by its ``batches``) and, in a third
process alongside, the untouched release. Kernels get one CPU thread each (two workers
share the two cores) and skip the hyperparameter search (NNKIT_SEARCH_BUDGET=0).

The test functions then check: every solution earns every point, the blank release earns 0
in every notebook without crashing the grader, every wrong mutant loses points in the cells it
names, every correct alternative keeps full marks. The summary line (printed with ``-s``) gives
kill and acceptance rates and the wall time.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from autograder.manifest import load_manifest
from conftest import full_imdb_path
from fixtures.assignment_support import grade_with_blank, load_mutants

pytestmark = pytest.mark.slow

A = "pytorch_imdb"
REPO = Path(__file__).resolve().parents[1]
RELEASE = REPO / "release" / A
MANIFEST = load_manifest(REPO, A)
NB1, NB2, NB3 = MANIFEST.notebooks
# Rough cost of one graded run, to give both workers the same load (round-robin assignment).
HEAVY = {"solution_03": 4, "classifier_alternatives": 4, "classifier_vocabulary_from_train_and_test": 2,
         "trained_on_test_reviews": 4, "solution_02": 1, "count_vector_alternatives": 1,
         "vectoriser_vocabulary_from_train_and_test": 1}


@pytest.fixture(scope="module")
def graded():
    """Without the full IMDB data only notebook 01 is graded (02 and 03 read IMDB)."""
    imdb_path = full_imdb_path()
    notebooks = list(MANIFEST.notebooks) if imdb_path else [NB1]
    mod = load_mutants(A)
    slow = bool(os.environ.get("NNKIT_SLOW_MUTANTS"))
    mutants = [m for m in mod.MUTANTS if (slow or not m.get("slow")) and m["notebook"] in notebooks]
    runs = mod.batches(mutants)
    solutions = [{"name": f"solution_{n[:2]}", "kind": "correct", "notebook": n, "cells": {}} for n in notebooks]
    weight = lambda m: max([HEAVY.get(m["name"], 0)] + [HEAVY.get(p, 0) for p in m.get("parts", [])])
    queue = sorted(solutions + runs, key=lambda m: -weight(m))  # stable: heavy ones first, alternating workers
    env = {"NNKIT_SEARCH_BUDGET": 0, **({"NNKIT_IMDB_PATH": imdb_path} if imdb_path else {})}
    results, blank, seconds = grade_with_blank(A, queue, notebooks, env)
    return {"results": results, "mutants": mutants, "runs": runs, "blank": blank,
            "seconds": seconds, "notebooks": notebooks}


def test_solution_earns_every_point(graded):
    for name in graded["notebooks"]:
        r = graded["results"][f"solution_{name[:2]}"]
        assert r.max_score == MANIFEST.points[name], f"{name}: graded {r.max_score} points, the manifest says {MANIFEST.points[name]}"
        assert r.failed_cells == [] and r.score == r.max_score, f"{name}: the solution lost points in {r.failed_cells}"


def test_blank_release_earns_zero_without_crashing(graded):
    cells = [c for c in graded["blank"].cells if c.notebook in graded["notebooks"]]
    assert {c.notebook for c in cells} == set(graded["notebooks"]), "the grader did not grade every notebook"
    assert sum(c.max_score for c in cells) == sum(MANIFEST.points[n] for n in graded["notebooks"])
    assert sum(c.score for c in cells) == 0, f"the blank release scored {[(c.grade_id, c.score) for c in cells if c.score]}"


def test_mistakes_lose_points_and_alternatives_keep_them(graded):
    results = graded["results"]
    failed = {}  # mutant name -> test cells that lost points in the run that graded it
    for run in graded["runs"]:
        for name in run.get("parts", [run["name"]]):
            failed[name] = set(results[run["name"]].failed_cells)
    wrong = [m for m in graded["mutants"] if m["kind"] == "wrong"]
    right = [m for m in graded["mutants"] if m["kind"] == "correct"]
    survived = [(m["name"], sorted(set(m["must_fail"]) - failed[m["name"]])) for m in wrong
                if not set(m["must_fail"]) <= failed[m["name"]]]
    rejected = [(m["name"], sorted(failed[m["name"]])) for m in right if not results[m["name"]].ok]
    print(f"\n{A}: mistakes killed {len(wrong) - len(survived)}/{len(wrong)} ({1 - len(survived) / len(wrong):.0%}), "
          f"correct alternatives accepted {len(right) - len(rejected)}/{len(right)} "
          f"({1 - len(rejected) / len(right):.0%}); solutions, blank release and {len(graded['mutants'])} mutants "
          f"({len(graded['runs'])} graded notebooks) in {graded['seconds']:.0f} s")
    assert not survived, f"mistakes that kept their points (cells that should have failed): {survived}"
    assert not rejected, f"correct alternatives that lost points: {rejected}"


def test_imdb_notebooks_were_graded(graded):
    if full_imdb_path() is None:
        pytest.skip("full IMDB data not found (NNKIT_IMDB_PATH or ../shared/data/imdb): only notebook 01 was graded")
    assert graded["notebooks"] == list(MANIFEST.notebooks)
