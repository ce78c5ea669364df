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
    print(memory_line(course.manifest(args.assignment)))
    return 0


GRADESCOPE_DEFAULT_MB = 768


def memory_line(manifest):
    """What memory the Gradescope container needs for ``manifest``'s assignment, as one line for the instructor."""
    need = manifest.limits.container_memory_mb
    if not need:
        return (f"gradescope {manifest.name}: memory needed is not measured (set [limits] container_memory_mb in the "
                f"manifest from `python benchmarks/grading_memory.py`); Gradescope's default is {GRADESCOPE_DEFAULT_MB} MB")
    fits = need <= GRADESCOPE_DEFAULT_MB
    return (f"gradescope {manifest.name}: needs {need} MB of memory per container (manifest [limits] "
            f"container_memory_mb, measured by benchmarks/grading_memory.py); "
            + (f"Gradescope's default of {GRADESCOPE_DEFAULT_MB} MB is enough" if fits else
               f"Gradescope's default is {GRADESCOPE_DEFAULT_MB} MB: raise it in the assignment's Autograder "
               f"settings (container memory) to at least {need} MB"))
