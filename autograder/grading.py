"""``grade``: autograde every collected submission of an assignment, in parallel, resumably.

1. The gradebook learns the current master (:meth:`Course.sync_gradebook`).
2. Each submission is read and repaired in this process
   (:mod:`autograder.notebook`: renamed notebooks, stripped or altered nbgrader
   metadata, deleted or copied test cells, unreadable files), into a staging folder.
3. ``workers`` long-lived processes (:mod:`autograder.execution.worker`) grade one
   submission at a time with nbgrader in-process, each on its own copy of the
   course and gradebook, with the manifest's cell/notebook time limits and
   memory limit (:mod:`autograder.execution.execute`, :mod:`autograder.execution.kernel`).
4. This process merges each result into ``gradebook.db`` as it arrives, copies
   the executed notebooks to ``autograded/``, and records the submission's hash
   and everything that went wrong in ``grades/<a>/grading.json``.

A worker that crashes or overruns its deadline is killed with its kernels and
replaced; that submission gets 0 with the reason. A submission whose grades are
in the gradebook and whose files (and the master and limits) did not change
since is skipped, so an interrupted run continues where it stopped; ``force``
regrades.
"""

from __future__ import annotations

import datetime as _dt
import multiprocessing as mp
import os
import secrets
import shutil
import signal
import tempfile
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from multiprocessing.connection import wait as mp_wait
from pathlib import Path

import nbformat

from autograder.course import Course, CourseError, IGNORED, tree_hash
from autograder.course_values import fill_folder, install_spec
from autograder.records import CellResult, GradingEntry, Problem, ProblemKind, problem
from autograder.data_prep import prepare_data
from autograder.execution.kernel import kernel_environment, resolve_device, threads_per_kernel
from autograder.notebook.integrity import FILLED_SOURCE
from autograder.notebook.names import Candidate, assign_notebooks
from autograder.notebook import UnreadableNotebook, is_answer_cell, is_graded_cell, grade_id, parse_notebook, repair

PIPELINE_VERSION = "1"


# ---------------------------------------------------------------------------------------------
# preparing submissions


@dataclass
class Prepared:
    student: str
    staged: Path
    digest: str
    seed: int = 0                                   # secret for the hidden tests' random inputs
    notes: list = field(default_factory=list)       # what was repaired or mapped
    problems: list = field(default_factory=list)    # records.problem() dicts
    notebooks: list = field(default_factory=list)   # expected names that will be graded


def _submitted_candidates(folder):
    cands, others = [], []
    for p in sorted(folder.rglob("*")):
        if not p.is_file() or any(part in (".ipynb_checkpoints", "__MACOSX") for part in p.parts):
            continue
        rel = p.relative_to(folder)
        if p.suffix.lower() != ".ipynb":
            others.append(rel)
            continue
        nb, err = None, ""
        try:
            nb = parse_notebook(p.read_bytes(), p.name)
        except UnreadableNotebook as exc:
            err = str(exc)
        cands.append(Candidate(key=p, filename=p.name, notebook=nb, error=err))
    return cands, others


def submission_digest(course, a, student, manifest, master_hash):
    """Hash of what decides a grade: the submitted files, the master, the limits, this pipeline's version."""
    limits = manifest.limits
    extra = manifest.extra_credit
    return tree_hash(course.submitted_dir(student, a),
                     extra=[PIPELINE_VERSION, master_hash, limits.cell_timeout, limits.notebook_timeout,
                            limits.memory_mb, manifest.device]
                     # only an assignment with extra credit hashes it (the others keep their hashes)
                     + ([sorted(extra.points.items()), extra.above_max] if extra else []))


