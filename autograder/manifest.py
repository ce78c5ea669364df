"""Per-assignment settings read from ``assignments/<name>.toml``.

A manifest states what the grader needs to know about one assignment::

    title = "Neural networks from scratch in numpy"
    notebooks = ["01_layers.ipynb", "02_optimizers.ipynb"]   # in source/<name>/
    due = "2026-12-15T23:59:00+00:00"                       # optional, ISO 8601
    device = "cpu"            # "cpu", or "auto": use a GPU when one is present

    [limits]
    cell_timeout = 120        # seconds per cell
    notebook_timeout = 600    # seconds per notebook
    memory_mb = 4096          # address-space limit of the kernel
    container_memory_mb = 1536  # memory a machine grading one submission at a time needs
                              # (Gradescope's container setting), from benchmarks/grading_memory.py

    [points]                  # total points per notebook (checked against source/)
    "01_layers.ipynb" = 40

    [thresholds]              # free-form numbers the hidden tests read
    test_accuracy = 0.87

    [data]
    imdb = false              # whether the notebooks read IMDB

    [extra_credit]            # optional: test cells with 0 points that earn extra credit
    above_max = false         # default: extra credit never lifts an assignment total above its maximum
    points = { test_own_activation = 2 }   # grade id -> extra-credit points
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass, field
from pathlib import Path

try:  # Python 3.11+
    import tomllib as _toml
except ModuleNotFoundError:  # pragma: no cover - Python < 3.11
    import tomli as _toml  # type: ignore[no-redef]


class ManifestError(ValueError):
    """A manifest is missing or malformed; the message names the file and the fix."""


@dataclass(frozen=True)
class Limits:
    cell_timeout: int = 120
    notebook_timeout: int = 900
    memory_mb: int = 4096
    #: resident memory a container grading one submission at a time needs (grader, verifier and
    #: kernel together, with margin); 0: not measured. ``gradescope`` tells the instructor.
    container_memory_mb: int = 0


@dataclass(frozen=True)
class ExtraCredit:
    """``[extra_credit]``: test cells (0 points in their metadata) whose verdict earns extra credit.

    ``points``: ``{grade_id: points}``; ``above_max``: whether extra credit may lift a student's
    assignment total above the maximum (default: it is reduced so that the total stays at most the
    maximum; :mod:`autograder.extra_credit`).
    """

    points: dict = field(default_factory=dict)
    above_max: bool = False

    def __bool__(self):
        return bool(self.points)


@dataclass(frozen=True)
class Manifest:
    name: str
    title: str
    notebooks: tuple
    points: dict
    limits: Limits = field(default_factory=Limits)
    thresholds: dict = field(default_factory=dict)
    data: dict = field(default_factory=dict)
    device: str = "cpu"
    due: _dt.datetime | None = None
    path: Path | None = None
    extra_credit: ExtraCredit = field(default_factory=ExtraCredit)

    @property
    def total_points(self):
        return float(sum(self.points.values()))


def manifest_path(course_dir, name):
    return Path(course_dir) / "assignments" / f"{name}.toml"


def list_assignments(course_dir):
    """Names of the assignments that have a manifest in ``course_dir/assignments``, sorted."""
    d = Path(course_dir) / "assignments"
    return sorted(p.stem for p in d.glob("*.toml")) if d.is_dir() else []


def load_manifest(course_dir, name):
    """Read and validate ``assignments/<name>.toml`` under ``course_dir``."""
    path = manifest_path(course_dir, name)
    if not path.is_file():
        known = ", ".join(list_assignments(course_dir)) or "none"
        raise ManifestError(f"no manifest {path}; known assignments: {known}")
    try:
        raw = _toml.loads(path.read_text(encoding="utf-8"))
    except _toml.TOMLDecodeError as exc:
        raise ManifestError(f"{path}: not valid TOML ({exc}); fix the file") from None
    return parse_manifest(raw, name, path)


def parse_manifest(raw, name, path=None):
    """Build a :class:`Manifest` from a parsed TOML dict; raises :class:`ManifestError`."""
    where = path or name

    def need(key, typ):
        if key not in raw:
            raise ManifestError(f"{where}: missing required key {key!r}")
        if not isinstance(raw[key], typ):
            raise ManifestError(f"{where}: {key!r} must be {typ.__name__}, got {type(raw[key]).__name__}")
        return raw[key]

    title = need("title", str)
    notebooks = tuple(need("notebooks", list))
    if not notebooks or not all(isinstance(n, str) and n.endswith(".ipynb") for n in notebooks):
        raise ManifestError(f"{where}: 'notebooks' must list .ipynb file names")
    points = {str(k): float(v) for k, v in raw.get("points", {}).items()}
    unknown = set(points) - set(notebooks)
    if unknown:
        raise ManifestError(f"{where}: [points] names notebooks not in 'notebooks': {sorted(unknown)}")
    lim = raw.get("limits", {})
    allowed = {"cell_timeout", "notebook_timeout", "memory_mb", "container_memory_mb"}
    if set(lim) - allowed:
        raise ManifestError(f"{where}: unknown [limits] keys {sorted(set(lim) - allowed)}; allowed: {sorted(allowed)}")
    limits = Limits(**{k: int(v) for k, v in lim.items()})
    if min(limits.cell_timeout, limits.notebook_timeout, limits.memory_mb) <= 0 or limits.container_memory_mb < 0:
        raise ManifestError(f"{where}: limits must be positive")
    device = raw.get("device", "cpu")
    if device not in ("cpu", "auto", "cuda"):
        raise ManifestError(f"{where}: device must be 'cpu', 'auto' or 'cuda', got {device!r}")
    due = raw.get("due")
    if isinstance(due, str):
        try:
            due = _dt.datetime.fromisoformat(due)
        except ValueError:
            raise ManifestError(f"{where}: due {due!r} is not ISO 8601 (e.g. 2026-12-15T23:59:00+00:00)") from None
    if isinstance(due, _dt.datetime) and due.tzinfo is None:
        due = due.replace(tzinfo=_dt.timezone.utc)
    extra_credit = parse_extra_credit(raw.get("extra_credit"), where)
    return Manifest(
        name=name,
        title=title,
        notebooks=notebooks,
        points=points,
        limits=limits,
        thresholds=dict(raw.get("thresholds", {})),
        data=dict(raw.get("data", {})),
        device=device,
        due=due,
        path=Path(path) if path else None,
        extra_credit=extra_credit,
    )


def parse_extra_credit(raw, where):
    """The :class:`ExtraCredit` of a manifest's ``[extra_credit]`` table (None: no extra credit)."""
    example = "[extra_credit] points = { test_own_activation = 2 }, above_max = false"
    if raw is None:
        return ExtraCredit()
    if not isinstance(raw, dict):
        raise ManifestError(f"{where}: extra_credit must be a table ({example})")
    unknown = set(raw) - {"points", "above_max"}
    if unknown:
        raise ManifestError(f"{where}: unknown [extra_credit] keys {sorted(unknown)}; allowed: ['above_max', 'points'] "
                            f"({example})")
    above_max = raw.get("above_max", False)
    if not isinstance(above_max, bool):
        raise ManifestError(f"{where}: [extra_credit] above_max must be true or false, got {above_max!r}; "
                            "write above_max = false (extra credit never lifts a total above the maximum) or true")
    points = raw.get("points", {})
    if not isinstance(points, dict):
        raise ManifestError(f"{where}: [extra_credit] points must be a table of grade id = points, got "
                            f"{type(points).__name__}; write {example}")
    out = {}
    for gid, value in points.items():
        if not isinstance(gid, str) or not gid.strip():
            raise ManifestError(f"{where}: [extra_credit] points: the grade id {gid!r} must be a non-empty string "
                                "(the grade_id of a test cell)")
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0 or value != value \
                or value == float("inf"):
            raise ManifestError(f"{where}: [extra_credit] points.{gid} = {value!r}: extra-credit points must be a "
                                f"number above 0; write points = {{ {gid} = 2 }} or remove the entry")
        out[gid] = float(value)
    return ExtraCredit(points=out, above_max=above_max)
