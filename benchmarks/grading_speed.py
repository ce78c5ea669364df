"""How fast does ``python -m autograder grade`` grade, and what does the pipeline cost over nbclient?

    python benchmarks/grading_speed.py                       # fixture notebook with ~5 s of compute
    python benchmarks/grading_speed.py --course . --assignment numpy_nets

For N submissions (default 8) of the assignment's reference solution it measures

1. nbclient alone: each submission's notebook (what nbgrader executes: the
   solution with its hidden tests) run with ``nbclient.NotebookClient``, one after
   the other;
2. ``python -m autograder grade A --workers 1`` on a fresh course (wall time of
   the whole command: start-up, gradebook, repair, nbgrader, merging);
3. the same with ``--workers 2``;

With ``--compare-with DIR`` (a checkout of another version of this repository,
e.g. ``git worktree add /tmp/base 8edba3c``, with its interpreter in
``--compare-python``, default ``DIR/.venv/bin/python``) it instead grades the same
submissions with both versions, ``--workers 2``, alternating (other, this, this,
other, ...) ``--repeat`` times, and prints each version's seconds per submission
(median and spread) side by side with the ratio (target: at most +20%), and what each further submission
costs once both workers have graded their first one (:func:`warm_seconds`: the one-off costs of a command,
its start-up and each worker's verifier and first imports, weigh little in a class of 100). A cell whose
score differs between two rounds of the same version is printed with both scores.
The demo class, graded side by side (the submissions an old ``demo --out D`` generated)::

    python benchmarks/grading_speed.py --course . --assignment numpy_nets,pytorch_imdb \
        --submitted D/course/submitted --compare-with /tmp/base --repeat 2

With ``--memory`` it then prints, for one solution submission of each assignment, every notebook's
kernel peak memory and the peak of the whole grading tree (``benchmarks/grading_memory.py``).

Each version grading its own demo class (``demo --out NEW`` with this version, ``demo --out OLD`` with
the other): ``--submitted NEW/course/submitted --other-submitted OLD/course/submitted``.

Otherwise it runs them in the order 1, 2, 3, 3, 2, 1 (half of the nbclient runs at each end), so that a
change in machine load during the benchmark weighs on every side alike. It
prints the speed-up of 3 over 2 (target: at least 1.6x on 2 cores), whether
all runs gave identical grades (per test cell), and the pipeline's overhead
over nbclient per submission (target: under 15%), both in steady state (time a
worker spends per submission, from ``grades/<a>/grading.json``) and for the
whole command divided by N (start-up included); then how long the hidden tests' verdicts took per
submission (nbclient alone cannot run them: they need the verifier, so in nbclient they stop at
once) and the overhead without them. Other processes on the machine
skew all of this: it also prints the load average and how much faster two
CPU-bound processes run than one after the other (2.0 on an idle 2-core box).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from autograder.notebook import solution_notebook  # noqa: E402
from autograder.manifest import load_manifest  # noqa: E402


def make_course(src, a, dest, n, submitted=None):
    """A course in ``dest`` with ``n`` students who all handed in the reference solution (or, with
    ``submitted``, a folder ``<student>/<a>/*.ipynb`` such as a demo course's ``submitted/``, those)."""
    import nbformat

    (dest / "assignments").mkdir(parents=True, exist_ok=True)
    shutil.copy2(src / "assignments" / f"{a}.toml", dest / "assignments" / f"{a}.toml")
    shutil.copytree(src / "source" / a, dest / "source" / a,
                    ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"))
    manifest = load_manifest(src, a)
    if submitted is not None:
        for folder in sorted(Path(submitted).glob(f"*/{a}")):
            shutil.copytree(folder, dest / "submitted" / folder.parent.name / a)
        return manifest
    for i in range(n):
        folder = dest / "submitted" / f"student{i:02d}" / a
        folder.mkdir(parents=True)
        for nb in manifest.notebooks:
            nbformat.write(solution_notebook(src, a, nb), folder / nb)
    return manifest


def time_nbclient(src, a, manifest, n):
    """Seconds per submission to execute its notebooks with nbclient alone (sequentially), in the environment
    a grading kernel of ``grade --workers 1`` gets (``NNKIT_GRADING``: the same work, e.g. no search in
    pytorch_imdb 03; the same threads)."""
    from nbclient import NotebookClient

    from autograder.execution.kernel import kernel_environment, threads_per_kernel

    env_before = dict(os.environ)
    os.environ.update(kernel_environment("cpu", threads_per_kernel(1)))
    try:
        times = []
        for _ in range(n):
            t0 = time.perf_counter()
            for name in manifest.notebooks:
                nb = solution_notebook(src, a, name)
                NotebookClient(nb, kernel_name="python3", timeout=manifest.limits.cell_timeout, allow_errors=True,
                               resources={"metadata": {"path": str(src / "source" / a)}}).execute()
            times.append(time.perf_counter() - t0)
        return times
    finally:
        os.environ.clear()
        os.environ.update(env_before)


_SPIN = "import time\nt = time.perf_counter()\nx = 0\nfor i in range(25_000_000):\n    x += i\n"


def machine_parallelism():
    """How much faster two CPU-bound processes finish than one after the other (2.0 on an idle 2-core box)."""
    def spin(k):
        t0 = time.perf_counter()
        procs = [subprocess.Popen([sys.executable, "-c", _SPIN]) for _ in range(k)]
        for p in procs:
            p.wait()
        return time.perf_counter() - t0

    one = spin(1)
    two = spin(2)
    return 2 * one / two


def run_grade(course, a, workers, python=None, repo=None, env=None):
    cmd = [python or sys.executable, "-m", "autograder", "grade", a, "--workers", str(workers), "--no-progress",
           "--course", str(course)]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=str(repo or REPO),
                          env=None if env is None else {**os.environ, **env})
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed:\n{proc.stdout}\n{proc.stderr}")
    state = json.loads((course / "grades" / a / "grading.json").read_text())["students"]
    grades = {s: sorted((c["notebook"], c["grade_id"], c["score"]) for c in e["cells"]) for s, e in state.items()}
    worker_seconds = [e["seconds"] for e in state.values()]
    return wall, grades, worker_seconds, proc.stdout.strip().splitlines()[-1], warm_seconds(state, workers)


