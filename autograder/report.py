"""``report``: class statistics and which tests students failed most.

Writes ``reports/<a>/``: ``report.md`` (mean, median, spread, the score
distribution and, per test cell, how many students lost its points, hardest
first), ``scores.png`` (distribution of percentage scores), ``tests.png``
(failure rate per test) and ``per_test.csv``.
"""

from __future__ import annotations

import csv
import statistics
from dataclasses import dataclass, field
from pathlib import Path

from autograder.course import Course
from autograder.export import class_rows


@dataclass
class Report:
    assignment: str
    n: int
    mean: float
    median: float
    stdev: float
    minimum: float
    maximum: float
    max_score: float
    per_test: list = field(default_factory=list)  # (notebook, grade_id, failed, graded, max_score)
    files: dict = field(default_factory=dict)

    def line(self):
        if not self.n:
            return f"report {self.assignment}: no graded submissions yet"
        hardest = ", ".join(f"{g} ({f}/{n})" for _, g, f, n, _ in self.per_test[:3] if f) or "none failed"
        return (f"report {self.assignment}: {self.n} students, mean {self.mean:.2f}/{self.max_score:g}, "
                f"median {self.median:.2f}; most failed: {hardest}; wrote {self.files.get('report')}")


def build_report(course, a, out_dir=None):
    """Compute the statistics and write the files; returns a :class:`Report`."""
    course = course if isinstance(course, Course) else Course(course)
    rows = [r for r in class_rows(course, a) if r.submitted]
    out_dir = Path(out_dir) if out_dir else course.reports_dir(a)
    out_dir.mkdir(parents=True, exist_ok=True)
    scores = [r.score for r in rows]
    max_score = rows[0].max_score if rows else course.manifest(a).total_points
    tests = {}
    for r in rows:
        for c in r.entry.get("cells", []):
            if c.get("manual"):
                continue
            key = (c["notebook"], c["grade_id"])
            failed, graded, mx = tests.get(key, (0, 0, c["max_score"]))
            lost = (c.get("score") or 0.0) < c["max_score"] or (c.get("extra_credit") or 0.0) < (c.get("extra_max") or 0.0)
            tests[key] = (failed + int(lost), graded + 1, mx)
    per_test = sorted(((nb, g, f, n, mx) for (nb, g), (f, n, mx) in tests.items()),
                      key=lambda t: (-t[2] / max(t[3], 1), t[0], t[1]))
    rep = Report(a, len(scores),
                 statistics.fmean(scores) if scores else 0.0,
                 statistics.median(scores) if scores else 0.0,
                 statistics.pstdev(scores) if len(scores) > 1 else 0.0,
                 min(scores) if scores else 0.0, max(scores) if scores else 0.0, max_score, per_test)
    rep.files["scores_png"] = _plot_scores(scores, max_score, out_dir / "scores.png", a)
    rep.files["tests_png"] = _plot_tests(per_test, out_dir / "tests.png", a)
    with open(out_dir / "per_test.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["notebook", "test", "students_failed", "students_graded", "points"])
        for nb, g, f, n, mx in per_test:
            w.writerow([nb, g, f, n, f"{mx:g}"])
    rep.files["per_test_csv"] = out_dir / "per_test.csv"
    rep.files["report"] = _write_markdown(rep, rows, out_dir / "report.md")
    return rep


def _hist(scores, max_score, bins=10):
    counts = [0] * bins
    for s in scores:
        frac = s / max_score if max_score else 0.0
        counts[min(bins - 1, max(0, int(frac * bins)))] += 1
    return counts


def _subplots(figsize):
    """``(fig, ax)`` on the Agg backend (no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt.subplots(figsize=figsize)


def _save(fig, path):
    """Write ``fig`` to ``path`` as PNG, close it, return ``path``."""
    import matplotlib.pyplot as plt

    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def _plot_scores(scores, max_score, path, a):
    fig, ax = _subplots((6, 3.5))
    pct = [100.0 * s / max_score if max_score else 0.0 for s in scores]
    ax.hist(pct, bins=[i * 10 for i in range(11)], color="#4c72b0", edgecolor="white")
    if pct:
        ax.axvline(statistics.fmean(pct), color="#c44e52", linestyle="--", label=f"mean {statistics.fmean(pct):.0f}%")
        ax.axvline(statistics.median(pct), color="#55a868", linestyle=":", label=f"median {statistics.median(pct):.0f}%")
        ax.legend(loc="upper left")
    from matplotlib.ticker import MaxNLocator

    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlim(0, 100)
    ax.set_xlabel("score (% of max)")
    ax.set_ylabel("students")
    ax.set_title(f"{a}: score distribution (n={len(scores)})")
    return _save(fig, path)


def _plot_tests(per_test, path, a):
    shown = per_test[:25]
    fig, ax = _subplots((7, 0.3 * max(len(shown), 3) + 1.2))
    labels = [f"{Path(nb).stem}: {g}" for nb, g, *_ in shown]
    rates = [100.0 * f / n if n else 0.0 for _, _, f, n, _ in shown]
    ax.barh(range(len(shown)), rates, color="#c44e52")
    ax.set_yticks(range(len(shown)))
    ax.set_yticklabels(labels, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlim(0, 100)
    ax.set_xlabel("students who lost these points (%)")
    ax.set_title(f"{a}: hardest tests")
    return _save(fig, path)


def _write_markdown(rep, rows, path):
    lines = [f"# {rep.assignment}: class report", ""]
    if not rep.n:
        lines.append("No graded submissions yet.")
    else:
        lines += [
            f"- students graded: {rep.n}",
            f"- mean: {rep.mean:.2f} / {rep.max_score:g} ({100 * rep.mean / rep.max_score:.1f}%)" if rep.max_score else f"- mean: {rep.mean:.2f}",
            f"- median: {rep.median:.2f}",
            f"- standard deviation: {rep.stdev:.2f}",
            f"- lowest / highest: {rep.minimum:g} / {rep.maximum:g}",
            *([f"- extra credit: {sum(1 for r in rows if r.extra_credit)} students, "
               f"mean {sum(r.extra_credit or 0.0 for r in rows) / len(rows):.2f} (in the scores above)"]
              if any(r.extra_credit is not None for r in rows) else []),
            f"- with a grading problem (see the export's reason column): "
            f"{sum(1 for r in rows if r.entry.get('problems'))}",
            "",
            "![score distribution](scores.png)",
            "",
            "## Tests students failed, hardest first",
            "",
            "| notebook | test | points | students who lost them |",
            "|---|---|---|---|",
        ]
        for nb, g, f, n, mx in rep.per_test:
            lines.append(f"| {nb} | {g} | {mx:g} | {f} / {n} ({100 * f / n if n else 0:.0f}%) |")
        lines += ["", "![hardest tests](tests.png)", ""]
        counts = _hist([r.score for r in rows], rep.max_score)
        lines += ["## Distribution", "", "| score (%) | students |", "|---|---|"]
        for i, c in enumerate(counts):
            lines.append(f"| {i * 10}-{i * 10 + 10 if i < 9 else 100} | {c} |")
    Path(path).write_text("\n".join(lines) + "\n")
    return Path(path)
