"""The instructor's command line: ``python -m autograder <command>`` (also ``nnkit-grade``).

Every command works on a course directory (``--course DIR``; default
``$NNKIT_COURSE``, else the current directory when it has ``assignments/``,
else this repository) and reads the assignment's settings from
``assignments/<assignment>.toml``. Each ends with one summary line.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

EPILOG = """\
typical term:
  python -m autograder release numpy_nets
  python -m autograder collect numpy_nets ~/Downloads/submissions.zip --roster roster.csv
  python -m autograder grade numpy_nets --workers 4
  python -m autograder feedback numpy_nets
  python -m autograder export numpy_nets --format csv --to grades.csv
  python -m autograder report numpy_nets
  python -m autograder gradescope numpy_nets --out numpy_nets_autograder.zip
"""


def _progress_factory(args):
    """A tqdm factory writing to stdout (None when bars are off)."""
    if getattr(args, "no_progress", False):
        return None
    from tqdm import tqdm

    def make(iterable=None, **kw):
        kw.setdefault("file", sys.stdout)
        kw.setdefault("mininterval", 0.5)
        kw.setdefault("dynamic_ncols", True)
        kw.setdefault("leave", False)
        return tqdm(iterable, **kw)

    return make


def _course(args):
    from autograder.course import Course

    return Course(args.course) if args.course else Course()


def _workers(value):
    n = int(value)
    if n < 1:
        raise argparse.ArgumentTypeError("--workers must be at least 1")
    return n


def cmd_release(args):
    from autograder.releasing import release_assignment

    course = _course(args)
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


def cmd_collect(args):
    from autograder.collect import collect

    course = _course(args)
    res = collect(course, args.assignment, args.source, roster=args.roster, progress=_progress_factory(args),
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


def cmd_grade(args):
    from autograder.grading import grade_assignment

    course = _course(args)
    summary = grade_assignment(course, args.assignment, students=args.student, workers=args.workers,
                               force=args.force, progress=_progress_factory(args), echo=print, seed=args.seed)
    print(summary.line())
    return 130 if summary.interrupted else 0


def cmd_feedback(args):
    from autograder.feedback import generate_feedback

    course = _course(args)
    s = generate_feedback(course, args.assignment, students=args.student, progress=_progress_factory(args))
    print(s.line() + f" -> {course.root / 'feedback'}/<student>/{args.assignment}/")
    return 0 if not s.failed else 1


def cmd_export(args):
    from autograder.export import export_csv, export_gradescope

    course = _course(args)
    if args.format == "csv":
        rows = export_csv(course, args.assignment, args.to, students=args.student)
        flagged = sum(1 for r in rows if r.reason)
        print(f"export {args.assignment}: {len(rows)} students to {args.to} (csv), {flagged} with a reason, "
              f"{sum(1 for r in rows if r.late)} late")
    else:
        paths = export_gradescope(course, args.assignment, args.to, students=args.student)
        print(f"export {args.assignment}: {len(paths)} Gradescope results.json file(s) under {args.to}")
    return 0


def cmd_report(args):
    from autograder.report import build_report

    course = _course(args)
    rep = build_report(course, args.assignment, out_dir=args.out)
    for nb, g, f, n, mx in rep.per_test[:10]:
        print(f"  {f:>4}/{n:<4} failed  {nb}: {g} ({mx:g} pts)")
    print(rep.line() + f" (plots: {rep.files['scores_png']}, {rep.files['tests_png']})")
    return 0


def cmd_gradescope(args):
    from autograder.gradescope import build_package

    course = _course(args)
    path = build_package(course, args.assignment, args.out)
    print(f"gradescope {args.assignment}: wrote {path} ({path.stat().st_size / 1e6:.1f} MB); upload it as the "
          "autograder (setup.sh + run_autograder)")
    return 0


def cmd_check(args):
    from autograder.checks import check_assignment
    from autograder.manifest import list_assignments

    course = _course(args)
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


def cmd_mutants(args):
    from autograder.manifest import list_assignments
    from autograder.mutation import mutant_file, run

    course = _course(args)
    names = args.assignment or [a for a in list_assignments(course.root) if mutant_file(course.root, a)]
    if not names:
        print(f"mutants: no tests/mutants/<assignment>.py under {course.root}")
        return 2
    bad = 0
    for a in names:
        report = run(course.root, a, workers=args.workers, seed=args.seed, include_slow=args.slow,
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


def cmd_demo(args):
    from autograder.demo import format_table, run_demo

    t0 = time.monotonic()
    course = _course(args)
    res = run_demo(course.root, assignments=args.assignment, out=args.out, workers=args.workers,
                   progress=_progress_factory(args))
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


def build_parser():
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--course", metavar="DIR", default=argparse.SUPPRESS,
                        help="course directory (default: $NNKIT_COURSE, the current directory if it has "
                             "assignments/, else this repository)")
    common.add_argument("--no-progress", action="store_true", default=argparse.SUPPRESS,
                        help="no progress bars")
    prog = "nnkit-grade" if os.path.basename(sys.argv[0]) == "nnkit-grade" else "python -m autograder"
    parser = argparse.ArgumentParser(
        prog=prog, parents=[common],
        description="nnkit instructor pipeline on nbgrader: release, collect, grade, feedback, export, "
                    "report, Gradescope packages, demo.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    p = sub.add_parser("release", parents=[common], help="generate the student versions into release/",
                       description="Generate release/<assignment> from source/ with nbgrader (solutions and hidden "
                                   "tests removed, outputs stripped). All assignments when none is given.")
    p.add_argument("assignment", nargs="*", help="assignment name(s) (default: all with a manifest)")
    p.set_defaults(func=cmd_release)

    p = sub.add_parser("collect", parents=[common], help="import submissions from a folder or an LMS zip",
                       description="Import submissions (a folder of notebooks, per-student folders, or a Canvas, "
                                   "Moodle or Blackboard download zip) into submitted/. Keeps the newest copy, "
                                   "records lateness against the manifest's due date, lists what it cannot place.")
    p.add_argument("assignment")
    p.add_argument("source", help="folder or .zip")
    p.add_argument("--roster", metavar="CSV", help="CSV with a student_id column; other columns are LMS ids/names")
    p.add_argument("--timezone", metavar="TZ", help="time zone of submission times in LMS file names (Blackboard), "
                                                     "e.g. Europe/Berlin (default: the due date's, else UTC)")
    p.set_defaults(func=cmd_collect)

    p = sub.add_parser("grade", parents=[common], help="autograde submissions in parallel (resumable)",
                       description="Autograde submitted/<student>/<assignment> with nbgrader in parallel worker "
                                   "processes under the manifest's time and memory limits. Submissions already "
                                   "graded and unchanged are skipped (an interrupted run continues).")
    p.add_argument("assignment")
    p.add_argument("--student", action="append", metavar="ID", help="only this student (repeatable)")
    p.add_argument("--workers", type=_workers, default=os.cpu_count() or 1, metavar="N",
                   help="parallel grading processes (default: number of CPUs)")
    p.add_argument("--force", action="store_true", help="regrade even unchanged submissions")
    p.add_argument("--seed", type=int, default=None, metavar="N",
                   help="secret for the hidden tests' random inputs (default: fresh each run; grading.json records "
                        "it, so --force --seed N repeats a run exactly)")
    p.set_defaults(func=cmd_grade)

    p = sub.add_parser("feedback", parents=[common], help="per-student HTML feedback (no hidden-test source)",
                       description="Write feedback/<student>/<assignment>/*.html: scores, failure messages and "
                                   "the grader's notes; hidden tests and test tracebacks are removed.")
    p.add_argument("assignment")
    p.add_argument("--student", action="append", metavar="ID", help="only this student (repeatable)")
    p.set_defaults(func=cmd_feedback)

    p = sub.add_parser("export", parents=[common], help="grades as an LMS CSV or Gradescope results.json",
                       description="csv: columns student, score, max, late, hours_late, reason. gradescope: "
                                   "PATH/<student>/results.json (or one file with --student).")
    p.add_argument("assignment")
    p.add_argument("--format", choices=["csv", "gradescope"], required=True)
    p.add_argument("--to", required=True, metavar="PATH")
    p.add_argument("--student", action="append", metavar="ID", help="only this student (repeatable)")
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("report", parents=[common], help="class statistics and hardest tests (+ PNG plots)",
                       description="Write reports/<assignment>/report.md, scores.png, tests.png, per_test.csv.")
    p.add_argument("assignment")
    p.add_argument("--out", metavar="DIR", help="output folder (default: reports/<assignment>)")
    p.set_defaults(func=cmd_report)

    p = sub.add_parser("gradescope", parents=[common], help="build a Gradescope autograder zip",
                       description="Package setup.sh, run_autograder, the pipeline, nnkit and the master "
                                   "notebooks (hidden tests) into a zip for Gradescope.")
    p.add_argument("assignment")
    p.add_argument("--out", required=True, metavar="FILE.zip")
    p.set_defaults(func=cmd_gradescope)

    p = sub.add_parser("check", parents=[common], help="static checks of an assignment (manifest, notebooks, release)",
                       description="Check, without running any notebook, that the manifest agrees with the master "
                                   "notebooks (notebooks, grade ids, points, thresholds), masters have no outputs, "
                                   "release/ is fresh and the mutant file loads; each problem is named with its fix.")
    p.add_argument("assignment", nargs="*")
    p.add_argument("--no-release", action="store_true", help="skip the release freshness check (nbgrader)")
    p.set_defaults(func=cmd_check)

    p = sub.add_parser("mutants", parents=[common], help="validate the hidden tests: kill and acceptance rates",
                       description="Grade the wrong implementations and correct alternatives in "
                                   "tests/mutants/<assignment>.py and print, per assignment, the share of "
                                   "wrong ones that lose points and of correct ones that keep full marks.")
    p.add_argument("assignment", nargs="*")
    p.add_argument("--workers", type=_workers, default=2, metavar="N")
    p.add_argument("--notebook", action="append", metavar="NB", help="only the mutants of this notebook (repeatable)")
    p.add_argument("--slow", action="store_true", help="also the mutants marked slow")
    p.add_argument("--solutions", action="store_true",
                   help="also grade each notebook's solution (full marks expected) and blank release (zero expected)")
    p.add_argument("--seed", type=int, default=None, help="grading seed (default: a fresh one)")
    p.set_defaults(func=cmd_mutants)

    p = sub.add_parser("demo", parents=[common], help="grade generated sample submissions end to end",
                       description="For every assignment, grade three submissions generated from source/ (the "
                                   "solution, the blank release, one with typical mistakes) in a temporary "
                                   "course; print the grade table and where feedback and reports went.")
    p.add_argument("--assignment", action="append", metavar="A", help="only this assignment (repeatable)")
    p.add_argument("--out", metavar="DIR", help="where to build the demo course (default: a new temp folder)")
    p.add_argument("--workers", type=_workers, default=2, metavar="N")
    p.set_defaults(func=cmd_demo)
    return parser


def main(argv=None):
    from autograder.course import CourseError
    from autograder.manifest import ManifestError

    parser = build_parser()
    args = parser.parse_args(argv)
    args.course = getattr(args, "course", None)
    args.no_progress = getattr(args, "no_progress", False)
    try:
        return args.func(args)
    except (CourseError, ManifestError, ValueError, FileNotFoundError) as exc:
        print(f"{args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{args.command}: interrupted; run the same command again to continue", file=sys.stderr)
        return 130
