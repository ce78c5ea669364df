"""Reading damaged submissions and repairing nbgrader metadata against the release (no kernels)."""

from __future__ import annotations

import copy
import json

import nbformat
import pytest

from autograder.notebook import (
    UnreadableNotebook,
    grade_id,
    identify,
    parse_notebook,
    repair,
)
from fixtures.autograder_support import NB1, NB2, release, solution, strip_metadata


def ids(nb):
    return [grade_id(c) for c in nb.cells]


def by_id(nb, gid):
    return next(c for c in nb.cells if grade_id(c) == gid)


# ---- reading ----------------------------------------------------------------------------------


@pytest.mark.parametrize("data, words", [
    (b"", "empty file"),
    (b"  \n\t ", "empty file"),
    (b'{"cells": [', "broken JSON at line 1"),
    (b"\x89PNG\r\n\x1a\n\x00\xff\xfe", "binary file"),
    (b'["a", "list"]', "not a Jupyter notebook"),
    (b'{"just": "json"}', "not a Jupyter notebook"),
    (b'{"cells": 3, "nbformat": 4}', "not a list"),
])
def test_unreadable_files_get_a_reason(data, words):
    with pytest.raises(UnreadableNotebook) as err:
        parse_notebook(data)
    assert words in str(err.value)


def test_truncated_notebook_names_the_position():
    text = nbformat.writes(solution(NB1))
    with pytest.raises(UnreadableNotebook, match=r"broken JSON at line \d+, column \d+"):
        parse_notebook(text[: len(text) // 2])


def test_messy_but_valid_notebook_is_cleaned():
    raw = json.loads(nbformat.writes(solution(NB1)))
    raw["cells"][1]["outputs"] = [{"output_type": "weird", "x": 1}]  # invalid output
    raw["cells"][2]["id"] = "not a valid id!"
    raw["cells"][3]["id"] = raw["cells"][4]["id"]  # duplicate id
    raw["cells"][0]["source"] = ["# Basics", "\n", "more"]
    raw["cells"].append("not a cell")
    raw["cells"].append({"cell_type": "mystery", "source": "x"})
    nb = parse_notebook(json.dumps(raw).encode())
    nbformat.validate(nb)
    assert nb.cells[0].source.startswith("# Basics\nmore")
    assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code")
    assert len({c.id for c in nb.cells}) == len(nb.cells)
    assert nb.cells[-1].cell_type == "raw"


def test_old_v3_notebook_is_converted():
    v3 = {"nbformat": 3, "nbformat_minor": 0, "metadata": {}, "worksheets": [{"cells": [
        {"cell_type": "code", "input": "x = 1", "language": "python", "outputs": [], "metadata": {}}]}]}
    nb = parse_notebook(json.dumps(v3).encode())
    assert nb.nbformat == 4 and nb.cells[0].source == "x = 1"


# ---- repair -----------------------------------------------------------------------------------


def test_intact_submission_is_unchanged():
    res = repair(solution(NB1), release(NB1))
    assert res.notes == []
    assert ids(res.notebook) == ids(release(NB1))


def test_stripped_metadata_matched_by_content_and_position():
    sub = strip_metadata(solution(NB1))  # metadata and cell ids gone, as after Colab
    res = repair(sub, release(NB1))
    assert ids(res.notebook) == ids(release(NB1))
    assert res.matched_by.get("content", 0) >= 4 and res.matched_by.get("position", 0) >= 2
    assert "nbgrader metadata missing" in res.notes[0]
    # the student's answers are kept, with the release's metadata
    relu = by_id(res.notebook, "relu")
    assert "np.maximum" in relu.source and relu.metadata["nbgrader"]["solution"] is True
    # test cells are the release's (nbgrader restores hidden tests from the gradebook by grade_id)
    assert by_id(res.notebook, "test_relu").source == by_id(release(NB1), "test_relu").source


def test_stripped_metadata_with_scratch_cells_picks_the_answer_cell():
    sub = strip_metadata(solution(NB2))
    scratch = nbformat.v4.new_code_cell("print(mse)  # trying things")
    answer_at = next(i for i, c in enumerate(sub.cells) if "def mse" in c.source)
    sub.cells.insert(answer_at, scratch)
    res = repair(sub, release(NB2))
    assert "def mse" in by_id(res.notebook, "mse").source
    assert any(c.source.startswith("print(mse)") and grade_id(c) is None for c in res.notebook.cells)


def test_deleted_test_cell_is_restored_after_its_predecessor():
    sub = solution(NB1)
    sub.cells = [c for c in sub.cells if grade_id(c) != "test_softmax_shape"]
    res = repair(sub, release(NB1))
    order = ids(res.notebook)
    assert order.index("softmax") < order.index("test_softmax_shape") < order.index("test_softmax_values")
    assert any("'test_softmax_shape' was missing" in n for n in res.notes)


def test_duplicated_cells():
    sub = solution(NB1)
    test_copy = copy.deepcopy(by_id(sub, "test_relu"))
    test_copy["id"] = "copy1"
    answer_copy = copy.deepcopy(by_id(sub, "relu"))
    answer_copy["id"] = "copy2"
    sub.cells += [test_copy, answer_copy]
    res = repair(sub, release(NB1))
    assert ids(res.notebook).count("test_relu") == 1 and ids(res.notebook).count("relu") == 1
    assert any("duplicate of test cell 'test_relu'" in n for n in res.notes)
    assert any("second copy of answer cell 'relu'" in n for n in res.notes)
    assert sum("np.maximum" in c.source for c in res.notebook.cells) == 2  # the copy still runs


def test_altered_metadata_is_restored_and_unknown_grade_ids_dropped():
    sub = solution(NB1)
    meta = by_id(sub, "test_relu").metadata["nbgrader"]
    meta["points"], meta["locked"] = 50, False
    fake = nbformat.v4.new_code_cell("pass", metadata={"nbgrader": {
        "grade": True, "solution": False, "locked": True, "grade_id": "free_points", "points": 99,
        "schema_version": 3}})
    sub.cells.append(fake)
    res = repair(sub, release(NB1))
    assert by_id(res.notebook, "test_relu").metadata["nbgrader"]["points"] == 1
    assert "free_points" not in ids(res.notebook)
    assert any("altered" in n and "points 50 -> 1" in n for n in res.notes)
    assert any("unknown grade_id 'free_points'" in n for n in res.notes)


def test_unrelated_notebook_gets_every_test_cell_back():
    res = repair(solution(NB2), release(NB1))
    for gid in ("test_relu", "test_softmax_shape", "test_softmax_values"):
        assert gid in ids(res.notebook)


def test_identify_by_content():
    assert identify(strip_metadata(solution(NB2)), {NB1: release(NB1), NB2: release(NB2)})[0] == NB2
    assert identify(release(NB1), {NB1: release(NB1), NB2: release(NB2)}) == (NB1, 1.0)
    assert identify(nbformat.v4.new_notebook(), {NB1: release(NB1)}) == (None, 0.0)
