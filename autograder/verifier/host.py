"""The grading worker's side of verification: the verifier process, sessions, and the relay.

:class:`VerifierProcess` starts ``python -m autograder.verifier`` once per
worker (sandboxed like a kernel when bubblewrap works: read-only Python,
nnkit and the grader, the data files, no network, no course folders) and
forks a fresh session per notebook from it (:meth:`VerifierProcess.session`).

:meth:`Session.run_cell` sends one test cell's code to the session and waits
for its verdict under the cell's deadline. When the test first needs the
student's kernel, the session asks for it: the worker opens the kernel agent's
channel (:class:`KernelLink`) and hands the connected socket to the session,
which then talks to the kernel directly (limiting what it accepts from it).
Past the deadline the kernel is interrupted; when no verdict follows, the
session is killed and the cell fails. With ``record`` (a binary file object)
every frame the session sent to the kernel is appended to it (tests search it
for secrets).
"""

from __future__ import annotations

import json
import os
import select
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from nnkit.remote import wire

from autograder.verifier.cells import datasets_used, imported_modules

READY_TIMEOUT = 180
CONNECT_TIMEOUT = 20
INTERRUPT_GRACE = 5


_TIMEOUT_TEXT = "the test (or your code it called) did not finish within the time limit"


class VerifierError(RuntimeError):
    """The verifier process could not start or broke (a grader problem, never the student's)."""


@dataclass
class Verdict:
    """The trusted outcome of one test cell."""

    grade_id: str
    passed: bool
    score: float | None = None      # partial credit from the cell's last expression (None: all or nothing)
    ename: str = ""
    evalue: str = ""
    stdout: str = ""
    seconds: float = 0.0
    kind: str = ""                  # a problem kind when the cell could not be judged normally

    @classmethod
    def from_message(cls, h):
        return cls(grade_id=str(h.get("id", "")), passed=bool(h.get("passed")),
                   score=h.get("score") if isinstance(h.get("score"), (int, float)) else None,
                   ename=str(h.get("ename", "")), evalue=str(h.get("evalue", "")),
                   stdout=str(h.get("stdout", "")), seconds=float(h.get("seconds") or 0.0))

    def message(self):
        """``ename: evalue`` of a failed verdict ('' when it passed)."""
        if self.passed:
            return ""
        return f"{self.ename}: {self.evalue}".strip(": ")

    def points(self, max_points):
        """The points this verdict earns out of ``max_points``."""
        if not self.passed:
            return 0.0
        if self.score is None:
            return float(max_points)
        return float(min(max(self.score, 0.0), max_points))


def verifier_command(sandbox_policy=None, state_dir=None):
    """``(argv, preexec_fn)`` that start the verifier, sandboxed when ``sandbox_policy`` is given and
    bubblewrap works here (``state_dir``: a folder for the sandbox's files, removed by the caller)."""
    inner = [sys.executable, "-m", "autograder.verifier"]
    if sandbox_policy is None:
        return inner, None
    from autograder.execution.limits import rlimit_preexec
    from autograder.execution.sandbox import probe, sandbox_argv

    status = probe(sandbox_policy)
    if not status.sandboxed:
        return inner, rlimit_preexec(sandbox_policy, sandboxed_uid=False)
    from autograder.execution.sandbox.policy import _privileged

    argv = sandbox_argv(sandbox_policy, inner, state_dir=state_dir)
    return argv, rlimit_preexec(sandbox_policy, sandboxed_uid=_privileged())


