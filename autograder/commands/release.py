"""``release``: generate the student versions into release/."""

from __future__ import annotations

from autograder.commands.common import course_of


def add(sub, common):
    """Register the ``release`` subcommand on ``sub`` (argparse subparsers)."""
    p = sub.add_parser("release", parents=[common], help="generate the student versions into release/",
                       description="Generate release/<assignment> from source/ with nbgrader (solutions and hidden "
                                   "tests removed, outputs stripped). All assignments when none is given.")
    p.add_argument("assignment", nargs="*", help="assignment name(s) (default: all with a manifest)")
    p.set_defaults(func=run)


def run(args):
    from autograder.releasing import release_assignment

    course = course_of(args)
    names = args.assignment or course.assignments()
    if not names:
        print(f"release: no assignments with a manifest in {course.root / 'assignments'}")
        return 1
    total = {"written": 0, "unchanged": 0, "removed": 0}
    for a in names:
        s = release_assignment(course, a)
        print(s.line())
        for k in total:
            total[k] += len(getattr(s, k))
    print(f"release: {len(names)} assignment(s), {total['written']} files written, {total['unchanged']} unchanged, "
          f"{total['removed']} removed -> {course.root / 'release'}")
    return 0
