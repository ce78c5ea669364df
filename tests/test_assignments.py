"""Every assignment with a manifest, checked the same way: adding an assignment is a manifest
(``assignments/<a>.toml``), its master notebooks (``source/<a>/``) and a mutant file
(``tests/mutants/<a>.py``); this module then covers it.

Fast checks: the manifest agrees with the notebooks (names, points, thresholds), masters
have stripped outputs and stable ids, the committed release has no solution or hidden-test
line and is what nbgrader generates from source, every answer cell has a realistic mistake
in the mutant file, and every mutant applies to the reference solution.

Slow checks, on the grading path itself (:func:`autograder.mutation.run`, which calls
:func:`autograder.grading.grade_assignment` in a temporary course, sandbox and limits
included): each notebook's reference solution earns every autograded point, the untouched
release earns 0 without crashing the grader, every wrong mutant of the quick tier
(:func:`autograder.mutation.quick_tier`: one mistake per set of test cells that mistakes must fail)
loses points in the test cells it names, and every correct alternative keeps full marks. The whole
bank is graded by ``python -m autograder mutants`` (``make mutants``).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import nbformat
import pytest
from IPython.core.inputtransformer2 import TransformerManager

from autograder import mutation
from autograder.execution.kernel import grading_cpus
from autograder.manifest import list_assignments, load_manifest
from autograder.notebook import solution_notebook
from conftest import full_imdb_path
from fixtures.assignment_support import assert_outputs_stripped, assert_release_is_clean, grade_cells, nbgrader_meta

REPO = Path(__file__).resolve().parents[1]
ASSIGNMENTS = [a for a in list_assignments(REPO) if mutation.mutant_file(REPO, a)]
THRESHOLD = re.compile(r"^\s*(\w+)\s*=\s*([-+0-9.eE]+)\s*#\s*manifest:\s*thresholds\.(\w+)\s*$", re.M)
INSTALL = '%pip install -q "nnkit @ git+https://github.com/nnkit-course/nnkit.git"'


def _source(a, name):
    return nbformat.read(REPO / "source" / a / name, as_version=4)


def _notebooks():
    return [(a, n) for a in ASSIGNMENTS for n in load_manifest(REPO, a).notebooks]


def test_the_course_has_its_assignments():
    assert {"numpy_nets", "pytorch_imdb"} <= set(ASSIGNMENTS)


# ---------------------------------------------------------------- manifest and masters


@pytest.mark.parametrize("a", ASSIGNMENTS)
def test_manifest_lists_the_source_and_release_notebooks(a):
    manifest = load_manifest(REPO, a)
    assert sorted(manifest.notebooks) == sorted(p.name for p in (REPO / "source" / a).glob("*.ipynb"))
    assert sorted(manifest.notebooks) == sorted(p.name for p in (REPO / "release" / a).glob("*.ipynb"))


@pytest.mark.parametrize("a,name", _notebooks())
def test_manifest_points_equal_cell_points_and_ids_are_stable(a, name):
    nb = _source(a, name)
    ids = [nbgrader_meta(c)["grade_id"] for c in nb.cells if nbgrader_meta(c)]
    assert len(ids) == len(set(ids)), f"{name}: duplicate grade ids"
    cell_ids = [c.get("id") for c in nb.cells]
    assert all(cell_ids) and len(set(cell_ids)) == len(cell_ids), f"{name}: every cell needs a stable, unique id"
    assert sum(float(nbgrader_meta(c)["points"]) for c in grade_cells(nb)) == load_manifest(REPO, a).points[name]


@pytest.mark.parametrize("a,name", _notebooks())
def test_graded_cells_are_locked_tests_or_written_answers(a, name):
    """Points come from locked, autograded test cells, or from markdown answers a TA grades by hand."""
    for cell in grade_cells(_source(a, name)):
        meta = nbgrader_meta(cell)
        if cell.cell_type == "code":
            assert meta.get("locked") and not meta.get("solution"), \
                f"{name}: {meta['grade_id']} is a graded code cell but not a locked test cell"
        else:
            assert meta.get("solution"), f"{name}: {meta['grade_id']} is a graded markdown cell with no answer to write"


@pytest.mark.parametrize("a", ASSIGNMENTS)
def test_thresholds_match_test_literals(a):
    """Every marked threshold literal (a key may be marked in several test cells: the visible check and the hidden
    test of one bound) has the manifest's value and is used in a comparison; every manifest threshold is used."""
    manifest = load_manifest(REPO, a)
    found = {}
    for name in manifest.notebooks:
        for cell in grade_cells(_source(a, name)):
            gid = nbgrader_meta(cell)["grade_id"]
            for var, value, key in THRESHOLD.findall(cell.source):
                assert key in manifest.thresholds, f"{name} {gid}: threshold {key} is not in [thresholds]"
                assert float(value) == float(manifest.thresholds[key]), \
                    f"{name} {gid}: {var} = {value} but [thresholds] {key} = {manifest.thresholds[key]}"
                assert re.search(rf"(>=|<=|>|<)\s*{var}\b", cell.source), f"{name}: {var} is not used in a comparison"
                found.setdefault(key, []).append(gid)
    assert set(found) == set(manifest.thresholds), f"thresholds no test cell uses: {set(manifest.thresholds) - set(found)}"


