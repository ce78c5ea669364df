"""A grading worker: a long-lived process that autogrades one submission at a time.

It runs nbgrader's ``Autograde`` converter in-process (no nbgrader start-up
per student) on its own copy of the course (its own ``gradebook.db``, so
workers never contend for the SQLite lock), and sends back plain data:
per-cell scores from its gradebook, failure messages and the problems
:class:`autograder.execution.execute.GuardedExecute` recorded. The parent process
(:mod:`autograder.grading`) merges them into the course gradebook.

Protocol on the pipe: the worker sends ``("ready", pid)``; the parent sends
``("grade", task_dict)`` and gets ``("done", result_dict)``; ``("stop",)``
ends the worker.
"""

from __future__ import annotations

import os
import shutil
import signal
import time
import traceback
from pathlib import Path

from autograder.records import ProblemKind, problem


def read_submission_result(course_dir, db_url, assignment, student):
    """Scores, messages and problems of one autograded submission in ``course_dir``."""
    import nbformat
    from nbgrader.api import Gradebook, MissingEntry

    from autograder.feedback_filters import failure_message

    out = {"student": student, "timestamp": None, "notebooks": [], "problems": [], "error": None}
    with Gradebook(db_url) as gb:
        try:
            sub = gb.find_submission(assignment, student)
        except MissingEntry:
            out["error"] = "nbgrader recorded no submission"
            return out
        out["timestamp"] = sub.timestamp.isoformat() if sub.timestamp else None
        for nb in sub.notebooks:
            out["notebooks"].append({
                "name": nb.name,
                "late_penalty": nb.late_submission_penalty,
                "grades": [{"name": g.name, "auto_score": g.auto_score, "max_score": float(g.max_score),
                            "needs_manual_grade": bool(g.needs_manual_grade),
                            **({"extra_credit": float(g.extra_credit)} if g.extra_credit is not None else {})}
                           for g in nb.grades],
                "comments": [{"name": c.name, "auto_comment": c.auto_comment} for c in nb.comments],
            })
    graded = Path(course_dir) / "autograded" / student / assignment
    for entry in out["notebooks"]:
        path = graded / f"{entry['name']}.ipynb"
        messages, problems, seconds = {}, [], None
        if path.is_file():
            try:
                nb = nbformat.read(path, as_version=4)
                meta = nb.metadata.get("nnkit_grading", {})
                problems = list(meta.get("problems", []))
                seconds = meta.get("seconds")
                for cell in nb.cells:
                    gid = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
                    if gid and cell.get("metadata", {}).get("nbgrader", {}).get("grade"):
                        msg = failure_message(cell)
                        if msg:
                            messages[gid] = msg
            except Exception as exc:  # a notebook nbgrader wrote but we cannot read: say so
                problems.append(problem(ProblemKind.GRADER_ERROR, f"could not read the graded notebook: {exc}"))
        entry["messages"] = messages
        entry["seconds"] = seconds
        for p in problems:
            out["problems"].append({"notebook": entry["name"] + ".ipynb", **p})
    return out


def grade_student(course_dir, assignment, student, staged, config_args, log_path, seed=0):
    """Autograde ``student`` from the ``staged`` folder in the worker's course ``course_dir``.

    ``config_args`` are the keyword arguments of :func:`autograder.nbconfig.make_config`
    (limits and kernel environment).
    """
    from nbgrader.converters import Autograde
    from nbgrader.converters.base import NbGraderException
    from nbgrader.coursedir import CourseDirectory

    from autograder.course import close_logger, nbgrader_logger
    from autograder.nbconfig import make_config

    course_dir = Path(course_dir)
    sub = course_dir / "submitted" / student / assignment
    graded = course_dir / "autograded" / student / assignment
    for d in (sub, graded):
        if d.exists():
            shutil.rmtree(d)
    shutil.copytree(staged, sub)
    cfg = make_config(course_dir, seed=seed, **config_args)
    cfg.CourseDirectory.db_url = "sqlite:///" + str(course_dir / "gradebook.db")
    cfg.CourseDirectory.assignment_id = assignment
    cfg.CourseDirectory.student_id = student
    cfg.CourseDirectory.notebook_id = "*"
    cfg.Autograde.force = True
    log = nbgrader_logger(log_path, name="nnkit.worker", mode="w")
    t0 = time.monotonic()
    error = None
    try:
        conv = Autograde(coursedir=CourseDirectory(config=cfg, log=log), config=cfg, log=log)
        conv.start()
    except NbGraderException as exc:
        error = f"nbgrader could not grade this submission: {exc}"
    except Exception as exc:
        error = f"nbgrader failed: {type(exc).__name__}: {exc}"
        log.error(traceback.format_exc())
    finally:
        close_logger(log)
    result = read_submission_result(course_dir, cfg.CourseDirectory.db_url, assignment, student)
    from autograder.notebook.integrity import check_submission

    check_submission(course_dir, assignment, student, result)
    result["seconds"] = round(time.monotonic() - t0, 3)
    result["autograded_dir"] = str(graded) if graded.is_dir() else None
    if error:
        result["error"] = error
    return result


def _sqlite_pragmas(dbapi_connection, _record):
    cur = dbapi_connection.cursor()
    cur.execute("PRAGMA synchronous=OFF")
    cur.execute("PRAGMA journal_mode=MEMORY")
    cur.close()


def _fast_sqlite():
    """The worker's gradebook is a scratch copy: skip fsync on its commits (one per graded cell)."""
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    if not event.contains(Engine, "connect", _sqlite_pragmas):
        event.listen(Engine, "connect", _sqlite_pragmas)


def worker_main(conn, init=None):
    """Process entry point. ``init`` (or a later ``("init", dict)`` message): course_dir, assignment,
    config_args, log_dir."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles Ctrl-C and stops us
    os.environ.setdefault("PYTHONWARNINGS", "ignore")
    from autograder.nbconfig import ensure_alembic_on_path

    ensure_alembic_on_path()
    import nbgrader.converters  # noqa: F401  (import cost paid once, before the first task)

    conn.send(("ready", os.getpid()))
    while True:
        try:
            msg = conn.recv()
        except (EOFError, OSError):
            return
        if not msg or msg[0] == "stop":
            return
        if msg[0] == "init":
            init = msg[1]
            _fast_sqlite()
            continue
        task = msg[1]
        try:
            result = grade_student(init["course_dir"], init["assignment"], task["student"], task["staged"],
                                   init["config_args"], Path(init["log_dir"]) / f"{task['student']}.log",
                                   seed=task.get("seed", 0))
        except BaseException as exc:  # report, never die silently
            result = {"student": task["student"], "error": f"worker error: {type(exc).__name__}: {exc}",
                      "traceback": traceback.format_exc(), "notebooks": [], "problems": []}
        try:
            conn.send(("done", result))
        except (BrokenPipeError, OSError):
            return


def main(argv=None):
    """``python -m autograder.execution.worker FD INIT_JSON``: serve grading tasks on the pipe with file descriptor FD."""
    import json
    import sys
    from multiprocessing.connection import Connection

    argv = sys.argv[1:] if argv is None else argv
    conn = Connection(int(argv[0]))
    worker_main(conn, json.loads(argv[1]) if len(argv) > 1 else None)


if __name__ == "__main__":
    main()
