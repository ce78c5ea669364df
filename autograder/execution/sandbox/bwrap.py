"""The bubblewrap command line for a policy, the probe that says whether it works, the environment inside.

Part of :mod:`autograder.execution.sandbox` (see its docstring for the whole design).
"""

from __future__ import annotations

import fnmatch
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Optional

from autograder.execution.sandbox.policy import _privileged, bwrap_path, BWRAP_ENV, ENV_PASSTHROUGH, ENV_PASSTHROUGH_PREFIXES, INNER_HOME, INSTALL_HINT, SandboxError, SandboxPolicy, UID_BASE
from autograder.execution.sandbox.paths import _check_denied, _inside, _package_dirs, python_paths, system_paths
from autograder.execution.limits import rlimit_preexec

# ---------------------------------------------------------------- bubblewrap


def kernel_uid(policy: SandboxPolicy) -> int:
    """The uid a sandboxed kernel runs as (root only): the policy's, else UID_BASE + this pid."""
    return int(policy.uid) if policy.uid is not None else UID_BASE + os.getpid()


@dataclass(frozen=True)
class SandboxStatus:
    """How kernels will run. ``sandboxed`` False means no file system or network isolation."""

    sandboxed: bool
    mechanism: str
    reason: str = ""

    def summary(self) -> str:
        """One line for a grading summary: ``sandbox: ...`` or ``UNSANDBOXED: ...``."""
        return f"sandbox: {self.mechanism}" if self.sandboxed else self.reason


_PROBES: dict = {}


def probe(policy: Optional[SandboxPolicy] = None, refresh: bool = False) -> SandboxStatus:
    """Find out (once per bubblewrap path) whether kernels can be sandboxed here.

    Runs a trivial command in a sandbox built exactly like a kernel's (same
    namespaces, uid switch, binds) and caches the answer.
    """
    policy = policy or SandboxPolicy()
    exe = bwrap_path(policy)
    key = (exe, os.geteuid(), _privileged())
    if key in _PROBES and not refresh:
        return _PROBES[key]
    limits = "rlimits only (cpu, memory, file size, processes)"
    if exe is None:
        how = "disabled by NNKIT_BWRAP" if (policy.bwrap or os.environ.get(BWRAP_ENV) or "x").strip().lower() in (
            "", "none", "0", "off", "false") else "bubblewrap (bwrap) not found"
        if not sys.platform.startswith("linux"):
            how = f"bubblewrap needs Linux (this is {sys.platform})"
        status = SandboxStatus(False, limits, f"UNSANDBOXED: {how}; student code can read every file this user can "
                                              f"read and use the network; {INSTALL_HINT}")
    else:
        with tempfile.TemporaryDirectory(prefix="nnkit-probe-") as tmp:
            os.chmod(tmp, 0o755)
            test = SandboxPolicy(workdir=tmp, python=False, packages=[], hide=[], bwrap=exe, uid=policy.uid,
                                 cpu_seconds=10, memory_mb=None, max_processes=None)
            try:
                argv = sandbox_argv(test, ["true"], state_dir=tmp)
                proc = subprocess.run(argv, capture_output=True, text=True, timeout=30,
                                      preexec_fn=rlimit_preexec(test, sandboxed_uid=_privileged()))
                ok, err = proc.returncode == 0, (proc.stderr or proc.stdout).strip()
            except (OSError, subprocess.SubprocessError, SandboxError) as e:
                ok, err = False, str(e)
        if ok:
            mech = (f"bubblewrap {exe} (privileged, kernel as a fresh uid >= {UID_BASE}, no network, "
                    f"read-only system, private /tmp)" if _privileged() else
                    f"bubblewrap {exe} (user namespace, no network, read-only system, private /tmp)")
            status = SandboxStatus(True, mech)
        else:
            status = SandboxStatus(False, limits, f"UNSANDBOXED: {exe} does not work here ({err[-300:]}); student "
                                                  f"code can read every file this user can read and use the "
                                                  f"network; check that user namespaces are enabled or run as root")
    _PROBES[key] = status
    return status


def bwrap_available(policy: Optional[SandboxPolicy] = None) -> bool:
    """True when bubblewrap really runs a sandboxed command here (probed once, cached)."""
    return probe(policy).sandboxed


def _write(path: str, text: str) -> str:
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, 0o644)
    return path


