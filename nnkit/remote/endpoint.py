"""One side of a conversation: requests, replies, nested calls, arguments written back.

Both sides (the verifier and the kernel's agent) hold an :class:`Endpoint` on a
connected stream socket. Either side may send a request while it waits for a
reply (a student function calls a callback of the verifier, which calls back
into the student's code, ...): :meth:`Endpoint.request` serves the peer's
requests until its own reply arrives.

A request frame has the route ``{"op": "req", "id": 7}`` and the body::

    {"do": "call", "target": NODE, "args": [NODE...], "kwargs": [[name, NODE]...],
     "keep": false, "strict": false}

and its reply the route ``{"op": "rep", "id": 7}`` and the body::

    {"value": NODE, "writeback": [[k, NODE]...]}
    {"error": {"type": "ValueError", "module": "builtins", "message": "...", "traceback": "..."},
     "writeback": [...]}

NODEs are :mod:`nnkit.remote.codec` nodes. An object that is not plain data
travels as ``{"$": "ref", "side": S, "id": n, ...}``: ``side`` names the
endpoint that owns the object (``"k"`` the kernel, ``"v"`` the verifier). The
owner looks the id up in its :class:`Exports`; the other side gets a proxy
from its ``make_proxy`` callback. After a ``call``, the reply carries the new
content of every request object the call changed (``writeback``), so an
argument modified in place is modified on the caller's side too, and a
returned argument is the caller's own object (``{"$": "arg", "i": k}``).

What an operation does is the owner's business: :class:`Operations` (the
kernel's agent) implements the ``do`` verbs on its objects.
"""

from __future__ import annotations

import itertools
import traceback

from nnkit.remote import wire
from nnkit.remote.codec import Decoder, Encoder, Snapshot, apply_state


class Exports:
    """Objects of this side that the peer holds references to (kept alive, one id per object)."""

    def __init__(self, side):
        self.side = side
        self._by_hid = {}
        self._hid_of = {}
        self._ids = itertools.count(1)

    def add(self, obj):
        """The reference node for ``obj`` (the same id every time for the same object)."""
        hid = self._hid_of.get(id(obj))
        if hid is None or self._by_hid.get(hid) is not obj:
            hid = next(self._ids)
            self._by_hid[hid] = obj
            self._hid_of[id(obj)] = hid
        tp = type(obj)
        try:
            mro = [f"{c.__module__}.{c.__qualname__}" for c in tp.__mro__]
        except Exception:  # noqa: BLE001 - a class with a broken __mro__ still travels by reference
            mro = []
        return {"$": "ref", "side": self.side, "id": hid, "type": mro[0] if mro else tp.__name__,
                "mro": mro, "callable": callable(obj)}

    def release(self, hids):
        """Forget the objects ``hids`` (the peer dropped its last reference to them)."""
        for hid in hids:
            obj = self._by_hid.pop(hid, None)
            if obj is not None and self._hid_of.get(id(obj)) == hid:
                del self._hid_of[id(obj)]

    def get(self, hid):
        try:
            return self._by_hid[hid]
        except (KeyError, TypeError):
            raise LookupError(f"no object {hid!r} on this side (it was released, or never existed)") from None

    def __len__(self):
        return len(self._by_hid)


class Live:
    """A result that must travel as a reference even when it is plain data (see the agent's getattr)."""

    __slots__ = ("obj",)

    def __init__(self, obj):
        self.obj = obj


def error_info(exc):
    """The ``error`` part of a reply for exception ``exc`` (type, module, message, short traceback)."""
    tb = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__, limit=-6))
    try:
        message = str(exc)
    except Exception:  # noqa: BLE001 - a student's exception whose __str__ fails
        message = f"<{type(exc).__name__} whose message cannot be shown>"
    return {"type": type(exc).__name__, "module": getattr(type(exc), "__module__", ""),
            "message": message[:4000], "traceback": tb[-6000:]}


