"""Score-inflation attacks, each through the real `grade` command in one class with an honest
solution and the blank release.

Every attacker hands in the honest solution with a *wrong* ``relu`` (it returns ``x``) plus an
attack meant to make the relu test pass anyway. Whatever the attack does, it may earn only what
its honest code earns: 7 of 8 (softmax's three points and notebook 02's four), never relu's
point. The honest student keeps 8 and the blank release stays at 0, in the same batch.

The first group are the routes a review used against the old in-process grader (IPython
configuration, extensions, tracers, fake modules, ``vars()``/``__main__`` rebinding,
``functools.wraps``, caller frames, fixed random generators, patches behind an output
flood); the second group are routes a student who has read the grader's source would try
against the new design (the verifier, the proxy channel, the codec, nbgrader's metadata).
"""

from __future__ import annotations

import csv
import hashlib
import json

import pytest

from fixtures.autograder_support import A, NB1, NB2, edit, new_course, put, release, run_cli, solution

import nnkit

WRONG_RELU = "def relu(x):\n    return x\n"
NNKIT_DIR = __import__("pathlib").Path(nnkit.__file__).resolve().parent

# The hidden relu test (fixture master): x = np.random.default_rng(0).normal(size=(5, 7)),
# expected np.where(x > 0, x, 0.0), compared with nnkit.grading.assert_allclose.
_TABLE = ("import numpy as np\n"
          "_x0 = np.random.default_rng(0).normal(size=(5, 7))\n"
          "_answers = {_x0.tobytes(): np.where(_x0 > 0, _x0, 0.0),\n"
          "            np.array([-1.0, 0.0, 2.0]).tobytes(): np.array([0.0, 0.0, 2.0])}\n")

REVIEWED_ROUTES = {
    # IPython configuration: swallow every exception of every later cell
    "ipython_ast_swallow": (
        "import ast\n"
        "class Swallow(ast.NodeTransformer):\n"
        "    def visit_Module(self, node):\n"
        "        h = ast.ExceptHandler(type=None, name=None, body=[ast.Pass()])\n"
        "        node.body = [ast.Try(body=node.body or [ast.Pass()], handlers=[h], orelse=[], finalbody=[])]\n"
        "        return ast.fix_missing_locations(node)\n"
        "get_ipython().ast_transformers.append(Swallow())\n" + WRONG_RELU),
    "ipython_custom_exc": (
        "get_ipython().set_custom_exc((Exception,), lambda shell, etype, evalue, tb, tb_offset=None: None)\n"
        "get_ipython().showtraceback = lambda *a, **k: None\n" + WRONG_RELU),
    # an IPython extension written to disk and loaded: input transformer that drops asserts
    "ipython_extension": (
        "import sys, os\n"
        "open('nnkit_ext.py', 'w').write(\n"
        "    'def load_ipython_extension(ip):\\n'\n"
        "    '    ip.input_transformers_post.append(lambda lines: [l for l in lines if \"assert\" not in l])\\n')\n"
        "sys.path.insert(0, os.getcwd())\n"
        "get_ipython().run_line_magic('load_ext', 'nnkit_ext')\n" + WRONG_RELU),
    # a tracer that rewrites the comparison's locals and swallows the failing line
    "settrace": (
        "import sys, numpy as np\n"
        "def _tracer(frame, event, arg):\n"
        "    if frame.f_code.co_name in ('assert_allclose', 'allclose', 'isclose'):\n"
        "        frame.f_locals.update({'actual': frame.f_locals.get('desired')})\n"
        "    return _tracer\n"
        "sys.settrace(_tracer)\n"
        "import threading; threading.settrace(_tracer)\n" + WRONG_RELU),
    # a fake nnkit.grading placed first on sys.path and in sys.modules
    "fake_module": (
        "import sys, types, os\n"
        "os.makedirs('fake/nnkit', exist_ok=True)\n"
        "open('fake/nnkit/__init__.py', 'w').write('')\n"
        "open('fake/nnkit/grading.py', 'w').write('def assert_allclose(*a, **k):\\n    pass\\n'\n"
        "                                         'def assert_shape(*a, **k):\\n    pass\\n')\n"
        "sys.path.insert(0, os.path.abspath('fake'))\n"
        "for m in [m for m in sys.modules if m.startswith('nnkit')]:\n"
        "    del sys.modules[m]\n"
        "fake = types.ModuleType('nnkit.grading'); fake.assert_allclose = lambda *a, **k: None\n"
        "sys.modules['nnkit.grading'] = fake\n" + WRONG_RELU),
    # rebinding the test's helpers through vars() and __main__
    "vars_rebind": ("vars()['assert_allclose'] = lambda *a, **k: None\n"
                    "globals()['assert_allclose'] = lambda *a, **k: None\n" + WRONG_RELU),
    "main_rebind": ("import __main__, builtins\n"
                    "__main__.assert_allclose = lambda *a, **k: None\n"
                    "builtins.assert_allclose = lambda *a, **k: None\n"
                    "__main__.np.testing.assert_allclose = lambda *a, **k: None\n" + WRONG_RELU),
    # functools.wraps: a wrapper that looks like numpy's allclose and always agrees
    "functools_wraps": (
        "import functools, numpy as np, nnkit.grading as g\n"
        "@functools.wraps(np.allclose)\n"
        "def allclose(*a, **k):\n"
        "    return True\n"
        "np.allclose = allclose\n"
        "np.testing.assert_allclose = functools.wraps(np.testing.assert_allclose)(lambda *a, **k: None)\n"
        "g.assert_allclose = functools.wraps(g.assert_allclose)(lambda *a, **k: None)\n" + WRONG_RELU),
    # read the expected values from the caller's frame
    "caller_frame": (
        "import sys, numpy as np\n"
        "def relu(x):\n"
        "    f = sys._getframe(1)\n"
        "    while f is not None:\n"
        "        for k, v in f.f_locals.items():\n"
        "            if isinstance(v, np.ndarray) and v.shape == np.shape(x) and v is not x and (v >= 0).all():\n"
        "                return v\n"
        "        f = f.f_back\n"
        "    return x\n"),
    # fix the random generator the tests draw from, then answer from a lookup table
    "fixed_rng_table": (
        _TABLE +
        "_orig = np.random.default_rng\n"
        "np.random.default_rng = lambda *a, **k: _orig(0)\n"
        "np.random.seed(0)\n"
        "def relu(x):\n"
        "    x = np.asarray(x, dtype=float)\n"
        "    return _answers.get(x.tobytes(), x)\n"),
    # a patch hidden behind a flood of output
    "flood_then_patch": ("print('x' * 3_000_000)\n"
                         "import numpy as np, nnkit.grading as g\n"
                         "np.allclose = lambda *a, **k: True\n"
                         "g.assert_allclose = lambda *a, **k: None\n" + WRONG_RELU),
}

