"""``grade``: autograde submissions in parallel (resumable)."""

from __future__ import annotations

from autograder.commands.common import course_of, progress_factory, workers_arg


def add(sub, common):
    """Register the ``grade`` subcommand on ``sub`` (argparse subparsers)."""
    p = sub.add_parser("grade", parents=[common], help="autograde submissions in parallel (resumable)",
                       description="Autograde submitted/<student>/<assignment> with nbgrader in parallel worker "
                                   "processes under the manifest's time and memory limits. Submissions already "
                                   "graded and unchanged are skipped (an interrupted run continues).")
    p.add_argument("assignment")
    p.add_argument("--student", action="append", metavar="ID", help="only this student (repeatable)")
    p.add_argument("--workers", type=workers_arg, default=None, metavar="N",
                   help="parallel grading processes (default: number of CPUs, or NNKIT_GRADING_CPUS when set)")
    p.add_argument("--force", action="store_true", help="regrade even unchanged submissions")
    p.add_argument("--seed", type=int, default=None, metavar="N",
                   help="secret for the hidden tests' random inputs (default: fresh each run; grading.json records "
                        "it, so --force --seed N repeats a run exactly)")
    p.set_defaults(func=run)


def run(args):
    from autograder.execution.kernel import grading_cpus
    from autograder.grading import grade_assignment

    course = course_of(args)
    summary = grade_assignment(course, args.assignment, students=args.student, workers=args.workers or grading_cpus(),
                               force=args.force, progress=progress_factory(args), echo=print, seed=args.seed)
    print(summary.line())
    return 130 if summary.interrupted else 0
