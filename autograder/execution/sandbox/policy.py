"""What a sandboxed process may see and use: the policy, its defaults for a course, its errors.

Part of :mod:`autograder.execution.sandbox` (see its docstring for the whole design).
"""

from __future__ import annotations

import shutil
import dataclasses
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Optional

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