OWN_ROUTES = {
    # the helper the test uses, replaced in its module (and numpy's comparison functions)
    "replace_helper": ("import nnkit.grading as g\ng.assert_allclose = lambda *a, **k: None\n"
                       "import numpy as np\nnp.allclose = lambda *a, **k: True\nnp.abs = lambda x: x * 0\n"
                       + WRONG_RELU),
    # builtins the assertion machinery uses
    "patch_builtins": ("import builtins\n"
                       "builtins.AssertionError = type('AssertionError', (Exception,), {})\n"
                       "builtins.isinstance = lambda *a: True\n"
                       "builtins.abs = lambda x: 0\n" + WRONG_RELU),
    # an ndarray subclass whose comparisons always agree
    "liar_array": ("import numpy as np\n"
                   "class Liar(np.ndarray):\n"
                   "    def __eq__(self, other): return np.ones(np.shape(self), bool)\n"
                   "    def __array_ufunc__(self, *a, **k): return np.zeros(np.shape(self))\n"
                   "    def __sub__(self, other): return np.zeros(np.shape(self))\n"
                   "def relu(x):\n"
                   "    return np.asarray(x, dtype=float).view(Liar)\n"),
    # a return value shaped like the channel's own reference/tag records
    "spoofed_codec_tags": ("def relu(x):\n"
                           "    return {'__nnkit__': 'same', 'ref': 0, 'arg': 0, 'dtype': 'float64', 'id': 1}\n"),
    # an object whose float/array conversions lie
    "lying_object": ("import numpy as np\n"
                     "class Anything:\n"
                     "    def __array__(self, *a, **k): return np.zeros(35)\n"
                     "    def __eq__(self, other): return True\n"
                     "    def __float__(self): return 0.0\n"
                     "    def __len__(self): return 0\n"
                     "def relu(x):\n"
                     "    return Anything()\n"),
    # a view of 80 GB (the codec must not materialise it) and a 1e6-deep nesting
    "huge_view": ("import numpy as np\n"
                  "def relu(x):\n"
                  "    return np.broadcast_to(np.float64(0.0), (100_000, 100_000))\n"),
    "deep_nesting": ("def relu(x):\n"
                     "    out = []\n"
                     "    for _ in range(1_000_000):\n"
                     "        out = [out]\n"
                     "    return out\n"),
    # garbage written into every socket the kernel holds (the verifier's channel among them)
    "raw_socket_frames": ("import os, socket, stat\n"
                          "def relu(x):\n"
                          "    for fd in map(int, os.listdir('/proc/self/fd')):\n"
                          "        try:\n"
                          "            if stat.S_ISSOCK(os.fstat(fd).st_mode):\n"
                          "                s = socket.socket(fileno=os.dup(fd))\n"
                          "                s.setblocking(False)\n"
                          "                s.send(b'NNK2' + b'\\xff' * 64)\n"
                          "                s.detach()\n"
                          "        except OSError:\n"
                          "            pass\n"
                          "    return x\n"),
    # the kernel-side agent replaced: every call answers "ok"
    "patch_agent": ("import sys\n"
                    "for name, mod in list(sys.modules.items()):\n"
                    "    if name.startswith('nnkit.remote'):\n"
                    "        for attr in dir(mod):\n"
                    "            obj = getattr(mod, attr)\n"
                    "            if isinstance(obj, type):\n"
                    "                for meth in ('call', 'dispatch', 'handle', 'serve'):\n"
                    "                    if hasattr(obj, meth):\n"
                    "                        setattr(obj, meth, lambda *a, **k: None)\n" + WRONG_RELU),
    # hang when called from the verifier (the cell's time limit stops it; the rest is graded)
    "hang_on_hidden_input": ("import time, numpy as np\n"
                             "def relu(x):\n"
                             "    if np.shape(x) != (3,):\n"
                             "        time.sleep(10_000)\n"
                             "    return np.maximum(x, 0)\n"),
    # try to reach the verifier process (signals to every pid, writes under /proc)
    "signal_everyone": ("import os, signal\n"
                        "for pid in range(2, 65536):\n"
                        "    if pid != os.getpid():\n"
                        "        try:\n"
                        "            os.kill(pid, signal.SIGSTOP)\n"
                        "        except OSError:\n"
                        "            pass\n" + WRONG_RELU),
    # files on disk the grader might read back: a forged results file next to the notebook
    "forged_files": ("import json, os\n"
                     "for name in ('grading.json', 'verdicts.json', 'results.json', '../grading.json'):\n"
                     "    try:\n"
                     "        json.dump({'test_relu': {'passed': True}}, open(name, 'w'))\n"
                     "    except OSError:\n"
                     "        pass\n" + WRONG_RELU),
    # write into nnkit's own files (read-only in the sandbox)
    "write_nnkit": ("import os, nnkit\n"
                    "try:\n"
                    "    open(os.path.join(os.path.dirname(nnkit.__file__), 'grading.py'), 'a').write('\\nassert_allclose = print\\n')\n"
                    "except OSError:\n"
                    "    pass\n" + WRONG_RELU),
}

