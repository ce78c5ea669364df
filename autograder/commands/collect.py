"""``collect``: import submissions from a folder or an LMS zip."""

from __future__ import annotations

from autograder.commands.common import course_of, progress_factory


def add(sub, common):
    """Register the ``collect`` subcommand on ``sub`` (argparse subparsers)."""
    p = sub.add_parser("collect", parents=[common], help="import submissions from a folder or an LMS zip",
                       description="Import submissions (a folder of notebooks, per-student folders, or a Canvas, "
                                   "Moodle or Blackboard download zip) into submitted/. Keeps the newest copy, "
                                   "records lateness against the manifest's due date, lists what it cannot place.")
    p.add_argument("assignment")
    p.add_argument("source", help="folder or .zip")
    p.add_argument("--roster", metavar="CSV", help="CSV with a student_id column; other columns are LMS ids/names")
    p.add_argument("--timezone", metavar="TZ", help="time zone of submission times in LMS file names (Blackboard), "
                                                     "e.g. Europe/Berlin (default: the due date's, else UTC)")
    p.set_defaults(func=run)


def run(args):
    from autograder.collect import collect

    course = course_of(args)
    res = collect(course, args.assignment, args.source, roster=args.roster, progress=progress_factory(args),
                  timezone=args.timezone)
    for student in sorted(res.students):
        for note in res.notes.get(student, []):
            print(f"  {student}: {note}")
    if res.unplaced:
        print(f"could not place {len(res.unplaced)} file(s):")
        for u in res.unplaced:
            print(f"  {u['file']}: {u['reason']}")
    late = res.late
    print(f"collect {args.assignment}: placed {len(res.students)} student(s) into "
          f"{course.root / 'submitted'}, {len(late)} late, {len(res.unplaced)} file(s) not placed"
          + (f" (late: {', '.join(late[:10])}{' ...' if len(late) > 10 else ''})" if late else ""))
    return 0
