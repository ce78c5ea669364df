"""Run nbgrader on a course directory: generate the release, autograde, read scores.

Everything nbgrader does runs in a child process (``python -m nbgrader ...``)
with the course directory as its working directory and the settings of
:mod:`autograder.nbconfig`, so the caller's process never imports student code
and several gradings can run side by side in separate course directories.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from autograder.manifest import load_manifest
from autograder.nbconfig import ensure_alembic_on_path

REPO_ROOT = Path(__file__).resolve().parents[1]

_CONFIG_TEMPLATE = """\
from autograder.nbconfig import apply_course_defaults
apply_course_defaults(get_config(), {root!r}, cell_timeout={timeout!r})
"""

_MARKER = re.compile(r"^\s*### (BEGIN|END) (SOLUTION|HIDDEN TESTS)\s*$")


class NbgraderError(RuntimeError):
    """nbgrader failed; the message carries its log tail."""


def write_course_config(course_dir, cell_timeout=None):
    """Write ``nbgrader_config.py`` into ``course_dir`` (a temporary course)."""
    path = Path(course_dir) / "nbgrader_config.py"
    path.write_text(_CONFIG_TEMPLATE.format(root=str(Path(course_dir).resolve()), timeout=cell_timeout))
    return path


def kernel_env(extra=None):
    """The environment for nbgrader and the kernels it starts."""
    ensure_alembic_on_path()
    env = dict(os.environ)
    env["NNKIT_NO_PROGRESS"] = "1"
    env.setdefault("NNKIT_GRADING", "1")  # notebooks skip what only a student needs (03's search)
    env.setdefault("PYTHONWARNINGS", "ignore")
    env.setdefault("MPLBACKEND", "Agg")
    if extra:
        env.update({k: str(v) for k, v in extra.items()})
    return env


def run_nbgrader(course_dir, args, env=None, timeout=None):
    """Run ``python -m nbgrader ARGS`` in ``course_dir``; returns the CompletedProcess.

    Raises :class:`NbgraderError` with the log tail when nbgrader exits non-zero.
    """
    proc = subprocess.run(
        [sys.executable, "-m", "nbgrader", *args],
        cwd=str(course_dir),
        env=env or kernel_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).splitlines()[-40:])
        raise NbgraderError(f"nbgrader {' '.join(args)} failed (exit {proc.returncode}):\n{tail}")
    return proc


def generate_release(course_dir, assignment, env=None):
    """nbgrader generate_assignment: ``source/A`` -> ``release/A`` (outputs cleared).

    Returns the release folder. The gradebook in ``course_dir`` learns the
    assignment's grade cells (needed before autograding).
    """
    run_nbgrader(course_dir, ["generate_assignment", assignment, "--force"], env=env)
    return Path(course_dir) / "release" / assignment


def strip_markers(nb):
    """A copy of a master notebook with solution and hidden-test marker lines removed.

    The result is the reference solution as a student would hand it in: the
    solution code stays, hidden tests stay (autograding restores them anyway).
    """
    nb = nbformat.from_dict(nb) if not isinstance(nb, nbformat.NotebookNode) else nbformat.from_dict(dict(nb))
    out = nbformat.from_dict(nbformat.reads(nbformat.writes(nb), as_version=4))
    for cell in out.cells:
        if cell.cell_type == "code":
            cell.source = "\n".join(l for l in cell.source.split("\n") if not _MARKER.match(l))
    return out


def solution_notebook(assignment, notebook, course_dir=REPO_ROOT):
    """The reference solution of ``source/<assignment>/<notebook>`` (markers stripped)."""
    return strip_markers(nbformat.read(Path(course_dir) / "source" / assignment / notebook, as_version=4))


@dataclass
class CellScore:
    notebook: str
    grade_id: str
    score: float
    max_score: float


@dataclass
class SubmissionScores:
    student: str
    cells: list = field(default_factory=list)

    @property
    def score(self):
        return sum(c.score for c in self.cells)

    @property
    def max_score(self):
        return sum(c.max_score for c in self.cells)

    def by_id(self):
        """``{grade_id: score}`` over all notebooks (ids are unique per notebook)."""
        return {c.grade_id: c.score for c in self.cells}

    def failed(self):
        """grade ids of autograded test cells that lost points."""
        return [c.grade_id for c in self.cells if c.score < c.max_score]


def read_scores(course_dir, assignment, student):
    """Per-cell autograded scores of one submission from ``course_dir/gradebook.db``."""
    from nbgrader.api import Gradebook, MissingEntry

    url = "sqlite:///" + str(Path(course_dir).resolve() / "gradebook.db")
    result = SubmissionScores(student)
    with Gradebook(url) as gb:
        try:
            sub = gb.find_submission(assignment, student)
        except MissingEntry:
            return result
        for nb in sub.notebooks:
            for g in nb.grades:
                score = g.score if g.score is not None else 0.0
                result.cells.append(CellScore(nb.name + ".ipynb", g.name, float(score), float(g.max_score)))
    return result


def autograde(course_dir, assignment, student, env=None, cell_timeout=None, timeout=None):
    """nbgrader autograde for one student (submission already in ``submitted/``).

    Returns the :class:`SubmissionScores` read back from the gradebook.
    """
    args = ["autograde", assignment, "--student", student, "--force"]
    if cell_timeout is not None:
        args.append(f"--Execute.timeout={int(cell_timeout)}")
    run_nbgrader(course_dir, args, env=env, timeout=timeout)
    return read_scores(course_dir, assignment, student)


def new_course(assignment, course_dir, source_root=REPO_ROOT, cell_timeout=None):
    """Lay out a fresh course in ``course_dir`` with ``source/<assignment>`` and its manifest."""
    course_dir = Path(course_dir)
    (course_dir / "source").mkdir(parents=True, exist_ok=True)
    shutil.copytree(Path(source_root) / "source" / assignment, course_dir / "source" / assignment,
                    dirs_exist_ok=True, ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"))
    (course_dir / "assignments").mkdir(exist_ok=True)
    man = Path(source_root) / "assignments" / f"{assignment}.toml"
    if man.exists():
        shutil.copy2(man, course_dir / "assignments" / man.name)
    write_course_config(course_dir, cell_timeout=cell_timeout)
    return course_dir


def place_submission(course_dir, assignment, student, notebooks):
    """Write ``notebooks`` ({file name: NotebookNode or path}) to ``submitted/<student>/<assignment>/``."""
    dest = Path(course_dir) / "submitted" / student / assignment
    dest.mkdir(parents=True, exist_ok=True)
    for name, nb in notebooks.items():
        if isinstance(nb, (str, os.PathLike)):
            shutil.copy2(nb, dest / name)
        else:
            nbformat.write(nb, dest / name)
    return dest


def grade_in_temp_course(assignment, submissions, source_root=REPO_ROOT, env=None, cell_timeout=None, keep=None):
    """Grade ``submissions`` ({student: {notebook name: NotebookNode or path}}) from scratch.

    Builds a temporary course from ``source_root`` (source + manifest), generates
    the release, autogrades every student and returns ``{student:
    SubmissionScores}``. ``cell_timeout`` defaults to the manifest's. With
    ``keep`` (a folder), the course is built there and left for inspection.
    """
    manifest = load_manifest(source_root, assignment)
    timeout = cell_timeout or manifest.limits.cell_timeout
    tmp = None
    if keep is None:
        tmp = tempfile.TemporaryDirectory(prefix="nnkit-course-")
        course = Path(tmp.name)
    else:
        course = Path(keep)
    try:
        new_course(assignment, course, source_root, cell_timeout=timeout)
        env = kernel_env(env)
        generate_release(course, assignment, env=env)
        results = {}
        for student, nbs in submissions.items():
            place_submission(course, assignment, student, nbs)
            results[student] = autograde(course, assignment, student, env=env, cell_timeout=timeout)
        return results
    finally:
        if tmp is not None:
            tmp.cleanup()


def _normalized(nb):
    """Notebook JSON text with volatile fields dropped, for comparing releases."""
    nb = nbformat.from_dict(nb)
    nb.metadata.pop("widgets", None)
    for i, cell in enumerate(nb.cells):
        cell["id"] = f"cell-{i}"
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
    return nbformat.writes(nb)


def build_release_in_temp(assignment, source_root=REPO_ROOT):
    """Generate ``release/<assignment>`` from ``source_root`` in a temporary course.

    Returns ``{relative path: bytes}`` for every file of the generated release.
    """
    with tempfile.TemporaryDirectory(prefix="nnkit-release-") as tmp:
        new_course(assignment, tmp, source_root)
        rel = generate_release(tmp, assignment, env=kernel_env())
        return {p.relative_to(rel).as_posix(): p.read_bytes() for p in sorted(rel.rglob("*")) if p.is_file()}


def refresh_release(assignment, source_root=REPO_ROOT):
    """Regenerate ``release/<assignment>`` in ``source_root`` from ``source/``.

    Files no longer generated are removed. Returns the list of written paths.
    """
    files = build_release_in_temp(assignment, source_root)
    dest = Path(source_root) / "release" / assignment
    if dest.exists():
        shutil.rmtree(dest)
    written = []
    for rel, data in files.items():
        out = dest / rel
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(data)
        written.append(out)
    return written


def stale_release_files(assignment, source_root=REPO_ROOT):
    """Paths under ``release/<assignment>`` that differ from a fresh generation ([] when fresh)."""
    fresh = build_release_in_temp(assignment, source_root)
    dest = Path(source_root) / "release" / assignment
    have = {p.relative_to(dest).as_posix(): p.read_bytes() for p in dest.rglob("*") if p.is_file()} if dest.exists() else {}
    stale = []
    for rel in sorted(set(fresh) | set(have)):
        a, b = fresh.get(rel), have.get(rel)
        if a is None or b is None:
            stale.append(rel)
        elif rel.endswith(".ipynb"):
            if _normalized(nbformat.reads(a.decode(), as_version=4)) != _normalized(nbformat.reads(b.decode(), as_version=4)):
                stale.append(rel)
        elif a != b:
            stale.append(rel)
    return stale
