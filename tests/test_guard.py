"""The kernel-side guard, in a real kernel: tampering is undone before the next
cell and reported on that cell's stderr; honest notebooks get no report."""

import pytest
from nbclient import NotebookClient
from nbformat.v4 import new_code_cell, new_notebook

from nnkit.guard import MARKER

from nnkit.guard import KERNEL_ARGUMENT

GUARD_ARGS = [KERNEL_ARGUMENT]


def run(cells, timeout=60):
    nb = new_notebook(cells=[new_code_cell(c) for c in cells])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    NotebookClient(nb, timeout=timeout, allow_errors=True, extra_arguments=GUARD_ARGS).execute()
    return nb


def stderr(cell):
    return "".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream" and o.name == "stderr")


def errors(cell):
    return [o.ename for o in cell.outputs if o.output_type == "error"]


@pytest.fixture(scope="module")
def attacked():
    cells = [
        "import numpy as np, torch\nimport matplotlib\nmatplotlib.use('Agg')",                 # 0
        "np.allclose = lambda *a, **k: True",                                                    # 1
        "assert np.allclose(1, 2), 'a test that must fail'",                                     # 2
        "import nnkit.grading as g\ng.assert_rel_error = lambda *a, **k: None",                 # 3
        "from nnkit.grading import assert_rel_error\nassert_rel_error(np.ones(2), np.zeros(2))",  # 4
        ("import ast\nclass Swallow(ast.NodeTransformer):\n"
         "    def visit_Module(self, node):\n"
         "        h = ast.ExceptHandler(type=None, name=None, body=[ast.Pass()])\n"
         "        node.body = [ast.Try(body=node.body or [ast.Pass()], handlers=[h], orelse=[], finalbody=[])]\n"
         "        return ast.fix_missing_locations(node)\n"
         "get_ipython().ast_transformers.append(Swallow())"),                                    # 5
        "assert False, 'swallowed?'",                                                             # 6
        "torch.Tensor.__eq__ = lambda a, b: True",                                               # 7
        "assert not bool(torch.equal(torch.ones(1), torch.zeros(1)))",                            # 8
        "import builtins\nbuiltins.abs = lambda x: 0",                                           # 9
        "assert abs(-1) == 1",                                                                    # 10
        "import gc\nn = len(gc.get_objects())",                                                   # 11
        "import os, nnkit\nopen(os.path.join(os.path.dirname(nnkit.__file__), 'pwned.py'), 'w').write('x')",  # 12
        "get_ipython().showtraceback = lambda *a, **k: None",                                     # 13
        "assert False, 'hidden?'",                                                                 # 14
        "print('done')",                                                                           # 15
    ]
    return run(cells)


def test_patched_numpy_is_restored_and_reported(attacked):
    c = attacked.cells[2]
    assert MARKER in stderr(c) and "numpy.allclose" in stderr(c)
    assert errors(c) == ["AssertionError"]


def test_replaced_grading_helper_is_restored(attacked):
    c = attacked.cells[4]
    assert "nnkit.grading.assert_rel_error" in stderr(c)
    assert errors(c) == ["AssertionError"]


def test_swallowing_ast_transformer_is_reported_and_removed(attacked):
    # the transformer had already rewritten cell 6, but the report lands on it (stderr: 0 points)
    assert "ast_transformers" in stderr(attacked.cells[6])
    assert MARKER not in stderr(attacked.cells[8]) or "Tensor" in stderr(attacked.cells[8])


def test_class_patch_and_builtins_are_restored(attacked):
    assert "torch.Tensor.__eq__" in stderr(attacked.cells[8])
    assert "builtins.abs" in stderr(attacked.cells[10])
    assert errors(attacked.cells[10]) == []  # restored before the cell ran, so the honest check passes


def test_interpreter_walks_and_library_writes_are_reported(attacked, repo):
    assert "gc.get_objects" in stderr(attacked.cells[11])
    assert "for writing" in stderr(attacked.cells[12]) and errors(attacked.cells[12]) == ["PermissionError"]
    assert not (repo / "nnkit" / "pwned.py").exists()


