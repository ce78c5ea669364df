"""Gradescope autograder packages: grade one submission per container with the same hidden tests.

``build_package(course, a, out_zip)`` writes a zip Gradescope accepts:

    setup.sh             installs the grading dependencies (once per image)
    run_autograder       grades /autograder/submission -> /autograder/results/results.json
    requirements.txt     what setup.sh installs (pinned through constraints.txt)
    constraints.txt      the course's exact versions
    lib/autograder/      this pipeline (same code as ``python -m autograder grade``)
    lib/nnkit/           the course library, as the students' notebooks import it
    course/              assignments/<a>.toml and source/<a>/ (masters with hidden tests)
    package.json         which assignment, when it was built

``run(root)`` is what ``run_autograder`` calls: it copies the packaged course to
a scratch folder, puts the submission there as student ``student`` (renamed
notebooks and LMS-style names are recognized), grades it with one worker under
the manifest's limits and writes ``results.json`` (Gradescope's format). It
needs no network. Whatever happens, a ``results.json`` is written.

``prepare(root)`` is what ``setup.sh`` calls once per image, while the
network is there: it loads the datasets the manifest declares (IMDB: download,
checksum, parse cache) into ``<root>/data``, where ``run_autograder`` points
``NNKIT_DATA_DIR``.

``python -m autograder.gradescope run|prepare --root DIR`` runs them by hand;
the root defaults to ``$NNKIT_AUTOGRADER_ROOT`` or ``/autograder``.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import shutil
import sys
import tempfile
import time
import traceback
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
PACKAGE_ROOT = HERE.parent  # the autograder package
STUDENT = "student"
RUNTIME_REQUIREMENTS = ["numpy", "scipy", "matplotlib", "tqdm", "pooch", "platformdirs", "scikit-learn",
                        "nbgrader", "nbclient", "nbformat", "ipykernel", "psutil"]


def default_root():
    return Path(os.environ.get("NNKIT_AUTOGRADER_ROOT", "/autograder"))


def _add_tree(zf, folder, arcbase):
    folder = Path(folder)
    for p in sorted(folder.rglob("*")):
        if p.is_dir() or "__pycache__" in p.parts or ".ipynb_checkpoints" in p.parts or p.suffix == ".pyc":
            continue
        zf.write(p, f"{arcbase}/{p.relative_to(folder).as_posix()}")


def _nnkit_dir():
    import importlib.util

    spec = importlib.util.find_spec("nnkit")
    if spec is None or not spec.origin:
        raise RuntimeError("nnkit is not importable: install the course package (pip install -e .)")
    return Path(spec.origin).parent


def build_package(course, a, out_zip):
    """Write the Gradescope autograder zip for assignment ``a`` of ``course``; returns its path."""
    from autograder.course import Course

    course = course if isinstance(course, Course) else Course(course)
    manifest = course.manifest(a)
    out_zip = Path(out_zip)
    out_zip.parent.mkdir(parents=True, exist_ok=True)
    constraints = next((p for p in (course.root / "constraints.txt", PACKAGE_ROOT.parent / "constraints.txt")
                        if p.is_file()), None)
    with zipfile.ZipFile(out_zip, "w", zipfile.ZIP_DEFLATED) as zf:
        for name in ("setup.sh", "run_autograder"):
            info = zipfile.ZipInfo(name, date_time=time.localtime()[:6])
            info.external_attr = 0o755 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, (HERE / name).read_bytes())
        zf.writestr("requirements.txt", "\n".join(RUNTIME_REQUIREMENTS) + "\n")
        zf.writestr("constraints.txt", constraints.read_text() if constraints else "")
        _add_tree(zf, PACKAGE_ROOT, "lib/autograder")
        _add_tree(zf, _nnkit_dir(), "lib/nnkit")
        zf.write(manifest.path, f"course/assignments/{a}.toml")
        _add_tree(zf, course.source_dir(a), f"course/source/{a}")
        zf.writestr("package.json", json.dumps({
            "assignment": a, "title": manifest.title, "notebooks": list(manifest.notebooks),
            "built_at": _dt.datetime.now().isoformat(timespec="seconds"),
            "memory_mb_needed": manifest.limits.container_memory_mb or None,
        }, indent=1))
    return out_zip


def _failure_results(message, seconds):
    return {"score": 0.0, "execution_time": seconds, "output": message, "output_format": "text",
            "visibility": "visible", "stdout_visibility": "hidden", "tests": []}


def _copy_submission(src, dest):
    """Copy the submission folder, unpacking zips, flattening nothing (names are matched later)."""
    from autograder.collect import extract_zip
    from autograder.course import is_ignored

    dest.mkdir(parents=True, exist_ok=True)
    if not src.is_dir():
        return
    for p in sorted(src.rglob("*")):
        if not p.is_file() or any(is_ignored(part) for part in p.relative_to(src).parts):
            continue
        rel = p.relative_to(src)
        if p.suffix.lower() == ".zip":
            extract_zip(p, dest / rel.with_suffix(""))
        else:
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(p, dest / rel)


def run(root=None, workers=1):
    """Grade ``<root>/submission`` and write ``<root>/results/results.json``; returns the results dict."""
    root = Path(root) if root else default_root()
    results_path = root / "results" / "results.json"
    results_path.parent.mkdir(parents=True, exist_ok=True)
    t0 = time.monotonic()
    try:
        from autograder.course import Course
        from autograder.export import gradescope_results
        from autograder.grading import grade_assignment

        package = json.loads((root / "source" / "package.json").read_text())
        a = package["assignment"]
        with tempfile.TemporaryDirectory(prefix="nnkit-gradescope-") as tmp:
            course_dir = Path(tmp) / "course"
            shutil.copytree(root / "source" / "course", course_dir)
            course = Course(course_dir)
            _copy_submission(root / "submission", course.submitted_dir(STUDENT, a))
            summary = grade_assignment(course, a, students=[STUDENT], workers=workers, force=True)
            entry = summary.entries.get(STUDENT)
            if entry is None:
                raise RuntimeError("the submission was not graded")
            results = gradescope_results(entry, execution_time=round(time.monotonic() - t0, 2))
    except Exception as exc:
        results = _failure_results(
            "The autograder could not grade this submission; please tell the course staff.\n"
            f"{type(exc).__name__}: {exc}", round(time.monotonic() - t0, 2))
        sys.stderr.write(traceback.format_exc())
    results_path.write_text(json.dumps(results, indent=1))
    return results


def data_dir(root):
    """Where the image keeps the assignment's data (``$NNKIT_DATA_DIR`` when set)."""
    return Path(os.environ.get("NNKIT_DATA_DIR") or Path(root) / "data")