def prepare_submission(course, a, student, manifest, releases, stage_root, master_hash, digest=None):
    """Read, map and repair one student's files into ``stage_root/<student>``; returns :class:`Prepared`."""
    src = course.submitted_dir(student, a)
    staged = Path(stage_root) / student
    if staged.exists():
        shutil.rmtree(staged)
    staged.mkdir(parents=True)
    digest = digest or submission_digest(course, a, student, manifest, master_hash)
    prep = Prepared(student, staged, digest)
    cands, others = _submitted_candidates(src)
    assigned, notes, leftovers = assign_notebooks(cands, manifest.notebooks, releases)
    prep.notes.extend(notes)
    for c, reason in leftovers:
        prep.notes.append(f"ignored '{c.filename}': {reason}")
    for rel in others:
        if rel.name == "timestamp.txt" or rel.suffix.lower() in (".py", ".csv", ".txt", ".json", ".npz", ".npy"):
            dest = staged / rel
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src / rel, dest)
    for name in manifest.notebooks:
        chosen = assigned.get(name)
        if not chosen:
            prep.problems.append(problem(ProblemKind.MISSING_NOTEBOOK, f"{name} was not handed in", name))
            continue
        chosen = sorted(chosen, key=lambda c: c.key.stat().st_mtime)
        if len(chosen) > 1:
            prep.notes.append(f"{len(chosen)} files for {name}: graded the newest ('{chosen[-1].filename}')")
        c = chosen[-1]
        if c.notebook is None:
            prep.problems.append(problem(ProblemKind.UNREADABLE, f"{name} is {c.error}", name))
            continue
        release = releases.get(name)
        nb = c.notebook
        master = course.source_dir(a) / name
        if master.is_file():  # the repair below puts locked cells back: report edits to them first
            from autograder.notebook.integrity import locked_edits

            for f in locked_edits(nb, nbformat.read(master, as_version=4), release):
                prep.problems.append(problem(ProblemKind.LOCKED_EDIT, str(f), name))
        if release is not None:
            fixed = repair(nb, release)
            nb = fixed.notebook
            prep.notes.extend(f"{name}: {n}" for n in fixed.notes)
        nbformat.write(nb, staged / name)
        prep.notebooks.append(name)
    return prep


# ---------------------------------------------------------------------------------------------
# results


@dataclass
class GradeSummary:
    assignment: str
    graded: list = field(default_factory=list)     # students graded in this run
    skipped: list = field(default_factory=list)    # up to date
    failed: list = field(default_factory=list)     # graded with a problem (still have a grade)
    problems: Counter = field(default_factory=Counter)
    seconds: float = 0.0
    interrupted: bool = False
    entries: dict = field(default_factory=dict)

    def line(self):
        reasons = ", ".join(f"{k.replace('_', ' ')}: {v}" for k, v in self.problems.most_common())
        text = (f"grade {self.assignment}: graded {len(self.graded)}, failed {len(self.failed)}"
                + (f" ({reasons})" if reasons else "")
                + f", skipped {len(self.skipped)} up to date in {self.seconds:.1f} s")
        if self.interrupted:
            text += " -- INTERRUPTED: run the same command again to continue"
        return text


def manual_grade_ids(releases):
    """``{notebook stem: {grade ids of manually graded cells}}``."""
    out = {}
    for name, nb in releases.items():
        out[Path(name).stem] = {grade_id(c) for c in nb.cells if is_graded_cell(c) and is_answer_cell(c)}
    return out


def _graded_files_only(folder, names):
    """``shutil.copytree`` ignore function: keep only the graded notebooks and nbgrader's timestamp."""
    return [n for n in names if not (n.endswith(".ipynb") or n == "timestamp.txt")
            or not os.path.isfile(os.path.join(folder, n))]


def _replace_tree(src, dst):
    """Replace folder ``dst`` with the graded notebooks (and timestamp) of ``src``: whatever else a
    kernel wrote next to them is not kept."""
    dst = Path(dst)
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.with_name(f".{dst.name}.new-{os.getpid()}")
    old = dst.with_name(f".{dst.name}.old-{os.getpid()}")
    for p in (tmp, old):
        if p.exists():
            shutil.rmtree(p)
    shutil.copytree(src, tmp, ignore=_graded_files_only)
    if dst.exists():
        os.replace(dst, old)
    os.replace(tmp, dst)
    if old.exists():
        shutil.rmtree(old, ignore_errors=True)


def _parse_ts(ts):
    if not ts:
        return None
    try:
        return _dt.datetime.fromisoformat(ts)
    except ValueError:
        return None


