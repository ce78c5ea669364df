"""The rlimits of a sandboxed process (memory, CPU, processes, file size), set between fork and exec.

Part of :mod:`autograder.sandbox` (see its docstring for the whole design).
"""

from __future__ import annotations

import os
import resource
import sys
from typing import Optional

from autograder.sandbox.policy import SandboxPolicy, _privileged, bwrap_path

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


def rlimit_values(policy: SandboxPolicy, sandboxed_uid: bool) -> dict:
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


def rlimit_preexec(policy: SandboxPolicy, sandboxed_uid: Optional[bool] = None):
    """A ``preexec_fn`` that lowers the rlimits of the child to the policy's (never raises a hard limit)."""
    if sandboxed_uid is None:
        sandboxed_uid = _privileged() and bwrap_path(policy) is not None
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