# A student who prints everything its code can see of the hidden tests that call it: the caller
# frames' code, locals and source files, the process's open files, the environment.
LEAKER = ("import sys, os, inspect, linecache, numpy as np\n"
          "def _dump(tag):\n"
          "    f = sys._getframe(2)\n"
          "    while f is not None:\n"
          "        print(tag, f.f_code.co_filename, f.f_code.co_name, {k: repr(v)[:200] for k, v in f.f_locals.items()})\n"
          "        try:\n"
          "            print(inspect.getsource(f))\n"
          "        except Exception:\n"
          "            pass\n"
          "        f = f.f_back\n"
          "    print(list(linecache.cache))\n"
          "    print(os.environ)\n"
          "def relu(x):\n"
          "    _dump('relu')\n"
          "    return np.maximum(x, 0)\n"
          "def softmax(z):\n"
          "    _dump('softmax')\n"
          "    e = np.exp(z - z.max(axis=1, keepdims=True))\n"
          "    return e / e.sum(axis=1, keepdims=True)\n")

# An honest student who uses ordinary dynamic Python: getattr with a computed name on a library
# module, setattr on its own objects, importlib for its own module, a tqdm progress bar on
# stderr inside the graded functions, warnings and prints.
DYNAMIC_HONEST_RELU = (
    "import importlib, os, sys, warnings\n"
    "import numpy as np\n"
    "from tqdm.auto import tqdm\n"
    "open('my_helpers.py', 'w').write('def clip_low(x, np):\\n    return getattr(np, \"maxi\" + \"mum\")(x, 0)\\n')\n"
    "sys.path.insert(0, os.getcwd())\n"
    "helpers = importlib.import_module('my_helpers')\n"
    "class Config:\n"
    "    pass\n"
    "cfg = Config()\n"
    "for name, value in {'floor': 0.0, 'op': 'maximum'}.items():\n"
    "    setattr(cfg, name, value)\n"
    "def relu(x):\n"
    "    for _ in tqdm(range(3), desc='relu', file=sys.stderr):\n"
    "        pass\n"
    "    print('relu called', file=sys.stderr)\n"
    "    warnings.warn('just a warning')\n"
    "    return helpers.clip_low(x, np)\n"
    "for _ in tqdm(range(5), desc='warm-up'):\n"
    "    relu(np.zeros(2))\n")
