"""Plain data to and from JSON nodes plus raw buffers; never pickle.

What travels as data (a copy arrives on the other side):

* ``None``, ``bool``, ``int``, ``float``, ``complex``, ``str``, ``bytes``,
  ``bytearray``, ``slice``, ``range``, ``Ellipsis``;
* ``list``, ``tuple``, ``dict`` (any plain keys), ``collections.OrderedDict``,
  ``set``, ``frozenset`` of those;
* numpy arrays (numeric, bool and fixed-width string dtypes; ``np.matrix``
  stays a matrix), numpy scalars and dtypes;
* torch tensors (dtype, shape, device, ``requires_grad``, ``.grad``, whether
  it is an ``nn.Parameter``; a ``meta`` tensor carries no data), ``torch.dtype``,
  ``torch.device``, ``torch.Size``;
* scipy sparse matrices and arrays (CSR, CSC and COO natively; other formats
  through CSR and back);
* random generators (``np.random.Generator``, ``np.random.RandomState``,
  ``torch.Generator``) as their state: a function given a generator draws what
  the caller's generator would draw, and the caller's generator advances too;
* built-in types and numpy scalar types (``dtype=np.float32``, ``float``).

Anything else (a function, an ``nn.Module``, an object of a student's class,
an object array) is not copied: the encoder asks its ``export`` callback for a
reference node (``{"$": "ref", ...}``) and the decoder turns such a node back
into whatever its ``resolve`` callback gives (the original object on the side
that owns it, a proxy on the other side).

Identity: a mutable object (list, dict, set, array, tensor, sparse matrix)
that occurs twice in one message arrives as one object. Objects are numbered
in the order they are met (depth first); ``Encoder.objects`` and
``Decoder.objects`` list them in that order, which lets a reply name an object
of the request it answers (``{"$": "arg", "i": k}``).
"""

from __future__ import annotations

import sys
from collections import OrderedDict

MAX_DEPTH = 200

# numpy dtype kinds that travel as data: bool, ints, unsigned, floats, complex, str, bytes
_NP_KINDS = set("biufcUS")
_TORCH_DTYPES = (
    "float64", "float32", "float16", "bfloat16", "complex64", "complex128",
    "int64", "int32", "int16", "int8", "uint8", "bool",
)
_SPARSE_NATIVE = ("csr", "csc", "coo")
# JSON scalars: a container holding only these (exact types) travels as plain JSON lists, checked in one pass
# on each side instead of one node per item (a 200,000-entry vocabulary: about 1.2 s -> 0.25 s)
_SCALARS = frozenset((str, int, float, bool, type(None)))


def _scalars(values):
    """Whether ``values`` (a list) holds only JSON scalars of exactly those types (no subclass)."""
    return all(type(v) in _SCALARS for v in values)


class EncodeError(TypeError):
    """An object cannot be sent (and the encoder has no reference for it)."""


class DecodeError(ValueError):
    """A node is malformed or asks for something this side refuses to build."""


def _np():
    import numpy

    return numpy


def _torch():
    """torch when it is already imported (never imports it: a numpy notebook must not pay for it)."""
    return sys.modules.get("torch")


def _sparse():
    return sys.modules.get("scipy.sparse")


def _is_np_array(obj):
    np = sys.modules.get("numpy")
    return np is not None and isinstance(obj, np.ndarray)


_BUILTIN_TYPES = (bool, int, float, complex, str, bytes, bytearray, list, tuple, dict, set, frozenset, slice,
                  range, object, type(None))
_BITGENS = ("PCG64", "PCG64DXSM", "MT19937", "Philox", "SFC64")


def _type_name(tp):
    """A name for a class that travels as data (built-in types, numpy scalar types), else None."""
    if tp in _BUILTIN_TYPES:
        return f"builtins.{tp.__name__}"
    np = sys.modules.get("numpy")
    if np is not None and isinstance(tp, type) and issubclass(tp, np.generic) and getattr(np, tp.__name__, None) is tp:
        return f"numpy.{tp.__name__}"
    return None


def _qualname(tp):
    return f"{getattr(tp, '__module__', '?')}.{getattr(tp, '__qualname__', getattr(tp, '__name__', '?'))}"


