"""Did a change make a notebook slower to grade? Each notebook's solution, graded before and after.

    python benchmarks/notebook_grading_time.py \
        --change numpy_nets/01_activations_and_affine.ipynb=9ebbdaf^..9ebbdaf \
        --change pytorch_imdb/03_imdb_classifier.ipynb=7b4bed0^..7b4bed0 --repeat 3

For every ``--change A/NOTEBOOK=BEFORE..AFTER`` (git revisions of this repository) it checks both
revisions out (``git worktree``, in a temporary folder), and grades the reference solution of that one
notebook with each revision's own ``python -m autograder grade A --workers 1`` (its masters, its
hidden tests, its grader: the path that grades students), alternating before/after/after/before...
``--repeat`` times. It prints the notebook's grading seconds (the grader's own figure, from the
autograded notebook's ``nnkit_grading`` metadata: kernel start, every cell, every verdict): the fastest
grading of each side (other processes on the machine only ever add time, so the fastest run is the
least disturbed one) and their ratio (target: at most +20%), every run's figure, and the scores, which
must be full on both sides.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# The commit after which a grader started from a checkout that is not the installed one imports its own
# packages in the sandbox; older revisions get that commit's five lines applied in their worktree.
SECOND_CHECKOUT_FIX = "d30dc7a"

# Run inside a checkout of any revision: build a course with that revision's master of one notebook and
# its solution as the only submission.
_MAKE_COURSE = r"""
import shutil, sys
from pathlib import Path
import nbformat
from autograder.notebook import solution_notebook
src, a, nb, dest = Path(sys.argv[1]), sys.argv[2], sys.argv[3], Path(sys.argv[4])
(dest / "assignments").mkdir(parents=True)
shutil.copy2(src / "assignments" / f"{a}.toml", dest / "assignments")
shutil.copytree(src / "source" / a, dest / "source" / a, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
(dest / "submitted" / "solution" / a).mkdir(parents=True)
nbformat.write(solution_notebook(src, a, nb), dest / "submitted" / "solution" / a / nb)
"""


def checkout(rev, where):
    """A detached worktree of ``rev`` in ``where``; returns its commit."""
    commit = subprocess.run(["git", "rev-parse", "--short", rev], cwd=REPO, check=True, capture_output=True,
                            text=True).stdout.strip()
    subprocess.run(["git", "worktree", "add", "--detach", "-f", str(where), commit], cwd=REPO, check=True,
                   capture_output=True)
    fixed = subprocess.run(["git", "merge-base", "--is-ancestor", SECOND_CHECKOUT_FIX, commit], cwd=REPO).returncode == 0
    if not fixed:  # before it, a grader run from a second checkout failed every verdict: apply its 5 lines
        patch = subprocess.run(["git", "diff", f"{SECOND_CHECKOUT_FIX}^", SECOND_CHECKOUT_FIX, "--",
                                "autograder/execution/sandbox/bwrap.py"], cwd=REPO, check=True,
                               capture_output=True).stdout
        subprocess.run(["git", "apply"], input=patch, cwd=where, check=True, capture_output=True)
        commit += "+d30dc7a-fix"
    return commit


def grade_once(tree, a, nb, course):
    """Seconds the grader spent on ``nb`` and its ``(score, max)``, grading its solution with ``tree``."""
    if course.exists():
        shutil.rmtree(course)
    subprocess.run([sys.executable, "-c", _MAKE_COURSE, str(tree), a, nb, str(course)], cwd=tree, check=True)
    proc = subprocess.run([sys.executable, "-m", "autograder", "grade", a, "--workers", "1", "--no-progress",
                           "--course", str(course)], cwd=tree, capture_output=True, text=True)
    if proc.returncode != 0:
        sys.exit(f"grading {a}/{nb} with {tree} failed:\n{proc.stdout}\n{proc.stderr}")
    graded = json.loads((course / "autograded" / "solution" / a / nb).read_text())
    seconds = graded["metadata"]["nnkit_grading"]["seconds"]
    entry = json.loads((course / "grades" / a / "grading.json").read_text())["students"]["solution"]
    cells = [c for c in entry["cells"] if c["notebook"] == nb and not c.get("manual")]
    return seconds, (sum(c["score"] or 0 for c in cells), sum(c["max_score"] for c in cells))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--change", action="append", required=True, metavar="A/NB=BEFORE..AFTER")
    ap.add_argument("--repeat", type=int, default=2, help="gradings of each side (default 2)")
    args = ap.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # killed: still remove the worktrees
    env_note = f"load average {os.getloadavg()[0]:.2f}"
    print(f"notebook grading time, before and after a change: solution graded with --workers 1, "
          f"{args.repeat} times each side, alternating; {env_note}")
    worst = 0.0
    with tempfile.TemporaryDirectory(prefix="nnkit-nbtime-") as tmp:
        tmp = Path(tmp)
        try:
            for k, change in enumerate(args.change):
                target, revs = change.split("=", 1)
                a, nb = target.split("/", 1)
                before_rev, after_rev = revs.split("..", 1)
                trees = {"before": tmp / f"before{k}", "after": tmp / f"after{k}"}
                commits = {side: checkout(rev, trees[side]) for side, rev in (("before", before_rev), ("after", after_rev))}
                seconds = {"before": [], "after": []}
                scores = {"before": set(), "after": set()}
                order = []
                for r in range(args.repeat):
                    order += ["before", "after"] if r % 2 == 0 else ["after", "before"]
                for side in order:
                    s, sc = grade_once(trees[side], a, nb, tmp / "course")
                    seconds[side].append(s)
                    scores[side].add(sc)
                fastest = {side: min(v) for side, v in seconds.items()}
                ratio = fastest["after"] / fastest["before"] - 1
                worst = max(worst, ratio)
                full = all(len(v) == 1 and next(iter(v))[0] == next(iter(v))[1] for v in scores.values())
                print(f"{a}/{nb} {commits['before']} -> {commits['after']}: "
                      f"fastest {fastest['before']:.2f} s -> {fastest['after']:.2f} s ({100 * ratio:+.1f}%) "
                      f"[before {', '.join(f'{x:.2f}' for x in seconds['before'])}; "
                      f"after {', '.join(f'{x:.2f}' for x in seconds['after'])}] "
                      f"scores {sorted(scores['before'])} -> {sorted(scores['after'])}"
                      f"{'' if full else '  NOT FULL MARKS'}", flush=True)
        finally:
            for path in tmp.glob("*"):
                if path.name.startswith(("before", "after")):
                    subprocess.run(["git", "worktree", "remove", "--force", str(path)], cwd=REPO, capture_output=True)
            subprocess.run(["git", "worktree", "prune"], cwd=REPO, capture_output=True)
    print(f"largest growth {100 * worst:+.1f}% (target <= +20%): {'PASS' if worst <= 0.20 else 'FAIL'}; "
          f"load average {os.getloadavg()[0]:.2f} at the end")
    return 0 if worst <= 0.20 else 1


if __name__ == "__main__":
    sys.exit(main())