def merge_result(course, a, student, result, manual_ids, zero=False, manifest=None):
    """Write one worker result into the course gradebook (``zero``: every grade 0).

    With ``manifest`` and its ``[extra_credit]``, the extra-credit cells' earned points are written too
    and then capped against the student's whole score (:func:`autograder.extra_credit.settle_gradebook`).
    """
    from nbgrader.api import MissingEntry

    import warnings

    from autograder.extra_credit import is_extra_credit_cell, settle_gradebook

    extra = manifest.extra_credit if manifest is not None else None
    ts = _parse_ts(result.get("timestamp"))
    with warnings.catch_warnings(), course.gradebook() as gb:
        warnings.simplefilter("ignore")
        gb.update_or_create_student(student)
        sub = gb.update_or_create_submission(a, student, **({"timestamp": ts} if ts else {}))
        by_nb = {nb["name"]: nb for nb in result.get("notebooks", [])}
        for snb in sub.notebooks:
            entry = by_nb.get(snb.name)
            scores = {g["name"]: g for g in entry["grades"]} if entry and not zero else {}
            comments = {c["name"]: c for c in entry["comments"]} if entry and not zero else {}
            for grade in snb.grades:
                g = scores.get(grade.name)
                manual = grade.name in manual_ids.get(snb.name, ())
                score = None if g is None else g["auto_score"]
                if score is None and (zero or g is None or not manual):
                    score = 0.0
                grade.auto_score = score
                grade.needs_manual_grade = (grade.manual_score is not None) or (score is None)
                if is_extra_credit_cell(grade.name, grade.max_score, extra):
                    grade.extra_credit = float((g or {}).get("extra_credit") or 0.0)
            for comment in snb.comments:
                c = comments.get(comment.name)
                comment.auto_comment = c["auto_comment"] if c else None
            snb.late_submission_penalty = entry.get("late_penalty") if entry and not zero else None
        gb.db.commit()
        if extra:
            settle_gradebook(gb, a, student, extra, manifest.total_points)
        try:
            sub = gb.find_submission(a, student)
            late = float(sub.total_seconds_late or 0.0)
        except MissingEntry:
            late = 0.0
    return late


#: Problems that are the grader's failure, not the submission's: such an entry is graded again on the
#: next run even when the submission did not change.
GRADER_FAILURES = frozenset({ProblemKind.GRADER_ERROR.value, ProblemKind.NBGRADER_ERROR.value})


def _grader_failed(entry):
    return any(p.get("kind") in GRADER_FAILURES for p in entry.get("problems", []))


def build_entry(prep, result, manual_ids, seconds_late, status, manifest=None):
    """The :class:`~autograder.records.GradingEntry` of one graded (or failed) submission, as a dict.

    With ``manifest`` and its ``[extra_credit]``: each extra-credit cell records what it earned and could
    earn, and the entry the extra credit kept under the cap (:mod:`autograder.extra_credit`)."""
    from autograder.extra_credit import is_extra_credit_cell, settle_entry

    extra = manifest.extra_credit if manifest is not None else None
    problems = [Problem.from_dict(p) for p in list(prep.problems) + list(result.get("problems", []))]
    if result.get("error"):
        problems.append(Problem(ProblemKind.NBGRADER_ERROR, result["error"]))
    graded_stems = {Path(n).stem for n in prep.notebooks}
    cells = []
    for nb in result.get("notebooks", []):
        msgs = nb.get("messages", {})
        ran = status == "graded" and nb["name"] in graded_stems
        for g in nb["grades"]:
            manual = g["name"] in manual_ids.get(nb["name"], ())
            if ran:
                score = g["auto_score"]
                if score is None and not manual:
                    score = 0.0
                message = msgs.get(g["name"], "")
            else:
                score = 0.0
                message = "notebook not graded" if status == "graded" else "submission not graded"
            cell = CellResult(nb["name"] + ".ipynb", g["name"], score, g["max_score"], manual, message)
            if is_extra_credit_cell(g["name"], g["max_score"], extra):
                cell.extra_max = extra.points[g["name"]]
                cell.extra_credit = float(g.get("extra_credit") or 0.0) if ran else 0.0
            cells.append(cell)
    entry = GradingEntry(hash=prep.digest, status=status, graded_at=_dt.datetime.now().isoformat(timespec="seconds"),
                         seconds=result.get("seconds"), notes=list(prep.notes), problems=problems, cells=cells,
                         seconds_late=seconds_late).to_dict()
    return settle_entry(entry, extra, manifest.total_points) if extra else entry


