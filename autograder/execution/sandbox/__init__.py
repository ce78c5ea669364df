"""Sandbox for the Jupyter kernels that run untrusted student notebooks.

nbgrader autograde executes every notebook in a kernel started by
jupyter_client. This module wraps that kernel (student code + hidden tests)
in a bubblewrap sandbox while nbgrader itself, which reads ``gradebook.db``
and ``source/``, stays outside:

* file system: an empty root with read-only binds of the Python installation
  (venv, base interpreter, ``/usr``), the installed ``nnkit`` package, a few
  ``/etc`` files and the data files named in the policy; the submission's
  working folder is the only writable bind (the notebook files in it are
  replaced by empty files: the autograded copy holds the hidden tests); fresh
  ``/tmp`` (tmpfs), ``/proc`` of its own pid namespace, minimal ``/dev``.
  Paths in :attr:`SandboxPolicy.deny` (``source/``, the gradebook, ...) are
  checked: the kernel refuses to start when a bind would expose one.
* no network: own network namespace (loopback only). The kernel talks to
  nbgrader over unix sockets (jupyter_client's ``ipc`` transport) in a
  private folder bound into the sandbox.
* limits: RLIMIT_CPU (CPU seconds per process), RLIMIT_AS (address space per
  process), RLIMIT_FSIZE (size of any file written), RLIMIT_NPROC (processes
  and threads), RLIMIT_CORE=0, a size-limited ``/tmp``; the output a kernel
  sends back is capped on the receiving side (:class:`autograder.execution.client.GradingKernelClient`).
* identity: run as root (the grading machines), bubblewrap runs privileged
  without a user namespace and the kernel is switched (``setpriv``) to a
  fresh unprivileged uid per kernel, so RLIMIT_NPROC counts that kernel only,
  ``no_new_privs`` is set and no capability is left. Run as a normal user,
  bubblewrap uses a user namespace and RLIMIT_NPROC counts that user's
  processes (the limit is set to the current count + ``max_processes``).

Without a usable bubblewrap (not installed, macOS, user namespaces disabled)
the kernel still gets the rlimits, and a loud warning says it is NOT
sandboxed: :func:`probe` returns the reason, :func:`apply_sandbox` logs it,
and the kernel launcher prints it to nbgrader's log for every kernel.

Modules: :mod:`~autograder.execution.sandbox.policy` (what a sandbox may see and use),
:mod:`~autograder.execution.sandbox.paths` (host paths it binds),
:mod:`~autograder.execution.sandbox.bwrap` (the bubblewrap command and the probe),
:mod:`~autograder.execution.sandbox.launcher`
(``python -m autograder.execution.sandbox.launcher``: the kernel launcher).

The grader's kernels start through
:class:`autograder.execution.kernel.GradingKernelManager`, which runs this
launcher with the policy of the course (or, with ``NNKIT_SANDBOX=0``, a
policy that switches bubblewrap off: the same launcher, the rlimits only).
The rlimits themselves are set in one place, :mod:`autograder.execution.limits`.

Use from another nbgrader course (in ``nbgrader_config.py`` after the other
settings, or on a ``Config`` passed to the API in the grading process)::

    from autograder.execution.sandbox import SandboxPolicy
    from autograder.execution.sandboxed_nbgrader import apply_sandbox
    status = apply_sandbox(c, SandboxPolicy.for_course(course_root, memory_mb=4096))
    # status.summary(): "sandbox: bubblewrap ..." or "UNSANDBOXED: <why>; <how to fix>"

:func:`nbgrader_config_lines` gives those lines for a generated config file.
nbgrader only logs errors in its config file and goes on: run it with
``TRAITLETS_APPLICATION_RAISE_CONFIG_FILE_ERROR=1`` and/or check its log for
:data:`LOG_MARKER`.

Use from nbclient (``SandboxKernelManager`` is in :mod:`autograder.execution.kernel`)::

    c = Config(); c.GradingKernelManager.policy_json = policy.to_json()
    NotebookClient(nb, kernel_manager_class=SandboxKernelManager, config=c,
                   resources={"metadata": {"path": workdir}}).execute()
"""


from __future__ import annotations

from autograder.execution.sandbox.policy import (INNER_HOME, INNER_RUNTIME, INSTALL_HINT, SandboxError,  # noqa: F401
                                       SandboxPolicy, bwrap_path, course_deny_paths, default_data_paths)
from autograder.execution.sandbox.paths import python_paths, system_paths  # noqa: F401
from autograder.execution.sandbox.bwrap import (SandboxStatus, bwrap_available, hidden_files, kernel_uid,  # noqa: F401
                                      probe, sandbox_argv, sandbox_env)
from autograder.execution.sandbox.launcher import cleanup_state, runtime_dir_for  # noqa: F401
