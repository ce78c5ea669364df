"""``with_references``: a hidden test runs the student's network on the reference layers it holds.

The student's "kernel" is a thread serving a module's namespace (registered as
``__main__``, as IPython's user namespace is) over a socket pair; the verifier
side is a real :class:`autograder.verifier.runner.Session` running test cells.
"""

from __future__ import annotations

import socket
import sys
import threading
import traceback
import types

import numpy as np
import pytest

from autograder.verifier import proxy, runner
from nnkit.remote.agent import CallbackStub, Operations
from nnkit.remote.endpoint import Endpoint

STUDENT = '''
import numpy as np
def layer(x):                       # the student's layer: wrong (doubles instead of squaring)
    return 2 * x
def network(x):                     # the student's network: resolves layer in the notebook's namespace
    return layer(x) + 1
def guarded(x):
    try:
        return layer(x)
    except ValueError:
        LOG.append(traceback.format_exc())
        return None
def init_two(rng):                  # draws twice through an init function: the generator must advance
    return init(3, rng), init(3, rng)
def step_twice(rule, w, dw):
    config = {"learning_rate": 0.1}
    w, config = rule(w, dw, config)
    w, config = rule(w, dw, config)
    return w, config
def adam_like(w, dw, config):       # the student's update rule, used when no reference replaces it
    return w, config
def rule_by_name(w, dw):
    return step_twice(adam_like, w, dw)
def square(x):                      # right
    return x ** 2
def clip(x):                        # right values, but changes its input in place
    x[x < 0] = 0
    return x
def use(x):
    return square(x) + clip(x)
import traceback
LOG = []
'''


@pytest.fixture
def session(monkeypatch):
    """``(verifier session, the student's namespace)``: a Session whose kernel is a thread serving ``__main__``."""
    main = types.ModuleType("__main__")
    exec(STUDENT, main.__dict__)
    monkeypatch.setitem(sys.modules, "__main__", main)
    a, b = socket.socketpair()
    server = Endpoint(b, "k", make_proxy=CallbackStub, operations=Operations(main.__dict__))
    thread = threading.Thread(target=server.serve, daemon=True)
    thread.start()
    v1, v2 = socket.socketpair()  # the worker's sockets: unused, the kernel is connected directly
    s = runner.Session(v1, v2)
    s.sent = []  # every frame the verifier sends the kernel
    s.endpoint = Endpoint(runner.RecordingChannel(a, runner.KERNEL_LIMITS, s.sent), "v", make_proxy=proxy.Remote,
                          exportable=callable)
    s.namespace = proxy.NotebookNamespace(lambda: s.endpoint)
    s.init(7, "import numpy as np\n", "nb.ipynb")
    yield s, main.__dict__
    a.close()
    thread.join(timeout=5)
    for sock in (v1, v2, b):
        sock.close()


def verdict(s, code):
    out = s.run_cell("test_x", code)
    assert out["passed"], f"{out['ename']}: {out['evalue']}"
    return out


def test_the_network_runs_on_the_reference_inside_the_block_only(session):
    s, ns = session
    own = ns["layer"]
    verdict(s, "def _square(x):\n    return x * x\n"
               "assert fetch(network(3.0)) == 7.0\n"              # the student's layer
               "with with_references(layer=_square, extra=_square):\n"
               "    assert network(3.0) == 10.0\n"                # the reference, called back from the network
               "    assert network(np.arange(3.0)).tolist() == [1.0, 2.0, 5.0]\n"
               "assert network(3.0) == 7.0\n")
    assert ns["layer"] is own and "extra" not in ns, "the notebook's own objects are back, added names gone"


def test_a_binding_without_with_lasts_until_the_end_of_the_cell(session):
    s, ns = session
    own = ns["layer"]
    out = s.run_cell("test_x", "with_references(layer=lambda x: x * x)\n"
                               "assert network(3.0) == 10.0\n"
                               "assert False, 'the visible part failed'\n")
    assert not out["passed"] and out["evalue"] == "the visible part failed"
    assert ns["layer"] is own, "restored at the end of the cell, even a failed one"
    verdict(s, "assert network(3.0) == 7.0")


