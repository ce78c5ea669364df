"""The sandbox for any nbgrader course or Jupyter front end: nbgrader config, a sandboxed Execute, a kernelspec.

The grader itself does not need this module: its kernels start through
:class:`autograder.execution.kernel.GradingKernelManager` with the policy set
by :func:`autograder.nbconfig.make_config`. Here the same manager is offered
to other nbgrader configurations (:func:`apply_sandbox`,
:func:`nbgrader_config_lines`) and to Jupyter (:func:`install_sandbox_kernelspec`).
See :mod:`autograder.execution.sandbox` for what the sandbox does.
"""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

from autograder.execution.kernel import LOG_MARKER, GradingKernelManager, SandboxKernelManager, log_sandbox_status  # noqa: F401
from autograder.execution.sandbox.policy import SandboxError, SandboxPolicy
from autograder.execution.sandbox.bwrap import SandboxStatus, probe

# ---------------------------------------------------------------- jupyter integration

log = logging.getLogger("nnkit.sandbox")


_EXECUTES: dict = {}


def sandboxed_execute_class(execute_class):
    """A subclass of the nbgrader/nbclient preprocessor ``execute_class`` whose kernels run in the sandbox.

    nbgrader's ``Execute`` passes ``kernel_manager_class`` as a constructor
    argument, which beats ``c.Execute.kernel_manager_class``; the subclass
    starts its kernels with :class:`~autograder.execution.kernel.SandboxKernelManager`
    (unless the preprocessor already uses a
    :class:`~autograder.execution.kernel.GradingKernelManager`, which reads the
    same ``policy_json``), and logs the sandbox status (a line starting with
    :data:`LOG_MARKER`) for every notebook.
    """
    if isinstance(execute_class, str):
        from traitlets.utils.importstring import import_item

        execute_class = import_item(execute_class)
    if getattr(execute_class, "_nnkit_sandboxed", False):
        return execute_class
    if execute_class not in _EXECUTES:
        def __init__(self, *args, **kwargs):
            execute_class.__init__(self, *args, **kwargs)
            km = self.kernel_manager_class
            if not (isinstance(km, type) and issubclass(km, GradingKernelManager)):
                self.kernel_manager_class = SandboxKernelManager

        def preprocess(self, nb, resources=None, km=None):
            log_sandbox_status(self.log, self.config)
            return execute_class.preprocess(self, nb, resources, km=km)

        name = "SandboxedExecute" if execute_class.__name__ == "Execute" else f"Sandboxed{execute_class.__name__}"
        _EXECUTES[execute_class] = type(name, (execute_class,), {
            "__init__": __init__, "preprocess": preprocess, "_nnkit_sandboxed": True, "__module__": __name__,
            "__doc__": f"{execute_class.__name__} with kernels in the nnkit sandbox (autograder.execution.sandbox)."})
    return _EXECUTES[execute_class]


def apply_sandbox(c, policy: SandboxPolicy) -> SandboxStatus:
    """Configure nbgrader (a traitlets ``Config`` ``c``) to autograde in sandboxed kernels.

    Call it after the other course settings: in
    ``c.Autograde.autograde_preprocessors`` (nbgrader's default list when
    unset) every Execute preprocessor (nbgrader's ``Execute`` or a subclass
    such as a guarded one) is replaced by its :func:`sandboxed_execute_class`
    (a class object: use it in the nbgrader process, e.g. from
    ``nbgrader_config.py``); ``c.GradingKernelManager.policy_json`` gets the
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
    c.GradingKernelManager.policy_json = policy.to_json()
    return status


def nbgrader_config_lines(policy: SandboxPolicy) -> list:
    """Lines for an ``nbgrader_config.py`` (after ``c = get_config()``) that apply :func:`apply_sandbox`."""
    return [
        "from autograder.execution.sandbox import SandboxPolicy",
        "from autograder.execution.sandboxed_nbgrader import apply_sandbox",
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
        "argv": [sys.executable, "-m", "autograder.execution.sandbox.launcher", "--policy", str((kdir / "policy.json").resolve()),
                 "--", sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python 3 (nnkit sandbox)",
        "language": "python",
        "interrupt_mode": "message",
        "metadata": {"debugger": False},
    }
    (kdir / "kernel.json").write_text(json.dumps(spec, indent=1))
    return name


def __getattr__(name):
    # SandboxedExecute (nbgrader's Execute, sandboxed) is built on first use: importing nbgrader is slow.
    if name == "SandboxedExecute":
        from nbgrader.preprocessors import Execute

        return sandboxed_execute_class(Execute)
    raise AttributeError(name)