def zero_result(course, a, student):
    """A result with every notebook of the assignment and no scores (for merge_result(zero=True))."""
    from nbgrader.api import MissingEntry

    with course.gradebook() as gb:
        try:
            assignment = gb.find_assignment(a)
        except MissingEntry:
            return {"notebooks": []}
        nbs = []
        for nb in assignment.notebooks:
            nbs.append({"name": nb.name, "late_penalty": None,
                        "grades": [{"name": g.name, "auto_score": 0.0, "max_score": float(g.max_score),
                                    "needs_manual_grade": False} for g in nb.grade_cells],
                        "comments": [], "messages": {}})
    return {"notebooks": nbs}


# ---------------------------------------------------------------------------------------------
# worker pool


def kill_tree(pid):
    """SIGKILL process ``pid`` and all its descendants (kernels run in their own sessions)."""
    procs = []
    try:
        import psutil

        parent = psutil.Process(pid)
        procs = parent.children(recursive=True) + [parent]
        for p in procs:
            try:
                p.kill()
            except psutil.Error:
                pass
        psutil.wait_procs(procs, timeout=5)
    except ImportError:  # pragma: no cover - psutil is a grader dependency
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    except Exception:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass


class _Worker:
    """One grading process (``python -m autograder.execution.worker``) and its pipe.

    The process starts (and pays its imports) at once; :meth:`init` gives it its
    own copy of the course once the gradebook is ready.
    """

    def __init__(self, index, log_dir):
        import subprocess
        import sys

        self.index = index
        self.course_dir = None
        self.conn, child = mp.Pipe()
        Path(log_dir).mkdir(parents=True, exist_ok=True)
        self._err = open(Path(log_dir) / f"worker{index}.err", "ab")
        env = dict(os.environ)
        # the worker's kernels and verifier keep their sockets and state under a private temp folder,
        # removed with the worker even when it is killed
        self.tmpdir = tempfile.mkdtemp(prefix=f"{WORKER_TMP_PREFIX}{os.getpid()}-")
        env["TMPDIR"] = self.tmpdir
        pkg_parent = str(Path(__file__).resolve().parents[1])
        env["PYTHONPATH"] = os.pathsep.join([pkg_parent] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p])
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "autograder.execution.worker", str(child.fileno())],
            pass_fds=[child.fileno()], env=env, stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, stderr=self._err,
        )
        child.close()
        self.ready = False
        self.task = None
        self.deadline = None
        self.started = None
        self.born = time.monotonic()

    def init(self, base, scratch, assignment, config_args, log_dir):
        self.course_dir = Path(scratch) / f"w{self.index}-{time.monotonic_ns()}"
        shutil.copytree(base, self.course_dir)
        self.conn.send(("init", {"course_dir": str(self.course_dir), "assignment": assignment,
                                 "config_args": config_args, "log_dir": str(log_dir)}))

    def alive(self):
        return self.proc.poll() is None

    def send(self, prep, seconds):
        self.task = prep
        self.started = time.monotonic()
        self.deadline = self.started + seconds
        self.conn.send(("grade", {"student": prep.student, "staged": str(prep.staged), "seed": prep.seed}))

    def stop(self):
        try:
            self.conn.send(("stop",))
        except (OSError, BrokenPipeError):
            pass
        try:
            self.proc.wait(timeout=10)
        except Exception:
            kill_tree(self.proc.pid)
            self.proc.wait(timeout=5)
        self._cleanup()

    def kill(self):
        kill_tree(self.proc.pid)
        try:
            self.proc.wait(timeout=5)
        except Exception:
            pass
        self._cleanup()

    def _cleanup(self):
        for handle in (self.conn, self._err):
            try:
                handle.close()
            except OSError:
                pass
        if self.course_dir is not None:
            shutil.rmtree(self.course_dir, ignore_errors=True)
        shutil.rmtree(self.tmpdir, ignore_errors=True)