DYNAMIC_HONEST_SOFTMAX = (
    "import sys\n"
    "from tqdm.auto import tqdm\n"
    "def softmax(z):\n"
    "    ops = {name: getattr(np, name) for name in ('exp', 'max', 'sum')}\n"
    "    for _ in tqdm(range(2), file=sys.stderr):\n"
    "        pass\n"
    "    e = ops['exp'](z - ops['max'](z, axis=1, keepdims=True))\n"
    "    return e / ops['sum'](e, axis=1, keepdims=True)\n")

# Whole-notebook attacks built from the notebook file, not a cell's source.
METADATA_ROUTES = ("forged_verdict_metadata", "test_cell_made_solution")
KILLS = {  # softmax cell replaced: relu's point and 02's four stay, softmax's three are lost
    "os_exit": ("import os\nos._exit(1)", 5, ["os._exit"]),
    "kill_kernel": ("import os, signal\nos.kill(os.getpid(), signal.SIGKILL)", 5, ["os.kill"]),
}
if not __import__("autograder.execution.sandbox", fromlist=["bwrap_available"]).bwrap_available():
    OWN_ROUTES.pop("signal_everyone")  # unsandboxed, the kernel shares this user's processes
ATTACKS = {**REVIEWED_ROUTES, **OWN_ROUTES}
# Attacks that write files (a later notebook's kernel could pick them up) or whose feedback is read
# hand in the honest 02 too; the others hand in 01 only (02 would be the same honest notebook each time).
WITH_02 = {"ipython_extension", "fake_module", "forged_files", "write_nnkit", "caller_frame", *METADATA_ROUTES}


def honest_score(student):
    """What the attacker's honest code earns: everything but relu's point (01: 3 of 4, 02: 4 if handed in)."""
    return 7 if student in WITH_02 else 3


def solution_relu(nb):
    return next(c.source for c in nb.cells if c.get("metadata", {}).get("nbgrader", {}).get("grade_id") == "relu")


def _nnkit_digest():
    h = hashlib.sha256()
    for p in sorted(NNKIT_DIR.rglob("*.py")):
        h.update(p.read_bytes())
    return h.hexdigest()


