"""Frames on a stream socket: a small routing header, a body and raw buffers.

Layout of one frame (little-endian)::

    b"NNK2" | u32 route length | u32 body length | u32 buffer count
            | route (UTF-8 JSON object) | body (UTF-8 JSON, may be empty)
            | for each buffer: u64 length | bytes

The *route* says what the frame is (``{"op": "req", "id": 7}``) and is all a
relay needs to read; the *body* carries the payload (decoded by the endpoint
that uses it, forwarded untouched by a relay); buffers carry array data
without copying it into JSON. :class:`Limits` bounds what a reader accepts, so
a peer cannot make it allocate without bound: a frame over a limit raises
:class:`WireError` and the connection is unusable afterwards.

:class:`Channel` wraps a socket: it sends a frame with as few system calls as
it can and parses frames from a buffer, either blocking (:meth:`Channel.recv`)
or from what has arrived so far (:meth:`Channel.fill` then
:meth:`Channel.pop`), which never waits for the rest of a frame.
"""

from __future__ import annotations

import json
import struct
from collections import deque
from dataclasses import dataclass, field

MAGIC = b"NNK2"
_HEAD = struct.Struct("<4sIII")
_LEN = struct.Struct("<Q")
_SMALL = 64 << 10
_CHUNK = 1 << 20


class WireError(ConnectionError):
    """The peer sent something that is not a frame, or a frame over the reader's limits."""


class Closed(ConnectionError):
    """The peer closed the connection (or died)."""


@dataclass(frozen=True)
class Limits:
    """What a reader accepts in one frame: route and body bytes, number of buffers, total bytes."""

    route_bytes: int = 64 << 10
    body_bytes: int = 512 << 20
    buffers: int = 1_000_000
    total_bytes: int = 4 << 30


@dataclass
class Frame:
    """One message: ``route`` (a small dict), ``body`` (a dict, or raw JSON bytes) and ``buffers``."""

    route: dict
    body: object = None
    buffers: list = field(default_factory=list)

    def data(self):
        """The body as a dict (parsed on first use; ``{}`` when there is none)."""
        if isinstance(self.body, (bytes, bytearray, memoryview)):
            raw = bytes(self.body)
            try:
                self.body = json.loads(raw.decode("utf-8")) if raw else {}
            except (UnicodeDecodeError, ValueError) as exc:
                raise WireError(f"frame body is not JSON: {exc}") from None
            if not isinstance(self.body, dict):
                raise WireError("frame body is not a JSON object")
        return self.body if self.body is not None else {}

    @property
    def op(self):
        return self.route.get("op")

    @property
    def id(self):
        return self.route.get("id")


def _json(obj):
    return json.dumps(obj, separators=(",", ":"), allow_nan=True).encode("utf-8")


def encode_frame(frame):
    """The byte chunks of ``frame``, small ones joined (a list to send in order)."""
    route = _json(frame.route)
    body = frame.body
    if body is None:
        body = b""
    elif not isinstance(body, (bytes, bytearray, memoryview)):
        body = _json(body)
    small = bytearray(_HEAD.pack(MAGIC, len(route), len(body), len(frame.buffers)))
    small += route
    small += body
    chunks = []
    for buf in frame.buffers:
        mv = memoryview(buf)
        if mv.ndim != 1 or mv.format != "B":
            mv = mv.cast("B")
        small += _LEN.pack(mv.nbytes)
        if mv.nbytes <= _SMALL:
            small += mv
        else:
            chunks.append(bytes(small))
            chunks.append(mv)
            small = bytearray()
    if small:
        chunks.append(bytes(small))
    return chunks


class Channel:
    """Frames over a connected stream socket (see module doc)."""

    def __init__(self, sock, limits=Limits()):
        self.sock = sock
        self.limits = limits
        self._buf = bytearray()
        self._frames = deque()

    def fileno(self):
        return self.sock.fileno()

    def send(self, frame):
        """Write ``frame`` (blocking)."""
        for chunk in encode_frame(frame):
            self.sock.sendall(chunk)

    def fill(self):
        """Read what the socket has now (one ``recv``) and parse the frames it completes.

        Raises :class:`Closed` at end of stream, :class:`WireError` on a bad or oversized frame.
        """
        data = self.sock.recv(_CHUNK)
        if not data:
            raise Closed("the connection closed in the middle of a frame" if self._buf else "the connection closed")
        self._buf += data
        while True:
            frame = self._parse()
            if frame is None:
                return
            self._frames.append(frame)

    def pop(self):
        """The next frame already read, or None."""
        return self._frames.popleft() if self._frames else None

    def buffered(self):
        """True when a complete frame is waiting (read it with :meth:`pop` or :meth:`recv`)."""
        return bool(self._frames)

    def recv(self):
        """The next frame, waiting for it (raises :class:`Closed` at end of stream)."""
        while not self._frames:
            self.fill()
        return self._frames.popleft()

    def _parse(self):
        buf = self._buf
        if len(buf) < _HEAD.size:
            return None
        magic, rlen, blen, nbuf = _HEAD.unpack_from(buf, 0)
        if magic != MAGIC:
            raise WireError("not an nnkit frame (bad magic)")
        lim = self.limits
        if rlen > lim.route_bytes or blen > lim.body_bytes or nbuf > lim.buffers:
            raise WireError(f"frame over the limits ({rlen} route bytes, {blen} body bytes, {nbuf} buffers)")
        pos = _HEAD.size + rlen + blen
        total = rlen + blen
        sizes = []
        for _ in range(nbuf):
            if len(buf) < pos + _LEN.size:
                return None
            (n,) = _LEN.unpack_from(buf, pos)
            total += n
            if total > lim.total_bytes:
                raise WireError(f"frame of more than {lim.total_bytes} bytes exceeds the limit")
            sizes.append((pos + _LEN.size, n))
            pos += _LEN.size + n
        if len(buf) < pos:
            return None
        try:
            route = json.loads(bytes(buf[_HEAD.size:_HEAD.size + rlen]).decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            raise WireError(f"frame route is not JSON: {exc}") from None
        if not isinstance(route, dict):
            raise WireError("frame route is not a JSON object")
        body = bytes(buf[_HEAD.size + rlen:_HEAD.size + rlen + blen])
        buffers = [bytes(buf[start:start + n]) for start, n in sizes]
        del buf[:pos]
        return Frame(route, body, buffers)

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass
