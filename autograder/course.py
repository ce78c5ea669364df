"""A course directory: where everything lives, pipeline state, and the gradebook's copy of the master.

Layout (nbgrader's, plus the pipeline's own files)::

    assignments/<a>.toml            manifest (autograder.manifest)
    source/<a>/                     master notebooks (solutions + hidden tests)
    release/<a>/                    student versions (``release`` command)
    submitted/<student>/<a>/        collected submissions (+ timestamp.txt)
    autograded/<student>/<a>/       executed notebooks
    feedback/<student>/<a>/         HTML feedback
    gradebook.db                    nbgrader's gradebook (SQLite)
    grades/<a>/                     pipeline state: collect.json, grading.json, master.json,
                                    release/ (the release the gradebook knows), logs/, exports
    reports/<a>/                    class report (``report`` command)

Only the parent ``python -m autograder`` process writes ``gradebook.db``;
grading workers write to their own copies (:mod:`autograder.grading`).
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import logging
import os
import shutil
import tempfile
from pathlib import Path

from autograder.course_values import CourseValueError, fill_folder, install_spec
from autograder.manifest import list_assignments, load_manifest
from autograder.nbconfig import ensure_alembic_on_path, make_config

REPO_ROOT = Path(__file__).resolve().parents[1]
#: Names that are never course content or a submission: editor, OS and Python leftovers and archive
#: metadata (the one list: copying a course, hashing it and collecting submissions all use it).
IGNORED_NAMES = frozenset({".ipynb_checkpoints", "__pycache__", "__MACOSX", ".git", ".DS_Store"})


def is_ignored(name):
    """True for a file or folder name in :data:`IGNORED_NAMES`, an AppleDouble ``._*`` file or a ``.pyc``."""
    return name in IGNORED_NAMES or name.startswith("._") or name.endswith(".pyc")


def IGNORED(folder, names):  # noqa: N802 - a shutil.copytree ignore function, named like a constant
    """``shutil.copytree(..., ignore=IGNORED)``: skip the :func:`is_ignored` names."""
    return [n for n in names if is_ignored(n)]


class CourseError(RuntimeError):
    """A problem the user must fix; the message says how."""


class GradebookConflict(CourseError):
    """The gradebook has submissions graded against other cells of this master (nbgrader will not change them)."""


def default_course_root():
    """``$NNKIT_COURSE``, else the current directory when it holds ``assignments/``, else the repository."""
    env = os.environ.get("NNKIT_COURSE")
    if env:
        return Path(env)
    cwd = Path.cwd()
    if (cwd / "assignments").is_dir():
        return cwd
    return REPO_ROOT


def read_json(path, default=None):
    try:
        with open(path, encoding="utf-8") as fh:
            return json.load(fh)
    except (OSError, ValueError):
        return default


def write_json(path, data):
    """Write ``data`` as JSON atomically (a crash leaves the old file or the new one, never half)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(data, fh, indent=1, sort_keys=True, default=str)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def tree_hash(*paths, extra=()):
    """sha256 over the relative paths and bytes of every file under ``paths`` (and ``extra`` strings)."""
    h = hashlib.sha256()
    for s in extra:
        h.update(str(s).encode())
        h.update(b"\0")
    for base in paths:
        base = Path(base)
        if not base.exists():
            h.update(b"<missing>")
            continue
        files = [base] if base.is_file() else sorted(
            p for p in base.rglob("*") if p.is_file() and not any(is_ignored(part) for part in p.relative_to(base).parts))
        for p in files:
            h.update(p.relative_to(base).as_posix().encode() if p != base else p.name.encode())
            h.update(b"\0")
            h.update(p.read_bytes())
            h.update(b"\0")
    return h.hexdigest()


def nbgrader_logger(path=None, name="nnkit.nbgrader", mode="a"):
    """A logger for in-process nbgrader converters: to ``path``, never to the console."""
    log = logging.getLogger(f"{name}.{os.getpid()}")  # one logger per process and use; handlers are swapped
    log.propagate = False
    log.setLevel(logging.INFO)
    for h in list(log.handlers):
        log.removeHandler(h)
        h.close()
    if path:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        handler = logging.FileHandler(path, mode=mode, encoding="utf-8")
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
        log.addHandler(handler)
    else:
        log.addHandler(logging.NullHandler())
    return log


def close_logger(log):
    for h in list(log.handlers):
        log.removeHandler(h)
        h.close()


class Course:
    """Paths and state of one course directory."""

    def __init__(self, root=None):
        self.root = Path(root or default_course_root()).resolve()
        if not self.root.is_dir():
            raise CourseError(f"course directory {self.root} does not exist")

    # ---- paths ---------------------------------------------------------------------------------
    @property
    def db_path(self):
        return self.root / "gradebook.db"

    @property
    def db_url(self):
        return "sqlite:///" + str(self.db_path)

    def source_dir(self, a):
        return self.root / "source" / a

    def release_dir(self, a):
        return self.root / "release" / a

    def submitted_dir(self, student, a):
        return self.root / "submitted" / student / a

    def autograded_dir(self, student, a):
        return self.root / "autograded" / student / a

    def feedback_dir(self, student, a):
        return self.root / "feedback" / student / a

    def state_dir(self, a):
        return self.root / "grades" / a

    def reports_dir(self, a):
        return self.root / "reports" / a

    def graded_release_dir(self, a):
        """The release generated with the gradebook's copy of the master (used to repair submissions)."""
        return self.state_dir(a) / "release"

    # ---- assignments ---------------------------------------------------------------------------
    def assignments(self):
        """Assignments with a manifest and a ``source/`` folder, sorted."""
        return [a for a in list_assignments(self.root) if self.source_dir(a).is_dir()]

    def manifest(self, a):
        m = load_manifest(self.root, a)
        if not self.source_dir(a).is_dir():
            raise CourseError(f"assignment {a!r} has a manifest but no source/{a}/ folder in {self.root}")
        missing = [nb for nb in m.notebooks if not (self.source_dir(a) / nb).is_file()]
        if missing:
            raise CourseError(f"{m.path}: notebooks {missing} are not in source/{a}/")
        return m

    def submitted_students(self, a):
        base = self.root / "submitted"
        if not base.is_dir():
            return []
        return sorted(p.name for p in base.iterdir() if (p / a).is_dir() and not p.name.startswith("."))

    def config(self, a, manifest=None, kernel_env=None):
        """The traitlets Config for nbgrader on this course and assignment's limits."""
        m = manifest or self.manifest(a)
        return make_config(self.root, cell_timeout=m.limits.cell_timeout, notebook_timeout=m.limits.notebook_timeout,
                           memory_mb=m.limits.memory_mb, kernel_env=kernel_env,
                           extra_credit=dict(m.extra_credit.points))

    # ---- state files ---------------------------------------------------------------------------
    def state(self, a, name, default=None):
        return read_json(self.state_dir(a) / name, default if default is not None else {})

    def save_state(self, a, name, data):
        write_json(self.state_dir(a) / name, data)

    def master_hash(self, a):
        """Hash of what a graded release of ``a`` is made from: ``source/<a>``, its manifest (thresholds and
        points are written into the notebooks) and ``course.toml``."""
        h = hashlib.sha256(tree_hash(self.source_dir(a)).encode())
        for extra in (self.root / "assignments" / f"{a}.toml", self.root / "course.toml"):
            h.update(extra.read_bytes() if extra.is_file() else b"-")
        return h.hexdigest()

    # ---- gradebook -----------------------------------------------------------------------------
    def gradebook(self):
        from nbgrader.api import Gradebook

        ensure_alembic_on_path()
        return Gradebook(self.db_url, course_id="nnkit")

    def sync_gradebook(self, a, force=False):
        """Make the gradebook know the current master of ``a``; returns the graded-release folder.

        Runs nbgrader's generate_assignment (in a scratch course whose database is
        this course's gradebook) when ``source/<a>`` changed since the last sync.
        nbgrader refuses to change the cells of an assignment that has submissions:
        then ``force`` removes the assignment's grades first (everyone is regraded),
        otherwise :class:`CourseError` says so.
        """
        m = self.manifest(a)
        digest = self.master_hash(a)
        rel = self.graded_release_dir(a)
        saved = self.state(a, "master.json")
        known = False
        if self.db_path.exists():
            from nbgrader.api import MissingEntry

            with self.gradebook() as gb:
                try:
                    known = len(gb.find_assignment(a).notebooks) > 0
                except MissingEntry:
                    known = False
        if not (known and saved.get("hash") == digest and rel.is_dir()):
            self._generate(a, m, force)
        with self.gradebook() as gb:
            due = m.due.astimezone(_dt.timezone.utc).replace(tzinfo=None) if m.due else None
            gb.update_or_create_assignment(a, duedate=due)
        self.save_state(a, "master.json", {"hash": digest, "synced_at": _dt.datetime.now().isoformat(timespec="seconds")})
        return rel

    def _generate(self, a, m, force):
        try:
            files = self.generate_assignment(a, self.state_dir(a) / "logs" / "generate.log", db_url=self.db_url)
        except GradebookConflict:
            if not force:
                raise CourseError(
                    f"source/{a} changed its graded cells after submissions were graded; nbgrader "
                    f"cannot update them. Rerun with --force to drop the old grades of {a} and "
                    "regrade everyone.") from None
            with self.gradebook() as gb:
                gb.remove_assignment(a)
            files = self.generate_assignment(a, self.state_dir(a) / "logs" / "generate.log", db_url=self.db_url)
        out = self.graded_release_dir(a)
        if out.exists():
            shutil.rmtree(out)
        for rel, data in files.items():
            (out / rel).parent.mkdir(parents=True, exist_ok=True)
            (out / rel).write_bytes(data)
        return out

    def generate_assignment(self, a, log_path, db_url=None, log_mode="a"):
        """Run nbgrader's generate_assignment on ``source/<a>``: the one place that does.

        It runs in-process in a scratch course (solutions replaced by the code
        stub, hidden tests removed, cells locked and checksummed, outputs
        cleared) and returns ``{relative path: bytes}`` of the generated
        ``release/<a>``. ``db_url``: the gradebook that learns the master's
        cells (``None``: a scratch one). Raises :class:`GradebookConflict`
        when that gradebook has submissions graded against other cells, and
        :class:`CourseError` (with the log's tail) on any other failure.
        """
        from nbgrader.converters import GenerateAssignment
        from nbgrader.converters.base import NbGraderException
        from nbgrader.coursedir import CourseDirectory

        ensure_alembic_on_path()
        log = nbgrader_logger(log_path, mode=log_mode)
        try:
            with tempfile.TemporaryDirectory(prefix="nnkit-gen-") as tmp:
                shutil.copytree(self.source_dir(a), Path(tmp) / "source" / a, ignore=IGNORED)
                try:
                    fill_folder(Path(tmp) / "source" / a, self.manifest(a), install_spec(self.root))
                except CourseValueError as exc:
                    raise CourseError(str(exc)) from None
                cfg = make_config(tmp)
                if db_url:
                    cfg.CourseDirectory.db_url = db_url
                cfg.CourseDirectory.assignment_id = a
                cfg.GenerateAssignment.force = True
                try:
                    GenerateAssignment(coursedir=CourseDirectory(config=cfg, log=log), config=cfg, log=log).start()
                except NbGraderException as exc:
                    text = self.log_tail(log_path)
                    if "submissions associated" in text:
                        raise GradebookConflict(f"nbgrader generate_assignment failed for {a}: {exc}") from None
                    raise CourseError(f"nbgrader generate_assignment failed for {a}: {exc}\n{text}") from None
                rel = Path(tmp) / "release" / a
                return {p.relative_to(rel).as_posix(): p.read_bytes() for p in sorted(rel.rglob("*")) if p.is_file()}
        finally:
            close_logger(log)

    @staticmethod
    def log_tail(path, lines=30):
        try:
            return "\n".join(Path(path).read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def release_notebooks(self, a):
        """``{name: notebook}`` of the graded release (after :meth:`sync_gradebook`)."""
        import nbformat

        m = self.manifest(a)
        rel = self.graded_release_dir(a)
        return {nb: nbformat.read(rel / nb, as_version=4) for nb in m.notebooks if (rel / nb).is_file()}
