"""The verifier session: runs one notebook's test code against the student's kernel.

One session per graded notebook, in a fresh process forked from the verifier
(:mod:`autograder.verifier.zygote`), on a socket to the grader's worker. When
a test first needs the student's kernel, the session asks the worker
(``{"op": "kernel"}``), which opens the kernel agent's channel and hands the
connected socket over (``SCM_RIGHTS`` on a second socket): from then on the
session talks to the kernel directly. The worker sends::

    {"op": "init"} + {"seed": int, "prelude": str, "notebook": str}
    {"op": "cell", "id": grade_id} + {"code": str}       (once per test cell, in order)
    {"op": "bye"}

and relays every request this session makes to the student's kernel (and the
kernel's calls back). For each cell the session answers::

    {"op": "verdict", "id": grade_id} + {"passed": bool, "score": float | None,
     "ename": str, "evalue": str, "stdout": str, "seconds": float}

(route + body of a :mod:`nnkit.remote.wire` frame).

``score`` is the value of the cell's last expression when it is a number
(partial credit, as nbgrader reads it from an output); ``None`` otherwise.
Nothing of the test code reaches the kernel: only the operations it performs
on the notebook's objects and the data it passes them.
"""

from __future__ import annotations

import ast
import contextlib
import io
import json
import os
import socket
import sys
import time
import traceback

from nnkit.remote import wire
from nnkit.remote.endpoint import Endpoint, RemoteError

from autograder.verifier import helpers, proxy, seeding

MAX_STDOUT = 100_000


class _CappedIO(io.StringIO):
    def write(self, s):
        room = MAX_STDOUT - self.tell()
        if room > 0:
            super().write(s[:room])
        return len(s)


class KernelUnavailable(wire.Closed):
    """The student's kernel cannot answer (it died, ended the session, or never connected)."""


#: What the verifier accepts from a student's kernel in one frame.
KERNEL_LIMITS = wire.Limits(route_bytes=64 << 10, body_bytes=512 << 20, buffers=2_000_000, total_bytes=2 << 30)


class RecordingChannel(wire.Channel):
    """A channel that also keeps a copy of every frame it sends (``record``: a list of bytes, or None)."""

    def __init__(self, sock, limits, record):
        super().__init__(sock, limits)
        self.record = record

    def send(self, frame):
        chunks = wire.encode_frame(frame)
        if self.record is not None:
            self.record.append(b"".join(bytes(c) for c in chunks))
        for chunk in chunks:
            self.sock.sendall(chunk)


class Session:
    """One notebook: the trusted namespace, the endpoint towards the kernel, cell by cell.

    ``sock``: the conversation with the worker; ``fdsock``: where the worker
    hands over the connected kernel socket when a cell first needs it.
    """

    def __init__(self, sock, fdsock):
        self.worker = wire.Channel(sock)
        self.fdsock = fdsock
        self.endpoint = Endpoint(None, "v", make_proxy=proxy.Remote, exportable=callable, limits=KERNEL_LIMITS,
                                 connect=self._connect_kernel)
        self.namespace = proxy.NotebookNamespace(lambda: self.endpoint)
        self.mixer = seeding.Mixer(0)
        self.notebook = ""
        self.record = None

    def _connect_kernel(self):
        """Ask the worker for the kernel's socket (it opens the agent's session) and talk to it directly."""
        self.worker.send(wire.Frame({"op": "kernel"}))
        msg, fds, _, _ = socket.recv_fds(self.fdsock, 65536, 1)
        try:
            info = json.loads(msg.decode() or "{}")
        except ValueError:
            info = {}
        if not fds:
            raise KernelUnavailable(info.get("reason") or "the grader could not reach the notebook's kernel")
        for extra in fds[1:]:
            os.close(extra)
        return RecordingChannel(socket.socket(fileno=fds[0]), KERNEL_LIMITS, self.record)

    def _end_kernel(self):
        chan, self.endpoint.chan = self.endpoint.chan, None
        self.endpoint.closed = False
        if chan is not None:
            try:
                chan.send(wire.Frame({"op": "end"}))
            except OSError:
                pass
            chan.close()

    # -- protocol -----------------------------------------------------------------------
    def run(self):
        """Serve the worker until ``bye`` or end of connection."""
        while True:
            try:
                frame = self.worker.recv()
            except wire.Closed:
                return
            op, body = frame.op, frame.data()
            if op == "init":
                self.record = [] if body.get("record") else None
                self.init(int(body.get("seed", 0)), str(body.get("prelude", "")), str(body.get("notebook", "")))
                self.worker.send(wire.Frame({"op": "ready"}))
            elif op == "cell":
                grade_id = str(frame.route.get("id", ""))
                try:
                    verdict = self.run_cell(grade_id, str(body.get("code", "")))
                finally:
                    self._end_kernel()
                recorded = []
                if self.record:
                    recorded, self.record[:] = list(self.record), []
                self.worker.send(wire.Frame({"op": "verdict", "id": grade_id}, verdict, recorded))
            elif op == "bye":
                return

    def init(self, seed, prelude, notebook):
        self.notebook = notebook
        self.mixer = seeding.install(seed)
        ns = self.namespace
        ns["__name__"] = "__hidden_tests__"
        for name, stmt in _statements(prelude):
            try:
                exec(compile(stmt, f"<{notebook} imports>", "exec"), ns)
            except Exception:  # noqa: BLE001 - an import the grader lacks (e.g. a plotting helper)
                pass
        self.references = []  # with_references bindings in place, restored at the end of each cell
        self.helpers = helpers.names(lambda: self.endpoint, self.mixer, self.references)
        ns.update(self.helpers)

    # -- one test cell --------------------------------------------------------------------
    def run_cell(self, grade_id, code):
        t0 = time.monotonic()
        self.namespace.new_cell()
        self.namespace.update(getattr(self, "helpers", {}))  # a name an earlier cell rebound (keep = 0.6) is a helper again
        seeding.reseed_globals(self.mixer, f"{self.notebook}:{grade_id}")
        out = _CappedIO()
        verdict = {"passed": True, "score": None, "ename": "", "evalue": ""}
        try:
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
                value = _exec_cell(code, self.namespace, f"<hidden tests of {grade_id}>")
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                verdict["score"] = float(value)
        except BaseException as exc:  # noqa: BLE001 - every failure is the test's verdict
            verdict.update(passed=False, **describe_failure(exc))
        # names the cell rebound with with_references (for its visible code too) are the notebook's own again
        # before the kernel runs the next cell
        helpers.restore_references(getattr(self, "references", []))
        verdict["stdout"] = out.getvalue()
        verdict["seconds"] = round(time.monotonic() - t0, 3)
        return verdict


