"""The host paths a sandbox binds: the Python installation, packages, system files; deny checks.

Part of :mod:`autograder.execution.sandbox` (see its docstring for the whole design).
"""

from __future__ import annotations

import importlib.util
import os
import sys

from autograder.execution.sandbox.policy import ETC_PATHS, SandboxError

# ---------------------------------------------------------------- paths


def _package_dirs(names) -> list:
    """Folders of the importable packages ``names`` (editable installs resolved)."""
    out = []
    for name in names:
        spec = importlib.util.find_spec(name)
        if spec is None:
            continue
        if spec.submodule_search_locations:
            out += [os.path.abspath(p) for p in spec.submodule_search_locations]
        elif spec.origin:
            out.append(os.path.abspath(spec.origin))
    return out


def python_paths() -> list:
    """Read-only paths the running interpreter needs: prefixes, site-packages, the real executable's prefix."""
    import site
    import sysconfig

    paths = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix}
    real = os.path.realpath(sys.executable)
    paths.add(os.path.dirname(os.path.dirname(real)))
    for key in ("stdlib", "platstdlib", "purelib", "platlib"):
        p = sysconfig.get_paths().get(key)
        if p:
            paths.add(p)
    try:
        paths.update(site.getsitepackages())
    except AttributeError:
        pass
    return sorted(os.path.abspath(p) for p in paths if p and os.path.exists(p))


def system_paths() -> list:
    """``/usr`` and the /etc entries of :data:`ETC_PATHS` that exist."""
    out = ["/usr"] if os.path.isdir("/usr") else []
    out += [p for p in ETC_PATHS if os.path.exists(p)]
    return out


def _inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip("/") + "/")


def _check_denied(binds, deny) -> None:
    """Raise SandboxError when a bind exposes a denied path."""
    denied = [os.path.realpath(d) for d in deny]
    for src, writable, is_workdir in binds:
        real = os.path.realpath(src)
        for d in denied:
            if _inside(d, real):
                raise SandboxError(f"sandbox refuses to bind {src}: it contains the protected path {d}")
            if not is_workdir and _inside(real, d):
                raise SandboxError(f"sandbox refuses to bind {src}: it lies inside the protected path {d}")
