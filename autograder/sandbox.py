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
  sends back is capped on the receiving side (:class:`SandboxKernelClient`).
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

Use from nbgrader (in ``nbgrader_config.py`` after the other course settings,
or on a ``Config`` passed to the API in the grading process)::

    from autograder.sandbox import SandboxPolicy, apply_sandbox
    status = apply_sandbox(c, SandboxPolicy.for_course(course_root, memory_mb=4096))
    # status.summary(): "sandbox: bubblewrap ..." or "UNSANDBOXED: <why>; <how to fix>"

:func:`nbgrader_config_lines` gives those lines for a generated config file.
nbgrader only logs errors in its config file and goes on: run it with
``TRAITLETS_APPLICATION_RAISE_CONFIG_FILE_ERROR=1`` and/or check its log for
:data:`LOG_MARKER`.

Use from nbclient::

    c = Config(); c.SandboxKernelManager.policy_json = policy.to_json()
    NotebookClient(nb, kernel_manager_class=SandboxKernelManager, config=c,
                   resources={"metadata": {"path": workdir}}).execute()
"""

from __future__ import annotations

import dataclasses
import fnmatch
import importlib.util
import json
import logging
import os
import resource
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Optional

import zmq
from jupyter_client.asynchronous.client import AsyncKernelClient
from jupyter_client.channels import AsyncZMQSocketChannel
from jupyter_client.manager import AsyncKernelManager
from traitlets import DottedObjectName, Integer, Type, Unicode, default

log = logging.getLogger("nnkit.sandbox")

#: What to tell a user whose machine lacks bubblewrap.
INSTALL_HINT = "install it with `apt-get install bubblewrap` (Debian/Ubuntu) or `dnf install bubblewrap`"

#: Environment variable naming the bubblewrap executable; "none" (or empty) disables it.
BWRAP_ENV = "NNKIT_BWRAP"

#: Sandboxed kernels run as uid UID_BASE + the launcher's pid (root only): one fresh uid per kernel.
UID_BASE = 2_000_000_000

#: Path of the private runtime folder (connection file, unix sockets) inside the sandbox.
INNER_RUNTIME = "/run/nnkit-kernel"

#: Home folder inside the sandbox (on the tmpfs).
INNER_HOME = "/tmp/home"

#: /etc entries bound read-only when present (dynamic loader, fonts, time zone, name service).
ETC_PATHS = (
    "/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d", "/etc/fonts", "/etc/localtime",
    "/etc/timezone", "/etc/nsswitch.conf", "/etc/alternatives", "/etc/mime.types", "/etc/os-release",
    "/etc/matplotlibrc",
)

#: Environment variables passed into the sandbox (everything else is dropped).
ENV_PASSTHROUGH = (
    "LANG", "LC_ALL", "LC_CTYPE", "TZ", "PYTHONWARNINGS", "PYTHONHASHSEED", "MPLBACKEND", "NBGRADER_EXECUTION",
    "OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS",
    "CUDA_VISIBLE_DEVICES", "PYDEVD_DISABLE_FILE_VALIDATION", "TQDM_DISABLE",
)
ENV_PASSTHROUGH_PREFIXES = ("NNKIT_",)


class SandboxError(RuntimeError):
    """The sandbox cannot be set up as the policy asks (the message says why)."""


@dataclass
class SandboxPolicy:
    """What a sandboxed kernel may see and use.

    ``workdir``: the only writable folder (bound at its own path, the kernel's
    cwd); ``None`` means the folder the kernel is started in (nbgrader starts
    each kernel in ``autograded/<student>/<assignment>``). ``read_only``:
    extra paths (files or folders) bound read-only at their own path (data
    files, caches). ``python``: also bind the running interpreter's
    installation (venv, base prefix, site-packages, ``/usr``, some ``/etc``)
    and the packages in ``packages`` (their folders, wherever an editable
    install put them). ``deny``: paths that must stay unreachable; the launch
    fails if a bind contains one (or a read-only bind lies inside one).
    ``hide``: glob patterns of files in the workdir replaced by empty files
    inside the sandbox. Limits: ``cpu_seconds`` (RLIMIT_CPU, per process),
    ``memory_mb`` (RLIMIT_AS, per process), ``max_processes`` (processes +
    threads), ``max_file_mb`` (RLIMIT_FSIZE, any one file), ``tmp_mb``
    (size of /tmp), ``workdir_mb`` (size of everything the kernel writes in
    its workdir: the workdir is a tmpfs of that size holding the files that
    were there, so what the kernel writes vanishes with it), ``max_output_mb`` (output messages nbgrader accepts from
    the kernel). ``None`` leaves a limit unset. ``bwrap``: path of the
    bubblewrap executable (default: ``$NNKIT_BWRAP`` or ``bwrap`` on PATH;
    ``"none"`` disables the sandbox, which then warns).
    """

    workdir: Optional[str] = None
    read_only: list = field(default_factory=list)
    deny: list = field(default_factory=list)
    hide: list = field(default_factory=lambda: ["*.ipynb", ".ipynb_checkpoints"])
    python: bool = True
    packages: list = field(default_factory=lambda: ["nnkit"])
    cpu_seconds: Optional[int] = 1800
    memory_mb: Optional[int] = 4096
    max_processes: Optional[int] = 256
    max_file_mb: Optional[int] = 1024
    tmp_mb: Optional[int] = 1024
    workdir_mb: Optional[int] = 512
    max_output_mb: Optional[int] = 64
    allow_network: bool = False
    env: dict = field(default_factory=dict)
    env_passthrough: list = field(default_factory=list)
    devices: list = field(default_factory=list)
    hostname: str = "nnkit-sandbox"
    bwrap: Optional[str] = None
    uid: Optional[int] = None

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> "SandboxPolicy":
        data = json.loads(text)
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise SandboxError(f"unknown sandbox policy fields: {sorted(unknown)}")
        return cls(**data)

    @classmethod
    def for_course(cls, course_root, data_paths: Optional[Iterable] = None, **kw) -> "SandboxPolicy":
        """A policy for grading in nbgrader course ``course_root``.

        Denies the course's ``source/``, ``release/``, ``submitted/``,
        ``feedback/``, ``exchange/``, ``autograded/`` (the kernel's own
        ``autograded/<student>/<assignment>`` is its workdir) and
        ``gradebook.db``; binds ``data_paths`` (default :func:`default_data_paths`)
        read-only. Other fields from ``kw``.
        """
        deny = list(kw.pop("deny", [])) + course_deny_paths(course_root)
        ro = list(kw.pop("read_only", []))
        ro += [str(p) for p in (data_paths if data_paths is not None else default_data_paths())]
        env = dict(kw.pop("env", {}))
        cache = _nnkit_cache_dir()
        if cache and any(os.path.abspath(p) == cache for p in ro):
            env.setdefault("NNKIT_DATA_DIR", cache)
        return cls(read_only=ro, deny=deny, env=env, **kw)


def course_deny_paths(course_root) -> list:
    """The paths of an nbgrader course a kernel must not read."""
    root = Path(course_root).resolve()
    names = ["source", "release", "submitted", "autograded", "feedback", "exchange", "gradebook.db",
             "nbgrader_config.py"]
    return [str(root / n) for n in names]


def _nnkit_cache_dir() -> Optional[str]:
    """nnkit's data cache folder (``NNKIT_DATA_DIR`` or the user cache), when it exists."""
    d = os.environ.get("NNKIT_DATA_DIR")
    if not d:
        try:
            import platformdirs

            d = platformdirs.user_cache_dir("nnkit")
        except ImportError:
            return None
    d = os.path.abspath(os.path.expanduser(d))
    return d if os.path.isdir(d) else None


