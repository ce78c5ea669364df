"""``feedback``: per-student HTML feedback (no hidden-test source)."""

from __future__ import annotations

from autograder.commands.common import course_of, progress_factory


def add(sub, common):
    """Register the ``feedback`` subcommand on ``sub`` (argparse subparsers)."""
    p = sub.add_parser("feedback", parents=[common], help="per-student HTML feedback (no hidden-test source)",
                       description="Write feedback/<student>/<assignment>/*.html: scores, failure messages and "
                                   "the grader's notes; hidden tests and test tracebacks are removed.")
    p.add_argument("assignment")
    p.add_argument("--student", action="append", metavar="ID", help="only this student (repeatable)")
    p.set_defaults(func=run)


def run(args):
    from autograder.feedback import generate_feedback

    course = course_of(args)
    s = generate_feedback(course, args.assignment, students=args.student, progress=progress_factory(args))
    print(s.line() + f" -> {course.root / 'feedback'}/<student>/{args.assignment}/")
    return 0 if not s.failed else 1
