"""Each mistake costs once (issue 11): three students of numpy_nets, each with one function broken wherever
it appears (01 and the paste cells of 02, 04, 05; adam in 03 and 05), graded with the ``grade`` command's
own function, lose points only in the notebook that grades the function (benchmarks/mistakes_cost_once.py;
about 2.5 minutes on 2 cores)."""

from __future__ import annotations

import importlib.util

import pytest

from conftest import REPO, full_imdb_path

pytestmark = pytest.mark.slow


def _benchmark():
    spec = importlib.util.spec_from_file_location("mistakes_cost_once", REPO / "benchmarks" / "mistakes_cost_once.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_broken_function_loses_points_only_in_its_own_notebook(tmp_path):
    if full_imdb_path() is None:
        pytest.skip("the full IMDB dataset is not available (set NNKIT_IMDB_PATH): notebook 05 needs it")
    bench = _benchmark()
    _, table = bench.grade(tmp_path / "course", workers=2)
    print("\n" + "\n".join(bench.lines(table)))
    assert bench.each_mistake_costs_once(table), "\n".join(bench.lines(table))
    assert table["wrong_adam"]["03"][2] and table["wrong_affine_backward"]["01"][2] and table["wrong_relu_forward"]["01"][2]