def default_data_paths() -> list:
    """Data a notebook may read: ``$NNKIT_IMDB_PATH`` (+ its sibling ``urls/``) and nnkit's cache folder."""
    out = []
    imdb = os.environ.get("NNKIT_IMDB_PATH")
    if imdb and os.path.exists(imdb):
        out.append(os.path.abspath(imdb))
        urls = os.path.join(os.path.dirname(os.path.abspath(imdb)), "urls")
        if os.path.isdir(urls):
            out.append(urls)
    cache = _nnkit_cache_dir()
    if cache:
        out.append(cache)
    return out


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


# ---------------------------------------------------------------- bubblewrap


def bwrap_path(policy: Optional[SandboxPolicy] = None) -> Optional[str]:
    """The bubblewrap executable the policy or ``$NNKIT_BWRAP`` names (default: ``bwrap`` on PATH); None when disabled or missing."""
    choice = policy.bwrap if policy is not None and policy.bwrap is not None else os.environ.get(BWRAP_ENV)
    if choice is not None:
        if choice.strip().lower() in ("", "none", "0", "off", "false"):
            return None
        found = shutil.which(choice)
        return os.path.abspath(found) if found else None
    found = shutil.which("bwrap")
    return os.path.abspath(found) if found else None


def _privileged() -> bool:
    """True when we run as root and can switch the kernel to a fresh uid (needs setpriv)."""
    return os.geteuid() == 0 and shutil.which("setpriv") is not None


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
                                      preexec_fn=rlimit_preexec(test))
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
    env.update({k: str(v) for k, v in policy.env.items()})
    return env


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


# ---------------------------------------------------------------- jupyter integration

_OUTPUT_TYPES = {"stream", "display_data", "update_display_data", "execute_result", "error"}


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
    """Starts the kernel through :mod:`autograder.sandbox_kernel` under a :class:`SandboxPolicy`.

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
        return [sys.executable, "-m", "autograder.sandbox_kernel", "--policy-json",
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
            from autograder.sandbox_kernel import cleanup_state

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


def runtime_dir_for(connection_file: str) -> str:
    """The private runtime folder the launcher uses for a kernel (next to its connection file)."""
    return os.path.splitext(os.path.realpath(connection_file))[0] + "-sandbox"


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
        "argv": [sys.executable, "-m", "autograder.sandbox_kernel", "--policy", str((kdir / "policy.json").resolve()),
                 "--", sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python 3 (nnkit sandbox)",
        "language": "python",
        "interrupt_mode": "message",
        "metadata": {"debugger": False},
    }
    (kdir / "kernel.json").write_text(json.dumps(spec, indent=1))
    return name