class VerifierProcess:
    """One verifier process, started on first use; call :meth:`close` when done."""

    def __init__(self, sandbox_policy=None, env=None):
        self.sandbox_policy = sandbox_policy
        self.env = env
        self.proc = None
        self.control = None
        self.workdir = None

    def start(self):
        if self.proc is not None and self.proc.poll() is None:
            return
        self.close()
        parent, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        policy = self.sandbox_policy
        self.workdir = tempfile.mkdtemp(prefix="nnkit-verifier-")
        os.chmod(self.workdir, 0o755)
        if policy is not None and policy.workdir is None:
            import dataclasses

            policy = dataclasses.replace(policy, workdir=os.path.join(self.workdir, "work"))
            os.makedirs(policy.workdir, mode=0o755)
        state_dir = os.path.join(self.workdir, "state")
        os.makedirs(state_dir)
        argv, preexec = verifier_command(policy, state_dir=state_dir)
        argv = argv + [str(child.fileno())]
        env = dict(os.environ if self.env is None else self.env)
        pkg_parent = str(Path(__file__).resolve().parents[2])
        env["PYTHONPATH"] = os.pathsep.join([pkg_parent] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p])
        env.setdefault("PYTHONWARNINGS", "ignore")
        env.setdefault("MPLBACKEND", "Agg")
        try:
            self.proc = subprocess.Popen(argv, pass_fds=[child.fileno()], env=env, stdin=subprocess.DEVNULL,
                                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, preexec_fn=preexec,
                                         cwd=self.workdir or None)
        except OSError as exc:
            raise VerifierError(f"cannot start the verifier: {exc}") from None
        finally:
            child.close()
        self.control = parent
        msg = self._recv(READY_TIMEOUT)
        if msg.get("op") != "ready":
            err = self._stderr()
            self.close()
            raise VerifierError(f"the verifier did not start: {err or msg}")

    def _stderr(self):
        if self.proc is None or self.proc.stderr is None:
            return ""
        try:
            if self.proc.poll() is None:
                return ""
            return self.proc.stderr.read().decode(errors="replace")[-2000:]
        except (OSError, ValueError):
            return ""

    def _recv(self, timeout):
        self.control.settimeout(timeout)
        try:
            data = self.control.recv(65536)
        except (socket.timeout, OSError):
            data = b""
        if not data:
            return {}
        try:
            return json.loads(data.decode())
        except ValueError:
            return {}

    def session(self, notebook, seed, prelude, record=None):
        """A fresh :class:`Session` for one notebook (a forked process with ``prelude`` run)."""
        self.start()
        mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        fd_mine, fd_theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            request = {"op": "fork", "preload": imported_modules(prelude), "data": datasets_used(prelude)}
            socket.send_fds(self.control, [json.dumps(request).encode()], [theirs.fileno(), fd_theirs.fileno()])
        except OSError as exc:
            mine.close()
            fd_mine.close()
            raise VerifierError(f"the verifier is gone: {exc}") from None
        finally:
            theirs.close()
            fd_theirs.close()
        reply = self._recv(READY_TIMEOUT)
        if reply.get("op") != "forked":
            mine.close()
            fd_mine.close()
            raise VerifierError(f"the verifier did not start a session: {self._stderr() or reply}")
        session = Session(self, mine, fd_mine, int(reply["pid"]), record=record)
        session.init(notebook, seed, prelude)
        return session

    def kill_session(self, pid):
        try:
            self.control.send(json.dumps({"op": "kill", "pid": pid}).encode())
            self._recv(30)
        except OSError:
            pass

    def close(self):
        if self.control is not None:
            try:
                self.control.close()
            except OSError:
                pass
            self.control = None
        if self.proc is not None:
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
            self.proc = None
        if self.workdir:
            import shutil

            shutil.rmtree(self.workdir, ignore_errors=True)
            self.workdir = None


class KernelLink:
    """How a cell reaches the student's kernel: ``open_fn()`` returns a socket connected to the kernel's
    agent (or raises :class:`ConnectionError` with the reason), ``interrupt_fn()`` interrupts the kernel."""

    def __init__(self, open_fn, interrupt_fn):
        self.open_fn = open_fn
        self.interrupt_fn = interrupt_fn
        self.opened = False
        self.broken = ""

    def open(self):
        """A connected socket, or None (with :attr:`broken` saying why)."""
        if self.broken:
            return None
        try:
            sock = self.open_fn()
        except (ConnectionError, OSError) as exc:
            self.broken = str(exc) or "the kernel did not connect"
            return None
        self.opened = True
        return sock