def verdict_seconds(course, a):
    """Mean seconds per submission that the hidden tests' verdicts took (the verifier's runs of the test cells,
    with the kernel work they ask for), from the autograded notebooks' ``metadata.nnkit_grading``."""
    totals = {}
    for path in Path(course).glob(f"autograded/*/{a}/*.ipynb"):
        grading = json.loads(path.read_text()).get("metadata", {}).get("nnkit_grading", {})
        student = path.parent.parent.name
        totals[student] = totals.get(student, 0.0) + sum(v.get("seconds", 0.0) for v in grading.get("verdicts", {}).values())
    return statistics.fmean(totals.values()) if totals else 0.0


def warm_seconds(state, workers):
    """Seconds per submission once every worker has finished its first one (``None`` for too few submissions):
    the time between the ``workers``-th and the last submission finishing, over the submissions finished in
    it. A class's size hides the one-off costs (start-up, each worker's verifier and first imports); this is
    what each further submission costs."""
    import datetime as dt

    done = sorted(dt.datetime.fromisoformat(e["graded_at"]).timestamp() for e in state.values() if e.get("graded_at"))
    if len(done) <= workers:
        return None
    return (done[-1] - done[workers - 1]) / (len(done) - workers)


def cell_differences(before, after):
    """Lines naming each (student, notebook, cell) whose score differs between two runs' ``grades``."""
    out = []
    for student in sorted(set(before) | set(after)):
        a = {(nb, gid): sc for nb, gid, sc in before.get(student, [])}
        b = {(nb, gid): sc for nb, gid, sc in after.get(student, [])}
        for key in sorted(set(a) | set(b)):
            if a.get(key) != b.get(key):
                out.append(f"{student} {key[0]} {key[1]}: {a.get(key)} then {b.get(key)}")
    return out


