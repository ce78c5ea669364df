"""``check``: static checks of an assignment (manifest, notebooks, release)."""

from __future__ import annotations

import time

from autograder.commands.common import course_of


def add(sub, common):
    """Register the ``check`` subcommand on ``sub`` (argparse subparsers)."""
    p = sub.add_parser("check", parents=[common], help="static checks of an assignment (manifest, notebooks, release)",
                       description="Check, without running any notebook, that the manifest agrees with the master "
                                   "notebooks (notebooks, grade ids, points, thresholds, the prose's {{ }} "
                                   "placeholders), masters have no outputs, "
                                   "release/ is fresh and the mutant file loads; each problem is named with its fix.")
    p.add_argument("assignment", nargs="*")
    p.add_argument("--no-release", action="store_true", help="skip the release freshness check (nbgrader)")
    p.set_defaults(func=run)


def run(args):
    from autograder.checks import check_assignment
    from autograder.manifest import list_assignments

    course = course_of(args)
    names = args.assignment or list_assignments(course.root)
    t0 = time.monotonic()
    bad = 0
    for a in names:
        problems = check_assignment(course.root, a, release=not args.no_release)
        for p in problems:
            print(f"  {p}")
        bad += len(problems)
        print(f"check {a}: {'OK' if not problems else f'{len(problems)} problem(s)'}")
    print(f"check: {len(names)} assignment(s), {bad} problem(s) in {time.monotonic() - t0:.1f} s")
    return 1 if bad else 0