def _statements(code):
    """``(name, source)`` of each top-level statement of ``code`` (empty when it does not parse)."""
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return []
    return [(type(node).__name__, ast.Module(body=[node], type_ignores=[])) for node in tree.body]


def _exec_cell(code, namespace, filename):
    """Run ``code`` in ``namespace`` like a notebook cell; returns the last expression's value (or None)."""
    tree = ast.parse(_plain_python(code), filename=filename)
    last = None
    if tree.body and isinstance(tree.body[-1], ast.Expr):
        last = ast.Expression(body=tree.body.pop().value)
    exec(compile(tree, filename, "exec"), namespace)
    if last is not None:
        return eval(compile(last, filename, "eval"), namespace)
    return None


def _plain_python(code):
    """Test code as plain Python (IPython magics, if any, turned into calls)."""
    if "%" not in code and "!" not in code:
        return code
    try:
        from IPython.core.inputtransformer2 import TransformerManager

        return TransformerManager().transform_cell(code)
    except Exception:  # noqa: BLE001 - IPython missing: the code as written
        return code


def describe_failure(exc):
    """``{"ename", "evalue"}`` for a failed test: the assertion's message, or what the student's code raised."""
    if isinstance(exc, RemoteError):
        where = _student_location(exc.remote_traceback)
        evalue = str(exc) + (f" (raised in your code, {where})" if where else " (raised in your code)")
        if exc.remote_type == "KeyboardInterrupt":
            return {"ename": "TimeoutError", "evalue": "your code did not finish within the time limit"}
        return {"ename": exc.remote_type, "evalue": evalue}
    if isinstance(exc, wire.Closed):
        return {"ename": "KernelUnavailable", "evalue": f"the notebook's kernel stopped answering: {exc}"}
    if isinstance(exc, wire.WireError):
        return {"ename": "KernelUnavailable", "evalue": f"the notebook's kernel sent something unreadable: {exc}"}
    if isinstance(exc, AssertionError):
        return {"ename": "AssertionError", "evalue": str(exc)}
    return {"ename": type(exc).__name__, "evalue": str(exc) or _last_line(exc)}


def _student_location(tb):
    """``line N of cell [k]``-like text for the deepest frame of a remote traceback in notebook code."""
    found = ""
    for line in (tb or "").splitlines():
        s = line.strip()
        if s.startswith("File ") and ("ipykernel" in s or "<ipython-input" in s or "Cell In" in s):
            found = s
        elif s.startswith("Cell In"):
            found = s
    if not found:
        return ""
    import re

    m = re.search(r"line (\d+)", found)
    return f"line {m.group(1)} of the cell that defines it" if m else ""


def _last_line(exc):
    return "".join(traceback.format_exception_only(type(exc), exc)).strip().splitlines()[-1]


def main_session(sock, fdsock):
    """Entry point of a forked session process."""
    try:
        Session(sock, fdsock).run()
    finally:
        for s in (sock, fdsock):
            try:
                s.close()
            except OSError:
                pass
    sys.stdout.flush()
