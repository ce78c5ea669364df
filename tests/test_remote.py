"""The plain-data channel between the verifier and a student's kernel, without a kernel.

An endpoint pair on a socket pair, the "kernel" side served from a thread over a
plain namespace: data copies both ways, references for what is not data,
arguments written back, errors that keep their built-in class, callbacks,
and the verifier's view of notebook names.
"""

from __future__ import annotations

import socket
import threading

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from autograder.verifier import helpers, proxy, seeding
from nnkit.gradcheck import eval_numerical_gradient
from nnkit.remote import wire
from nnkit.remote.agent import CallbackStub, Operations
from nnkit.remote.codec import DecodeError, Decoder, EncodeError, Encoder
from nnkit.remote.endpoint import Endpoint, RemoteError

STUDENT = '''
import numpy as np
def relu_forward(x):
    return np.maximum(0, x), x
def modify(x):
    x[0] = 99.0
    return x
def sgd(w, dw, config=None):
    config = {} if config is None else config
    config.setdefault("lr", 0.1)
    w -= config["lr"] * dw
    return w, config
def boom(x):
    raise ValueError(f"bad input {x}")
def twice(f, x):
    return 2 * f(x)
def draw(rng):
    return rng.standard_normal(3)
class Net:
    def __init__(self, d):
        self.params = {"W": np.ones((d, 2))}
        self.calls = 0
    def loss(self, X):
        self.calls += 1
        return float(((X @ self.params["W"]) ** 2).sum())
class Weird(float):
    def __eq__(self, other):
        return True
def weird():
    return Weird(1.5)
class Always:
    def __eq__(self, other):
        return True
def always():
    return Always()
'''


@pytest.fixture
def student():
    """``(namespace of the verifier, the student's namespace)`` connected over a socket pair."""
    ns = {}
    exec(STUDENT, ns)
    a, b = socket.socketpair()
    server = Endpoint(b, "k", make_proxy=CallbackStub, operations=Operations(ns))
    t = threading.Thread(target=server.serve, daemon=True)
    t.start()
    ep = Endpoint(a, "v", make_proxy=proxy.Remote, exportable=callable)
    vns = proxy.NotebookNamespace(lambda: ep)
    vns.update(helpers.names(lambda: ep, seeding.Mixer(7)))
    vns.update(np=np, torch=torch, eval_numerical_gradient=eval_numerical_gradient)  # the trusted imports
    vns["__server_exports__"] = server.exports
    yield vns, ns
    a.close()
    t.join(timeout=5)


def run(vns, code):
    exec(code, vns)
    return vns


def roundtrip(value):
    enc = Encoder()
    node = enc.encode(value)
    return Decoder(enc.buffers).decode(node)


@pytest.mark.parametrize("value", [
    None, True, 3, -2**70, 1.5, float("inf"), "text", b"\x00\x01", 2 + 3j, (1, (2, 3)), [1, [2]], {"a": 1, 2: "b"},
    {1, 2}, frozenset({3}), slice(1, None, 2), range(2, 9, 3), Ellipsis,
])
def test_plain_values_round_trip(value):
    assert roundtrip(value) == value and type(roundtrip(value)) is type(value)


def test_arrays_tensors_and_sparse_round_trip_with_their_types():
    arr = np.arange(12, dtype=np.float32).reshape(3, 4)
    out = roundtrip(arr)
    assert out.dtype == np.float32 and np.array_equal(out, arr) and out.flags.writeable
    assert roundtrip(np.float64(2.5)) == 2.5 and isinstance(roundtrip(np.float64(2.5)), np.float64)
    assert isinstance(roundtrip(np.asmatrix(np.ones((2, 2)))), np.matrix)
    t = torch.nn.Parameter(torch.randn(2, 3, dtype=torch.float64))
    t.grad = torch.ones(2, 3, dtype=torch.float64)
    back = roundtrip(t)
    assert isinstance(back, torch.nn.Parameter) and back.requires_grad and torch.equal(back.grad, t.grad)
    meta = roundtrip(torch.empty(4, 5, device="meta"))
    assert meta.device.type == "meta" and tuple(meta.shape) == (4, 5)
    assert roundtrip(torch.float16) is torch.float16 and roundtrip(torch.device("cpu")) == torch.device("cpu")
    m = sp.random(20, 30, density=0.1, format="csr", dtype=np.float32)
    for fmt in ("csr", "csc", "coo", "lil"):
        got = roundtrip(m.asformat(fmt))
        assert got.format == fmt and (got != m.asformat(fmt)).nnz == 0
    assert roundtrip(np.float32) is np.float32 and roundtrip(int) is int


