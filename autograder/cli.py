"""The instructor's command line: ``python -m autograder <command>`` (also ``nnkit-grade``).

Every command works on a course directory (``--course DIR``; default
``$NNKIT_COURSE``, else the current directory when it has ``assignments/``,
else this repository) and reads the assignment's settings from
``assignments/<assignment>.toml``. Each ends with one summary line.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from autograder.commands import COMMANDS

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
    for name in COMMANDS:
        importlib.import_module(f"autograder.commands.{name}").add(sub, common)
    return parser


def _stop_on_sigterm():
    """SIGTERM (a scheduler's or a container's stop, ``kill``) stops a command as Ctrl-C does: the grading
    workers and their kernels are stopped and what was graded is kept, instead of the workers grading on
    without their parent. Returns the function that puts the previous handler back."""
    import signal
    import threading

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    if threading.current_thread() is not threading.main_thread() or signal.getsignal(signal.SIGTERM) != signal.SIG_DFL:
        return lambda: None
    signal.signal(signal.SIGTERM, interrupt)
    return lambda: signal.signal(signal.SIGTERM, signal.SIG_DFL)


def main(argv=None):
    restore = _stop_on_sigterm()
    try:
        return _run(argv)
    finally:
        restore()


def _run(argv):
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
