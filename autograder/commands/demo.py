"""``demo``: grade generated sample submissions end to end."""

from __future__ import annotations

import time

from autograder.commands.common import course_of, progress_factory, workers_arg


def add(sub, common):
    """Register the ``demo`` subcommand on ``sub`` (argparse subparsers)."""
    p = sub.add_parser("demo", parents=[common], help="grade generated sample submissions end to end",
                       description="For every assignment, grade three submissions generated from source/ (the "
                                   "solution, the blank release, one with typical mistakes) in a temporary "
                                   "course; print the grade table and where feedback and reports went.")
    p.add_argument("--assignment", action="append", metavar="A", help="only this assignment (repeatable)")
    p.add_argument("--out", metavar="DIR", help="where to build the demo course (default: a new temp folder)")
    p.add_argument("--workers", type=workers_arg, default=2, metavar="N")
    p.set_defaults(func=run)


def run(args):
    from autograder.demo import format_table, run_demo

    t0 = time.monotonic()
    course = course_of(args)
    res = run_demo(course.root, assignments=args.assignment, out=args.out, workers=args.workers,
                   progress=progress_factory(args))
    print()
    print(format_table(res))
    print()
    for a in res.checks:
        sol, blank = res.checks[a]
        print(f"{a}: solution full marks: {'yes' if sol else 'NO'}; blank release 0: {'yes' if blank else 'NO'}")
        print(f"  feedback: {res.feedback[a]}/<student>/{a}/*.html")
        print(f"  report:   {res.reports[a]} (+ scores.png, tests.png)")
        print(f"  grades:   {res.exports[a]}")
    print(f"demo: {len(res.checks)} assignment(s), {len(res.rows)} submissions graded in "
          f"{time.monotonic() - t0:.0f} s, course in {res.root / 'course'}: "
          + ("all checks passed" if res.ok else "CHECKS FAILED"))
    return 0 if res.ok else 1