@pytest.mark.parametrize("a,name", _notebooks())
def test_source_outputs_are_stripped(a, name):
    assert_outputs_stripped(_source(a, name), name)


@pytest.mark.parametrize("a,name", _notebooks())
def test_first_code_cell_installs_nnkit_in_colab(a, name):
    first = next(c for c in _source(a, name).cells if c.cell_type == "code")
    assert INSTALL in first.source, f"{name}: the first code cell must install nnkit where it is missing (Colab)"


@pytest.mark.parametrize("a,name", _notebooks())
def test_torch_notebooks_pick_their_device_with_nnkit(a, name):
    src = "\n".join(c.source for c in _source(a, name).cells if c.cell_type == "code")
    if load_manifest(REPO, a).device == "auto" and re.search(r"^\s*(import torch|from torch)", src, re.M) \
            and "nn.Module" in src:
        assert "device = nnkit.pick_device()" in src, f"{name}: trains without picking its device"


@pytest.mark.parametrize("a,name", _notebooks())
def test_solution_cells_are_valid_python(a, name):
    for cell in solution_notebook(REPO, a, name).cells:
        if cell.cell_type == "code":
            ast.parse(TransformerManager().transform_cell(cell.source))  # magics (%pip) as IPython runs them


@pytest.mark.parametrize("a,name", _notebooks())
def test_release_has_no_solutions_hidden_tests_or_outputs(a, name):
    assert_release_is_clean(a, name)


@pytest.mark.slow
@pytest.mark.parametrize("a", ASSIGNMENTS)
def test_release_is_what_nbgrader_generates_from_source(a):
    from autograder.releasing import stale_release_files

    stale = stale_release_files(REPO, a)
    assert stale == [], f"release/{a} is stale: {stale}; regenerate it with: python -m autograder release {a}"


# ---------------------------------------------------------------- the mutant file


@pytest.mark.parametrize("a", ASSIGNMENTS)
def test_mutants_apply_to_the_reference_and_name_real_test_cells(a):
    mutants = mutation.load_mutants(mutation.mutant_file(REPO, a))
    manifest = load_manifest(REPO, a)
    for m in mutants:
        assert m.notebook in manifest.notebooks, f"{m.name}: unknown notebook {m.notebook}"
        ref = mutation.reference_sources(REPO, a, m.notebook)
        sources = mutation.cell_sources(REPO, a, [m])   # raises MutantError when an edit does not apply
        for gid, src in sources.items():
            cell = next(c for c in _source(a, m.notebook).cells if nbgrader_meta(c).get("grade_id") == gid)
            assert nbgrader_meta(cell).get("solution"), \
                f"{m.name}: {gid} is not an answer cell (locked cells are restored by the grader)"
            assert src != ref[gid], f"{m.name}: {gid} is unchanged"
            if src != mutation.SKIPPED:
                ast.parse(src)
        tests = {nbgrader_meta(c)["grade_id"] for c in grade_cells(_source(a, m.notebook))}
        assert set(m.must_fail) <= tests, f"{m.name}: must_fail names cells that are not test cells"
        if m.kind == "correct":
            assert mutation.SKIPPED not in sources.values(), f"{m.name}: a correct alternative must run in full"


def _defined(source):
    try:
        tree = ast.parse(TransformerManager().transform_cell(source))
    except SyntaxError:
        return set()
    return {n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.ClassDef))}