def test_the_reference_never_travels_to_the_kernel(session):
    """The kernel gets a handle to call back, never the function's code, name or constants."""
    s, ns = session
    verdict(s, "def _secret_reference_name(x):\n"
               "    'SECRET-DOCSTRING'\n"
               "    return x * 3.25 + 0.125\n"
               "with with_references(layer=_secret_reference_name):\n"
               "    assert network(2.0) == 7.625\n")
    sent = b"".join(s.sent)
    assert sent and b"_secret_reference_name" not in sent and b"SECRET" not in sent and b"3.25" not in sent
    assert ns["layer"](2) == 4


def test_an_exception_of_the_reference_reaches_the_kernel_without_the_tests_frames(session):
    s, ns = session
    verdict(s, "def _secret_reference_name(x):\n"
               "    raise ValueError(f'shapes {x.shape} do not match')\n"
               "with with_references(layer=_secret_reference_name):\n"
               "    assert guarded(np.ones((2, 3))) is None\n")
    (log,) = ns["LOG"]
    assert "ValueError: shapes (2, 3) do not match" in log
    assert "_secret_reference_name" not in log and "hidden tests" not in log and "raise ValueError" not in log


def test_update_rules_and_generators_keep_their_state_across_calls(session):
    """An update rule's config written back into the kernel's dict; a generator advanced by an init."""
    s, _ = session
    verdict(s, "def _adam_like(w, dw, config):\n"
               "    config['t'] = config.get('t', 0) + 1\n"
               "    config['m'] = config.get('m', 0) + dw\n"
               "    return w - config['learning_rate'] * config['m'], config\n"
               "def _init(n, rng):\n"
               "    return rng.standard_normal(n)\n"
               "with with_references(adam_like=_adam_like, init=_init):\n"
               "    w, config = rule_by_name(np.ones(2), np.ones(2))\n"
               "    a, b = init_two(np.random.default_rng(5))\n"
               "assert config['t'] == 2 and np.allclose(config['m'], 2.0) and np.allclose(w, 1 - 0.1 - 0.2)\n"
               "_rng = np.random.default_rng(5)\n"
               "assert np.array_equal(a, _rng.standard_normal(3)) and np.array_equal(b, _rng.standard_normal(3))\n")


def test_names_must_be_functions_of_the_test(session):
    s, ns = session
    out = s.run_cell("test_x", "with_references(layer=network)")
    assert not out["passed"] and "must be a function of the test" in out["evalue"]
    assert ns["layer"](2) == 4


def test_check_rebinds_only_when_the_notebooks_functions_differ(session):
    """A probe of the notebook's functions against the references: the same results (and untouched inputs), no
    callbacks; different results, an input changed in place, an exception or a missing name, every name rebound."""
    s, ns = session
    own = ns["square"], ns["clip"]
    verdict(s, "def _square(x):\n    return x * x\n"
               "def _clip(x):\n    return np.maximum(x, 0)\n"
               "def _probe(f):\n"
               "    x = np.random.default_rng(0).standard_normal((3, 4))\n"
               "    return [f.square(x), x]\n"
               "r = with_references(square=_square, check=_probe)\n"
               "assert r.rebound == [], 'square agrees: nothing rebound'\n"
               "def _probe2(f):\n"
               "    x = np.random.default_rng(0).standard_normal((3, 4))\n"
               "    return [f.square(x), f.clip(x), x]\n"
               "r = with_references(square=_square, clip=_clip, check=_probe2)\n"
               "assert r.rebound == ['square', 'clip'], r.rebound\n"        # clip changes its input: all rebound
               "assert np.array_equal(use(np.array([-1.0, 2.0])), [1.0, 6.0])\n"
               "r.restore()\n"
               "def _probe3(f):\n"
               "    return [f.layer(np.ones(2)), f.missing(np.ones(2))]\n"
               "r = with_references(layer=lambda x: x * x, missing=lambda x: x, check=_probe3)\n"
               "assert r.rebound == ['layer', 'missing']\n")
    assert (ns["square"], ns["clip"]) == own and "missing" not in ns


def test_a_probe_that_fails_on_the_references_is_the_tests_error(session):
    s, ns = session
    out = s.run_cell("test_x", "def _probe(f):\n    return f.nothing_here(1)\n"
                               "with_references(layer=lambda x: x, check=_probe)")
    assert not out["passed"] and out["ename"] == "AttributeError"
    assert ns["layer"](2) == 4
