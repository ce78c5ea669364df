"""``mutants``: validate the hidden tests: kill and acceptance rates."""

from __future__ import annotations

from autograder.commands.common import course_of, workers_arg


def add(sub, common):
    """Register the ``mutants`` subcommand on ``sub`` (argparse subparsers)."""
    p = sub.add_parser("mutants", parents=[common], help="validate the hidden tests: kill and acceptance rates",
                       description="Grade the wrong implementations and correct alternatives in "
                                   "tests/mutants/<assignment>.py and print, per assignment, the share of "
                                   "wrong ones that lose points and of correct ones that keep full marks.")
    p.add_argument("assignment", nargs="*")
    p.add_argument("--workers", type=workers_arg, default=2, metavar="N")
    p.add_argument("--notebook", action="append", metavar="NB", help="only the mutants of this notebook (repeatable)")
    p.add_argument("--slow", action="store_true", help="also the mutants marked slow")
    p.add_argument("--quick", action="store_true",
                   help="only the quick tier that `make test` grades: every correct alternative and the first "
                        "wrong mutant of each set of must_fail cells")
    p.add_argument("--solutions", action="store_true",
                   help="also grade each notebook's solution (full marks expected) and blank release (zero expected)")
    p.add_argument("--seed", type=int, default=None, help="grading seed (default: a fresh one)")
    p.set_defaults(func=run)


def run(args):
    from autograder.manifest import list_assignments
    from autograder.mutation import mutant_file, run

    course = course_of(args)
    names = args.assignment or [a for a in list_assignments(course.root) if mutant_file(course.root, a)]
    if not names:
        print(f"mutants: no tests/mutants/<assignment>.py under {course.root}")
        return 2
    bad = 0
    for a in names:
        report = run(course.root, a, workers=args.workers, seed=args.seed, include_slow=args.slow, quick=args.quick,
                     notebooks=args.notebook, solutions=args.solutions, blank=args.solutions)
        for line in report.lines():
            print(line)
        for nb, (score, max_score, lost) in report.solutions.items():
            print(f"  solution {nb}: {score:g}/{max_score:g}" + (f", lost points in {', '.join(lost)}" if lost else ""))
        for nb, (score, max_score) in report.blank.items():
            print(f"  blank release {nb}: {score:g}/{max_score:g}")
        bad += sum(not r.ok for r in report.results)
        bad += sum(bool(lost) for _, _, lost in report.solutions.values())
        bad += sum(score > 0 for score, _ in report.blank.values())
    print(f"mutants: {len(names)} assignment(s), {bad} graded wrongly")
    return 1 if bad else 0
