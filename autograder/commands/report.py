"""``report``: class statistics and hardest tests (+ PNG plots)."""

from __future__ import annotations

from autograder.commands.common import course_of


def add(sub, common):
    """Register the ``report`` subcommand on ``sub`` (argparse subparsers)."""
    p = sub.add_parser("report", parents=[common], help="class statistics and hardest tests (+ PNG plots)",
                       description="Write reports/<assignment>/report.md, scores.png, tests.png, per_test.csv.")
    p.add_argument("assignment")
    p.add_argument("--out", metavar="DIR", help="output folder (default: reports/<assignment>)")
    p.set_defaults(func=run)


def run(args):
    from autograder.report import build_report

    course = course_of(args)
    rep = build_report(course, args.assignment, out_dir=args.out)
    for nb, g, f, n, mx in rep.per_test[:10]:
        print(f"  {f:>4}/{n:<4} failed  {nb}: {g} ({mx:g} pts)")
    print(rep.line() + f" (plots: {rep.files['scores_png']}, {rep.files['tests_png']})")
    return 0
