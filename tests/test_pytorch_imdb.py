"""The pytorch_imdb assignment: source/pytorch_imdb, release/pytorch_imdb, assignments/pytorch_imdb.toml.

Fast checks of the notebooks' structure: manifest points and thresholds agree with the
notebooks, outputs are stripped, the release holds no solution or hidden test, the notebooks
install nnkit in Colab and pick their device with nnkit.pick_device(), the IMDB accuracy is
measured by the hidden tests themselves, and the mutant file is well formed. The grading runs
(solution, blank release, mutants) are in test_pytorch_imdb_grading.py.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from autograder import engine, mutation
from autograder.manifest import load_manifest
from fixtures.assignment_support import assert_outputs_stripped, assert_release_is_clean, grade_cells as _grade_cells, \
    load_mutants, nbgrader_meta as _meta, source_reader

A = "pytorch_imdb"
REPO = Path(__file__).resolve().parents[1]
SOURCE = REPO / "source" / A
RELEASE = REPO / "release" / A
MANIFEST = load_manifest(REPO, A)
NB1, NB2, NB3 = MANIFEST.notebooks
_source = source_reader(A)
THRESHOLD = re.compile(r"""^.*?(\w+|"\w+")\s*[:=]\s*([-+0-9.eE]+)\s*[,}]?\s*#\s*manifest:\s*thresholds\.(\w+)\s*$""", re.M)
INSTALL = (
    "try:\n"
    "    import nnkit\n"
    "except ImportError:  # Google Colab or a fresh machine\n"
    '    %pip install -q "nnkit @ git+https://github.com/nnkit-course/nnkit.git"\n'
    "    import nnkit"
)


def _hidden(src):
    """The hidden-test block of a test cell ('' when it has none)."""
    m = re.search(r"### BEGIN HIDDEN TESTS\n(.*?)### END HIDDEN TESTS", src, re.S)
    return m.group(1) if m else ""


# ---------------------------------------------------------------- manifest


def test_manifest_lists_the_source_and_release_notebooks():
    assert sorted(MANIFEST.notebooks) == sorted(p.name for p in SOURCE.glob("*.ipynb"))
    assert sorted(MANIFEST.notebooks) == sorted(p.name for p in RELEASE.glob("*.ipynb"))
    assert MANIFEST.data.get("imdb") is True
    assert MANIFEST.device == "auto", "the assignment trains on a GPU when the grader has one"


@pytest.mark.parametrize("name", MANIFEST.notebooks)
def test_manifest_points_equal_cell_points(name):
    nb = _source(name)
    ids = [_meta(c)["grade_id"] for c in nb.cells if _meta(c)]
    assert len(ids) == len(set(ids)), f"{name}: duplicate grade ids"
    cell_ids = [c.get("id") for c in nb.cells]
    assert all(cell_ids) and len(set(cell_ids)) == len(cell_ids), f"{name}: every cell needs a stable, unique id"
    assert sum(float(_meta(c)["points"]) for c in _grade_cells(nb)) == MANIFEST.points[name]


@pytest.mark.parametrize("name", MANIFEST.notebooks)
def test_every_point_is_autograded(name):
    """No manually graded cell: the solution's full marks and the mutants' acceptance are decided by the grader."""
    for cell in _grade_cells(_source(name)):
        assert cell.cell_type == "code" and _meta(cell).get("locked"), f"{name}: {_meta(cell)['grade_id']} is not a locked test cell"
        assert not _meta(cell).get("solution"), f"{name}: {_meta(cell)['grade_id']} is a manually graded cell"


def test_thresholds_match_hidden_test_literals():
    found = {}
    for name in MANIFEST.notebooks:
        for cell in _grade_cells(_source(name)):
            for _var, value, key in THRESHOLD.findall(_hidden(cell.source)):
                assert key not in found, f"threshold {key} is set in two test cells"
                found[key] = float(value)
    assert found == {k: float(v) for k, v in MANIFEST.thresholds.items()}


# ---------------------------------------------------------------- notebooks


@pytest.mark.parametrize("name", MANIFEST.notebooks)
def test_source_outputs_are_stripped(name):
    assert_outputs_stripped(_source(name), name)


@pytest.mark.parametrize("name", MANIFEST.notebooks)
def test_first_code_cell_installs_nnkit_in_colab(name):
    first = next(c for c in _source(name).cells if c.cell_type == "code")
    assert first.source == INSTALL


@pytest.mark.parametrize("name", [NB1, NB3])
def test_torch_notebooks_pick_their_device_with_nnkit(name):
    src = "\n".join(c.source for c in _source(name).cells if c.cell_type == "code")
    assert "device = nnkit.pick_device()" in src
    hidden = "\n".join(_hidden(c.source) for c in _grade_cells(_source(name)))
    assert "nnkit.pick_device()" in hidden, f"{name}: no hidden test checks the device the model lives on"


@pytest.mark.parametrize("name", MANIFEST.notebooks)
def test_solution_cells_are_valid_python(name):
    for cell in engine.solution_notebook(A, name).cells:
        if cell.cell_type == "code" and "%pip" not in cell.source:
            ast.parse(cell.source)


@pytest.mark.parametrize("name", MANIFEST.notebooks)
def test_release_has_no_solutions_hidden_tests_or_outputs(name):
    assert_release_is_clean(A, name)


