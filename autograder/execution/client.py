"""The grader's kernel client: a byte budget on a kernel's output and a size cap on every frame.

Whatever a kernel sends (sandboxed or not), the grader's memory stays bounded
and flooding the output can never turn a failing test cell into a passing one.
"""

from __future__ import annotations

import zmq
from jupyter_client.asynchronous.client import AsyncKernelClient
from jupyter_client.channels import AsyncZMQSocketChannel
from traitlets import Integer

_OUTPUT_TYPES = {"stream", "display_data", "update_display_data", "execute_result", "error"}



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

class GradingKernelClient(AsyncKernelClient):
    """Kernel client with a byte budget on output and a per-frame size cap on every channel."""

    iopub_channel_class = BudgetIOPubChannel
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
