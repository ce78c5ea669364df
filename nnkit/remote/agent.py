"""The kernel side of grading: serves the verifier's requests between notebook cells.

A grading kernel runs :data:`STARTUP_LINE` at start-up (``IPKernelApp.exec_lines``), which calls
:func:`install` before any notebook cell runs. It registers the comm target
:data:`COMM_TARGET`; when the grader opens a comm on it (between two cells,
while the kernel is idle), the handler connects to the grader's socket
(``$NNKIT_RPC_SOCKET``) and serves requests on the kernel's main thread until
the grader ends the session: look up a notebook name, get or set an
attribute or item, call a function, iterate, import a module of this kernel.
Results go back as plain data (:mod:`nnkit.remote.codec`), or as references
when they are not plain data.

Nothing here is trusted by the grader: the agent runs in the student's
process, which may change it. The verdict never depends on it behaving; it
only carries the student's answers, and it never receives the hidden tests'
source, their expected values or the grading seed.
"""

from __future__ import annotations

import importlib
import operator
import os
import socket

from nnkit.remote.endpoint import Endpoint, Exports, Live

COMM_TARGET = "nnkit.verify"
ENV_SOCKET = "NNKIT_RPC_SOCKET"
STARTUP_LINE = "import nnkit.remote.agent as _nnkit_agent; _nnkit_agent.install(); del _nnkit_agent"

_EXPORTS = Exports("k")
_LIVE_TYPES = (dict, list, set)
_ITERABLE_AS_LIST = (list, tuple, dict, set, frozenset, range, str, bytes)


class CallbackStub:
    """A callable of the verifier, as the kernel sees it: calling it asks the verifier to run it."""

    __slots__ = ("_endpoint", "_node")

    def __init__(self, endpoint, node):
        self._endpoint = endpoint
        self._node = dict(node)

    def _nnkit_ref_node(self, endpoint):
        return self._node if endpoint is self._endpoint else None

    def __call__(self, *args, **kwargs):
        if self._endpoint.closed:
            raise RuntimeError("a grader function was called after grading of this cell ended")
        return self._endpoint.request("call", target=self, args=args, kwargs=kwargs)

    def __repr__(self):
        return f"<grader function {self._node.get('type', '?')}>"


def resolve_path(path):
    """The object at dotted ``path`` (a module, or an attribute of one), importing what is needed."""
    parts = str(path).split(".")
    if not all(parts):
        raise ImportError(f"bad path {path!r}")
    for cut in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for name in parts[cut:]:
            obj = getattr(obj, name)
        return obj
    raise ImportError(f"no module named {parts[0]!r}")


class Operations:
    """The verbs the verifier may ask for, on the kernel's objects and its user namespace."""

    def __init__(self, namespace):
        self.namespace = namespace

    def resolve_node(self, node):
        if node.get("$") == "path":
            return resolve_path(node.get("p", ""))
        raise LookupError(f"cannot resolve a {node.get('$')!r} node in the kernel")

    def perform(self, do, target, args, kwargs):
        method = getattr(self, "do_" + str(do), None)
        if method is None:
            raise PermissionError(f"unknown operation {do!r}")
        return method(target, *args, **kwargs)

    def do_name(self, _target, name):
        try:
            return self.namespace[name]
        except KeyError:
            raise NameError(f"name {name!r} is not defined in the notebook") from None

    def do_path(self, target):
        return target

    def do_get(self, target, name):
        return _live(getattr(target, name))

    def do_set(self, target, name, value):
        setattr(target, name, value)

    def do_del(self, target, name):
        delattr(target, name)

    def do_getitem(self, target, key):
        return _live(target[key])

    def do_setpath(self, target, path, value):
        """Set ``target.<path>`` (``path``: ``[["attr", name] | ["item", key], ...]``) to ``value``."""
        if not path:
            raise ValueError("empty path")
        for kind, key in path[:-1]:
            target = getattr(target, key) if kind == "attr" else target[key]
        kind, key = path[-1]
        if kind == "attr":
            setattr(target, key, value)
        else:
            target[key] = value

    def do_setitem(self, target, key, value):
        target[key] = value

    def do_delitem(self, target, key):
        del target[key]

    def do_call(self, target, *args, **kwargs):
        return target(*args, **kwargs)

    def do_len(self, target):
        return len(target)

    def do_bool(self, target):
        return bool(target)

    def do_int(self, target):
        return int(target)

    def do_float(self, target):
        return float(target)

    def do_index(self, target):
        return operator.index(target)

    def do_str(self, target):
        return str(target)

    def do_repr(self, target):
        return repr(target)

    def do_contains(self, target, item):
        return item in target

    def do_iter(self, target):
        """A list of the items when ``target`` is a finite built-in container, else an iterator."""
        if type(target) in _ITERABLE_AS_LIST:
            return [False, list(target)]
        return [True, iter(target)]

    def do_next(self, target):
        """``[True, item]``, or ``[False, None]`` when the iterator is exhausted."""
        try:
            return [True, next(target)]
        except StopIteration:
            return [False, None]

    def do_isinstance(self, target, qualname):
        return any(f"{c.__module__}.{c.__qualname__}" == qualname for c in type(target).__mro__)

    def do_fetch(self, target):
        return target

    def do_store(self, _target, value):
        return value


def _live(value):
    """A mutable container reached through an attribute or an item stays here (the verifier gets a
    reference, so ``model.params[k] = v`` changes the student's model); anything else is copied."""
    return Live(value) if type(value) in _LIVE_TYPES else value


def _namespace():
    try:
        from IPython import get_ipython

        shell = get_ipython()
    except Exception:  # noqa: BLE001 - not in IPython
        shell = None
    import __main__

    return shell.user_ns if shell is not None else vars(__main__)


def serve(path, namespace=None):
    """Connect to the grader's socket at ``path`` and serve its requests until it ends the session."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.connect(path)
    ep = Endpoint(sock, "k", make_proxy=CallbackStub, operations=Operations(namespace or _namespace()))
    ep.exports = _EXPORTS
    try:
        while True:
            try:
                ep.serve()
                return
            except KeyboardInterrupt:  # an interrupt that arrived between two requests
                continue
    finally:
        ep.closed = True
        try:
            sock.close()
        except OSError:
            pass


def _on_comm_open(comm, msg):
    data = (msg.get("content") or {}).get("data") or {}
    path = os.environ.get(ENV_SOCKET) or data.get("path")
    if not path:
        return
    serve(path)


def install():
    """Register the comm target the grader opens before each verified test cell (idempotent)."""
    try:
        from IPython import get_ipython

        shell = get_ipython()
        manager = shell.kernel.comm_manager
    except Exception:  # noqa: BLE001 - not a Jupyter kernel: nothing to serve
        return False
    manager.register_target(COMM_TARGET, _on_comm_open)
    return True