def test_containers_of_plain_scalars_travel_as_json_lists_and_keep_their_types():
    vocab = {f"w{i} x": i for i in range(5000)}
    node = Encoder().encode(vocab)
    assert set(node) == {"$", "keys", "values"}, "a dict of scalars is sent as two JSON lists"
    mixed = [1, 2.5, "s", True, None, False]
    for value in (vocab, mixed, tuple(mixed), {"a": None, "b": True, "c": 1.5, 7: "x"}, set(range(100)), frozenset("abc")):
        back = roundtrip(value)
        assert back == value and type(back) is type(value)
        if isinstance(value, (list, tuple)):
            assert [type(v) for v in back] == [type(v) for v in value], "bool, int, float, None keep their types"
    lst = list(range(10))
    x, y = roundtrip([lst, lst])
    assert x is y and x == lst, "one list met twice arrives as one object"
    # a container with anything else in it (an array, a str subclass) still goes item by item
    class Name(str):
        pass

    back = roundtrip({"a": np.arange(3), "b": [Name("n")]})
    assert np.array_equal(back["a"], np.arange(3)) and type(back["b"][0]) is str


@pytest.mark.parametrize("node", [
    {"$": "dict", "keys": [["unhashable"]], "values": [1]},
    {"$": "dict", "keys": ["a", "b"], "values": [1]},
    {"$": "dict", "keys": ["a"], "values": [{"$": "ref", "id": 1}]},
    {"$": "dict", "keys": "ab", "values": [1, 2]},
])
def test_malformed_dicts_of_scalars_are_refused(node):
    with pytest.raises(DecodeError):
        Decoder([]).decode(node)


def test_identity_within_a_message_and_refusals():
    a = np.zeros(3)
    x, y = roundtrip([a, a])
    assert x is y
    with pytest.raises(EncodeError):
        Encoder().encode(object())
    with pytest.raises(EncodeError):
        Encoder().encode(np.array([object()]))


def test_calls_copy_data_and_keep_references(student):
    vns, ns = student
    run(vns, "out, cache = relu_forward(np.array([-1.0, 2.0]))")
    assert isinstance(vns["relu_forward"], proxy.Remote)
    assert np.array_equal(vns["out"], [0.0, 2.0]) and type(vns["out"]) is np.ndarray
    run(vns, "net = Net(3)\nloss = net.loss(np.ones((2, 3)))")
    assert isinstance(vns["net"], proxy.Remote) and vns["loss"] == 36.0


def test_arguments_modified_in_place_are_written_back(student):
    vns, _ = student
    run(vns, "x = np.array([1.0, 2.0]); r = modify(x)")
    assert vns["x"][0] == 99.0 and vns["r"] is vns["x"]
    run(vns, "w = np.ones(2); cfg = {}; w2, cfg2 = sgd(w, np.ones(2), cfg)")
    assert np.allclose(vns["w"], 0.9) and vns["w2"] is vns["w"] and vns["cfg"] == {"lr": 0.1} and vns["cfg2"] is vns["cfg"]


def test_generators_travel_as_state_and_advance_on_both_sides(student):
    vns, _ = student
    run(vns, "rng = np.random.default_rng(3); a = draw(rng); b = np.random.default_rng(3).standard_normal(3)")
    assert np.array_equal(vns["a"], vns["b"])
    run(vns, "c = draw(rng); ref = np.random.default_rng(3); ref.standard_normal(3); d = ref.standard_normal(3)")
    assert np.array_equal(vns["c"], vns["d"])


def test_errors_keep_their_builtin_class_and_callbacks_run_here(student):
    vns, _ = student
    with pytest.raises(ValueError, match="bad input 3") as info:
        run(vns, "boom(3)")
    assert isinstance(info.value, RemoteError) and "boom" in info.value.remote_traceback
    seen = []
    vns["spy"] = lambda v: seen.append(v) or v + 1
    run(vns, "r = twice(spy, 4)")
    assert vns["r"] == 10 and seen == [4]


def test_fake_equality_does_not_cross(student):
    vns, _ = student
    run(vns, "w = weird(); a = always()")
    assert type(vns["w"]) is float and vns["w"] != 2.0
    assert isinstance(vns["a"], proxy.Remote) and vns["a"] != 1


def test_live_containers_and_numeric_gradients_of_remote_parameters(student):
    vns, ns = student
    run(vns, "net = Net(3)\nX = np.arange(6.0).reshape(2, 3)\nnet.params['W'] = np.full((3, 2), 0.5)")
    run(vns, "g = eval_numerical_gradient(lambda _: net.loss(X), net.params['W'])")
    W = np.full((3, 2), 0.5)
    expected = 2 * vns["X"].T @ (vns["X"] @ W)
    assert np.allclose(vns["g"], expected, atol=1e-5)
    run(vns, "W_after = fetch(net.params)['W']")
    assert np.array_equal(vns["W_after"], W), "the probe restores the student's parameter"