def sandbox_argv(policy: SandboxPolicy, argv: list, state_dir: Optional[str] = None,
                 extra_binds: Iterable = (), uid: Optional[int] = None) -> list:
    """The bubblewrap command line that runs ``argv`` under ``policy``.

    ``state_dir`` (created when None; the caller removes it afterwards) holds
    the synthetic ``/etc/passwd``, ``/etc/group``, ``/etc/hosts`` and the
    empty file bound over hidden workdir files. ``extra_binds``: ``(host,
    inside)`` pairs bound read-write (the kernel's runtime folder). Run as
    root, the command switches to ``uid`` (default :func:`kernel_uid`) with
    ``setpriv``; the caller makes the workdir writable for that uid. Limits
    are not part of argv: start the command with
    ``preexec_fn=rlimit_preexec(policy)``. Raises :class:`SandboxError` when
    bubblewrap is unavailable or a bind would expose a denied path.
    """
    exe = bwrap_path(policy)
    if exe is None:
        raise SandboxError(f"bubblewrap not available; {INSTALL_HINT}")
    workdir = os.path.realpath(policy.workdir or os.getcwd())
    if not os.path.isdir(workdir):
        raise SandboxError(f"sandbox workdir {workdir} is not a folder")
    state_dir = state_dir or tempfile.mkdtemp(prefix="nnkit-sandbox-")
    privileged = _privileged()
    uid = (uid if uid is not None else kernel_uid(policy)) if privileged else os.getuid()
    gid = uid if privileged else os.getgid()

    ro = system_paths()
    if policy.python:
        ro += python_paths() + _package_dirs(policy.packages)
    ro += [os.path.abspath(os.path.expanduser(str(p))) for p in policy.read_only]
    missing = [p for p in policy.read_only if not os.path.exists(os.path.expanduser(str(p)))]
    if missing:
        raise SandboxError(f"sandbox read-only paths do not exist: {missing}")
    _check_denied([(p, False, False) for p in ro] + [(workdir, True, True)], policy.deny)

    args = [exe]
    if privileged:
        # Real root: bubblewrap needs no user namespace; the kernel gets a fresh uid via setpriv.
        args += ["--unshare-ipc", "--unshare-pid", "--unshare-uts", "--unshare-cgroup-try"]
        args += ["--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID", "--cap-add", "CAP_SETPCAP"]
    else:
        args += ["--unshare-user", "--unshare-ipc", "--unshare-pid", "--unshare-uts", "--unshare-cgroup-try"]
    if not policy.allow_network:
        args += ["--unshare-net"]
    args += ["--die-with-parent", "--new-session", "--hostname", policy.hostname]

    # The root is an empty tmpfs: /proc, /dev, /tmp first, then folders, binds, symlinks.
    size = ["--size", str(int(policy.tmp_mb) * 1024 * 1024)] if policy.tmp_mb else []
    args += ["--proc", "/proc", "--dev", "/dev", "--perms", "1777", *size, "--tmpfs", "/dev/shm"]
    args += ["--perms", "1777", *size, "--tmpfs", "/tmp", "--perms", "0777", "--dir", INNER_HOME]
    for link in ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"):
        if os.path.islink(link):
            args += ["--symlink", os.readlink(link), link]
        elif os.path.isdir(link):
            ro.append(link)
    ro_real, links = [], []
    for p in ro:
        real = os.path.realpath(p)
        ro_real.append(real)
        if real != p:
            links.append((real, p))
    ro_set = sorted(set(ro_real))
    ro_final = [b for b in ro_set if not any(b != o and _inside(b, o) for o in ro_set)]
    ops = [(b, ["--ro-bind", b, b]) for b in ro_final]
    if policy.workdir_mb:
        # A private, size-limited workdir: a tmpfs with the files that are already there bound in.
        ops.append((workdir, ["--perms", "0777", "--size", str(int(policy.workdir_mb) * 1024 * 1024),
                              "--tmpfs", workdir]))
        for entry in sorted(os.listdir(workdir)):
            path = os.path.join(workdir, entry)
            ops.append((path, ["--bind", path, path]))
    else:
        ops.append((workdir, ["--bind", workdir, workdir]))
    ops += [(inside, ["--bind", os.path.realpath(host), inside]) for host, inside in extra_binds]
    bound = [inside for inside, _ in ops]
    # A symlinked path (e.g. /etc/localtime) becomes a symlink to its bound target.
    outside = [(real, p) for real, p in links if not any(_inside(p, b) for b in bound)]
    links = [(real, p) for real, p in outside if os.path.realpath(os.path.dirname(p)) == os.path.dirname(p)]
    # A path below a symlinked folder (e.g. ../shared -> /elsewhere): bind its target at the path itself.
    for real, p in outside:
        if (real, p) not in links:
            ops.append((p, ["--ro-bind", real, p]))
            bound.append(p)
    dirs = set()
    for inside in bound + [p for _, p in links]:
        dirs.update(str(q) for q in Path(inside).parents if str(q) not in ("/", "/tmp"))
    for d in sorted(dirs, key=lambda s: (s.count("/"), s)):
        if not any(_inside(d, b) for b in bound):
            args += ["--perms", "0755", "--dir", d]
    for _, op in sorted(ops, key=lambda o: (o[0].count("/"), o[0])):
        args += op
    for real, p in links:
        args += ["--symlink", real, p]

    # Synthetic identity files: the kernel's uid has a name and a home.
    passwd = _write(os.path.join(state_dir, "passwd"),
                    f"root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n"
                    f"student:x:{uid}:{gid}:student:{INNER_HOME}:/bin/sh\n")
    group = _write(os.path.join(state_dir, "group"), f"root:x:0:\nnogroup:x:65534:\nstudent:x:{gid}:\n")
    hosts = _write(os.path.join(state_dir, "hosts"), f"127.0.0.1 localhost {policy.hostname}\n::1 localhost\n")
    args += ["--ro-bind", passwd, "/etc/passwd", "--ro-bind", group, "/etc/group", "--ro-bind", hosts, "/etc/hosts"]

    for dev in policy.devices:  # e.g. /dev/nvidia0, /dev/nvidiactl, /dev/nvidia-uvm for CUDA (untested here)
        if os.path.exists(dev):
            args += ["--dev-bind", dev, dev]
    # Hide files of the workdir (notebooks hold the hidden tests): bind an empty file over them.
    hidden = hidden_files(workdir, policy.hide)
    if hidden:
        empty = _write(os.path.join(state_dir, "empty"), "")
        empty_dir = os.path.join(state_dir, "empty.d")
        os.makedirs(empty_dir, exist_ok=True)
        for h in hidden:
            args += ["--ro-bind", empty_dir if os.path.isdir(h) else empty, h]

    args += ["--clearenv"]
    for k, v in sandbox_env(policy, os.environ, uid).items():
        args += ["--setenv", k, v]
    args += ["--chdir", workdir]
    if privileged:
        args += ["--", shutil.which("setpriv"), f"--reuid={uid}", f"--regid={gid}", "--clear-groups",
                 "--inh-caps=-all", "--bounding-set=-all", "--no-new-privs"]
    else:
        args += ["--"]
    return args + list(argv)