@pytest.mark.parametrize("a,name", _notebooks())
def test_every_answer_cell_has_a_mistake_and_every_notebook_an_alternative(a, name):
    """Every code answer cell that defines something new (not work pasted from an earlier notebook of
    the assignment) is edited by a wrong mutant; every notebook has a correct alternative."""
    notebooks = load_manifest(REPO, a).notebooks
    earlier = set()
    for prev in notebooks[:notebooks.index(name)]:
        for c in solution_notebook(REPO, a, prev).cells:
            if nbgrader_meta(c).get("solution") and c.cell_type == "code":
                earlier |= _defined(c.source)
    mutants = [m for m in mutation.load_mutants(mutation.mutant_file(REPO, a)) if m.notebook == name]
    ref = mutation.reference_sources(REPO, a, name)
    edited = set()
    for m in mutants:
        if m.kind == "wrong":
            edited |= {g for g, s in mutation.cell_sources(REPO, a, [m]).items() if s not in (ref.get(g), mutation.SKIPPED)}
    answers = {nbgrader_meta(c)["grade_id"] for c in solution_notebook(REPO, a, name).cells
               if nbgrader_meta(c).get("solution") and c.cell_type == "code"
               and (not _defined(c.source) or _defined(c.source) - earlier)}
    missing = sorted(answers - edited)
    assert not missing, f"{name}: answer cells no wrong mutant edits: {missing}"
    assert any(m.kind == "correct" for m in mutants), f"{name}: no correct alternative"


@pytest.mark.parametrize("a", ASSIGNMENTS)
def test_batches_grade_every_mutant_once_and_keep_mistakes_apart(a):
    mutants = mutation.load_mutants(mutation.mutant_file(REPO, a))
    packed = mutation.batches(REPO, a, mutants)
    names = [m.name for b in packed for m in b.parts]
    assert sorted(names) == sorted(m.name for m in mutants), "every mutant is graded exactly once"
    assert len(packed) < len(mutants), "no mistakes were batched"
    for b in packed:
        assert len({m.kind for m in b.parts}) == 1 and len({m.notebook for m in b.parts}) == 1
        assert b.sources == mutation.cell_sources(REPO, a, b.parts), f"{b.name}: a part's edit is missing"


@pytest.mark.parametrize("a", ASSIGNMENTS)
def test_the_quick_tier_keeps_every_alternative_and_every_must_fail_set(a):
    mutants = [m for m in mutation.load_mutants(mutation.mutant_file(REPO, a)) if not m.slow]
    quick = mutation.quick_tier(mutants)
    assert {m.name for m in mutants if m.kind == "correct"} <= {m.name for m in quick}, "an alternative was left out"
    wanted = {(m.notebook, frozenset(m.must_fail)) for m in mutants if m.kind == "wrong"}
    got = [(m.notebook, frozenset(m.must_fail)) for m in quick if m.kind == "wrong"]
    assert set(got) == wanted and len(got) == len(wanted), "one wrong mutant per notebook and set of must_fail cells"


# ---------------------------------------------------------------- on the grading path


@pytest.fixture(scope="module", params=ASSIGNMENTS)
def report(request):
    a = request.param
    if load_manifest(REPO, a).data.get("imdb") and full_imdb_path() is None:
        pytest.skip("the full IMDB dataset is not available (set NNKIT_IMDB_PATH)")
    # the quick tier (every correct alternative, one mistake per set of must_fail cells) keeps the suite short;
    # `python -m autograder mutants` grades every mutant
    rep = mutation.run(REPO, a, workers=grading_cpus(), solutions=True, blank=True, quick=True)
    print("\n" + "\n".join(rep.lines()))
    return rep


@pytest.mark.slow
def test_solutions_earn_every_point(report):
    assert report.solutions, "no solution was graded"
    for name, (score, max_score, lost) in report.solutions.items():
        assert max_score > 0 and score == max_score and not lost, \
            f"{report.assignment}/{name}: the solution scored {score}/{max_score}, losing {lost}"


@pytest.mark.slow
def test_blank_release_earns_zero_without_crashing(report):
    assert report.blank, "the blank release was not graded"
    for name, (score, max_score) in report.blank.items():
        assert max_score > 0 and score == 0, f"{report.assignment}/{name}: the blank release scored {score}/{max_score}"


@pytest.mark.slow
def test_mistakes_lose_points_and_alternatives_keep_them(report):
    survived = [r.line() for r in report.results if r.kind == "wrong" and not r.ok]
    rejected = [r.line() for r in report.results if r.kind == "correct" and not r.ok]
    assert not survived, "mistakes that kept their points:\n" + "\n".join(survived)
    assert not rejected, "correct alternatives that lost points:\n" + "\n".join(rejected)
    assert "sandboxed" in report.grader or "NOT sandboxed" in report.grader