class Session:
    """One notebook's verifier session (see module doc)."""

    def __init__(self, verifier, sock, fdsock, pid, record=None):
        self.verifier = verifier
        self.chan = wire.Channel(sock)
        self.fdsock = fdsock
        self.pid = pid
        self.record = record
        self.dead = ""

    def init(self, notebook, seed, prelude):
        self.chan.sock.settimeout(120)
        try:
            self.chan.send(wire.Frame({"op": "init"}, {"seed": int(seed), "prelude": prelude, "notebook": notebook,
                                                       "record": self.record is not None}))
            frame = self.chan.recv()
        except (OSError, ConnectionError) as exc:
            raise VerifierError(f"the verifier session did not start: {exc}") from None
        finally:
            self.chan.sock.settimeout(None)
        if frame.op != "ready":
            raise VerifierError(f"the verifier session did not start: {frame.route}")

    def close(self):
        if self.chan is not None:
            try:
                self.chan.send(wire.Frame({"op": "bye"}))
            except OSError:
                pass
            self.chan.close()
            self.chan = None
        if self.fdsock is not None:
            self.fdsock.close()
            self.fdsock = None

    def _kill(self):
        self.verifier.kill_session(self.pid)
        self.close()

    def _hand_over(self, link):
        """Open the kernel's channel for the session and pass the socket to it (or why it failed)."""
        sock = link.open()
        if sock is None:
            socket.send_fds(self.fdsock, [json.dumps({"reason": link.broken}).encode()], [])
            return
        try:
            socket.send_fds(self.fdsock, [b"{}"], [sock.fileno()])
        finally:
            sock.close()

    def run_cell(self, grade_id, code, link, deadline):
        """Run one test cell's ``code``; returns its :class:`Verdict`.

        ``link``: the :class:`KernelLink` for this cell; ``deadline``: a
        ``time.monotonic()`` value after which the cell fails (the kernel is
        interrupted; the session is killed when no verdict follows).
        """
        if self.chan is None:
            return Verdict(grade_id, False, ename="GraderError", evalue=f"the verifier session ended: {self.dead}",
                           kind="grader_error")
        interrupted_at = None
        try:
            self.chan.send(wire.Frame({"op": "cell", "id": grade_id}, {"code": code}))
            while True:
                frame = self.chan.pop()
                if frame is not None:
                    if frame.op == "kernel":
                        self._hand_over(link)
                    elif frame.op == "verdict":
                        if self.record is not None:
                            for chunk in frame.buffers:
                                self.record.write(chunk)
                        verdict = Verdict.from_message({"id": frame.id, **frame.data()})
                        if interrupted_at is not None:  # whatever it says, the cell ran past its limit
                            verdict = Verdict(grade_id, False, ename="TimeoutError", evalue=_TIMEOUT_TEXT,
                                              kind="cell_timeout", seconds=verdict.seconds)
                        return verdict
                    continue
                now = time.monotonic()
                limit = deadline if interrupted_at is None else interrupted_at + INTERRUPT_GRACE
                if now >= limit:
                    if interrupted_at is None and link.opened:
                        interrupted_at = now
                        try:
                            link.interrupt_fn()
                        except Exception:  # noqa: BLE001 - a dead kernel cannot be interrupted
                            pass
                        continue
                    self._kill()
                    self.dead = f"test cell {grade_id} ran past its time limit"
                    return Verdict(grade_id, False, ename="TimeoutError", evalue=_TIMEOUT_TEXT, kind="cell_timeout")
                ready, _, _ = select.select([self.chan], [], [], limit - now)
                if ready:
                    self.chan.fill()
        except (ConnectionError, OSError) as exc:  # the session itself broke: a grader problem
            self.dead = str(exc)
            self._kill()
            return Verdict(grade_id, False, ename="GraderError", evalue=f"the verifier failed: {exc}",
                           kind="grader_error")
