"""Does pytorch_imdb run and grade on a CUDA GPU? (skips, and says so, on a machine without one)

    python benchmarks/gpu_check.py [--seeds 0] [--submissions 1]

On a machine where ``torch.cuda.is_available()``:

1. the grader's device handling: :func:`autograder.execution.kernel.resolve_device` must pick
   ``cuda`` for the manifest's ``device = "auto"``, and a grading kernel started with the grader's
   environment must see the GPU (``nnkit.pick_device()`` inside it);
2. ``python -m autograder grade pytorch_imdb`` on a temporary course whose students handed in the
   reference solution: every notebook must earn full marks on the GPU (hidden tests included:
   the verifier's device checks then run on CUDA for real), with seconds per submission;
3. ``benchmarks/imdb_classifier.py`` on the GPU: the reference network's training seconds and
   test accuracy beside the linear baselines.

On Colab: Runtime > Change runtime type > GPU, then in a cell::

    !git clone <your course repository> nnkit && cd nnkit && pip install -q -e ".[grader]" && python benchmarks/gpu_check.py

Exit status: 0 when every check passed or there is no GPU (skipped), 1 otherwise.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

ASSIGNMENT = "pytorch_imdb"
KERNEL_PROBE = "import nnkit, torch; print('DEVICE', nnkit.pick_device(), torch.cuda.get_device_name(0) if torch.cuda.is_available() else '-')"


def gpu_name():
    """The first CUDA device's name, or None when torch sees no GPU (or torch is missing)."""
    try:
        import torch
    except ImportError:
        return None
    return torch.cuda.get_device_name(0) if torch.cuda.is_available() else None


def kernel_device():
    """What ``nnkit.pick_device()`` returns in a kernel started with the grader's environment for this assignment."""
    from nbclient import NotebookClient
    import nbformat

    from autograder.execution.kernel import kernel_environment, resolve_device
    from autograder.manifest import load_manifest

    device = resolve_device(load_manifest(REPO, ASSIGNMENT).device)
    env_before = dict(os.environ)
    os.environ.update(kernel_environment(device, 1))
    try:
        nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(KERNEL_PROBE)])
        NotebookClient(nb, kernel_name="python3", timeout=120).execute()
    finally:
        os.environ.clear()
        os.environ.update(env_before)
    text = "".join(o.get("text", "") for o in nb.cells[0].outputs)
    line = next((ln for ln in text.splitlines() if ln.startswith("DEVICE ")), "DEVICE ? ?")
    return device, line.split(" ", 1)[1]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0], help="seeds of the classifier benchmark (default 0)")
    ap.add_argument("--submissions", type=int, default=1, help="solution submissions to grade (default 1)")
    args = ap.parse_args(argv)

    name = gpu_name()
    if name is None:
        import platform

        try:
            import torch
            about = f"torch {torch.__version__}, torch.cuda.is_available() is False"
        except ImportError:
            about = "torch is not installed"
        print(f"gpu_check: skipped: no CUDA GPU on this machine ({about}; {platform.node()}). "
              "Run it on a GPU machine or on Colab with a GPU runtime (see the README).")
        return 0

    shared = REPO.parent / "shared" / "data" / "imdb" / "aclImdb_labeled.tar.gz"
    if not os.environ.get("NNKIT_IMDB_PATH") and shared.exists():
        os.environ["NNKIT_IMDB_PATH"] = str(shared)
    ok = True
    print(f"gpu_check: {name}")

    device, seen = kernel_device()
    good = device == "cuda" and seen.startswith("cuda")
    ok &= good
    print(f"1. device handling: manifest device 'auto' -> grader picks {device!r}; a grading kernel's "
          f"nnkit.pick_device() -> {seen}: {'ok' if good else 'FAILED'}")

    from grading_speed import make_course, run_grade

    with tempfile.TemporaryDirectory(prefix="nnkit-gpu-") as tmp:
        course = Path(tmp) / "course"
        manifest = make_course(REPO, ASSIGNMENT, course, args.submissions)
        wall, grades, per, line, _ = run_grade(course, ASSIGNMENT, 1)
        total = {}
        for cells in grades.values():
            for notebook, _, score in cells:
                total[notebook] = total.get(notebook, 0) + (score or 0)
        full = all(total.get(nb, 0) == args.submissions * pts for nb, pts in manifest.points.items())
        ok &= full
        print(f"2. grade {ASSIGNMENT} on the GPU ({args.submissions} solution submission(s)): "
              + ", ".join(f"{nb} {total.get(nb, 0) / args.submissions:g}/{pts}" for nb, pts in manifest.points.items())
              + f"; {wall / args.submissions:.1f} s per submission (worker {max(per):.1f} s): "
              f"{'full marks' if full else 'NOT full marks'}  [{line}]")

    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, str(REPO / "benchmarks" / "imdb_classifier.py"), "--seeds",
                           *map(str, args.seeds)], capture_output=True, text=True)
    print(f"3. benchmarks/imdb_classifier.py on the GPU ({time.perf_counter() - t0:.0f} s):")
    print("   " + "\n   ".join((proc.stdout or proc.stderr).strip().splitlines()))
    ok &= proc.returncode == 0
    print(f"gpu_check: {'all checks passed' if ok else 'FAILED'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