def test_keep_kernel_and_is_instance(student):
    vns, _ = student
    run(vns, "layer = kernel.torch.nn.Linear(2, 3)\nout = keep(layer)(torch.ones(1, 2))\nkeep(out).sum().backward()\n"
             "g = layer.weight.grad\nmod = is_instance(layer, torch.nn.Module)")
    assert isinstance(vns["out"], proxy.Remote) and tuple(vns["g"].shape) == (3, 2) and vns["mod"]
    run(vns, "t, r = twin(lambda nn: nn.Sequential(nn.Linear(4, 2)))\nx = torch.randn(5, 4)\nsame = torch.allclose(t(x), r(x))")
    assert vns["same"]


def test_names_are_read_once_per_cell_and_afresh_through_notebook(student):
    vns, ns = student
    ns["counter"] = 1
    run(vns, "a = counter")
    ns["counter"] = 2
    run(vns, "b = counter\nc = notebook.counter")
    assert (vns["a"], vns["b"], vns["c"]) == (1, 1, 2)
    vns.new_cell()
    run(vns, "d = counter")
    assert vns["d"] == 2
    with pytest.raises(NameError, match="not defined in the notebook"):
        run(vns, "missing_name")


def test_names_found_stay_in_the_namespace_until_the_next_cell(student):
    """A name found once (the notebook's, a builtin) is a plain dictionary entry for the rest of the cell (no lookup
    per use in a loop); the next cell reads it afresh, and a name the cell assigned itself stays the cell's."""
    vns, ns = student
    ns["counter"], ns["mine"] = 1, "notebook"
    calls = []
    ep = vns._endpoint_getter()
    real = ep.request
    ep.request = lambda *a, **k: (calls.append(a), real(*a, **k))[1]
    try:
        run(vns, "total = sum(counter for _ in range(50))\nlength = len([mine])\nmine = 'the cell'")
        assert vns["total"] == 50 and calls == [("name",), ("name",)], calls
        assert dict.__contains__(vns, "counter") and dict.__contains__(vns, "sum")
        ns["counter"] = 2
        vns.new_cell()
        assert not dict.__contains__(vns, "counter") and not dict.__contains__(vns, "sum")
        assert vns["mine"] == "the cell", "a name the cell assigned must stay"
        run(vns, "again = counter")
        assert vns["again"] == 2
    finally:
        ep.request = real


def test_noreply_errors_are_raised_with_the_next_reply(student):
    vns, _ = student
    ep = vns["relu_forward"]._nnkit_endpoint
    net = run(vns, "net = Net(2)")["net"]
    ep.request("setpath", target=net, args=([["attr", "nope"], ["item", "W"]], 1), wait=False)
    with pytest.raises(AttributeError):
        net.loss(np.ones((1, 2)))


def test_frames_over_the_limits_are_refused():
    a, b = socket.socketpair()
    small = wire.Channel(b, wire.Limits(body_bytes=100))
    wire.Channel(a).send(wire.Frame({"op": "x"}, {"big": "y" * 1000}))
    with pytest.raises(wire.WireError):
        small.recv()


def test_seeds_are_mixed_with_the_run_secret_except_exact_ones():
    mix1, mix2 = seeding.Mixer(1), seeding.Mixer(2)
    assert mix1(11) != mix2(11) and mix1(11) == seeding.Mixer(1)(11)
    assert mix1(seeding.ExactSeed(5)) == 5 and isinstance(mix1.seed(3), seeding.ExactSeed)


def test_kernel_objects_are_released_when_no_proxy_holds_them(student):
    """A verdict that keeps many large arrays in the kernel one after the other does not pile them up
    there: the kernel forgets an exported object once no proxy of it is left in the verifier."""
    vns, _ = student
    exports = vns["__server_exports__"]
    before = len(exports)
    run(vns, "for _ in range(30):\n"
             "    big = keep(kernel.numpy).ones((1000, 1000))\n"   # 8 MB each, in the kernel
             "    assert fetch(keep(big).sum()) == 1e6\n"
             "plain = isinstance(kernel.torch.nn.Linear(2, 2), torch.nn.Module)\n")
    assert vns["plain"], "a test's plain isinstance understands remote objects"
    run(vns, "x = fetch(kernel.numpy.zeros(3))")  # one more request carries the releases
    held = len(exports) - before
    assert held <= 6, f"{held} kernel objects are still exported after the loop"
    # an object still held here stays usable
    run(vns, "keep_me = keep(kernel.numpy).arange(5)\nimport gc; gc.collect()\nok = fetch(keep(keep_me).sum()) == 10")
    assert vns["ok"]
