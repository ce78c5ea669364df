"""Start a grading kernel under resource limits, then become it.

    python launch.py [--memory-mb N] [--cpu-seconds N] -- KERNEL COMMAND...

Sets ``RLIMIT_AS`` (address space: a student cell that allocates too much gets
``MemoryError`` instead of taking the machine down), ``RLIMIT_CORE=0`` (no
core dumps from crashing kernels) and, when asked, ``RLIMIT_CPU``; then
``exec``s the kernel command so the kernel keeps this process id (interrupts
and kills from the kernel manager reach it directly).

Standard library only: it runs as a script by path, before any package import.
"""

from __future__ import annotations

import os
import sys


def _set_limit(name, value):
    """Set soft and hard limit ``name`` to ``value`` (never above an existing hard limit).

    Returns False when the platform refuses (macOS has no usable RLIMIT_AS): the
    kernel then starts without that limit rather than not at all.
    """
    import resource

    limit = getattr(resource, name, None)
    if limit is None:
        return False
    try:
        soft, hard = resource.getrlimit(limit)
        if hard != resource.RLIM_INFINITY:
            value = min(value, hard)
        resource.setrlimit(limit, (value, value))
        return True
    except (ValueError, OSError):
        return False


def apply_limits(memory_mb=0, cpu_seconds=0):
    """Apply the limits to the current process (inherited by what it execs)."""
    if os.name != "posix":  # pragma: no cover - the grader runs kernels on Linux/macOS
        return
    if memory_mb and memory_mb > 0:
        _set_limit("RLIMIT_AS", int(memory_mb) << 20)
    _set_limit("RLIMIT_CORE", 0)
    if cpu_seconds and cpu_seconds > 0:
        _set_limit("RLIMIT_CPU", int(cpu_seconds))


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    memory_mb = cpu_seconds = 0
    while argv and argv[0] != "--":
        opt = argv.pop(0)
        if opt == "--memory-mb":
            memory_mb = int(argv.pop(0))
        elif opt == "--cpu-seconds":
            cpu_seconds = int(argv.pop(0))
        else:
            sys.exit(f"launch.py: unknown option {opt!r}")
    if not argv or len(argv) < 2:
        sys.exit("usage: launch.py [--memory-mb N] [--cpu-seconds N] -- COMMAND...")
    cmd = argv[1:]
    apply_limits(memory_mb, cpu_seconds)
    os.execvp(cmd[0], cmd)


if __name__ == "__main__":
    main()
