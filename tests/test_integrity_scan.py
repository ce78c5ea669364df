"""The static tamper scan (reports only: verdicts come from the verifier): every attack pattern is found,
honest code is not reported."""

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from autograder.notebook.integrity import guard_reports, scan_notebook, scan_source, tampering

ATTACKS = {
    "patch numpy.allclose": "import numpy as np\nnp.allclose = lambda *a, **k: True",
    "patch through from-import": "from numpy import testing\ntesting.assert_allclose = print",
    "patch torch.allclose": "import torch\ntorch.allclose = lambda *a, **k: True",
    "patch via alias chain": "import numpy\nx = numpy\nx.isclose = None",
    "patch via setattr": "import numpy as np\nsetattr(np, 'allclose', lambda *a: True)",
    "patch via module dict": "import numpy as np\nnp.__dict__['allclose'] = 1",
    "patch via vars": "import numpy as np\nvars(np)['allclose'] = 1",
    "replace grading helper": "import nnkit.grading\nnnkit.grading.assert_rel_error = lambda *a, **k: None",
    "replace grading helper alias": "from nnkit import grading as g\ng.assert_allclose = lambda *a, **k: None",
    "replace rel_error": "import nnkit.gradcheck as gc_\ngc_.rel_error = lambda x, y: 0.0",
    "sys.modules": "import sys\nsys.modules['nnkit.grading'].assert_rel_error = None\nsys.settrace(None)",
    "builtins": "import builtins\nbuiltins.AssertionError = Exception",
    "ast transformer swallow": (
        "import ast\nclass T(ast.NodeTransformer):\n    pass\nget_ipython().ast_transformers.append(T())"),
    "input transformer swallow": (
        "ip = get_ipython()\nip.input_transformers_post.append(lambda lines: ['try:\\n'] + lines)"),
    "custom exc": "get_ipython().set_custom_exc((AssertionError,), lambda *a, **k: None)",
    "showtraceback": "get_ipython().showtraceback = lambda *a, **k: None",
    "excepthook": "import sys\nsys.excepthook = lambda *a: None",
    "sys.exit": "import sys\nsys.exit(0)",
    "exit builtin": "exit()",
    "os._exit": "import os\nos._exit(0)",
    "kill kernel": "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)",
    "shell": "!rm -rf /tmp/x",
    "exec obfuscated": "exec(bytes.fromhex('6e702e616c6c636c6f7365203d2031').decode())",
    "dunder import": "__import__('numpy').allclose = 1",
    "write nnkit file": "import nnkit\nopen(nnkit.__file__, 'w').write('')",
    "frame walk": "import sys\nsys._getframe(0).f_back.f_globals['x'] = 1",
    "gc walk": "import gc\nobjs = gc.get_objects()",
    "events": "get_ipython().events.register('post_run_cell', print)",
    "subprocess": "import subprocess\nsubprocess.run(['true'])",
    "bad magic": "%run /work/main/source/x.ipynb",
}

HONEST = {
    "affine": "import numpy as np\ndef affine_forward(x, w, b):\n    out = x.reshape(x.shape[0], -1) @ w + b\n    return out, (x, w, b)",
    "class with attrs": "import numpy as np\nclass Net:\n    def __init__(self):\n        self.params = {}\n        self.params['W1'] = np.zeros(3)\n        self.bn_params = [{'mode': 'train'}]",
    "config dict": "def sgd(w, dw, config=None):\n    if config is None: config = {}\n    config.setdefault('learning_rate', 1e-2)\n    w -= config['learning_rate'] * dw\n    return w, config",
    "torch module": "import torch\nfrom torch import nn\nclass M(nn.Module):\n    def __init__(self):\n        super().__init__()\n        self.fc = nn.Linear(3, 2)\n    def forward(self, x):\n        return self.fc(x)\ntorch.backends.cudnn.benchmark = False\ntorch.manual_seed(0)\nnp_rng = None",
    "timeit magic": "%timeit sum(range(10))\n%matplotlib inline",
    "seed": "import numpy as np\nnp.random.seed(0)\nrng = np.random.default_rng(1)",
    "local rebind": "from numpy import allclose\nallclose = 3",
    "write own file": "with open('results.txt', 'w') as f:\n    f.write('ok')",
    "getattr literal": "import numpy as np\nf = getattr(np, 'tanh')",
    "getattr computed": "import torch.nn.functional as F\nact = 'relu'\nf = getattr(F, act)",
    "setattr own object": "class Net:\n    pass\nnet = Net()\nfor k in ('a', 'b'):\n    setattr(net, k, 1)",
    "importlib own module": "import importlib\nhelpers = importlib.import_module('my_helpers')",
    "globals": "names = [k for k in globals() if not k.startswith('_')]",
    "sys.modules lookup": "import sys\nhas_torch = 'torch' in sys.modules",
    "syntax error": "def f(:\n    pass",
}


