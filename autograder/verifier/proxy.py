"""What a hidden test sees of the student's notebook inside the verifier.

* A notebook name (``sigmoid_forward``, ``X_train``, ``spiral_net``) resolves
  through :class:`NotebookNamespace`: plain data (numbers, strings,
  containers, arrays, tensors, sparse matrices) arrives as a trusted copy;
  anything else (a function, a class, a model) as a :class:`Remote`.
* Calling a :class:`Remote` sends the arguments as plain data (a trusted
  function or lambda travels as a callback the student's code may call) and
  returns plain data, or a :class:`Remote` when the result is not plain
  data. Arguments the call modified in place are modified here too.
* Attribute and item access, ``len``, ``in``, iteration and ``bool`` work on a
  :class:`Remote`; arithmetic does not (it would compute in the student's
  process): copy the value with :func:`fetch` first.

The helpers a test uses on top of this (``fetch``, ``keep``, ``kernel``, ...) are in
:mod:`autograder.verifier.helpers`.
"""

from __future__ import annotations

import builtins
import weakref

import numpy as np


class Remote:
    """An object that lives in the student's kernel (see module doc)."""

    __slots__ = ("_nnkit_endpoint", "_nnkit_node", "_nnkit_keep", "_nnkit_methods", "__weakref__")

    def __init__(self, endpoint, node, keep=False):
        object.__setattr__(self, "_nnkit_endpoint", endpoint)
        object.__setattr__(self, "_nnkit_node", dict(node))
        object.__setattr__(self, "_nnkit_keep", bool(keep))
        object.__setattr__(self, "_nnkit_methods", {})
        hid = node.get("id")
        if node.get("$") == "ref" and hid is not None and hasattr(endpoint, "hold"):
            # the kernel keeps the object alive while a proxy of it exists here
            endpoint.hold(hid)
            weakref.finalize(self, endpoint.drop, hid)

    # -- plumbing ------------------------------------------------------------------------
    def _nnkit_ref_node(self, endpoint):
        return self._nnkit_node if endpoint is self._nnkit_endpoint else None

    def _nnkit_request(self, do, *args, keep=None, kwargs=None):
        keep = self._nnkit_keep if keep is None else keep
        value = self._nnkit_endpoint.request(do, target=self, args=args, kwargs=kwargs, keep=keep)
        if keep and isinstance(value, Remote):  # a kept object's attributes and results stay kept
            value = Remote(value._nnkit_endpoint, value._nnkit_node, keep=True)
        return value

    def _nnkit_fetch(self):
        return self._nnkit_endpoint.request("fetch", target=self, strict=True)

    @property
    def _nnkit_type(self):
        return self._nnkit_node.get("type", "?")

    # -- the operations a test may use ---------------------------------------------------
    def __getattr__(self, name):
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(name)
        method = self._nnkit_methods.get(name)
        if method is not None:
            return method
        value = self._nnkit_request("get", name)
        if isinstance(value, Remote) and value._nnkit_node.get("type") in _METHOD_TYPES:
            self._nnkit_methods[name] = value  # a bound method: the same one serves every call (m.loss(X))
        return _linked(value, self, ["attr", name])

    def __setattr__(self, name, value):
        if name in Remote.__slots__:
            object.__setattr__(self, name, value)
        else:
            self._nnkit_request("set", name, value, keep=False)

    def __delattr__(self, name):
        self._nnkit_request("del", name, keep=False)

    def __call__(self, *args, **kwargs):
        return self._nnkit_request("call", *args, kwargs=kwargs)

    def __getitem__(self, key):
        return _linked(self._nnkit_request("getitem", key), self, ["item", key])

    def __setitem__(self, key, value):
        self._nnkit_request("setitem", key, value, keep=False)

    def __delitem__(self, key):
        self._nnkit_request("delitem", key, keep=False)

    def __len__(self):
        return self._nnkit_request("len", keep=False)

    def __bool__(self):
        return self._nnkit_request("bool", keep=False)

    def __int__(self):
        return self._nnkit_request("int", keep=False)

    def __float__(self):
        return self._nnkit_request("float", keep=False)

    def __index__(self):
        return self._nnkit_request("index", keep=False)

    def __contains__(self, item):
        return self._nnkit_request("contains", item, keep=False)

    def __next__(self):
        more, item = self._nnkit_request("next", keep=False)
        if not more:
            raise StopIteration
        return item

    def __iter__(self):
        lazy, value = self._nnkit_request("iter", keep=False)
        if not lazy:
            yield from value
            return
        while True:
            more, item = value._nnkit_request("next", keep=False)
            if not more:
                return
            yield item

    def __array__(self, dtype=None, copy=None):
        return np.asarray(self._nnkit_fetch(), dtype=dtype)

    def __eq__(self, other):
        if isinstance(other, Remote):
            return other._nnkit_endpoint is self._nnkit_endpoint and other._nnkit_node.get("id") == self._nnkit_node.get("id")
        if self._nnkit_node.get("type") in _CONTAINER_TYPES:  # a live container compares by content
            return self._nnkit_fetch() == other
        return NotImplemented

    def __ne__(self, other):
        eq = self.__eq__(other)
        return eq if eq is NotImplemented else not eq

    def __hash__(self):
        return hash(("nnkit-remote", id(self._nnkit_endpoint), self._nnkit_node.get("id")))

    def __repr__(self):
        return f"<{self._nnkit_type} in the student's notebook>"

    __str__ = __repr__