class Endpoint:
    """Requests to the peer and service of the peer's requests on one socket.

    ``side``: this side's name (``"k"`` or ``"v"``). ``operations``: what this
    side does for the peer (an object with ``perform(do, target, args, kwargs)``;
    ``None``: this side serves only calls of its exported callables).
    ``make_proxy(endpoint, node)``: the local stand-in for a peer object.
    ``exportable(obj)``: whether a non-plain object of this side may be sent as a
    reference (else sending it raises :class:`~nnkit.remote.codec.EncodeError`).
    ``sock`` may be None with ``connect`` given: a function that returns the
    :class:`~nnkit.remote.wire.Channel` when the first request needs one.
    """

    def __init__(self, sock, side, make_proxy, operations=None, exportable=None, limits=wire.Limits(),
                 device_map=None, connect=None):
        if sock is None or isinstance(sock, wire.Channel):
            self.chan = sock
        else:
            self.chan = wire.Channel(sock, limits)
        self.connect = connect
        self.side = side
        self.exports = Exports(side)
        self.make_proxy = make_proxy
        self.operations = operations
        self.exportable = exportable
        self.limits = limits
        self.device_map = device_map
        self._ids = itertools.count(1)
        self.closed = False
        self._stray = {}
        self._noreply = set()    # ids of requests sent without waiting; only an error comes back
        self._deferred = None    # such an error, raised with the next reply
        self._holders = {}       # peer object id -> number of live proxies of it here
        self._released = []      # peer object ids no proxy here refers to any more (sent with the next request)

    # -- encoding helpers ------------------------------------------------------------
    def _export(self, obj):
        node = getattr(obj, "_nnkit_ref_node", None)
        if callable(node):
            node = node(self)
            if node is not None:
                return node
        if self.exportable is not None and not self.exportable(obj):
            from nnkit.remote.codec import EncodeError

            raise EncodeError(f"cannot send a {type(obj).__module__}.{type(obj).__qualname__} object to the "
                              "other side: only plain data (numbers, strings, containers, arrays, tensors, "
                              "sparse matrices) and functions can be sent")
        return self.exports.add(obj)

    def _resolve(self, node):
        tag = node.get("$")
        if tag == "ref" and node.get("side") == self.side:
            return self.exports.get(node.get("id"))
        if tag == "ref":
            return self.make_proxy(self, node)
        if self.operations is not None and hasattr(self.operations, "resolve_node"):
            return self.operations.resolve_node(node)
        from nnkit.remote.codec import DecodeError

        raise DecodeError(f"cannot resolve a {tag!r} node on this side")

    def encoder(self, known=None):
        return Encoder(export=self._export, known=known)

    def decoder(self, buffers, args=None):
        return Decoder(buffers, resolve=self._resolve, args=args, device_map=self.device_map)

    def _send(self, route, body=None, buffers=()):
        self.chan.send(wire.Frame(route, body, list(buffers)))

    def _recv(self):
        return self.chan.recv()

    # -- references to the peer's objects ---------------------------------------------
    def hold(self, hid):
        """A proxy of the peer's object ``hid`` was made here (see :meth:`drop`)."""
        self._holders[hid] = self._holders.get(hid, 0) + 1

    def drop(self, hid):
        """A proxy of ``hid`` is gone; with the last one, the peer may forget the object (told with the
        next request: this may run inside the garbage collector, where no I/O may happen)."""
        n = self._holders.get(hid, 0) - 1
        if n > 0:
            self._holders[hid] = n
        else:
            self._holders.pop(hid, None)
            self._released.append(hid)

    # -- requests ---------------------------------------------------------------------
    def request(self, do, target=None, args=(), kwargs=None, keep=False, strict=False, wait=True):
        """Ask the peer to perform ``do`` on ``target``; returns the decoded value.

        ``keep``: the result stays on the peer's side (a reference comes back).
        ``strict``: the result must be plain data (an error otherwise).
        ``wait=False``: send and return None at once (for operations whose value
        is not needed); an error of it is raised with the next reply instead.
        Raises the peer's error as :class:`RemoteError` (see :func:`remote_error`)
        and :class:`nnkit.remote.wire.Closed` when the connection is gone.
        """
        if self.closed:
            raise wire.Closed("the connection to the other side is closed")
        if self.chan is None:
            if self.connect is None:
                raise wire.Closed("not connected to the other side")
            self.chan = self.connect()
        if self._released and do != "release":
            gone = [h for h in self._released if h not in self._holders]
            self._released = []
            if gone:
                self.request("release", args=(gone,), wait=False)
        rid = next(self._ids)
        enc = self.encoder()
        body = {"do": do, "keep": bool(keep), "strict": bool(strict),
                "target": enc.encode(target) if target is not None else None,
                "args": [enc.encode(a) for a in args],
                "kwargs": [[str(k), enc.encode(v)] for k, v in (kwargs or {}).items()]}
        route = {"op": "req", "id": rid}
        if not wait:
            route["noreply"] = True
            self._noreply.add(rid)
        self._send(route, body, enc.buffers)
        if not wait:
            return None
        while True:
            frame = self._stray.pop(rid, None) or self._recv()
            op = frame.op
            if op == "req":
                self.serve_one(frame)
                continue
            if op == "rep" and frame.id == rid:
                value = self._reply_value(frame, enc.objects)
                if self._deferred is not None:
                    exc, self._deferred = self._deferred, None
                    raise exc
                return value
            if op == "rep" and frame.id in self._noreply:
                self._noreply.discard(frame.id)
                try:
                    self._reply_value(frame, [])
                except RemoteError as exc:
                    self._deferred = self._deferred or exc
                continue
            if op == "rep":  # the answer to an outer request, arrived early (a peer that broke off)
                self._stray[frame.id] = frame
                continue
            if op == "end":
                self.closed = True
                raise wire.Closed("the other side ended the conversation")
            raise wire.WireError(f"unexpected message {op!r} while waiting for reply {rid}")

    def _reply_value(self, frame, sent_objects):
        body = frame.data()
        dec = self.decoder(frame.buffers, args=sent_objects)
        for k, node in body.get("writeback") or []:
            if isinstance(k, int) and 0 <= k < len(sent_objects):
                apply_state(sent_objects[k], dec.decode(node))
        if "error" in body:
            raise remote_error(body["error"])
        return dec.decode(body.get("value"))

    # -- serving ------------------------------------------------------------------------
    def serve_one(self, frame):
        """Perform the peer's request ``frame`` and send the reply (only an error for ``noreply``)."""
        rid = frame.id
        quiet = bool(frame.route.get("noreply"))
        dec = None
        snapshot = None
        try:
            body = frame.data()
            dec = self.decoder(frame.buffers)
            target = dec.decode(body.get("target")) if body.get("target") is not None else None
            args = [dec.decode(a) for a in body.get("args") or []]
            kwargs = {str(k): dec.decode(v) for k, v in body.get("kwargs") or []}
            do = body.get("do")
            if do == "call":
                snapshot = Snapshot(list(dec.objects))
            value = self._perform(do, target, args, kwargs)
        except BaseException as exc:  # noqa: BLE001 - every failure is the peer's answer, never ours
            self._reply_error(rid, exc, dec, snapshot)
            return
        if quiet:
            return
        try:
            self._reply(rid, value, dec, snapshot, keep=bool(body.get("keep")), strict=bool(body.get("strict")))
        except BaseException as exc:  # noqa: BLE001 - a result that cannot be encoded
            self._reply_error(rid, exc, dec, snapshot)

    def _perform(self, do, target, args, kwargs):
        if do == "release":  # part of the reference protocol: the peer dropped its last proxies of these
            self.exports.release([int(h) for h in args[0]])
            return None
        if do == "call" and self.operations is None:
            return target(*args, **kwargs)
        if self.operations is None:
            raise PermissionError(f"this side does not perform {do!r}")
        return self.operations.perform(do, target, args, kwargs)

    def _known(self, dec):
        return {id(o): {"$": "arg", "i": i} for i, o in enumerate(dec.objects)} if dec is not None else {}

    def _reply_nodes(self, dec, snapshot, value, keep, strict=False):
        """``(writeback entries, value node, buffers)`` encoded with one encoder, in the order the
        peer decodes them (entries first), so object numbers agree on both sides."""
        known = self._known(dec)
        enc = self.encoder(known)
        entries = []
        for k in (snapshot.changed() if snapshot is not None else []):
            obj = dec.objects[k]
            enc.known.pop(id(obj), None)       # the entry carries the object's new content...
            entries.append([k, enc.encode(obj)])
            enc.known[id(obj)] = known[id(obj)]  # ...later mentions name the caller's own object
            enc._memo.pop(id(obj), None)
        if value is None:
            node = None
        elif isinstance(value, Live):
            node = self.exports.add(value.obj) if not strict else enc.encode(value.obj)
        elif keep:
            node = self._export(value)
        else:
            if strict:
                enc.export = None
            node = enc.encode(value)
        return entries, node, enc.buffers

    def _reply(self, rid, value, dec, snapshot, keep=False, strict=False):
        entries, node, buffers = self._reply_nodes(dec, snapshot, value, keep, strict)
        self._send({"op": "rep", "id": rid}, {"value": node, "writeback": entries}, buffers)

    def _reply_error(self, rid, exc, dec, snapshot):
        try:
            entries, _, buffers = self._reply_nodes(dec, snapshot, None, False)
        except BaseException:  # noqa: BLE001 - the error matters more than the write-back
            entries, buffers = [], []
        self._send({"op": "rep", "id": rid}, {"error": error_info(exc), "writeback": entries}, buffers)

    def serve(self):
        """Serve the peer's requests until it sends ``{"op": "end"}`` or closes the connection."""
        while True:
            try:
                frame = self._recv()
            except wire.Closed:
                self.closed = True
                return
            if frame.op == "end":
                return
            if frame.op == "req":
                self.serve_one(frame)