@pytest.mark.parametrize("name", sorted(ATTACKS))
def test_attack_is_found(name):
    found = tampering(scan_source(ATTACKS[name], "cell"))
    assert found, f"{name!r} was not flagged"
    assert all(f.message for f in found)


@pytest.mark.parametrize("name", sorted(HONEST))
def test_honest_code_is_not_flagged(name):
    assert tampering(scan_source(HONEST[name], "cell")) == []


def _nb(*sources, locked=()):
    nb = new_notebook()
    for i, s in enumerate(sources):
        meta = {}
        if i in locked:
            meta = {"nbgrader": {"grade": False, "solution": False, "locked": True, "grade_id": f"c{i}", "schema_version": 3}}
        nb.cells.append(new_code_cell(s, metadata=meta))
    return nb


def test_aliases_carry_across_cells_and_trusted_cells_are_skipped():
    master = _nb("import numpy as np", "x = 1", locked=(0,))
    sub = _nb("import numpy as np", "np.allclose = None", locked=(0,))
    found = scan_notebook(sub, master)
    assert [f.kind for f in found] == ["monkeypatch"]
    # a master cell that itself touches internals is trusted
    master2 = _nb("import sys\nsys.modules", locked=(0,))
    assert scan_notebook(_nb("import sys\nsys.modules", locked=(0,)), master2) == []


def test_locked_edit_is_reported_but_not_tampering():
    master = _nb("print('provided')", "y = 2", locked=(0,))
    sub = _nb("print('changed')", "y = 2", locked=(0,))
    found = scan_notebook(sub, master)
    assert [f.kind for f in found] == ["locked_edit"] and tampering(found) == []


def test_rebinding_a_provided_helper_is_tampering():
    master = _nb("from nnkit.gradcheck import rel_error\nimport numpy as np", "x = 1", locked=(0,))
    for attack in ("rel_error = lambda a, b: 0.0", "def rel_error(a, b):\n    return 0.0"):
        sub = _nb("from nnkit.gradcheck import rel_error\nimport numpy as np", attack, locked=(0,))
        assert [f.kind for f in tampering(scan_notebook(sub, master))] == ["monkeypatch"], attack
    # a student's own import may be rebound freely
    sub = _nb("import numpy as np", "from numpy import tanh\ntanh = 3", locked=(0,))
    assert tampering(scan_notebook(sub, _nb("import numpy as np", locked=(0,)))) == []


def test_guard_reports_are_read_from_the_outputs():
    nb = new_notebook(cells=[new_code_cell("x")])
    nb.cells[0].outputs = [nbformat.v4.new_output("stream", name="stderr", text=(
        "nnkit-guard: restored numpy.allclose, changed by an earlier cell\n"
        "nnkit-guard: signals the kernel's own process\nother text\n"))]
    reports = guard_reports(nb)
    assert reports == ["nnkit-guard: restored numpy.allclose, changed by an earlier cell",
                       "nnkit-guard: signals the kernel's own process"]