def task_deadline(manifest, prep):
    """Seconds after which a worker busy with ``prep`` is presumed stuck and killed."""
    return len(prep.notebooks) * (manifest.limits.notebook_timeout + 30) + 60


WORKER_TMP_PREFIX = "nnkit-w"


def remove_stale_worker_tmp():
    """Remove the private temp folders of workers whose grading run was killed (its pid is gone)."""
    import re

    for path in Path(tempfile.gettempdir()).glob(f"{WORKER_TMP_PREFIX}*-*"):
        m = re.match(rf"{WORKER_TMP_PREFIX}(\d+)-", path.name)
        if not m or int(m.group(1)) == os.getpid():
            continue
        try:
            os.kill(int(m.group(1)), 0)
        except ProcessLookupError:
            shutil.rmtree(path, ignore_errors=True)
        except OSError:
            pass


class WorkerPool:
    """Grading processes: started early (:meth:`__init__`), given the course (:meth:`run`), stopped (:meth:`close`)."""

    def __init__(self, n, log_dir):
        remove_stale_worker_tmp()
        self.log_dir = Path(log_dir)
        self.active = [_Worker(i, self.log_dir) for i in range(max(1, int(n)))]

    def run(self, course, a, manifest, preps, config_args, scratch, on_result, on_failure):
        """Grade ``preps``; ``on_result(prep, result)`` / ``on_failure(prep, kind, message)`` run in this process."""
        base = Path(scratch) / "base"
        (base / "source").mkdir(parents=True)
        shutil.copy2(course.db_path, base / "gradebook.db")
        shutil.copytree(course.source_dir(a), base / "source" / a, ignore=IGNORED)
        # the master as students get it (thresholds, points and install spec filled in, as `release` writes
        # them): the integrity check trusts its locked cells too
        filled = base / FILLED_SOURCE / a
        shutil.copytree(course.source_dir(a), filled, ignore=IGNORED)
        fill_folder(filled, manifest, install_spec(course.root))
        extra = self.active[len(preps):]
        for w in extra:
            w.kill()
        self.active = self.active[:max(1, len(preps))]
        for w in self.active:
            w.init(base, scratch, a, config_args, self.log_dir)

        def spawn(i):
            w = _Worker(i, self.log_dir)
            w.init(base, scratch, a, config_args, self.log_dir)
            return w

        pending = deque(preps)
        start_failures = 0
        active = self.active
        while pending or any(w.task is not None for w in active):
            for w in active:
                if w.ready and w.task is None and pending:
                    prep = pending.popleft()
                    w.send(prep, task_deadline(manifest, prep))
            mp_wait([w.conn for w in active], timeout=0.5)
            for w in list(active):
                dead = None
                try:
                    while w.conn.poll():
                        msg = w.conn.recv()
                        if msg[0] == "ready":
                            w.ready = True
                        elif msg[0] == "done" and w.task is not None:
                            prep, w.task = w.task, None
                            on_result(prep, msg[1])
                except (EOFError, OSError):
                    dead = "crashed"
                if dead is None:
                    if not w.alive():
                        dead = f"crashed (exit code {w.proc.returncode})"
                    elif w.task is not None and time.monotonic() > w.deadline:
                        dead = f"did not finish within {w.deadline - w.started:.0f} s"
                    elif not w.ready and time.monotonic() - w.born > 300:
                        dead = "did not start within 300 s"
                if dead is None:
                    continue
                prep, was_ready = w.task, w.ready
                w.kill()
                active.remove(w)
                if not was_ready:
                    start_failures += 1
                    if start_failures >= 3:
                        raise CourseError(f"grading workers fail to start ({dead}); see {self.log_dir}")
                if prep is not None:
                    kind = ProblemKind.WORKER_TIMEOUT if dead.startswith("did not") else ProblemKind.WORKER_CRASHED
                    on_failure(prep, kind, f"the grading process {dead} while grading this submission; scored 0")
                if pending:
                    active.append(spawn(w.index))

    def close(self):
        for w in self.active:
            if w.task is not None or not w.ready:
                w.kill()
            else:
                w.stop()
        self.active = []