def test_imdb_accuracy_is_measured_by_the_grader():
    """The hidden accuracy test loads the test reviews itself, featurizes them with the
    student's featurize and runs the student's model in eval mode without gradients."""
    cells = {_meta(c)["grade_id"]: _hidden(c.source) for c in _grade_cells(_source(NB3))}
    src = cells["test_accuracy_80"]
    for needle in ('load_imdb("test")', "featurize(texts)", "model.eval()", "torch.no_grad()", "np.asarray(labels)"):
        assert needle in src, f"test_accuracy_80 does not contain {needle}"
    for later in ("test_accuracy_85", "test_accuracy_88"):
        assert '_grader_imdb["acc"]' in cells[later]
    # the accuracy tests read no number the student's cells computed
    for gid in ("test_accuracy_80", "test_accuracy_85", "test_accuracy_88", "test_baseline"):
        hidden = cells[gid]
        for name in ("test_logits", "test_pred", "baseline_acc", "history"):
            assert not re.search(rf"\b{name}\b", hidden), f"{gid} reads the student's {name}"


@pytest.mark.slow
def test_release_is_fresh():
    stale = engine.stale_release_files(A)
    assert stale == [], (f"release/{A} is stale: {stale}; regenerate it with "
                         f"python -c \"from autograder.engine import refresh_release; refresh_release('{A}')\"")


# ---------------------------------------------------------------- mutants


def test_mutants_are_well_formed():
    mod = load_mutants(A)
    mutants = mutation.load_mutants(REPO / "tests" / "mutants" / f"{A}.py")
    assert mutants == mod.MUTANTS
    for m in mutants:
        nb = engine.solution_notebook(A, m["notebook"])
        by_id = {_meta(c).get("grade_id"): c for c in nb.cells if _meta(c)}
        tests = {_meta(c)["grade_id"] for c in _grade_cells(nb)}
        for gid, src in m["cells"].items():
            assert gid in by_id and _meta(by_id[gid]).get("solution"), \
                f"{m['name']}: {gid} is not an answer cell (locked cells are restored by the grader)"
            assert src != by_id[gid].source, f"{m['name']}: {gid} is unchanged"
            ast.parse(src)
        if m["kind"] == "wrong":
            assert m["must_fail"] and set(m["must_fail"]) <= tests, f"{m['name']}: must_fail names unknown test cells"
            assert mod.edited(m), f"{m['name']}: no cell is edited"
            deps = mod.dependencies(m["notebook"])
            reach = set().union(*(deps[t] for t in m["must_fail"]))
            assert not reach & mod.skipped(m), f"{m['name']}: its must_fail cells use the skipped {sorted(reach & mod.skipped(m))}"
        else:
            assert mod.SKIPPED not in m["cells"].values(), f"{m['name']}: a correct alternative must run in full"


def test_every_notebook_has_mistakes_and_a_correct_alternative():
    mutants = load_mutants(A).MUTANTS
    for name in MANIFEST.notebooks:
        kinds = [m["kind"] for m in mutants if m["notebook"] == name]
        assert kinds.count("wrong") >= 4 and kinds.count("correct") >= 1, name
    names = {m["name"] for m in mutants}
    # the mistakes the assignment is about
    for required in ("classifier_vocabulary_from_train_and_test", "vectoriser_vocabulary_from_train_and_test",
                     "predict_in_train_mode", "evaluate_in_train_mode", "train_steps_without_zero_grad",
                     "train_epoch_without_zero_grad", "dropout_without_scaling"):
        assert required in names


def test_mutant_batches_keep_mistakes_independent():
    """In a batch every mistake edits its own cells, and the cells it must fail use none of the others' edits."""
    mod = load_mutants(A)
    runs = mod.batches(mod.MUTANTS)
    names = [p for r in runs for p in r.get("parts", [r["name"]])]
    assert sorted(names) == sorted(m["name"] for m in mod.MUTANTS), "every mutant is graded exactly once"
    by_name = {m["name"]: m for m in mod.MUTANTS}
    assert len(runs) < len(mod.MUTANTS), "no mistakes were batched"
    for run in runs:
        parts = [by_name[p] for p in run.get("parts", [])]
        if not parts:
            continue
        deps = mod.dependencies(run["notebook"])
        assert all(p["kind"] == "wrong" and not p.get("slow") for p in parts)
        assert len({mod.skipped(p) for p in parts}) == 1, f"{run['name']}: parts skip different cells"
        for i, p in enumerate(parts):
            others = set().union(*[mod.edited(q) for j, q in enumerate(parts) if j != i])
            assert not mod.edited(p) & others, f"{run['name']}: {p['name']} edits a cell another mistake edits"
            reach = set().union(*(deps[t] for t in p["must_fail"]))
            assert not reach & others, f"{run['name']}: the tests of {p['name']} use a cell another mistake edits"
            for gid in mod.edited(p):
                assert run["cells"][gid] == p["cells"][gid], f"{run['name']}: {p['name']}'s edit of {gid} is missing"


def test_dependencies_follow_the_notebook():
    """Spot checks of the dependency analysis the batching relies on."""
    mod = load_mutants(A)
    d1, d3 = mod.dependencies(NB1), mod.dependencies(NB3)
    assert d1["test_two_layer_net"] == {"two_layer_net", "dropout"}
    assert {"train_epoch", "array_dataset", "two_layer_net", "sgd_momentum", "train_spirals"} <= d1["test_spiral_accuracy"]
    assert d1["test_softmax"] == {"softmax"}
    assert d3["test_fit"] >= {"fit", "train_steps", "mlp"}
    assert "features" in d3["test_accuracy_80"] and "train_model" in d3["test_accuracy_80"]


def test_every_answer_cell_has_a_realistic_mistake():
    mod = load_mutants(A)
    edited = {(m["notebook"], g) for m in mod.MUTANTS if m["kind"] == "wrong" for g in mod.edited(m)}
    for name in MANIFEST.notebooks:
        answers = {_meta(c)["grade_id"] for c in _source(name).cells if _meta(c).get("solution")}
        missing = sorted(g for g in answers if (name, g) not in edited)
        assert not missing, f"{name}: answer cells no wrong mutant edits: {missing}"