def compare(src, assignments, n, other, other_python, repeat, submitted=None, other_submitted=None):
    """Grade ``n`` solution submissions (or those in ``submitted``) of every assignment in ``assignments``
    with this version and with the checkout ``other`` (each with its own master notebooks when ``src`` is
    in this repository; with ``other_submitted``, the other version grades those submissions: each
    version its own demo class); print both, with seconds per submission of each assignment."""
    if submitted is not None:
        n = len({p.parent.name for a in assignments for p in Path(submitted).glob(f"*/{a}")})
    a = ",".join(assignments)
    print(f"grading-speed comparison: assignment(s) {a} from {src}, {n} submissions"
          f"{f' from {submitted}' if submitted else ''}"
          f"{f' (the other version: from {other_submitted})' if other_submitted else ''}, --workers 2, {repeat} rounds; "
          f"this version ({REPO}) vs {other} ({other_python}); load average {os.getloadavg()[0]:.2f}")
    runs = {"this": [], "other": []}
    per_assignment = {"this": {x: [] for x in assignments}, "other": {x: [] for x in assignments}}
    warm = {"this": {x: [] for x in assignments}, "other": {x: [] for x in assignments}}
    scores = {"this": set(), "other": set()}
    cells = {"this": {}, "other": {}}   # assignment -> the first round's grades per cell
    with tempfile.TemporaryDirectory(prefix="nnkit-bench-") as tmp:
        # the other version gets its own data cache (two versions' cache formats would replace each other's
        # files at every run), filled before the timed runs; not under /tmp, which grading kernels do not see
        other_env = {"NNKIT_DATA_DIR": str(Path.home() / ".cache" / "nnkit-bench-other-version")}
        subprocess.run([other_python, "-c", "from nnkit.data import load_imdb; load_imdb('train'); load_imdb('test')"],
                       cwd=str(other), env={**os.environ, **other_env}, check=False, capture_output=True)
        order = []
        for r in range(repeat):
            order += ["other", "this"] if r % 2 == 0 else ["this", "other"]
        for i, who in enumerate(order):
            course = Path(tmp) / f"c{i}"
            # each version grades its own master notebooks (hidden tests are written for its grader)
            own_src = src if who == "this" or not src.is_relative_to(REPO) else other / src.relative_to(REPO)
            py, repo, env = (None, None, None) if who == "this" else (other_python, other, other_env)
            own_submitted = other_submitted if who == "other" and other_submitted is not None else submitted
            wall = points = 0.0
            lines = []
            for one in assignments:
                make_course(own_src, one, course, n, own_submitted)
                w, grades, per, line, warm_s = run_grade(course, one, 2, python=py, repo=repo, env=env)
                wall += w
                per_assignment[who][one].append(w / n)
                if warm_s is not None:
                    warm[who][one].append(warm_s)
                points += sum(sc or 0 for g in grades.values() for _, _, sc in g)
                lines.append(line)
                first = cells[who].setdefault(one, grades)
                for diff in cell_differences(first, grades):  # the same submissions must get the same grades
                    print(f"  {who:5s} {one}: a cell graded differently than in round 1: {diff}")
            line = "; ".join(lines)
            runs[who].append(wall / n)
            scores[who].add(points)
            print(f"  {who:5s} round {len(runs[who])}: {wall / n:6.2f} s per submission, load average "
                  f"{os.getloadavg()[0]:.2f}  [{line}]")
    med = {k: statistics.median(v) for k, v in runs.items()}
    for k in ("other", "this"):
        v = runs[k]
        print(f"{k:5s}: median {med[k]:.2f} s per submission (min {min(v):.2f}, max {max(v):.2f}, "
              f"{len(v)} runs); total points {sorted(scores[k])}; "
              + ", ".join(f"{x} {statistics.median(per_assignment[k][x]):.2f} s" for x in assignments))
        for x in assignments:
            if warm[k][x]:
                print(f"       {x}: {statistics.median(warm[k][x]):.2f} s per further submission once both workers "
                      f"are warm (median of {len(warm[k][x])}: " + ", ".join(f"{t:.1f}" for t in warm[k][x]) + ")")
    ratio = med["this"] / med["other"] - 1
    print(f"this version vs the other: {100 * ratio:+.1f}% per submission (target <= +20%): "
          f"{'PASS' if ratio <= 0.20 else 'FAIL'}; load average {os.getloadavg()[0]:.2f} at the end")
    return 0 if ratio <= 0.20 else 1


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--compare-with", metavar="DIR", help="a checkout of another version to grade side by side")
    ap.add_argument("--compare-python", metavar="PY", help="its interpreter (default DIR/.venv/bin/python)")
    ap.add_argument("--repeat", type=int, default=3, help="rounds of the comparison (default 3)")
    ap.add_argument("--course", default=str(REPO / "tests" / "fixtures" / "course"),
                    help="course to take the assignment from (default: the test fixture course)")
    ap.add_argument("--assignment", default="bench")
    ap.add_argument("--submissions", type=int, default=8)
    ap.add_argument("--other-submitted", metavar="DIR", help="with --submitted: the submissions the other version "
                    "grades (its own demo class), e.g. the submitted/ folder of its own `demo --out D`")
    ap.add_argument("--submitted", metavar="DIR", help="with --compare-with: grade the submissions in DIR "
                    "(<student>/<assignment>/*.ipynb, e.g. the submitted/ folder of `python -m autograder demo "
                    "--out D`) instead of copies of the solution; --assignment may list several, comma-separated")
    ap.add_argument("--memory", action="store_true", help="then print each notebook's kernel peak memory and the "
                    "whole grading tree's peak for one solution submission (benchmarks/grading_memory.py)")
    args = ap.parse_args()
    src, a, n = Path(args.course).resolve(), args.assignment, args.submissions
    status = speed(args, src, a, n)
    if args.memory:
        status |= subprocess.run([sys.executable, str(REPO / "benchmarks" / "grading_memory.py"),
                                  "--course", str(src), "--assignment", a]).returncode
    return status