class Encoder:
    """Turns values into JSON nodes; array data goes to :attr:`buffers`.

    ``export(obj)`` returns the reference node for an object that is not plain
    data (or raises :class:`EncodeError`). ``known`` maps ``id(obj)`` to a node
    to emit instead of encoding ``obj`` (used for ``{"$": "arg"}`` in replies).
    """

    def __init__(self, export=None, known=None):
        self.export = export
        self.known = dict(known or {})
        self.buffers = []
        self.objects = []
        self._memo = {}
        self._alive = []

    # -- helpers ---------------------------------------------------------------
    def _buf(self, data):
        self.buffers.append(data)
        return len(self.buffers) - 1

    def _register(self, obj):
        self._memo[id(obj)] = len(self.objects)
        self.objects.append(obj)
        self._alive.append(obj)

    def _ref(self, obj):
        if self.export is None:
            raise EncodeError(f"cannot send a {_qualname(type(obj))} object: it is not plain data")
        return self.export(obj)

    # -- entry point -------------------------------------------------------------
    def encode(self, obj, depth=0):
        if depth > MAX_DEPTH:
            raise EncodeError(f"data nested more than {MAX_DEPTH} levels deep")
        known = self.known.get(id(obj))
        if known is not None:
            return known
        if obj is None or obj is True or obj is False:
            return obj
        tp = type(obj)
        if tp is str:
            return obj
        if tp is float:
            return obj
        if tp is int:
            return obj
        idx = self._memo.get(id(obj))
        if idx is not None:
            return {"$": "same", "i": idx}
        np = sys.modules.get("numpy")
        if np is not None:
            if isinstance(obj, np.ndarray):
                return self._ndarray(obj)
            if isinstance(obj, np.generic):
                return self._npscalar(obj)
            if isinstance(obj, np.dtype):
                if obj.kind in _NP_KINDS:
                    return {"$": "npdtype", "str": obj.str}
                return self._ref(obj)
        if np is not None:
            if isinstance(obj, np.random.Generator):
                self._register(obj)
                bg = obj.bit_generator
                return {"$": "npgen", "bitgen": type(bg).__name__, "state": self.encode(bg.state, depth + 1)}
            if type(obj) is np.random.RandomState:
                self._register(obj)
                return {"$": "nprs", "state": self.encode(obj.get_state(legacy=False), depth + 1)}
        if isinstance(obj, type):
            name = _type_name(obj)
            if name is not None:
                return {"$": "type", "name": name}
        torch = _torch()
        if torch is not None:
            if isinstance(obj, torch.Generator):
                self._register(obj)
                return {"$": "torchgen", "device": str(obj.device),
                        "state": self.encode(obj.get_state(), depth + 1)}
            if isinstance(obj, torch.Tensor):
                return self._tensor(obj, torch, depth)
            if isinstance(obj, torch.dtype):
                name = str(obj).replace("torch.", "")
                return {"$": "torch.dtype", "name": name} if name in _TORCH_DTYPES else self._ref(obj)
            if isinstance(obj, torch.device):
                return {"$": "torch.device", "str": str(obj)}
            if isinstance(obj, torch.Size):
                return {"$": "torch.Size", "items": [int(v) for v in obj]}
        sparse = _sparse()
        if sparse is not None and sparse.issparse(obj):
            return self._sparse(obj, sparse, depth)
        if tp is list:
            self._register(obj)
            return self._seq(obj, depth)
        if tp is tuple:
            return {"$": "tuple", "items": self._seq(obj, depth)}
        if tp is dict or tp is OrderedDict:
            self._register(obj)
            tag = "dict" if tp is dict else "odict"
            keys, values = list(obj), list(obj.values())
            if self._plain(keys) and self._plain(values):
                return {"$": tag, "keys": keys, "values": values}
            items = [[self.encode(k, depth + 1), self.encode(v, depth + 1)] for k, v in obj.items()]
            return {"$": tag, "items": items}
        if tp is set:
            self._register(obj)
            return {"$": "set", "items": self._seq(obj, depth)}
        if tp is frozenset:
            return {"$": "frozenset", "items": self._seq(obj, depth)}
        if tp is bytes:
            return {"$": "bytes", "buf": self._buf(obj)}
        if tp is bytearray:
            self._register(obj)
            return {"$": "bytearray", "buf": self._buf(bytes(obj))}
        if tp is complex:
            return {"$": "complex", "re": obj.real, "im": obj.imag}
        if tp is slice:
            return {"$": "slice", "args": [self.encode(v, depth + 1) for v in (obj.start, obj.stop, obj.step)]}
        if tp is range:
            return {"$": "range", "args": [obj.start, obj.stop, obj.step]}
        if obj is Ellipsis:
            return {"$": "ellipsis"}
        # subclasses of the plain scalars (IntEnum, a seed marker, ...) travel as their base value
        if isinstance(obj, bool):
            return bool(obj)
        if isinstance(obj, int):
            return int(obj)
        if isinstance(obj, float):
            return float(obj)
        if isinstance(obj, str):
            return str(obj)
        return self._ref(obj)

    def _plain(self, values):
        """Whether ``values`` are JSON scalars that no ``known`` entry replaces (sent as they are)."""
        return _scalars(values) and not (self.known and any(id(v) in self.known for v in values))

    def _seq(self, obj, depth):
        values = list(obj)
        return values if self._plain(values) else [self.encode(v, depth + 1) for v in values]

    # -- arrays ----------------------------------------------------------------
    def _ndarray(self, arr):
        np = _np()
        plain_type = type(arr) in (np.ndarray, np.matrix) or getattr(type(arr), "_nnkit_plain", False)
        if arr.dtype.kind not in _NP_KINDS or arr.dtype.fields is not None or not plain_type:
            return self._ref(arr)
        self._register(arr)
        data = np.ascontiguousarray(arr)
        node = {"$": "ndarray", "dtype": arr.dtype.str, "shape": list(arr.shape),
                "buf": self._buf(memoryview(data.reshape(-1).view(np.uint8)) if data.size else b"")}
        if type(arr) is np.matrix:
            node["matrix"] = True
        return node

    def _npscalar(self, value):
        np = _np()
        if value.dtype.kind not in _NP_KINDS:
            return self._ref(value)
        arr = np.asarray(value).reshape(1)
        return {"$": "npscalar", "dtype": value.dtype.str, "buf": self._buf(arr.view(np.uint8).tobytes())}

    def _tensor(self, t, torch, depth):
        name = str(t.dtype).replace("torch.", "")
        plain = (name in _TORCH_DTYPES and t.layout == torch.strided and not t.is_quantized
                 and type(t) in (torch.Tensor, torch.nn.Parameter))
        if not plain:
            return self._ref(t)
        self._register(t)
        node = {"$": "tensor", "dtype": name, "shape": list(t.shape), "device": str(t.device),
                "requires_grad": bool(t.requires_grad), "param": type(t) is torch.nn.Parameter,
                "leaf": bool(t.is_leaf)}
        if t.device.type == "meta":
            node["buf"] = None
        else:
            flat = t.detach().to("cpu").contiguous().reshape(-1)
            node["buf"] = self._buf(memoryview(flat.view(torch.uint8).numpy()) if flat.numel() else b"")
        grad = t.grad if t.is_leaf else None
        node["grad"] = self.encode(grad, depth + 1) if grad is not None else None
        return node

    def _sparse(self, m, sparse, depth):
        fmt = m.format
        array = not isinstance(m, sparse.spmatrix)
        self._register(m)
        native = m if fmt in _SPARSE_NATIVE else m.tocsr()
        node = {"$": "sparse", "format": native.format, "orig": fmt, "shape": list(native.shape), "array": array}
        if native.format == "coo":
            node["parts"] = {"data": self._plain_array(native.data), "row": self._plain_array(native.row),
                             "col": self._plain_array(native.col)}
        else:
            node["parts"] = {"data": self._plain_array(native.data), "indices": self._plain_array(native.indices),
                             "indptr": self._plain_array(native.indptr)}
            node["sorted"] = bool(getattr(native, "has_sorted_indices", False))
        return node

    def _plain_array(self, arr):
        np = _np()
        data = np.ascontiguousarray(arr)
        if data.dtype.kind not in _NP_KINDS:
            raise EncodeError(f"a sparse matrix with {data.dtype} entries cannot be sent")
        return {"dtype": data.dtype.str, "shape": list(data.shape),
                "buf": self._buf(memoryview(data.reshape(-1).view(np.uint8)) if data.size else b"")}


