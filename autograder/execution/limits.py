"""The one place that sets the limits of a grading process: memory, CPU, processes, file size, core dumps.

Every kernel and the verifier get their rlimits here, from a
:class:`~autograder.execution.sandbox.SandboxPolicy`, between fork and exec
(:func:`rlimit_preexec`), whether bubblewrap isolates them or not.
"""

from __future__ import annotations

import os
import resource
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from autograder.execution.sandbox.policy import SandboxPolicy

# ---------------------------------------------------------------- rlimits


def _count_user_tasks(uid: int) -> int:
    """Threads currently owned by ``uid`` (RLIMIT_NPROC counts threads)."""
    n = 0
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                st = os.stat(f"/proc/{pid}")
                if st.st_uid == uid:
                    with open(f"/proc/{pid}/status") as f:
                        for line in f:
                            if line.startswith("Threads:"):
                                n += int(line.split()[1])
                                break
            except OSError:
                pass
    return n


def rlimit_values(policy: "SandboxPolicy", sandboxed_uid: bool) -> dict:
    """``{resource: (soft, hard)}`` for the kernel.

    With a fresh uid the process limit is ``max_processes``; otherwise
    RLIMIT_NPROC counts all processes of this user, so the limit becomes the
    current count plus ``max_processes`` (not enforced at all for root).
    """
    lim = {resource.RLIMIT_CORE: (0, 0)}
    if policy.cpu_seconds:
        lim[resource.RLIMIT_CPU] = (int(policy.cpu_seconds), int(policy.cpu_seconds) + 5)
    if policy.memory_mb:
        b = int(policy.memory_mb) * 1024 * 1024
        lim[resource.RLIMIT_AS] = (b, b)
    if policy.max_file_mb:
        b = int(policy.max_file_mb) * 1024 * 1024
        lim[resource.RLIMIT_FSIZE] = (b, b)
    if policy.max_processes and hasattr(resource, "RLIMIT_NPROC"):
        n = int(policy.max_processes)
        if not sandboxed_uid and sys.platform.startswith("linux"):
            n += _count_user_tasks(os.getuid())
        lim[resource.RLIMIT_NPROC] = (n, n)
    return lim


def rlimit_preexec(policy: "SandboxPolicy", sandboxed_uid: bool):
    """A ``preexec_fn`` that lowers the rlimits of the child to the policy's (never raises a hard limit).

    ``sandboxed_uid``: the child runs as a fresh uid of its own (the process limit then counts it alone).
    """
    values = rlimit_values(policy, sandboxed_uid)

    def preexec():
        for res, (soft, hard) in values.items():
            cur_soft, cur_hard = resource.getrlimit(res)
            if cur_hard != resource.RLIM_INFINITY:
                hard = min(hard, cur_hard)
                soft = min(soft, hard)
            try:
                resource.setrlimit(res, (soft, hard))
            except (ValueError, OSError):
                pass

    return preexec