def speed(args, src, a, n):
    """The speed part of :func:`main` (see the module doc); returns the exit status."""
    if args.compare_with:
        other = Path(args.compare_with).resolve()
        return compare(src, a.split(","), n, other, args.compare_python or str(other / ".venv" / "bin" / "python"),
                       args.repeat, Path(args.submitted).resolve() if args.submitted else None,
                       Path(args.other_submitted).resolve() if args.other_submitted else None)
    print(f"grading-speed benchmark: assignment {a} from {src}, {n} submissions, {os.cpu_count()} CPUs")
    with tempfile.TemporaryDirectory(prefix="nnkit-bench-") as tmp:
        tmp = Path(tmp)
        manifest = make_course(src, a, tmp / "w1", n)
        for name in ("w2", "w2b", "w1b"):
            make_course(src, a, tmp / name, n)
        load0 = os.getloadavg()[0]
        par0 = machine_parallelism()
        # nbclient half before and half after the grading runs, so that a change in machine load
        # during the benchmark hits both sides alike
        # order nbclient, w1, w2, w2, w1, nbclient: a load that drifts during the run hits both sides alike
        base = time_nbclient(src, a, manifest, n // 2)
        wall1, grades1, per1, line1, _ = run_grade(tmp / "w1", a, 1)
        wall2, grades2, per2, line2, warm2 = run_grade(tmp / "w2", a, 2)
        wall2b, grades2b, per2b, _, warm2b = run_grade(tmp / "w2b", a, 2)
        wall1b, grades1b, per1b, _, _ = run_grade(tmp / "w1b", a, 1)
        base += time_nbclient(src, a, manifest, n - n // 2)
        verdicts = statistics.fmean([verdict_seconds(tmp / "w1", a), verdict_seconds(tmp / "w1b", a)])
        wall1, wall2 = (wall1 + wall1b) / 2, (wall2 + wall2b) / 2
        per1 = per1 + per1b
        same = grades1 == grades1b == grades2b
        base_mean = statistics.fmean(base)
        print(f"nbclient alone:        {sum(base):6.1f} s total, {base_mean:.2f} s per submission "
              f"(min {min(base):.2f}, max {max(base):.2f})")
        print(f"grade --workers 1:     {wall1:6.1f} s total (mean of 2 runs), {wall1 / n:.2f} s per submission  "
              f"[{line1}]")
        print(f"grade --workers 2:     {wall2:6.1f} s total (mean of 2 runs), {wall2 / n:.2f} s per submission  "
              f"[{line2}]")
        warm_runs = [t for t in (warm2, warm2b) if t is not None]
        if warm_runs:
            print(f"grade --workers 2, once both workers are warm: "
                  + ", ".join(f"{t:.2f}" for t in warm_runs) + " s per further submission")
        for diff in cell_differences(grades1, grades1b) + cell_differences(grades1, grades2) + \
                cell_differences(grades1, grades2b):
            print(f"a cell graded differently between runs: {diff}")
        par1 = machine_parallelism()
        print(f"1-minute load average: {load0:.2f} at the start, {os.getloadavg()[0]:.2f} at the end; two CPU-bound "
              f"processes ran {par0:.2f}x / {par1:.2f}x faster than one after the other (2.0 on an idle 2-core "
              f"machine: less means other processes took CPU and the speed-up below cannot reach its target)")
    speedup = wall1 / wall2
    identical = grades1 == grades2 and same
    steady = statistics.fmean(per1)
    steady_over = steady / base_mean - 1
    whole_over = (wall1 / n) / base_mean - 1
    print(f"speed-up with 2 workers: {speedup:.2f}x (target >= 1.6x): {'PASS' if speedup >= 1.6 else 'FAIL'}; "
          f"grades identical: {'yes' if identical else 'NO'}")
    print(f"pipeline overhead per submission over nbclient alone: {100 * steady_over:+.1f}% in steady state "
          f"({steady:.2f} s in a worker vs {base_mean:.2f} s) (target < 15%): "
          f"{'PASS' if steady_over < 0.15 else 'FAIL'}; "
          f"{100 * whole_over:+.1f}% for the whole command with start-up ({wall1 / n:.2f} s per submission)")
    # nbclient runs the hidden tests in the kernel, where their verifier helpers are missing and they stop at once;
    # the grade command runs them in the verifier, with the work they ask of the kernel
    print(f"of a worker's {steady:.2f} s per submission, the hidden tests' verdicts took {verdicts:.2f} s (work nbclient "
          f"alone does not do); without them, the pipeline costs {100 * ((steady - verdicts) / base_mean - 1):+.1f}% "
          f"over nbclient alone in steady state")
    return 0 if (speedup >= 1.6 and identical and steady_over < 0.15) else 1


if __name__ == "__main__":
    sys.exit(main())
