"""How grading kernels are started: the one place that decides where student code runs.

Every kernel the grader starts goes through :class:`LimitedKernelManager`
(set on :class:`autograder.execute.GuardedExecute`). It

* prefixes the kernel command with :func:`kernel_command` (``launch.py``,
  which applies the memory limit and then ``exec``s the kernel),
* sets the kernel's environment with :func:`kernel_environment` (device,
  thread counts, no progress bars, headless matplotlib).

A sandbox (bubblewrap, a container) belongs in :func:`kernel_command`: it gets
the full kernel command line and returns the one to run.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

from jupyter_client.manager import AsyncKernelManager
from traitlets import Bool, Dict, Integer

LAUNCHER = Path(__file__).resolve().with_name("launch.py")


def kernel_command(cmd, memory_mb=0):
    """The command that starts kernel ``cmd`` under the grader's limits."""
    prefix = [sys.executable, str(LAUNCHER)]
    if memory_mb and memory_mb > 0:
        prefix += ["--memory-mb", str(int(memory_mb))]
    return prefix + ["--", *cmd]


def cuda_available():
    """True when a CUDA GPU is usable from this machine (imports torch only when a driver is present)."""
    if not (shutil.which("nvidia-smi") or Path("/dev/nvidiactl").exists()):
        return False
    try:
        import torch

        return bool(torch.cuda.is_available())
    except Exception:  # torch missing or broken: grade on the CPU
        return False


def resolve_device(manifest_device):
    """``"cuda"`` when the manifest allows a GPU (``auto``/``cuda``) and one is present, else ``"cpu"``."""
    if manifest_device in ("auto", "cuda") and cuda_available():
        return "cuda"
    return "cpu"


def kernel_environment(device="cpu", threads=None):
    """Environment variables every grading kernel gets (on top of the grader's own)."""
    env = {
        "NNKIT_DEVICE": device,
        "NNKIT_NO_PROGRESS": "1",
        "NNKIT_GRADING": "1",
        "MPLBACKEND": "Agg",
        "PYTHONWARNINGS": "ignore",
        "TQDM_DISABLE": "1",
    }
    if threads:
        for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
            env[var] = str(int(threads))
    if device != "cuda":
        env["CUDA_VISIBLE_DEVICES"] = ""
    return env


def threads_per_kernel(workers):
    """CPU threads each kernel may use when ``workers`` kernels run side by side."""
    return max(1, (os.cpu_count() or 1) // max(1, int(workers)))


def startup_argument(guard=True):
    """The ipykernel option that runs, before any notebook cell, the grading agent
    (:mod:`nnkit.remote.agent`: serves the verifier) and, with ``guard``, :mod:`nnkit.guard`."""
    from nnkit.guard import STARTUP_LINE
    from nnkit.remote.agent import STARTUP_LINE as AGENT_LINE

    lines = [AGENT_LINE] + ([STARTUP_LINE] if guard else [])
    return "--IPKernelApp.exec_lines=" + repr(lines)


class RPCListener:
    """The grader's end of a kernel's RPC channel: a unix socket in a private folder.

    The kernel learns the path from ``$NNKIT_RPC_SOCKET`` (the sandbox launcher
    binds the folder into the sandbox and rewrites the variable); its agent
    connects when the grader opens a verification session.
    """

    def __init__(self):
        import socket
        import tempfile

        self.dir = tempfile.mkdtemp(prefix="nnkit-rpc-")
        os.chmod(self.dir, 0o711)
        self.path = os.path.join(self.dir, "rpc.sock")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(self.path)
        os.chmod(self.path, 0o777)
        self.sock.listen(4)

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass
        shutil.rmtree(self.dir, ignore_errors=True)


class LimitedKernelManager(AsyncKernelManager):
    """An ``AsyncKernelManager`` whose kernels start through :func:`kernel_command`.

    ``memory_mb`` caps the kernel's address space (0: no cap; not applied with
    CUDA, whose driver reserves huge virtual ranges); ``extra_env`` is added to
    the kernel's environment. Each kernel gets an :class:`RPCListener`
    (``rpc_listener``) and starts with :func:`startup_argument`.
    """

    memory_mb = Integer(0, help="address-space limit of the kernel in MiB (0: none)").tag(config=True)
    extra_env = Dict({}, help="environment variables added for the kernel").tag(config=True)
    guard = Bool(True, help="install nnkit.guard in the kernel before any cell runs").tag(config=True)

    rpc_listener = None

    async def _async_launch_kernel(self, kernel_cmd, **kw):
        env = dict(kw.get("env") or os.environ)
        env.update({str(k): str(v) for k, v in self.extra_env.items()})
        if self.rpc_listener is None:
            self.rpc_listener = RPCListener()
        env["NNKIT_RPC_SOCKET"] = self.rpc_listener.path
        kw["env"] = env
        memory = 0 if env.get("NNKIT_DEVICE") == "cuda" else self.memory_mb
        kernel_cmd = [*kernel_cmd, startup_argument(self.guard)]
        return await super()._async_launch_kernel(kernel_command(kernel_cmd, memory), **kw)

    async def _async_cleanup_resources(self, restart=False):
        await super()._async_cleanup_resources(restart=restart)
        if self.rpc_listener is not None and not restart:
            self.rpc_listener.close()
            self.rpc_listener = None

    cleanup_resources = _async_cleanup_resources
