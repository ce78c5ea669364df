"""The grader's kernel client: a byte budget on a kernel's output and a size cap on every frame.

Whatever a kernel sends (sandboxed or not), the grader's memory stays bounded
and flooding the output can never turn a failing test cell into a passing one.
"""

from __future__ import annotations

import zmq
from jupyter_client.asynchronous.client import AsyncKernelClient
from jupyter_client.channels import AsyncZMQSocketChannel, HBChannel
from traitlets import Integer

_OUTPUT_TYPES = {"stream", "display_data", "update_display_data", "execute_result", "error"}

#: Milliseconds a request to the kernel may wait to be sent. A healthy kernel's socket takes a message at once;
#: one whose connection a notebook broke (bytes of its own written to the kernel's sockets) would otherwise block
#: the grading process until the whole worker timed out. Past this, the send raises ``zmq.Again``.
SEND_TIMEOUT_MS = 5000


def bound_sends(sock):
    """``sock`` with :data:`SEND_TIMEOUT_MS` as its send timeout (returned for chaining)."""
    sock.setsockopt(zmq.SNDTIMEO, SEND_TIMEOUT_MS)
    return sock


class BudgetIOPubChannel(AsyncZMQSocketChannel):
    """IOPub channel that stops accepting output after ``budget`` bytes.

    Past the budget, output messages shrink to what grading needs (nbgrader
    scores a test cell 0 when it has an error or stderr output, and reads
    partial credit from a short result): stdout and display data become
    empty stdout (one notice is printed), stderr becomes empty stderr,
    errors and results are kept cut short (the first 1000; later ones
    become empty stderr, which still fails the cell). So nbclient's memory
    stays bounded whatever the kernel sends, and flooding the output can
    never turn a failing test cell into a passing one.
    """

    budget = None  # bytes, set by GradingKernelClient
    _used = 0
    _noticed = False
    _kept = 0

    def _shrink(self, msg):
        kind, content = msg.get("msg_type"), msg.get("content") or {}

        def stream(name, text=""):
            msg["msg_type"] = msg["header"]["msg_type"] = "stream"
            msg["content"] = {"name": name, "text": text}

        if kind in ("error", "execute_result") and self._kept < 1000:
            self._kept += 1
            if kind == "error":
                msg["content"] = {"ename": str(content.get("ename", "Error"))[:200],
                                  "evalue": str(content.get("evalue", ""))[:200], "traceback": []}
            else:
                plain = str((content.get("data") or {}).get("text/plain", ""))[:100]
                msg["content"] = {"data": {"text/plain": plain}, "metadata": {},
                                  "execution_count": content.get("execution_count")}
        elif kind in ("error", "execute_result") or (kind == "stream" and content.get("name") == "stderr"):
            stream("stderr")
        else:
            text = ""
            if not self._noticed:
                self._noticed = True
                text = (f"\n[sandbox: output limit of {self.budget // (1024 * 1024)} MB reached; "
                        "further output dropped]\n")
            stream("stdout", text)
        msg["buffers"] = []
        return msg

    async def _recv(self, **kwargs):
        frames = await self.socket.recv_multipart(**kwargs)
        size = sum(len(f) for f in frames)
        _, smsg = self.session.feed_identities(frames)
        msg = self.session.deserialize(smsg)
        if self.budget is None or msg.get("msg_type") not in _OUTPUT_TYPES:
            return msg
        self._used += size
        return msg if self._used <= self.budget else self._shrink(msg)

class BoundedHBChannel(HBChannel):
    """Heartbeat channel whose pings time out (:data:`SEND_TIMEOUT_MS`) instead of blocking its thread, which
    stopping the client joins: a broken connection ends the heartbeat (the kernel counts as not beating)."""

    def _create_socket(self):
        super()._create_socket()
        bound_sends(self.socket)

    def run(self):
        try:
            super().run()
        except zmq.ZMQError:
            self._beating = False


class GradingKernelClient(AsyncKernelClient):
    """Kernel client with a byte budget on output, a per-frame size cap and a send timeout on every channel."""

    iopub_channel_class = BudgetIOPubChannel
    hb_channel_class = BoundedHBChannel
    max_output_bytes = Integer(None, allow_none=True, config=True)

    @property
    def iopub_channel(self):
        chan = super().iopub_channel
        chan.budget = self.max_output_bytes
        return chan

    def _create_connected_socket(self, channel, identity=None):
        url = self._make_url(channel)
        sock = self.context.socket({"iopub": zmq.SUB, "shell": zmq.DEALER, "stdin": zmq.DEALER,
                                    "hb": zmq.REQ, "control": zmq.DEALER}[channel])
        sock.linger = 1000
        bound_sends(sock)
        if self.max_output_bytes:
            # A single frame past the budget disconnects the kernel instead of filling our memory.
            sock.setsockopt(zmq.MAXMSGSIZE, int(self.max_output_bytes) + 1024 * 1024)
            sock.setsockopt(zmq.RCVHWM, 200)
        if identity:
            sock.identity = identity
        if getattr(self, "curve_publickey", None) is not None:
            sock.curve_secretkey = self.curve_secretkey
            sock.curve_publickey = self.curve_publickey
            sock.curve_serverkey = self.curve_publickey
        sock.connect(url)
        return sock