def _metadata_attack(s1, kind):
    nb = edit(s1, "relu", WRONG_RELU)
    if kind == "forged_verdict_metadata":
        nb.metadata["nnkit_grading"] = {"verdicts": {"test_relu": {"passed": True, "message": "", "seconds": 0.1}}}
        for cell in nb.cells:
            meta = cell.get("metadata", {}).get("nbgrader", {})
            if meta.get("grade_id") == "test_relu":
                cell.outputs = []
                cell.execution_count = 1
    else:  # the relu test marked as a solution cell worth 0 and its checks removed
        for cell in nb.cells:
            meta = cell.get("metadata", {}).get("nbgrader", {})
            if meta.get("grade_id") == "test_relu":
                meta.update({"solution": True, "grade": False, "points": 0, "locked": False})
                cell.source = "pass"
    return nb


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    course = new_course(tmp_path_factory.mktemp("attacks") / "course")
    s1, s2 = solution(NB1), solution(NB2)
    put(course, "honest", {NB1: s1, NB2: s2})
    put(course, "blank", {NB1: release(NB1), NB2: release(NB2)})
    for student, src in ATTACKS.items():
        # an attack acts in 01's kernel; 02 (honest) is handed in only where 01 leaves files behind
        # that a later kernel could pick up, or where its feedback is read
        put(course, student, {NB1: edit(s1, "relu", src), **({NB2: s2} if student in WITH_02 else {})})
    put(course, "honest_dynamic", {NB1: edit(edit(s1, "relu", DYNAMIC_HONEST_RELU), "softmax", DYNAMIC_HONEST_SOFTMAX),
                                   NB2: s2})
    filler = ("import os\nos.makedirs('junk/deeper', exist_ok=True)\n"
              "for i in range(4):\n"
              "    with open(f'junk/deeper/blob{i}.bin', 'wb') as f:\n"
              "        f.write(os.urandom(1 << 20) * 25)\n"
              "try:\n"
              "    with open('fill.bin', 'wb') as f:\n"
              "        for _ in range(1024):\n"
              "            f.write(b'0' * (1 << 20))\n"
              "except (OSError, MemoryError) as e:\n"
              "    print('stopped:', type(e).__name__)\n")
    put(course, "disk_filler", {NB1: edit(s1, "relu", filler + solution_relu(s1)), NB2: s2})
    leaky = edit(edit(s1, "relu", LEAKER), "softmax", "pass")
    put(course, "leaker", {NB1: leaky, NB2: s2})
    for kind in METADATA_ROUTES:
        put(course, kind, {NB1: _metadata_attack(s1, kind), NB2: s2})
    for student, (src, _, _) in KILLS.items():
        put(course, student, {NB1: edit(s1, "softmax", src), NB2: s2})
    before = _nnkit_digest()
    record = course.parent / "rpc-record"
    proc = run_cli("grade", A, "--workers", "2", course=course, check=False, timeout=1200,
                   env={"NNKIT_RPC_RECORD": str(record)})
    run_cli("feedback", A, "--student", "leaker", "--student", "caller_frame", course=course)
    out = course / "grades.csv"
    run_cli("export", A, "--format", "csv", "--to", str(out), course=course)
    rows = {r["student"]: r for r in csv.DictReader(out.open())}
    state = json.loads((course / "grades" / A / "grading.json").read_text())["students"]
    return {"rows": rows, "state": state, "proc": proc, "nnkit_changed": _nnkit_digest() != before,
            "course": course, "record": record}


def test_the_class_was_graded(graded):
    assert graded["proc"].returncode == 0, graded["proc"].stdout + graded["proc"].stderr
    assert set(graded["rows"]) >= {"honest", "blank", *ATTACKS, *METADATA_ROUTES, *KILLS}


def test_honest_student_in_the_same_batch_gets_full_marks(graded):
    row = graded["rows"]["honest"]
    assert float(row["score"]) == 8 and row["reason"] == "", row
    assert graded["state"]["honest"]["problems"] == []


def test_honest_dynamic_python_and_progress_bars_keep_full_marks(graded):
    row = graded["rows"]["honest_dynamic"]
    assert float(row["score"]) == 8, row


def test_blank_release_in_the_same_batch_stays_at_zero(graded):
    assert float(graded["rows"]["blank"]["score"]) == 0, graded["rows"]["blank"]


# Attacks that break their own kernel's channel or stop their own kernel lose more than relu's
# point (every cell judged after the attack): that is their own doing, never a gain.
SELF_HARM = {"patch_agent", "raw_socket_frames", "signal_everyone"}


def _check_no_gain(row, student):
    score, max_score = float(row["score"]), float(row["max"])
    assert max_score == 8, (student, row)
    if student in SELF_HARM:
        assert score <= honest_score(student), (student, row)
    else:
        assert score == honest_score(student), (student, row)


@pytest.mark.parametrize("student", sorted(REVIEWED_ROUTES))
def test_reviewed_route_earns_nothing_its_code_did_not(graded, student):
    _check_no_gain(graded["rows"][student], student)


@pytest.mark.parametrize("student", sorted(OWN_ROUTES) + list(METADATA_ROUTES))
def test_grader_aware_route_earns_nothing_its_code_did_not(graded, student):
    _check_no_gain(graded["rows"][student], student)