class Decoder:
    """Builds values from JSON nodes and the frame's ``buffers``.

    ``resolve(node)`` builds the value of a ``ref``/``cb``/``path`` node (a
    reference to an object of either side); ``args`` is the list of objects a
    ``{"$": "arg", "i": k}`` node names (the request's objects, in a reply).
    ``device_map(str) -> str`` chooses where a tensor is built (default: its
    own device when this side has it, else the CPU; ``meta`` stays meta).
    """

    def __init__(self, buffers, resolve=None, args=None, device_map=None):
        self.buffers = buffers
        self.resolve = resolve
        self.args = args if args is not None else []
        self.device_map = device_map or _default_device
        self.objects = []

    def _register(self, obj):
        self.objects.append(obj)
        return obj

    def _buffer(self, index):
        if not isinstance(index, int) or not 0 <= index < len(self.buffers):
            raise DecodeError(f"buffer {index!r} does not exist")
        return self.buffers[index]

    def decode(self, node, depth=0):
        if depth > MAX_DEPTH:
            raise DecodeError(f"data nested more than {MAX_DEPTH} levels deep")
        if node is None or isinstance(node, (bool, int, float, str)):
            return node
        if isinstance(node, list):
            out = self._register([])
            out.extend(node if _scalars(node) else (self.decode(v, depth + 1) for v in node))
            return out
        if not isinstance(node, dict):
            raise DecodeError(f"unexpected node {type(node).__name__}")
        tag = node.get("$")
        method = getattr(self, "_d_" + str(tag).replace(".", "_"), None)
        if method is None:
            raise DecodeError(f"unknown node type {tag!r}")
        return method(node, depth)

    # -- containers ------------------------------------------------------------
    def _items(self, node, depth):
        items = node.get("items")
        if not isinstance(items, list):
            raise DecodeError("container node without items")
        return items

    def _values(self, node, depth):
        items = self._items(node, depth)
        return items if _scalars(items) else [self.decode(v, depth + 1) for v in items]

    def _d_tuple(self, node, depth):
        return tuple(self._values(node, depth))

    def _d_dict(self, node, depth, cls=dict):
        out = self._register(cls())
        if "keys" in node:  # only JSON scalars: two lists of equal length
            keys, values = node.get("keys"), node.get("values")
            if not (isinstance(keys, list) and isinstance(values, list) and len(keys) == len(values)
                    and _scalars(keys) and _scalars(values)):
                raise DecodeError("dict node with malformed keys or values")
            out.update(zip(keys, values))
            return out
        for pair in self._items(node, depth):
            if not isinstance(pair, list) or len(pair) != 2:
                raise DecodeError("dict item is not a pair")
            k = self.decode(pair[0], depth + 1)
            out[k] = self.decode(pair[1], depth + 1)
        return out

    def _d_odict(self, node, depth):
        return self._d_dict(node, depth, OrderedDict)

    def _d_set(self, node, depth):
        out = self._register(set())
        out.update(self._values(node, depth))
        return out

    def _d_frozenset(self, node, depth):
        return frozenset(self._values(node, depth))

    def _d_bytes(self, node, depth):
        return bytes(self._buffer(node.get("buf")))

    def _d_bytearray(self, node, depth):
        return self._register(bytearray(self._buffer(node.get("buf"))))

    def _d_complex(self, node, depth):
        return complex(float(node["re"]), float(node["im"]))

    def _d_slice(self, node, depth):
        args = node.get("args") or [None, None, None]
        return slice(*(self.decode(v, depth + 1) for v in args[:3]))

    def _d_range(self, node, depth):
        return range(*(int(v) for v in node["args"][:3]))

    def _d_ellipsis(self, node, depth):
        return Ellipsis

    def _d_type(self, node, depth):
        module, _, name = str(node.get("name", "")).partition(".")
        if module == "builtins":
            tp = next((t for t in _BUILTIN_TYPES if t.__name__ == name), None)
        elif module == "numpy":
            np = _np()
            tp = getattr(np, name, None)
            if not (isinstance(tp, type) and issubclass(tp, np.generic)):
                tp = None
        else:
            tp = None
        if tp is None:
            raise DecodeError(f"refused type {node.get('name')!r}")
        return tp

    def _d_npgen(self, node, depth):
        np = _np()
        name = node.get("bitgen")
        if name not in _BITGENS:
            raise DecodeError(f"refused bit generator {name!r}")
        gen = np.random.Generator(getattr(np.random, name)())
        self._register(gen)
        gen.bit_generator.state = self.decode(node.get("state"), depth + 1)
        return gen

    def _d_nprs(self, node, depth):
        np = _np()
        rs = np.random.mtrand.RandomState.__new__(np.random.mtrand.RandomState)
        np.random.mtrand.RandomState.__init__(rs)
        self._register(rs)
        rs.set_state(self.decode(node.get("state"), depth + 1))
        return rs

    def _d_torchgen(self, node, depth):
        torch = self._torch()
        device = self.device_map(str(node.get("device", "cpu")))
        gen = torch._C.Generator(device=device)
        self._register(gen)
        state = self.decode(node.get("state"), depth + 1)
        gen.set_state(state.to("cpu") if hasattr(state, "to") else state)
        return gen

    def _d_same(self, node, depth):
        i = node.get("i")
        if not isinstance(i, int) or not 0 <= i < len(self.objects):
            raise DecodeError(f"reference to unknown object {i!r}")
        return self.objects[i]

    def _d_arg(self, node, depth):
        i = node.get("i")
        if not isinstance(i, int) or not 0 <= i < len(self.args):
            raise DecodeError(f"reference to unknown argument {i!r}")
        return self.args[i]

    def _d_ref(self, node, depth):
        if self.resolve is None:
            raise DecodeError("a reference cannot be resolved here")
        return self.resolve(node)

    _d_cb = _d_ref
    _d_path = _d_ref

    # -- arrays ----------------------------------------------------------------
    def _array(self, spec):
        np = _np()
        try:
            dtype = np.dtype(str(spec["dtype"]))
        except (TypeError, KeyError):
            raise DecodeError(f"bad dtype {spec.get('dtype')!r}") from None
        if dtype.kind not in _NP_KINDS or dtype.fields is not None:
            raise DecodeError(f"refused dtype {dtype}")
        shape = spec.get("shape")
        if not isinstance(shape, list) or not all(isinstance(s, int) and s >= 0 for s in shape):
            raise DecodeError(f"bad shape {shape!r}")
        buf = self._buffer(spec.get("buf"))
        count = 1
        for s in shape:
            count *= s
        if len(buf) != count * dtype.itemsize:
            raise DecodeError(f"{len(buf)} bytes do not hold an array of shape {tuple(shape)} and dtype {dtype}")
        if count == 0:
            return np.zeros(shape, dtype=dtype)
        return np.frombuffer(bytearray(buf), dtype=dtype).reshape(shape)

    def _d_ndarray(self, node, depth):
        np = _np()
        arr = self._array(node)
        if node.get("matrix"):
            arr = np.asmatrix(arr)
        return self._register(arr)

    def _d_npscalar(self, node, depth):
        arr = self._array({"dtype": node.get("dtype"), "shape": [1], "buf": node.get("buf")})
        return arr[0]

    def _d_npdtype(self, node, depth):
        np = _np()
        dt = np.dtype(str(node["str"]))
        if dt.kind not in _NP_KINDS:
            raise DecodeError(f"refused dtype {dt}")
        return dt

    # -- torch -----------------------------------------------------------------
    def _torch(self):
        torch = _torch()
        if torch is None:
            import torch  # noqa: F811 - a tensor arrived: this side needs torch now
        return torch

    def _d_torch_dtype(self, node, depth):
        name = node.get("name")
        if name not in _TORCH_DTYPES:
            raise DecodeError(f"refused torch dtype {name!r}")
        return getattr(self._torch(), name)

    def _d_torch_device(self, node, depth):
        return self._torch().device(str(node["str"]))

    def _d_torch_Size(self, node, depth):
        return self._torch().Size([int(v) for v in self._items(node, depth)])

    def _d_tensor(self, node, depth):
        torch = self._torch()
        name = node.get("dtype")
        if name not in _TORCH_DTYPES:
            raise DecodeError(f"refused torch dtype {name!r}")
        dtype = getattr(torch, name)
        shape = node.get("shape")
        if not isinstance(shape, list) or not all(isinstance(s, int) and s >= 0 for s in shape):
            raise DecodeError(f"bad shape {shape!r}")
        device = self.device_map(str(node.get("device", "cpu")))
        if node.get("buf") is None:
            t = torch.empty(shape, dtype=dtype, device="meta")
        else:
            buf = self._buffer(node["buf"])
            count = 1
            for s in shape:
                count *= s
            itemsize = torch.empty((), dtype=dtype).element_size()
            if len(buf) != count * itemsize:
                raise DecodeError(f"{len(buf)} bytes do not hold a {name} tensor of shape {tuple(shape)}")
            if count == 0:
                t = torch.empty(shape, dtype=dtype)
            else:
                t = torch.frombuffer(bytearray(buf), dtype=dtype).reshape(shape)
            if device != "cpu":
                t = t.to(device)
        if node.get("param"):
            t = torch.nn.Parameter(t, requires_grad=bool(node.get("requires_grad")))
        elif node.get("requires_grad") and (dtype.is_floating_point or dtype.is_complex):
            t.requires_grad_(True)
        self._register(t)
        grad = node.get("grad")
        if grad is not None:
            g = self.decode(grad, depth + 1)
            try:
                t.grad = g
            except (RuntimeError, TypeError):
                pass
        return t

    # -- scipy sparse ------------------------------------------------------------
    def _d_sparse(self, node, depth):
        import scipy.sparse as sparse

        fmt = node.get("format")
        if fmt not in _SPARSE_NATIVE:
            raise DecodeError(f"refused sparse format {fmt!r}")
        shape = tuple(int(s) for s in node.get("shape", ()))
        if len(shape) != 2:
            raise DecodeError(f"bad sparse shape {shape!r}")
        parts = {k: self._array(v) for k, v in (node.get("parts") or {}).items()}
        array = bool(node.get("array"))
        try:
            if fmt == "coo":
                cls = sparse.coo_array if array else sparse.coo_matrix
                m = cls((parts["data"], (parts["row"], parts["col"])), shape=shape)
            else:
                cls = {"csr": sparse.csr_array if array else sparse.csr_matrix,
                       "csc": sparse.csc_array if array else sparse.csc_matrix}[fmt]
                m = cls((parts["data"], parts["indices"], parts["indptr"]), shape=shape)
                m.check_format(full_check=False)
        except (KeyError, ValueError, TypeError) as exc:
            raise DecodeError(f"malformed sparse matrix: {exc}") from None
        orig = node.get("orig", fmt)
        if orig != fmt and orig in ("bsr", "dia", "dok", "lil"):
            m = m.asformat(orig)
        return self._register(m)


