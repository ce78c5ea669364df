"""The verifier process: imports the trusted libraries once, then forks one fresh session per notebook.

    python -m autograder.verifier FD

``FD`` is a unix ``SOCK_SEQPACKET`` socket (one message per record) to the grading worker (:mod:`autograder.verifier.host`).
The process imports numpy and nnkit (and, on request, the modules a master
notebook imports: torch, scikit-learn...), runs no test code itself, and
answers on ``FD``:

* ``{"op": "fork", "preload": [module, ...], "data": [name, ...]}`` with two sockets passed alongside (``SCM_RIGHTS``): forks
  a child that runs :func:`autograder.verifier.runner.main_session` on them
  (the conversation, and the socket the kernel's channel arrives on);
  replies ``{"op": "forked", "pid": pid}``; the modules (the master
  notebook's imports) are imported first, once, by this process (:func:`preload`), and the data its
  tests load (``"imdb"``) is loaded once (:func:`preload_data`);
* ``{"op": "kill", "pid": pid}``: SIGKILLs that child (a test cell past its time);
* end of connection: kills its children and exits.

Every session therefore starts from the same pristine interpreter, at the cost
of a fork instead of an interpreter start and the imports.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import sys

PRELOAD = ("numpy", "nnkit", "nnkit.grading", "nnkit.gradcheck")
#: Imported along with torch: the first optimizer a test builds imports torch._dynamo (1.2 s).
WITH_TORCH = ("torch.nn", "torch.nn.functional", "torch.optim", "torch._dynamo", "torch.utils.data")


def preload(modules=()):
    """Import ``modules`` (and what every session uses), so that each session forked after has them.

    ``modules`` are the top-level imports of a master notebook's instructor
    cells (trusted code): importing them here, once, spares every session of
    that notebook the import (matplotlib, scikit-learn, torch: seconds each).
    A module that cannot be imported is left to the session, which reports it.
    """
    import importlib

    names = list(PRELOAD) + [m for m in modules if isinstance(m, str)]
    if any(m == "torch" or m.startswith("torch.") for m in names):
        names += WITH_TORCH
    for name in names:
        if name in sys.modules:
            continue
        try:
            importlib.import_module(name)
        except Exception:  # noqa: BLE001 - optional libraries (torch for numpy-only courses)
            pass
    import autograder.verifier.runner  # noqa: F401


#: The datasets this process has read (:func:`preload_data`).
_LOADED = set()


def preload_data(names=()):
    """Read the datasets ``names`` (``"imdb"``: both splits of IMDB, from the local copy the grader is given) into
    memory once, so that each session forked after loads them from there (:func:`nnkit.data.imdb.keep_loaded_splits`)
    instead of from disk in every test that loads them. Data that cannot be read here (none given) is left
    to the sessions, which report it."""
    if "imdb" not in names or "imdb" in _LOADED:
        return
    _LOADED.add("imdb")
    try:
        from nnkit.data import imdb

        imdb.keep_loaded_splits(preload=imdb.SPLITS)
    except Exception:  # noqa: BLE001 - no local copy: a test that loads it says so
        pass


def _reap(children):
    while children:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            children.clear()
            return
        if pid == 0:
            return
        children.discard(pid)


def serve(control):
    children = set()
    while True:
        try:
            msg, fds, _, _ = socket.recv_fds(control, 65536, 4)
        except InterruptedError:
            continue
        except OSError:
            msg, fds = b"", []
        _reap(children)
        if not msg:
            break
        try:
            request = json.loads(msg.decode("utf-8"))
        except ValueError:
            request = {}
        op = request.get("op")
        if op == "fork" and len(fds) >= 2:
            preload(request.get("preload") or ())
            preload_data(request.get("data") or ())
            pid = os.fork()
            if pid == 0:  # the session: only its socket stays open
                control.close()
                for extra in fds[2:]:
                    os.close(extra)
                signal.signal(signal.SIGTERM, signal.SIG_DFL)
                try:
                    from autograder.verifier.runner import main_session

                    main_session(socket.socket(fileno=fds[0]),
                                 socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET, fileno=fds[1]))
                finally:
                    os._exit(0)
            for fd in fds:
                os.close(fd)
            children.add(pid)
            control.send(json.dumps({"op": "forked", "pid": pid}).encode())
        elif op == "kill":
            pid = int(request.get("pid", 0))
            if pid in children:
                try:
                    os.kill(pid, signal.SIGKILL)
                    os.waitpid(pid, 0)
                except (OSError, ChildProcessError):
                    pass
                children.discard(pid)
            control.send(b'{"op": "killed"}')
        else:
            for fd in fds:
                os.close(fd)
    for pid in list(children):
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    control = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET, fileno=int(argv[0]))
    preload()
    from autograder.verifier import helpers

    try:  # the sessions' shared cache (grader_cache), in this process's own working folder
        os.makedirs("grader-cache", exist_ok=True)
        helpers.CACHE_DIR = os.path.abspath("grader-cache")
    except OSError:
        helpers.CACHE_DIR = None
    control.send(b'{"op": "ready"}')
    serve(control)
    return 0
