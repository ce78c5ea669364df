"""How grading kernels are started: the one place that decides where and under which limits student code runs.

Every kernel the grader starts goes through :class:`GradingKernelManager`
(the default of :class:`autograder.execution.execute.GuardedExecute`). It

* runs the kernel command through the sandbox launcher
  (:mod:`autograder.execution.sandbox.launcher`) with a
  :class:`~autograder.execution.sandbox.SandboxPolicy` (``policy_json``): inside
  bubblewrap when the policy allows it and it works here, otherwise with the
  rlimits only (:mod:`autograder.execution.limits`, the one place that sets
  them) and a loud warning; ``NNKIT_SANDBOX=0`` gives a policy that switches
  bubblewrap off (a container that already isolates each submission);
* gives the kernel its environment (:func:`kernel_environment`: device, thread
  counts, no progress bars, headless matplotlib) and the grader's channel
  (:class:`RPCListener`, ``$NNKIT_RPC_SOCKET``), and starts it with the grading
  agent (and the guard) before any cell (:func:`startup_argument`);
* reads its output through :class:`~autograder.execution.client.GradingKernelClient`
  (a byte budget: output past it is dropped).

:class:`SandboxKernelManager` is the same manager for use outside the grader
(nbclient, a Jupyter kernelspec): the default policy when none is configured,
no guard.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

from jupyter_client.asynchronous.client import AsyncKernelClient
from jupyter_client.manager import AsyncKernelManager
from traitlets import Bool, DottedObjectName, Dict, Integer, Type, Unicode, default

from autograder.execution.client import GradingKernelClient, bound_sends
from autograder.execution.sandbox.launcher import cleanup_state, runtime_dir_for
from autograder.execution.sandbox.policy import SandboxPolicy

#: The launcher every kernel starts through (bubblewrap, or the rlimits only).
LAUNCHER_MODULE = "autograder.execution.sandbox.launcher"

#: nbgrader's log gets one line starting with this per notebook (the grader can check for it).
LOG_MARKER = "nnkit-sandbox:"


def log_sandbox_status(logger, config):
    """Log (a line starting with :data:`LOG_MARKER`) whether the kernels configured by ``config`` run
    sandboxed; returns the :class:`~autograder.execution.sandbox.SandboxStatus`."""
    from autograder.execution.sandbox.bwrap import probe

    pol = config.GradingKernelManager.get("policy_json") or config.SandboxKernelManager.get("policy_json")
    status = probe(SandboxPolicy.from_json(pol) if pol else SandboxPolicy())
    (logger.info if status.sandboxed else logger.warning)("%s %s", LOG_MARKER, status.summary())
    return status


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
    """Environment variables every grading kernel gets (on top of the grader's own); ``threads``: the
    CPU threads torch may use (numpy's OpenBLAS always gets one)."""
    env = {
        "NNKIT_DEVICE": device,
        "NNKIT_NO_PROGRESS": "1",
        "NNKIT_GRADING": "1",
        "MPLBACKEND": "Agg",
        "PYTHONWARNINGS": "ignore",
        "TQDM_DISABLE": "1",
    }
    if threads:
        for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
            env[var] = str(int(threads))
    # numpy's OpenBLAS on one thread: the course's matrices are small, and a second thread that spins
    # while waiting made numpy_nets 05 3.6x slower on a busy 2-core grader (28 s vs 101 s of wall time);
    # torch's intra-op threads (OpenMP/MKL) keep ``threads``
    env["OPENBLAS_NUM_THREADS"] = "1"
    if device != "cuda":
        env["CUDA_VISIBLE_DEVICES"] = ""
    return env


def grading_cpus():
    """The CPUs grading may use: ``NNKIT_GRADING_CPUS`` when set (a machine that also runs other work, e.g. the
    test suite's parallel workers), else every CPU of this machine."""
    value = os.environ.get("NNKIT_GRADING_CPUS", "").strip()
    if value:
        try:
            return max(1, int(value))
        except ValueError:
            raise ValueError(f"NNKIT_GRADING_CPUS={value!r} is not a number of CPUs: set it to an integer "
                             "such as 2, or unset it to use every CPU") from None
    return os.cpu_count() or 1


def threads_per_kernel(workers):
    """CPU threads each kernel may use when ``workers`` kernels run side by side on :func:`grading_cpus`."""
    return max(1, grading_cpus() // max(1, int(workers)))


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


class GradingKernelManager(AsyncKernelManager):
    """The kernel manager of every grading kernel (see module doc).

    ``policy_json``: a :class:`SandboxPolicy` as JSON (empty: the rlimits of a
    default policy with bubblewrap off and ``memory_mb`` as its memory limit);
    ``memory_mb`` (0: none) caps the address space when no policy is given;
    ``extra_env`` is added to the kernel's environment (see
    :func:`kernel_environment`); ``guard`` installs :mod:`nnkit.guard` before
    any cell. On a CUDA kernel (``NNKIT_DEVICE=cuda``) no address-space limit
    is set: the driver reserves huge virtual ranges.
    """

    policy_json = Unicode("", help="SandboxPolicy as JSON ('' : bubblewrap off, rlimits only)").tag(config=True)
    memory_mb = Integer(0, help="address-space limit of the kernel in MiB without a policy (0: none)").tag(config=True)
    extra_env = Dict({}, help="environment variables added for the kernel").tag(config=True)
    guard = Bool(True, help="install nnkit.guard in the kernel before any cell runs").tag(config=True)

    client_class = DottedObjectName("autograder.execution.client.GradingKernelClient", config=True)
    client_factory = Type(GradingKernelClient, klass=AsyncKernelClient, config=True)

    rpc_listener = None

    @default("transport")
    def _transport_default(self):
        return "ipc"  # unix sockets in a private folder: TCP cannot cross the sandbox's network namespace

    @property
    def policy(self) -> SandboxPolicy:
        """The policy this manager's kernels start under."""
        if self.policy_json:
            policy = SandboxPolicy.from_json(self.policy_json)
        else:
            policy = SandboxPolicy(bwrap="none", memory_mb=self.memory_mb or None)
        if {**self.extra_env}.get("NNKIT_DEVICE") == "cuda":
            policy.memory_mb = None
        return policy

    def client(self, **kwargs):
        kc = super().client(**kwargs)
        kc.max_output_bytes = (self.policy.max_output_mb or 0) * 1024 * 1024 or None
        return kc

    def format_kernel_cmd(self, extra_arguments=None):
        cmd = [*super().format_kernel_cmd(extra_arguments), startup_argument(self.guard)]
        return [sys.executable, "-m", LAUNCHER_MODULE, "--policy-json", self.policy.to_json(), "--", *cmd]

    async def _async_pre_start_kernel(self, **kw):
        # Connection file and unix sockets in a private folder (absolute paths: the launcher runs elsewhere).
        if not self.connection_file:
            self._private_dir = tempfile.mkdtemp(prefix="nnkit-kernel-")
            self.connection_file = os.path.join(self._private_dir, "kernel.json")
        if self.transport == "ipc" and not os.path.isabs(self.ip):
            self.ip = os.path.splitext(os.path.abspath(self.connection_file))[0] + "-ipc"
        return await super()._async_pre_start_kernel(**kw)

    async def _async_launch_kernel(self, kernel_cmd, **kw):
        env = dict(kw.get("env") or os.environ)
        env.update({str(k): str(v) for k, v in self.extra_env.items()})
        if self.rpc_listener is None:
            self.rpc_listener = RPCListener()
        env["NNKIT_RPC_SOCKET"] = self.rpc_listener.path
        kw["env"] = env
        return await super()._async_launch_kernel(kernel_cmd, **kw)

    def _connect_control_socket(self):
        if self._control_socket is None:
            super()._connect_control_socket()
            bound_sends(self._control_socket)

    async def _async_interrupt_kernel(self):
        # A message, not a signal: signals cannot reach into the sandbox's session.
        if not self.has_kernel:
            return await super()._async_interrupt_kernel()
        msg = self.session.msg("interrupt_request", content={})
        self._connect_control_socket()
        self.session.send(self._control_socket, msg)

    interrupt_kernel = _async_interrupt_kernel

    async def _async_cleanup_resources(self, restart=False):
        # The launcher removes its runtime folder; when it was killed (SIGKILL) do it here.
        if self.connection_file:
            cleanup_state(runtime_dir_for(self.connection_file))
        await super()._async_cleanup_resources(restart=restart)
        if not restart:
            if self.rpc_listener is not None:
                self.rpc_listener.close()
                self.rpc_listener = None
            private = getattr(self, "_private_dir", None)
            if private:
                shutil.rmtree(private, ignore_errors=True)

    cleanup_resources = _async_cleanup_resources


class SandboxKernelManager(GradingKernelManager):
    """:class:`GradingKernelManager` for use outside the grader (nbclient, a kernelspec): sandboxed by the
    default :class:`SandboxPolicy` when no ``policy_json`` is configured, no guard."""

    guard = Bool(False, help="install nnkit.guard in the kernel before any cell runs").tag(config=True)

    @property
    def policy(self) -> SandboxPolicy:
        return SandboxPolicy.from_json(self.policy_json) if self.policy_json else SandboxPolicy()
