"""How much memory does grading one submission take: each notebook's kernel, and everything together?

    python benchmarks/grading_memory.py [--assignment numpy_nets,pytorch_imdb] [--course .]

For each assignment it grades one submission of the reference solution with
``python -m autograder grade A --workers 1`` (the ``grade`` command's own path: sandboxed kernels,
verifier, limits) on a temporary course, and samples the process tree of that command every
0.05 s from ``/proc``:

- each kernel's peak resident memory (``VmHWM``, the kernel's own high-water mark, so a peak
  between two samples is not missed; notebooks are graded one after the other with one worker,
  so the n-th kernel is the n-th notebook);
- the peak of the whole tree's memory (grader, worker, verifier, kernel), as the sum of each
  process's proportional set size (``Pss``: a page shared by forked processes counts once): what a
  container that grades one submission at a time (Gradescope) needs, before margin.

It prints both, the seconds, and compares the whole-tree peak with the manifest's
``[limits] container_memory_mb`` (what ``python -m autograder gradescope`` tells the instructor to
give the container). Linux only (``/proc``).
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

from autograder.manifest import load_manifest  # noqa: E402
from grading_speed import make_course  # noqa: E402


def _status(pid):
    """``{field: kB}`` of ``/proc/<pid>/status`` memory fields, or None when the process is gone."""
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    out = {}
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM", "PPid"):
            out[key] = int(value.split()[0])
    return out


def _pss(pid):
    """Proportional set size of ``pid`` in kB (0 when unreadable)."""
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def _is_kernel(pid):
    """True for the Python process of an ipykernel (not the sandbox launcher or bwrap that started it)."""
    try:
        args = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return args[1:3] == [b"-m", b"ipykernel_launcher"]


def _tree(root):
    """Pids of ``root`` and all its descendants."""
    children = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            st = _status(entry.name)
            if st and "PPid" in st:
                children.setdefault(st["PPid"], []).append(int(entry.name))
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(children.get(pid, ()))
    return out


def measure(course, a):
    """Grade ``a`` in ``course`` with one worker; ``(seconds, [kernel peak MiB in start order], tree peak MiB)``."""
    cmd = [sys.executable, "-m", "autograder", "grade", a, "--workers", "1", "--no-progress", "--course", str(course)]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=str(REPO), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    kernels, order, tree_peak = {}, [], 0
    while proc.poll() is None:
        total = 0
        for pid in _tree(proc.pid):
            st = _status(pid)
            if not st:
                continue
            total += _pss(pid)
            if _is_kernel(pid):
                if pid not in kernels:
                    order.append(pid)
                kernels[pid] = max(kernels.get(pid, 0), st.get("VmHWM", 0))
        tree_peak = max(tree_peak, total)
        time.sleep(0.05)
    out, err = proc.communicate()
    if proc.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed:\n{out}\n{err}")
    peaks = [kernels[p] / 1024 for p in order if kernels[p] > 0]
    return time.perf_counter() - t0, peaks, tree_peak / 1024, out.strip().splitlines()[-1]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--course", default=str(REPO), help="course to take the assignments from (default: this repository)")
    ap.add_argument("--assignment", default="numpy_nets,pytorch_imdb", help="comma-separated (default: both)")
    args = ap.parse_args(argv)
    shared = REPO.parent / "shared" / "data" / "imdb" / "aclImdb_labeled.tar.gz"
    if not os.environ.get("NNKIT_IMDB_PATH") and shared.exists():
        os.environ["NNKIT_IMDB_PATH"] = str(shared)
    src = Path(args.course).resolve()
    print(f"grading memory: one reference-solution submission per assignment, --workers 1, {os.cpu_count()} CPUs, "
          f"load average {os.getloadavg()[0]:.2f}")
    status = 0
    for a in args.assignment.split(","):
        manifest = load_manifest(src, a)
        with tempfile.TemporaryDirectory(prefix="nnkit-mem-") as tmp:
            make_course(src, a, Path(tmp) / "course", 1)
            seconds, peaks, tree, line = measure(Path(tmp) / "course", a)
        if len(peaks) != len(manifest.notebooks):
            print(f"{a}: saw {len(peaks)} kernels for {len(manifest.notebooks)} notebooks; peaks {peaks}")
            status = 1
            continue
        print(f"{a}: {seconds:.1f} s for one submission  [{line}]")
        for nb, mib in zip(manifest.notebooks, peaks):
            print(f"  kernel peak {mib:7.0f} MiB  {nb}{'  (over 700 MiB)' if mib > 700 else ''}")
        declared = manifest.limits.container_memory_mb
        fits = bool(declared) and tree * 1.048576 <= declared
        print(f"  whole grading tree peak {tree:.0f} MiB ({tree * 1.048576:.0f} MB); manifest container_memory_mb "
              f"{declared or 'not set'}: {'fits' if fits else 'DOES NOT FIT'}")
        status |= 0 if fits else 1
    return status


if __name__ == "__main__":
    sys.exit(main())