def hidden_files(workdir: str, patterns) -> list:
    """Files and folders under ``workdir`` whose name matches one of ``patterns`` (at most 2 levels deep)."""
    out = []
    if not patterns:
        return out
    for dirpath, dirnames, filenames in os.walk(workdir):
        depth = os.path.relpath(dirpath, workdir).count(os.sep) + (dirpath != workdir)
        for name in list(dirnames) + filenames:
            if any(fnmatch.fnmatch(name, pat) for pat in patterns):
                full = os.path.join(dirpath, name)
                if not os.path.islink(full):
                    out.append(full)
        dirnames[:] = [d for d in dirnames if not any(fnmatch.fnmatch(d, p) for p in patterns)]
        if depth >= 2:
            dirnames[:] = []
    return sorted(out)


def sandbox_env(policy: SandboxPolicy, environ, uid: int) -> dict:
    """The kernel's environment: a whitelist of ``environ`` plus the policy's ``env`` and sandbox paths."""
    env = {k: v for k, v in environ.items()
           if k in ENV_PASSTHROUGH or k in policy.env_passthrough or any(k.startswith(p) for p in ENV_PASSTHROUGH_PREFIXES)}
    venv_bin = os.path.join(sys.prefix, "bin")
    env.update({
        "PATH": os.pathsep.join([venv_bin, "/usr/local/bin", "/usr/bin", "/bin"]),
        "HOME": INNER_HOME,
        "USER": "student",
        "LOGNAME": "student",
        "TMPDIR": "/tmp",
        "MPLCONFIGDIR": "/tmp/matplotlib",
        "IPYTHONDIR": "/tmp/ipython",
        "XDG_CACHE_HOME": INNER_HOME + "/.cache",
        "XDG_CONFIG_HOME": INNER_HOME + "/.config",
        "JUPYTER_RUNTIME_DIR": "/tmp/jupyter-runtime",
        "NNKIT_SANDBOX": "1",
        "JPY_PARENT_PID": "1",  # ipykernel: no parent poller (its parent is the sandbox's init)
        # glibc reserves 64 MB of address space per malloc arena (one per thread): with RLIMIT_AS and
        # many BLAS/torch threads that alone ends in MemoryError.
        "MALLOC_ARENA_MAX": "2",
    })
    env.setdefault("LANG", "C.UTF-8")
    # The bound packages are imported from where the grader imports them (a checkout that is not the
    # installed one, e.g. a second worktree, included), not from wherever an install points.
    parents = [os.path.dirname(d) for d in _package_dirs(policy.packages) if os.path.isdir(d)]
    if parents:
        env["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(parents))
    env.update({k: str(v) for k, v in policy.env.items()})
    return env
