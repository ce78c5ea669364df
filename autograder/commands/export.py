"""``export``: grades as an LMS CSV or Gradescope results.json."""

from __future__ import annotations

from autograder.commands.common import course_of


def add(sub, common):
    """Register the ``export`` subcommand on ``sub`` (argparse subparsers)."""
    p = sub.add_parser("export", parents=[common], help="grades as an LMS CSV or Gradescope results.json",
                       description="csv: columns student, score, max, late, hours_late, reason. gradescope: "
                                   "PATH/<student>/results.json (or one file with --student).")
    p.add_argument("assignment")
    p.add_argument("--format", choices=["csv", "gradescope"], required=True)
    p.add_argument("--to", required=True, metavar="PATH")
    p.add_argument("--student", action="append", metavar="ID", help="only this student (repeatable)")
    p.set_defaults(func=run)


def run(args):
    from autograder.export import export_csv, export_gradescope

    course = course_of(args)
    if args.format == "csv":
        rows = export_csv(course, args.assignment, args.to, students=args.student)
        flagged = sum(1 for r in rows if r.reason)
        print(f"export {args.assignment}: {len(rows)} students to {args.to} (csv), {flagged} with a reason, "
              f"{sum(1 for r in rows if r.late)} late")
    else:
        paths = export_gradescope(course, args.assignment, args.to, students=args.student)
        print(f"export {args.assignment}: {len(paths)} Gradescope results.json file(s) under {args.to}")
    return 0