def test_replaced_showtraceback_still_fails_the_next_cell(attacked):
    c = attacked.cells[14]
    assert "showtraceback" in stderr(c)
    assert errors(c) == ["AssertionError"]
    assert stderr(attacked.cells[15]) == ""


def test_honest_notebook_gets_no_report():
    cells = [
        "import numpy as np, torch, math\nimport matplotlib\nmatplotlib.use('Agg')\nimport matplotlib.pyplot as plt",
        "%timeit -n1 -r1 sum(range(3))",
        "%matplotlib inline",
        "fig, ax = plt.subplots(); ax.plot([1, 2]); plt.show()",
        "from nnkit.grading import assert_rel_error\nassert_rel_error(np.ones(2), np.ones(2))",
        ("from torch import nn\nfrom torch.utils.data import DataLoader, TensorDataset\n"
         "m = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Dropout(0.5), nn.Linear(4, 2))\n"
         "opt = torch.optim.Adam(m.parameters(), lr=1e-3)\n"
         "for (xb,) in DataLoader(TensorDataset(torch.randn(8, 3)), batch_size=4):\n"
         "    opt.zero_grad(); loss = m(xb).pow(2).mean(); loss.backward(); opt.step()\n"
         "m.eval()\nwith torch.no_grad():\n    out = torch.nn.functional.gelu(m(torch.randn(2, 3)))"),
        "from nnkit.data import make_xor\nX, y = make_xor(20)\nfrom tqdm.auto import tqdm\nfor _ in tqdm(range(3)): pass",
        "torch.backends.cudnn.benchmark = False\nnp.random.seed(0)\ntorch.manual_seed(0)",
        "print('ok')",
    ]
    nb = run(cells)
    for i, c in enumerate(nb.cells):
        assert MARKER not in stderr(c), f"cell {i}: {stderr(c)}"
        assert errors(c) == [], f"cell {i}: {errors(c)}"


def test_torch_is_snapshotted_at_its_first_import_not_before():
    nb = run([
        "import sys\nprint('torch' in sys.modules)",
        "import torch\ntorch.allclose = lambda *a, **k: True",       # patched in the cell that imports it
        "assert torch.allclose(torch.ones(1), torch.zeros(1)), 'must fail'",
        "import torch.nn.functional as F\nF.relu = lambda x: x",
        "import torch\nassert float(torch.nn.functional.relu(-torch.ones(1))) == 0",
    ])
    assert nb.cells[0].outputs[0].text.strip() == "False"  # a kernel that never imports torch does not pay for it
    assert "torch.allclose" in stderr(nb.cells[2]) and errors(nb.cells[2]) == ["AssertionError"]
    assert "torch.nn.functional.relu" in stderr(nb.cells[4]) and errors(nb.cells[4]) == []


def test_a_fake_module_in_sys_modules_is_removed():
    nb = run([
        "import sys, types\nfake = types.ModuleType('torch')\nfake.allclose = lambda *a, **k: True\n"
        "sys.modules['torch'] = fake",
        "import torch\nassert not torch.allclose(torch.ones(1), torch.zeros(1))",
        "import sys, types\nsys.modules['numpy'] = types.ModuleType('numpy')",
        "import numpy as np\nassert hasattr(np, 'zeros')",
    ])
    assert "sys.modules['torch']" in stderr(nb.cells[1]) and errors(nb.cells[1]) == []  # the real torch
    assert "sys.modules['numpy']" in stderr(nb.cells[3]) and errors(nb.cells[3]) == []


def test_ctypes_from_notebook_code_is_reported_but_not_from_libraries(tmp_path):
    nb = run([
        "import torch, numpy, scipy.sparse",                                       # libraries load binaries
        "import ctypes\nx = ctypes.string_at(id(1), 8)",
        f"import sys\nsys.path.insert(0, {str(tmp_path)!r})\n"
        f"open({str(tmp_path / 'helper.py')!r}, 'w').write("
        "'import ctypes\\ndef peek():\\n    return ctypes.c_int.from_address(id(5))\\n')",
        "import helper\nhelper.peek()",
    ])
    assert stderr(nb.cells[0]) == ""
    assert "ctypes.string_at" in stderr(nb.cells[1])
    assert "ctypes.cdata" in stderr(nb.cells[3])