_CONTAINER_TYPES = {"builtins.dict", "builtins.list", "builtins.set"}
_METHOD_TYPES = {"builtins.method", "builtins.builtin_function_or_method", "builtins.method-wrapper"}


def _linked(value, owner, step):
    """``value`` as received from ``owner.<step>``: an array comes back as a :class:`LinkedArray` that
    can write itself back there (numeric gradients probe a model's parameters in place)."""
    if type(value) is np.ndarray:
        linked = value.view(LinkedArray)
        linked._nnkit_origin = (owner, [step])
        return linked
    return value


class LinkedArray(np.ndarray):
    """A trusted copy of an array that lives in the student's kernel, with its way back.

    ``_nnkit_push()`` writes the current content back to where it was read from
    (:mod:`nnkit.gradcheck` calls it before each evaluation, so the CS231n idiom
    ``eval_numerical_gradient(lambda _: model.loss(X, y)[0], model.params[name])``
    probes the student's own parameters). Results of arithmetic on it are not linked.
    """

    _nnkit_plain = True

    def __array_finalize__(self, obj):
        self._nnkit_origin = None

    def _nnkit_push(self):
        if self._nnkit_origin is not None:
            owner, path = self._nnkit_origin
            owner._nnkit_endpoint.request("setpath", target=owner, args=(path, np.asarray(self)))


class RemotePath:
    """A dotted path into the student kernel's modules (``kernel.torch.nn.Linear``), resolved on use."""

    __slots__ = ("_nnkit_endpoint", "_nnkit_path", "_nnkit_keep")

    def __init__(self, endpoint, path="", keep=False):
        object.__setattr__(self, "_nnkit_endpoint", endpoint)
        object.__setattr__(self, "_nnkit_path", path)
        object.__setattr__(self, "_nnkit_keep", bool(keep))

    def _nnkit_ref_node(self, endpoint):
        if not self._nnkit_path:
            raise TypeError("kernel itself cannot be sent: name a module or an attribute of one")
        return {"$": "path", "p": self._nnkit_path} if endpoint is self._nnkit_endpoint() else None

    def __getattr__(self, name):
        if name.startswith("__") and name.endswith("__") and name != "__version__":
            raise AttributeError(name)
        path = f"{self._nnkit_path}.{name}" if self._nnkit_path else name
        return RemotePath(self._nnkit_endpoint, path, self._nnkit_keep)

    def __call__(self, *args, **kwargs):
        if not self._nnkit_path:
            raise TypeError("kernel is not callable: call a function of one of its modules")
        value = self._nnkit_endpoint().request("call", target=self, args=args, kwargs=kwargs, keep=self._nnkit_keep)
        if self._nnkit_keep and isinstance(value, Remote):
            value = Remote(value._nnkit_endpoint, value._nnkit_node, keep=True)
        return value

    def __repr__(self):
        return f"<kernel.{self._nnkit_path}>" if self._nnkit_path else "<the student's kernel>"


_MISSING = object()


class NotebookNamespace(dict):
    """The globals of hidden-test code: trusted names first, builtins next, then the notebook's names.

    A name the test neither defines nor imports is looked up in the student's
    notebook at its first use in a test cell (see module doc) and then reused
    for the rest of the cell, so a loop over ``vocabulary`` does not copy it
    again and again; :meth:`new_cell` forgets it. ``notebook.<name>`` reads a
    name afresh (after the test called code that rebinds it).

    A name found (a builtin or the notebook's) is stored in the namespace itself until the end of the cell, so
    that its next uses are plain dictionary reads (a loop over a review's features names ``vocabulary`` once per
    feature); a name the cell assigns meanwhile is the cell's own and stays.
    """

    def __init__(self, endpoint_getter):
        super().__init__()
        self._endpoint_getter = endpoint_getter
        self._cache = {}

    def new_cell(self):
        for name, value in self._cache.items():
            if dict.get(self, name, _MISSING) is value:
                dict.__delitem__(self, name)
        self._cache.clear()

    def __missing__(self, name):
        value = getattr(builtins, name, _MISSING)
        if value is _MISSING:
            if name.startswith("__") and name.endswith("__"):
                raise KeyError(name)
            value = self._endpoint_getter().request("name", args=(name,))
        self._cache[name] = value
        dict.__setitem__(self, name, value)
        return value


__all__ = ["Remote", "RemotePath", "LinkedArray", "NotebookNamespace"]