# ---------------------------------------------------------------------------------------------
# the grade command


def up_to_date_students(course, a):
    """Students whose submission of ``a`` has autograded scores in the gradebook."""
    from nbgrader.api import MissingEntry

    if not course.db_path.exists():
        return set()
    out = set()
    with course.gradebook() as gb:
        try:
            assignment = gb.find_assignment(a)
        except MissingEntry:
            return set()
        for sub in assignment.submissions:
            out.add(sub.student.id)
    return out


def student_seed(run_seed, student):
    """The secret for ``student``'s hidden-test inputs in the grading run with secret ``run_seed``."""
    import hashlib

    digest = hashlib.sha256(f"{int(run_seed)}:{student}".encode()).digest()
    return int.from_bytes(digest[:8], "little") & ((1 << 62) - 1)


def grade_assignment(course, a, students=None, *, workers=2, force=False, progress=None, echo=None, seed=None):
    """Grade ``a`` in ``course`` (see module doc); returns a :class:`GradeSummary`.

    ``students``: only these ids (default: everyone in ``submitted/``).
    ``progress``: a tqdm-like factory for a progress bar (None: no bar).
    ``echo``: callable for per-student problem lines (None: silent).
    ``seed``: the run's secret for the hidden tests' random inputs (default: drawn
    fresh; each student's entry in ``grading.json`` records it, so ``--seed``
    repeats a run exactly).
    """
    course = course if isinstance(course, Course) else Course(course)
    t0 = time.monotonic()
    manifest = course.manifest(a)
    everyone = course.submitted_students(a)
    if students:
        unknown = [s for s in students if s not in everyone]
        if unknown:
            raise CourseError(f"no submission of {a} for {', '.join(unknown)} in {course.root / 'submitted'}; "
                              f"run collect first (have: {', '.join(everyone[:10]) or 'none'})")
        everyone = list(students)
    n_workers = max(1, int(workers))
    lock = _lock(course, a)
    pools = []
    # start the grading processes now (their imports overlap with the preparation below),
    # unless every submission looks graded already
    state = course.state(a, "grading.json", {"students": {}}).get("students", {})
    master_hash = course.master_hash(a)
    if everyone and (force or any(state.get(s, {}).get("hash") != submission_digest(course, a, s, manifest, master_hash)
                                  for s in everyone)):
        pools.append(WorkerPool(min(n_workers, len(everyone)), course.state_dir(a) / "logs"))
    try:
        run_seed = int(seed) if seed is not None else secrets.randbits(62)
        return _grade(course, a, manifest, everyone, pools=pools, n_workers=n_workers, force=force, progress=progress,
                      echo=echo, t0=t0, run_seed=run_seed)
    finally:
        for pool in pools:
            pool.close()
        lock.close()


def _lock(course, a):
    """An exclusive lock on ``grades/<a>/.grade.lock`` for this run (released when the file is closed)."""
    import fcntl

    path = course.state_dir(a) / ".grade.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    fh = open(path, "w")
    try:
        fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        fh.close()
        raise CourseError(f"another 'grade {a}' is running on {course.root}; wait for it to finish") from None
    fh.write(str(os.getpid()))
    fh.flush()
    return fh