def _default_device(name):
    if name.startswith("meta"):
        return "meta"
    if name.startswith("cuda"):
        torch = _torch()
        if torch is not None and torch.cuda.is_available():
            return name
        return "cpu"
    return "cpu" if not name.startswith("cpu") else name


# ---------------------------------------------------------------------------------------------
# after a call: what changed in the request's objects


class Snapshot:
    """What the request's mutable objects looked like before a call, to tell which ones changed.

    ``objects``: the decoded request objects (a :attr:`Decoder.objects` list).
    """

    def __init__(self, objects):
        self.objects = objects
        self.states = [_state(o) for o in objects]

    def changed(self):
        """Indices of the objects whose content differs from the snapshot."""
        return [i for i, (o, s) in enumerate(zip(self.objects, self.states)) if _state(o) != s]


def _state(obj):
    """A comparable summary of a mutable object's current content."""
    np = sys.modules.get("numpy")
    if np is not None and isinstance(obj, np.ndarray):
        return ("a", obj.shape, obj.dtype.str, np.ascontiguousarray(obj).tobytes())
    if np is not None and isinstance(obj, np.random.Generator):
        return ("g", _canonical(obj.bit_generator.state))
    if np is not None and isinstance(obj, np.random.RandomState):
        return ("rs", _canonical(obj.get_state(legacy=False)))
    torch = _torch()
    if torch is not None and isinstance(obj, torch.Generator):
        return ("tg", obj.get_state().numpy().tobytes())
    if torch is not None and isinstance(obj, torch.Tensor):
        if obj.device.type == "meta":
            return ("t", tuple(obj.shape), str(obj.dtype), obj.requires_grad)
        grad = obj.grad if obj.is_leaf else None
        gstate = None if grad is None else (tuple(grad.shape), grad.detach().cpu().contiguous().numpy().tobytes()
                                            if grad.device.type != "meta" else None)
        return ("t", tuple(obj.shape), str(obj.dtype), obj.requires_grad,
                obj.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy().tobytes(), gstate)
    sparse = _sparse()
    if sparse is not None and sparse.issparse(obj):
        parts = [getattr(obj, n, None) for n in ("data", "indices", "indptr", "row", "col")]
        return ("s", obj.format, obj.shape, tuple(None if p is None else np.asarray(p).tobytes() for p in parts))
    if isinstance(obj, list):
        return ("l", tuple(id(v) for v in obj))
    if isinstance(obj, dict):
        return ("d", tuple((id(k), id(v)) for k, v in obj.items()))
    if isinstance(obj, set):
        return ("set", frozenset(id(v) for v in obj))
    if isinstance(obj, bytearray):
        return ("b", bytes(obj))
    return ("?", id(obj))