class RemoteError(Exception):
    """An exception raised on the other side; ``remote_type``, ``remote_traceback`` tell more."""

    remote_type = "Exception"
    remote_module = ""
    remote_traceback = ""


_ERROR_CLASSES = {}


def remote_error(info):
    """An exception for the peer's error ``info``: a :class:`RemoteError` that is also an instance of the
    matching built-in exception class (``ValueError``, ``KeyboardInterrupt``, ...) when there is one, so
    ``except ValueError`` works across the connection."""
    import builtins

    name = str(info.get("type", "Exception"))
    module = str(info.get("module", ""))
    base = getattr(builtins, name, None) if module == "builtins" else None
    if not (isinstance(base, type) and issubclass(base, BaseException)) or base in (SystemExit, GeneratorExit):
        base = None
    key = name if base is not None else None
    cls = _ERROR_CLASSES.get(key)
    if cls is None:
        bases = (RemoteError, base) if base is not None and base is not Exception else (RemoteError,)
        try:
            cls = type(f"Remote{name}" if base is not None else "RemoteError", bases, {})
        except TypeError:  # an incompatible layout (rare built-ins): the plain remote error
            cls = RemoteError
        _ERROR_CLASSES[key] = cls
    exc = cls(str(info.get("message", "")))
    exc.remote_type = name
    exc.remote_module = module
    exc.remote_traceback = str(info.get("traceback", ""))
    return exc
