"""``release``: regenerate ``release/<a>`` (the student version) from ``source/<a>``.

nbgrader's generate_assignment (:meth:`autograder.course.Course.generate_assignment`,
in a scratch course with its own database) replaces solutions with the code stub, removes hidden tests, locks
and checksums cells and clears every output. Only files whose content changed
are rewritten (notebooks compared without volatile fields), files no longer
generated are removed, and the course gradebook learns the new master.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import nbformat

from autograder.course import Course, CourseError


@dataclass
class ReleaseSummary:
    assignment: str
    written: list = field(default_factory=list)
    unchanged: list = field(default_factory=list)
    removed: list = field(default_factory=list)
    warnings: list = field(default_factory=list)

    def line(self):
        text = (f"release {self.assignment}: {len(self.written)} written, {len(self.unchanged)} unchanged, "
                f"{len(self.removed)} removed")
        return text + (f" ({'; '.join(self.warnings)})" if self.warnings else "")


def build_release(course, a):
    """``{relative path: bytes}`` of a freshly generated ``release/<a>`` (:meth:`Course.generate_assignment`)."""
    return course.generate_assignment(a, course.state_dir(a) / "logs" / "release.log", log_mode="w")


def _normalized(nb):
    """Notebook JSON text with volatile fields (cell ids, outputs, widget state) dropped, for comparing releases."""
    nb = nbformat.from_dict(nb)
    nb.metadata.pop("widgets", None)
    for i, cell in enumerate(nb.cells):
        cell["id"] = f"cell-{i}"
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
    return nbformat.writes(nb)


def _same(rel, new, old):
    if rel.endswith(".ipynb"):
        try:
            return _normalized(nbformat.reads(new.decode(), as_version=4)) == _normalized(
                nbformat.reads(old.decode(), as_version=4))
        except Exception:
            return False
    return new == old


def stale_release_files(course, a):
    """Paths under ``release/<a>`` that differ from a fresh generation from ``source/<a>`` ([] when fresh)."""
    course = course if isinstance(course, Course) else Course(course)
    fresh = build_release(course, a)
    dest = course.release_dir(a)
    have = {p.relative_to(dest).as_posix(): p.read_bytes() for p in dest.rglob("*") if p.is_file()} if dest.exists() else {}
    return sorted(rel for rel in set(fresh) | set(have)
                  if rel not in fresh or rel not in have or not _same(rel, fresh[rel], have[rel]))


def release_assignment(course, a):
    """Refresh ``release/<a>``; returns a :class:`ReleaseSummary`."""
    course = course if isinstance(course, Course) else Course(course)
    manifest = course.manifest(a)
    summary = ReleaseSummary(a)
    for name in manifest.notebooks:
        nb = nbformat.read(course.source_dir(a) / name, as_version=4)
        if any(c.get("outputs") for c in nb.cells if c.cell_type == "code"):
            summary.warnings.append(f"source/{a}/{name} has outputs (the release is stripped; clear them in the master)")
    files = build_release(course, a)
    dest = course.release_dir(a)
    have = {p.relative_to(dest).as_posix(): p for p in dest.rglob("*") if p.is_file()} if dest.exists() else {}
    for rel, data in files.items():
        out = dest / rel
        if rel in have and _same(rel, data, have[rel].read_bytes()):
            summary.unchanged.append(rel)
            continue
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(data)
        summary.written.append(rel)
    for rel, p in have.items():
        if rel not in files:
            p.unlink()
            summary.removed.append(rel)
    try:
        course.sync_gradebook(a)
    except CourseError as exc:
        summary.warnings.append(f"gradebook not updated: {exc}")
    return summary
