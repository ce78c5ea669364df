"""What every command shares: the course it works on, progress bars, argument types."""

from __future__ import annotations

import argparse
import sys


def progress_factory(args):
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


def course_of(args):
    from autograder.course import Course

    return Course(args.course) if args.course else Course()


def workers_arg(value):
    n = int(value)
    if n < 1:
        raise argparse.ArgumentTypeError("--workers must be at least 1")
    return n