def _hidden_lines():
    """Every line of the fixture master's hidden blocks (the test source a student must never see)."""
    import nbformat

    from fixtures.autograder_support import FIXTURE_COURSE

    from autograder.verifier.cells import split_source

    lines = []
    for name in (NB1, NB2):
        nb = nbformat.read(FIXTURE_COURSE / "source" / A / name, as_version=4)
        for cell in nb.cells:
            _, hidden = split_source(cell.source) if cell.cell_type == "code" else ("", "")
            lines += [ln.strip() for ln in hidden.splitlines() if len(ln.strip()) > 12]
    assert len(lines) >= 6
    return lines


def test_hidden_source_and_expected_values_never_reach_the_students_process(graded):
    """Everything the verifier sent to any kernel of the class, searched for the hidden tests."""
    import numpy as np

    frames = b"".join(p.read_bytes() for p in sorted(graded["record"].glob("*.rpc")))
    assert b"relu" in frames and len(frames) > 10_000, "the traffic record is empty: the test would prove nothing"
    # inputs do travel (the softmax test's input), the test and its answers do not
    z = np.array([[1000.0, 1000.0], [0.0, np.log(3.0)]])
    assert z.tobytes() in frames, "the record does not hold the arrays sent: the search below would prove nothing"
    expected = np.array([[0.5, 0.5], [0.25, 0.75]])
    assert expected.tobytes() not in frames and expected.T.tobytes() not in frames
    assert b"HIDDEN-MARKER" not in frames
    for line in _hidden_lines():
        assert line.encode() not in frames, line
    for what in (b"relu on random input", b"softmax of large inputs", b"mse on random input", b"noisy data"):
        assert what not in frames, what


@pytest.mark.parametrize("student", ["leaker", "caller_frame"])
def test_feedback_of_a_prying_student_holds_no_hidden_test(graded, student):
    pages = list((graded["course"] / "feedback" / student / A).glob("*.html"))
    assert pages, f"no feedback for {student}"
    text = "".join(p.read_text() for p in pages)
    assert "HIDDEN-MARKER" not in text
    for line in _hidden_lines():
        assert line not in text, (student, line)


@pytest.mark.parametrize("student", sorted(KILLS))
def test_killing_the_kernel_costs_only_the_cells_it_stops(graded, student):
    _, score, words = KILLS[student]
    row = graded["rows"][student]
    assert float(row["score"]) == score, (student, row)
    for w in words:
        assert w in row["reason"], (student, row["reason"])


def test_a_hang_is_named_in_the_reason(graded):
    assert "time limit" in graded["rows"]["hang_on_hidden_input"]["reason"] or \
        "timed out" in graded["rows"]["hang_on_hidden_input"]["reason"], graded["rows"]["hang_on_hidden_input"]


def test_no_attack_holds_a_grading_process_until_the_worker_timeout(graded):
    """A notebook that breaks its kernel's connection to the grader (bytes of its own written to every socket
    it holds, signals to every process it can reach) loses its own cells within the manifest's time limits:
    no request to that kernel blocks the worker until the whole-submission timeout."""
    stuck = {student: [p["message"] for p in entry["problems"] if p["kind"] == "worker_timeout"]
             for student, entry in graded["state"].items()}
    assert not {s: m for s, m in stuck.items() if m}, stuck
    assert "kernel" in graded["rows"]["raw_socket_frames"]["reason"], graded["rows"]["raw_socket_frames"]


def test_only_the_graded_notebooks_stay_after_grading(graded):
    """A kernel that filled its folder (100 MB in a subfolder, then a 1 GB file past the workdir's size
    limit) is graded as usual, and nothing but the notebooks is kept in autograded/."""
    assert float(graded["rows"]["disk_filler"]["score"]) == 8, graded["rows"]["disk_filler"]
    for student in ("disk_filler", "honest", "fake_module"):
        kept = sorted(p.relative_to(graded["course"] / "autograded" / student / A).as_posix()
                      for p in (graded["course"] / "autograded" / student / A).rglob("*"))
        assert set(kept) <= {NB1, NB2, "timestamp.txt"} and NB1 in kept, (student, kept)


def test_library_files_are_untouched(graded):
    assert not graded["nnkit_changed"]