def prepare(root=None):
    """Load the packaged assignment's datasets into :func:`data_dir`; returns ``[(name, seconds)]``.

    Raises :class:`autograder.course.CourseError` naming the fix when one cannot be loaded.
    """
    from autograder.data_prep import prepare_data
    from autograder.manifest import load_manifest

    root = Path(root) if root else default_root()
    package = json.loads((root / "source" / "package.json").read_text())
    return prepare_data(load_manifest(root / "source" / "course", package["assignment"]), echo=print,
                        cache_dir=data_dir(root))


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m autograder.gradescope",
                                     description="Gradescope autograder entry point (see the module doc).")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("run", help="grade <root>/submission into <root>/results/results.json")
    p.add_argument("--root", default=None, help="Gradescope root (default: $NNKIT_AUTOGRADER_ROOT or /autograder)")
    p = sub.add_parser("prepare", help="load the assignment's datasets into <root>/data (setup.sh, with network)")
    p.add_argument("--root", default=None, help="Gradescope root (default: $NNKIT_AUTOGRADER_ROOT or /autograder)")
    args = parser.parse_args(argv)
    if args.command == "prepare":
        from autograder.course import CourseError

        try:
            done = prepare(args.root)
        except CourseError as exc:
            print(f"gradescope prepare: error: {exc}", file=sys.stderr)
            return 2
        print(f"gradescope prepare: {', '.join(n for n, _ in done) or 'no datasets'} ready")
        return 0
    results = run(args.root)
    print(f"gradescope: score {results['score']:g}; {len(results['tests'])} tests; "
          f"results in {(Path(args.root) if args.root else default_root()) / 'results' / 'results.json'}")
    return 0