def _grade(course, a, manifest, everyone, *, pools, n_workers, force, progress, echo, t0, run_seed):
    course.sync_gradebook(a, force=force)
    releases = course.release_notebooks(a)
    manual_ids = manual_grade_ids(releases)
    master_hash = course.master_hash(a)
    state = course.state(a, "grading.json", {"students": {}})
    state.setdefault("students", {})
    in_gradebook = up_to_date_students(course, a)
    summary = GradeSummary(a)
    device = resolve_device(manifest.device)
    config_args = dict(cell_timeout=manifest.limits.cell_timeout, notebook_timeout=manifest.limits.notebook_timeout,
                       memory_mb=manifest.limits.memory_mb,
                       kernel_env=kernel_environment(device, threads_per_kernel(n_workers)),
                       # NNKIT_SANDBOX=0: no bubblewrap (e.g. Gradescope, where each submission has its own container)
                       sandbox=os.environ.get("NNKIT_SANDBOX", "1") != "0",
                       extra_credit=dict(manifest.extra_credit.points),
                       record_dir=os.environ.get("NNKIT_RPC_RECORD") or None)

    def save(student, entry):
        entry["seed"] = run_seed
        state["students"][student] = entry
        state["updated_at"] = _dt.datetime.now().isoformat(timespec="seconds")
        course.save_state(a, "grading.json", state)
        summary.entries[student] = entry
        summary.graded.append(student)
        kinds = {p["kind"] for p in entry["problems"]}
        if entry["status"] != "graded" or kinds:
            summary.failed.append(student)
            summary.problems.update(kinds)
            if echo:
                first = entry["problems"][0]["message"] if entry["problems"] else entry["status"]
                echo(f"  {student}: {entry['score']:g}/{entry['max_score']:g}: {first}")

    bar = None
    # scratch space (staged submissions, the workers' course copies) lives with the course; a run
    # that was killed leaves its folder behind, and the next run (holding the lock) removes it
    for old in course.state_dir(a).glob(".work-*"):
        shutil.rmtree(old, ignore_errors=True)
    with tempfile.TemporaryDirectory(prefix=".work-", dir=course.state_dir(a)) as scratch:
        stage_root = Path(scratch) / "staged"
        preps = []
        for student in everyone:
            digest = submission_digest(course, a, student, manifest, master_hash)
            old = state["students"].get(student, {})
            if not force and old.get("hash") == digest and student in in_gradebook and not _grader_failed(old):
                summary.skipped.append(student)
                continue
            prep = prepare_submission(course, a, student, manifest, releases, stage_root, master_hash, digest)
            prep.seed = student_seed(run_seed, student)
            if not prep.notebooks:  # nothing gradable: no worker needed
                result = zero_result(course, a, student)
                late = merge_result(course, a, student, result, manual_ids, zero=True, manifest=manifest)
                dest = course.autograded_dir(student, a)
                if dest.exists():
                    shutil.rmtree(dest)
                save(student, build_entry(prep, result, manual_ids, late, "failed", manifest))
                continue
            preps.append(prep)
        if preps:  # sandboxed kernels have no network and a read-only data cache: fill it first
            prepare_data(manifest, echo)
        if progress and preps:
            bar = progress(total=len(preps), desc=f"grade {a}", unit="submission")

        def on_result(prep, result):
            if not result.get("notebooks"):
                on_failure(prep, ProblemKind.NBGRADER_ERROR, result.get("error") or "nbgrader recorded no grades")
                return
            late = merge_result(course, a, prep.student, result, manual_ids, manifest=manifest)
            if result.get("autograded_dir"):
                _replace_tree(result["autograded_dir"], course.autograded_dir(prep.student, a))
            save(prep.student, build_entry(prep, result, manual_ids, late, "graded", manifest))
            if bar is not None:
                bar.update(1)
                bar.set_postfix_str(prep.student, refresh=False)

        def on_failure(prep, kind, message):
            result = zero_result(course, a, prep.student)
            prep.problems.append(problem(kind, message))
            late = merge_result(course, a, prep.student, result, manual_ids, zero=True, manifest=manifest)
            dest = course.autograded_dir(prep.student, a)
            if dest.exists():
                shutil.rmtree(dest)
            save(prep.student, build_entry(prep, result, manual_ids, late, "failed", manifest))
            if bar is not None:
                bar.update(1)

        try:
            if preps:
                if not pools:
                    pools.append(WorkerPool(min(n_workers, len(preps)), course.state_dir(a) / "logs"))
                pools[0].run(course, a, manifest, preps, config_args, scratch, on_result, on_failure)
        except KeyboardInterrupt:
            summary.interrupted = True
        finally:
            for pool in pools:
                pool.close()
            if bar is not None:
                bar.close()
    summary.seconds = time.monotonic() - t0
    return summary