def _canonical(value):
    """A hashable, exact rendering of a generator state (dicts, tuples, ints, arrays)."""
    np = sys.modules.get("numpy")
    if isinstance(value, dict):
        return tuple((k, _canonical(v)) for k, v in sorted(value.items()))
    if isinstance(value, (list, tuple)):
        return tuple(_canonical(v) for v in value)
    if np is not None and isinstance(value, np.ndarray):
        return ("arr", value.dtype.str, value.shape, value.tobytes())
    return value


def apply_state(target, new):
    """Make ``target`` (a request object on the sending side) hold the content of ``new`` (its state
    after the call, decoded); keeps ``target``'s identity where the type allows."""
    np = sys.modules.get("numpy")
    if np is not None and isinstance(target, np.ndarray) and isinstance(new, np.ndarray):
        if target.shape == new.shape and target.dtype == new.dtype:
            if target.flags.writeable:
                target[...] = new
            return
        try:
            target.resize(new.shape, refcheck=False)
            target[...] = new.astype(target.dtype, copy=False)
        except (ValueError, TypeError):
            pass
        return
    if np is not None and isinstance(target, np.random.Generator) and isinstance(new, np.random.Generator):
        target.bit_generator.state = new.bit_generator.state
        return
    if np is not None and isinstance(target, np.random.RandomState) and isinstance(new, np.random.RandomState):
        target.set_state(new.get_state())
        return
    torch = _torch()
    if torch is not None and isinstance(target, torch.Generator) and isinstance(new, torch.Generator):
        target.set_state(new.get_state())
        return
    if torch is not None and isinstance(target, torch.Tensor) and isinstance(new, torch.Tensor):
        with torch.no_grad():
            if target.shape == new.shape and target.dtype == new.dtype and target.device.type != "meta":
                target.copy_(new.to(target.device))
            else:
                target.data = new.detach().to(target.device if target.device.type != "meta" else new.device)
        if target.is_leaf and target.requires_grad != new.requires_grad:
            try:
                target.requires_grad_(new.requires_grad)
            except RuntimeError:
                pass
        if target.is_leaf:
            try:
                target.grad = new.grad
            except (RuntimeError, TypeError):
                pass
        return
    sparse = _sparse()
    if sparse is not None and sparse.issparse(target) and sparse.issparse(new):
        target.__dict__.clear()
        target.__dict__.update(new.__dict__)
        return
    if isinstance(target, list) and isinstance(new, list):
        target[:] = new
    elif isinstance(target, dict) and isinstance(new, dict):
        target.clear()
        target.update(new)
    elif isinstance(target, set) and isinstance(new, (set, frozenset)):
        target.clear()
        target.update(new)
    elif isinstance(target, bytearray) and isinstance(new, (bytes, bytearray)):
        target[:] = new
