"""``gradescope``: build a Gradescope autograder zip."""

from __future__ import annotations

from autograder.commands.common import course_of


def add(sub, common):
    """Register the ``gradescope`` subcommand on ``sub`` (argparse subparsers)."""
    p = sub.add_parser("gradescope", parents=[common], help="build a Gradescope autograder zip",
                       description="Package setup.sh, run_autograder, the pipeline, nnkit and the master "
                                   "notebooks (hidden tests) into a zip for Gradescope.")
    p.add_argument("assignment")
    p.add_argument("--out", required=True, metavar="FILE.zip")
    p.set_defaults(func=run)


def run(args):
    from autograder.gradescope import build_package

    course = course_of(args)
    path = build_package(course, args.assignment, args.out)
    print(f"gradescope {args.assignment}: wrote {path} ({path.stat().st_size / 1e6:.1f} MB); upload it as the "
          "autograder (setup.sh + run_autograder)")
    return 0
