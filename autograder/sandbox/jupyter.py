"""Jupyter integration: the sandboxed kernel manager and client (output budget), nbgrader config, kernelspec.

Part of :mod:`autograder.sandbox` (see its docstring for the whole design).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import sys
import tempfile
from pathlib import Path

import zmq
from jupyter_client.asynchronous.client import AsyncKernelClient
from jupyter_client.channels import AsyncZMQSocketChannel
from jupyter_client.manager import AsyncKernelManager
from traitlets import DottedObjectName, Integer, Type, Unicode, default

from autograder.sandbox.policy import SandboxError, SandboxPolicy
from autograder.sandbox.bwrap import SandboxStatus, probe
from autograder.sandbox.launcher import cleanup_state, runtime_dir_for

# ---------------------------------------------------------------- jupyter integration

_OUTPUT_TYPES = {"stream", "display_data", "update_display_data", "execute_result", "error"}

log = logging.getLogger("nnkit.sandbox")


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

    budget = None  # bytes, set by SandboxKernelClient
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

class SandboxKernelClient(AsyncKernelClient):
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

class SandboxKernelManager(AsyncKernelManager):
    """Starts the kernel through :mod:`autograder.sandbox.launcher` under a :class:`SandboxPolicy`.

    Configure ``policy_json`` (``SandboxPolicy.to_json()``). The transport
    is ``ipc`` (unix sockets; TCP cannot cross the network namespace) and
    interrupts are sent as messages (signals cannot reach into the
    sandbox's session).
    """

    policy_json = Unicode("", config=True, help="SandboxPolicy as JSON (SandboxPolicy.to_json()).")

    @default("transport")
    def _transport_default(self):
        return "ipc"

    client_class = DottedObjectName("autograder.sandbox.SandboxKernelClient", config=True)
    client_factory = Type(SandboxKernelClient, klass=AsyncKernelClient, config=True)

    def client(self, **kwargs):
        kc = super().client(**kwargs)
        kc.max_output_bytes = (self.policy.max_output_mb or 0) * 1024 * 1024 or None
        return kc

    @property
    def policy(self) -> SandboxPolicy:
        return SandboxPolicy.from_json(self.policy_json) if self.policy_json else SandboxPolicy()

    def format_kernel_cmd(self, extra_arguments=None):
        cmd = super().format_kernel_cmd(extra_arguments)
        return [sys.executable, "-m", "autograder.sandbox.launcher", "--policy-json",
                self.policy_json or SandboxPolicy().to_json(), "--", *cmd]

    async def _async_pre_start_kernel(self, **kw):
        # Connection file and unix sockets in a private folder (absolute paths: the launcher runs elsewhere).
        if not self.connection_file:
            self._private_dir = tempfile.mkdtemp(prefix="nnkit-kernel-")
            self.connection_file = os.path.join(self._private_dir, "kernel.json")
        if self.transport == "ipc" and not os.path.isabs(self.ip):
            self.ip = os.path.splitext(os.path.abspath(self.connection_file))[0] + "-ipc"
        return await super()._async_pre_start_kernel(**kw)

    async def _async_interrupt_kernel(self):
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
        private = getattr(self, "_private_dir", None)
        if private and not restart:
            shutil.rmtree(private, ignore_errors=True)

    cleanup_resources = _async_cleanup_resources


#: nbgrader's log gets one line starting with this per sandboxed notebook (the grader can check for it).
LOG_MARKER = "nnkit-sandbox:"

_COMBINED: dict = {}


def sandboxed_kernel_manager_class(km_class):
    """A kernel manager class that starts kernels like ``km_class`` but inside the sandbox.

    ``SandboxKernelManager`` itself for jupyter_client's ``AsyncKernelManager``;
    for a subclass (e.g. one that prefixes the kernel command with a launcher
    or adds environment variables) a subclass of both, so its behaviour is kept
    and the sandbox wraps the command it builds. Configure the policy with
    ``c.SandboxKernelManager.policy_json``.
    """
    if isinstance(km_class, str):
        from traitlets.utils.importstring import import_item

        km_class = import_item(km_class)
    if issubclass(km_class, SandboxKernelManager):
        return km_class
    if not issubclass(km_class, AsyncKernelManager):
        raise SandboxError(f"cannot sandbox kernels of {km_class!r}: not an AsyncKernelManager")
    if km_class is AsyncKernelManager:
        return SandboxKernelManager
    if km_class not in _COMBINED:
        _COMBINED[km_class] = type(f"Sandboxed{km_class.__name__}", (SandboxKernelManager, km_class),
                                   {"__module__": __name__, "__doc__": f"{km_class.__name__} inside the nnkit sandbox."})
    return _COMBINED[km_class]


_EXECUTES: dict = {}


def sandboxed_execute_class(execute_class):
    """A subclass of the nbgrader/nbclient preprocessor ``execute_class`` whose kernels run in the sandbox.

    nbgrader's ``Execute`` passes ``kernel_manager_class`` as a constructor
    argument, which beats ``c.Execute.kernel_manager_class``; the subclass
    replaces whatever class the preprocessor chose by
    :func:`sandboxed_kernel_manager_class` of it, and logs the sandbox status
    (a line starting with :data:`LOG_MARKER`) for every notebook.
    """
    if isinstance(execute_class, str):
        from traitlets.utils.importstring import import_item

        execute_class = import_item(execute_class)
    if getattr(execute_class, "_nnkit_sandboxed", False):
        return execute_class
    if execute_class not in _EXECUTES:
        def __init__(self, *args, **kwargs):
            execute_class.__init__(self, *args, **kwargs)
            self.kernel_manager_class = sandboxed_kernel_manager_class(self.kernel_manager_class)

        def preprocess(self, nb, resources=None, km=None):
            pol = self.config.SandboxKernelManager.get("policy_json") or SandboxPolicy().to_json()
            status = probe(SandboxPolicy.from_json(pol))
            (self.log.info if status.sandboxed else self.log.warning)("%s %s", LOG_MARKER, status.summary())
            return execute_class.preprocess(self, nb, resources, km=km)

        name = "SandboxedExecute" if execute_class.__name__ == "Execute" else f"Sandboxed{execute_class.__name__}"
        _EXECUTES[execute_class] = type(name, (execute_class,), {
            "__init__": __init__, "preprocess": preprocess, "_nnkit_sandboxed": True, "__module__": __name__,
            "__doc__": f"{execute_class.__name__} with kernels in the nnkit sandbox (autograder.sandbox)."})
    return _EXECUTES[execute_class]


def __getattr__(name):
    # SandboxedExecute (nbgrader's Execute, sandboxed) is built on first use: importing nbgrader is slow
    # and the kernel launcher does not need it.
    if name == "SandboxedExecute":
        from nbgrader.preprocessors import Execute

        return sandboxed_execute_class(Execute)
    raise AttributeError(name)


def apply_sandbox(c, policy: SandboxPolicy) -> SandboxStatus:
    """Configure nbgrader (a traitlets ``Config`` ``c``) to autograde in sandboxed kernels.

    Call it after the other course settings: in
    ``c.Autograde.autograde_preprocessors`` (nbgrader's default list when
    unset) every Execute preprocessor (nbgrader's ``Execute`` or a subclass
    such as a guarded one) is replaced by its :func:`sandboxed_execute_class`
    (a class object: use it in the nbgrader process, e.g. from
    ``nbgrader_config.py``); ``c.SandboxKernelManager.policy_json`` gets the
    policy. Raises :class:`SandboxError` when the list holds no Execute
    preprocessor. Returns the :func:`probe` status; when kernels cannot be
    sandboxed it logs a warning (kernels still run, with rlimits) and
    ``status.summary()`` starts with ``UNSANDBOXED``: put it in the grading
    summary.
    """
    from nbgrader.converters.autograde import Autograde
    from nbgrader.preprocessors import Execute
    from traitlets.utils.importstring import import_item

    status = probe(policy)
    if not status.sandboxed:
        log.warning("%s", status.reason)
        print(f"WARNING: {status.reason}", file=sys.stderr, flush=True)
    current = c.Autograde.get("autograde_preprocessors") or Autograde.class_traits()["autograde_preprocessors"].default()
    pps, replaced = [], 0
    for pp in current:
        cls = import_item(pp) if isinstance(pp, str) else pp
        if isinstance(cls, type) and issubclass(cls, Execute):
            pp, replaced = sandboxed_execute_class(cls), replaced + 1
        pps.append(pp)
    if not replaced:
        raise SandboxError(f"no nbgrader Execute preprocessor to sandbox in Autograde.autograde_preprocessors: {current}")
    c.Autograde.autograde_preprocessors = pps
    c.SandboxKernelManager.policy_json = policy.to_json()
    return status


def nbgrader_config_lines(policy: SandboxPolicy) -> list:
    """Lines for an ``nbgrader_config.py`` (after ``c = get_config()``) that apply :func:`apply_sandbox`."""
    return [
        "from autograder.sandbox import SandboxPolicy, apply_sandbox",
        f"apply_sandbox(get_config(), SandboxPolicy.from_json({policy.to_json()!r}))",
    ]


def install_sandbox_kernelspec(dest_dir, policy: SandboxPolicy, name: str = "nnkit-sandbox") -> str:
    """Write a kernelspec ``<dest_dir>/kernels/<name>/`` whose kernel runs sandboxed; returns ``name``.

    For Jupyter front ends other than nbgrader: put ``dest_dir`` on
    ``JUPYTER_PATH`` and use ``c.KernelManager.transport = "ipc"``
    (the launcher refuses TCP when the network is isolated).
    """
    kdir = Path(dest_dir) / "kernels" / name
    kdir.mkdir(parents=True, exist_ok=True)
    (kdir / "policy.json").write_text(policy.to_json())
    spec = {
        "argv": [sys.executable, "-m", "autograder.sandbox.launcher", "--policy", str((kdir / "policy.json").resolve()),
                 "--", sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python 3 (nnkit sandbox)",
        "language": "python",
        "interrupt_mode": "message",
        "metadata": {"debugger": False},
    }
    (kdir / "kernel.json").write_text(json.dumps(spec, indent=1))
    return name
