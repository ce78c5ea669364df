"""``collect``: import submissions from a folder or an LMS download zip into ``submitted/``.

For every file it decides whose it is (:func:`autograder.names.parse_owner_name`,
optionally mapped through a roster CSV), which expected notebook it is
(:func:`autograder.names.assign_notebooks`), keeps the newest copy when a
student handed in twice, writes ``submitted/<student>/<assignment>/<notebook>``
with nbgrader's ``timestamp.txt``, and records lateness against the manifest's
due date in ``grades/<assignment>/collect.json``. Files it cannot place are
listed with the reason.

Roster CSV: a header row with a ``student_id`` column (or ``id`` / ``student``);
every other column holds names or LMS ids (Canvas user id, Moodle participant
id or full name, Blackboard username, e-mail, ...) that identify that student.
"""

from __future__ import annotations

import csv
import datetime as _dt
import os
import shutil
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from autograder.course import Course, CourseError
from autograder.names import Candidate, Owner, assign_notebooks, norm_alias, parse_owner_dir, parse_owner_name
from autograder.notebooks import UnreadableNotebook, parse_notebook

TIMESTAMP_FORMAT = "%Y-%m-%d %H:%M:%S.%f UTC"
_IGNORED_DIRS = {"__MACOSX", ".ipynb_checkpoints", "__pycache__", ".git"}


@dataclass
class FileEntry:
    path: Path               # where the bytes are (extracted)
    shown: str               # path as the user knows it (inside the zip / folder)
    owner: Owner | None
    filename: str            # original notebook file name
    mtime: _dt.datetime | None = None


@dataclass
class CollectResult:
    students: dict = field(default_factory=dict)      # student -> {notebook: info}
    notes: dict = field(default_factory=dict)         # student -> [note]
    unplaced: list = field(default_factory=list)      # [{"file", "reason"}]
    ignored: int = 0

    @property
    def late(self):
        return sorted(s for s, nbs in self.students.items() if any(i["late"] for i in nbs.values()))


# ---------------------------------------------------------------------------------------------
# roster


def load_roster(path):
    """``{normalized alias: student_id}`` from a roster CSV (see module doc)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise CourseError(f"cannot read roster {path}: {exc.strerror or exc}") from None
    rows = list(csv.DictReader(text.splitlines()))
    if not rows:
        raise CourseError(f"roster {path} is empty; it needs a header row with a student_id column")
    cols = {c.strip().lower(): c for c in rows[0].keys() if c}
    idcol = next((cols[c] for c in ("student_id", "id", "student", "studentid") if c in cols), None)
    if idcol is None:
        raise CourseError(f"roster {path} has no student_id column (columns: {', '.join(rows[0].keys())})")
    aliases = {}
    for row in rows:
        sid = (row.get(idcol) or "").strip()
        if not sid:
            continue
        for col, value in row.items():
            if value and value.strip():
                aliases.setdefault(norm_alias(value), sid)
        aliases[norm_alias(sid)] = sid
    return aliases


# ---------------------------------------------------------------------------------------------
# walking the input


def _mtime(path):
    try:
        return _dt.datetime.fromtimestamp(os.stat(path).st_mtime, tz=_dt.timezone.utc)
    except OSError:
        return None


def _extract_zip(zpath, dest):
    """Extract ``zpath`` into ``dest`` keeping entry times as file times; returns False on a broken zip."""
    try:
        with zipfile.ZipFile(zpath) as zf:
            for info in zf.infolist():
                name = info.filename.replace("\\", "/")
                parts = [p for p in name.split("/") if p not in ("", ".", "..")]
                if not parts or parts[0] in _IGNORED_DIRS or info.is_dir():
                    continue
                out = Path(dest, *parts)
                out.parent.mkdir(parents=True, exist_ok=True)
                with zf.open(info) as src, open(out, "wb") as dst:
                    shutil.copyfileobj(src, dst)
                try:
                    t = _dt.datetime(*info.date_time).timestamp()
                    os.utime(out, (t, t))
                except (ValueError, OverflowError, OSError):
                    pass
        return True
    except (zipfile.BadZipFile, OSError, RuntimeError):
        return False


def _walk(root, shown_prefix, owner, scratch, out, unplaced, depth=0):
    """Collect FileEntry objects under ``root`` (a folder), recursing into zips and student folders."""
    for p in sorted(root.iterdir()):
        if p.name in _IGNORED_DIRS or p.name.startswith("._") or p.name == ".DS_Store":
            continue
        shown = f"{shown_prefix}{p.name}"
        if p.is_dir():
            sub_owner = owner
            if owner is None:
                named, _ = parse_owner_name(p.name)
                sub_owner = named or parse_owner_dir(p.name)
            _walk(p, shown + "/", sub_owner, scratch, out, unplaced, depth + 1)
            continue
        named, original = parse_owner_name(p.name)
        file_owner = named or owner
        if p.suffix.lower() == ".zip" and depth < 4:
            dest = Path(tempfile.mkdtemp(dir=scratch))
            if not _extract_zip(p, dest):
                unplaced.append({"file": shown, "reason": "a damaged zip file"})
                continue
            _walk(dest, shown + "!/", file_owner, scratch, out, unplaced, depth + 1)
            continue
        if file_owner is None:
            if p.suffix.lower() == ".ipynb":
                unplaced.append({"file": shown, "reason": "cannot tell whose file this is: the name matches no LMS "
                                                          "format (Canvas, Moodle, Blackboard) and it is not in a "
                                                          "student's folder"})
            else:
                unplaced.append({"file": shown, "reason": f"not a notebook ({p.suffix or 'no extension'}) "
                                                          "and not in a student's folder"})
            continue
        if file_owner.lms == "blackboard" and not original and p.suffix.lower() == ".txt":
            continue  # Blackboard's per-attempt receipt
        out.append(FileEntry(p, shown, file_owner, original or p.name, _mtime(p)))


# ---------------------------------------------------------------------------------------------
# collect


def _lms_timezone(name, manifest):
    """Time zone for times written in LMS file names: ``name`` (IANA), else the due date's, else UTC."""
    if name:
        try:
            from zoneinfo import ZoneInfo

            return ZoneInfo(name)
        except Exception:
            raise CourseError(f"unknown time zone {name!r}: use an IANA name such as Europe/Berlin or UTC") from None
    if manifest.due is not None and manifest.due.tzinfo is not None:
        return manifest.due.tzinfo
    return _dt.timezone.utc


def collect(course, assignment, source, roster=None, progress=None, timezone=None):
    """Import ``source`` (folder or zip) for ``assignment``; returns a :class:`CollectResult`.

    ``course`` is a :class:`Course` or a path. Existing submissions of a student
    are replaced only by a newer one. ``timezone`` (IANA name) is the zone of the
    times in LMS file names (default: the due date's zone, else UTC).
    """
    course = course if isinstance(course, Course) else Course(course)
    manifest = course.manifest(assignment)
    tz = _lms_timezone(timezone, manifest)
    source = Path(source)
    if not source.exists():
        raise CourseError(f"{source} does not exist: give a folder of notebooks or an LMS download zip")
    aliases = load_roster(roster) if roster else None
    try:
        releases = course.release_notebooks(assignment) if course.graded_release_dir(assignment).is_dir() else None
    except Exception:
        releases = None
    if not releases:
        releases = _release_from_committed(course, assignment, manifest)
    result = CollectResult()
    with tempfile.TemporaryDirectory(prefix="nnkit-collect-") as scratch:
        entries = []
        if source.is_file():
            if source.suffix.lower() != ".zip":
                raise CourseError(f"{source} is a file but not a .zip: give a folder or an LMS download zip")
            dest = Path(scratch) / "input"
            dest.mkdir()
            if not _extract_zip(source, dest):
                raise CourseError(f"{source} is not a readable zip file")
            _walk(dest, "", None, scratch, entries, result.unplaced)
        else:
            _walk(source, "", None, scratch, entries, result.unplaced)

        by_student = {}
        for e in entries:
            sid = e.owner.student
            if aliases is not None:
                sid = next((aliases[norm_alias(a)] for a in sorted(e.owner.aliases) if norm_alias(a) in aliases), None)
                if sid is None:
                    result.unplaced.append({"file": e.shown, "reason": f"{e.owner.label} is not on the roster"})
                    continue
            by_student.setdefault(sid, []).append(e)

        items = sorted(by_student.items())
        iterator = progress(items, desc=f"collect {assignment}", unit="student") if progress else items
        saved = course.state(assignment, "collect.json", {"students": {}})
        for sid, files in iterator:
            cands = []
            for e in files:
                data = e.path.read_bytes()
                nb, err = None, ""
                if e.filename.lower().endswith(".ipynb"):
                    try:
                        nb = parse_notebook(data, e.filename)
                    except UnreadableNotebook as exc:
                        err = str(exc)
                cands.append(Candidate(key=e, filename=e.filename, notebook=nb, error=err))
            assigned, notes, leftovers = assign_notebooks(cands, manifest.notebooks, releases)
            for c, reason in leftovers:
                result.unplaced.append({"file": c.key.shown, "reason": f"{sid}: {reason}"})
            if not assigned:
                continue
            placed = _place(course, assignment, manifest, sid, assigned, notes, saved, tz)
            if placed:
                result.students[sid] = placed
                result.notes[sid] = notes
        saved.setdefault("students", {}).update({
            s: {"files": result.students[s], "notes": result.notes.get(s, [])} for s in result.students})
        saved["unplaced"] = result.unplaced
        saved["source"] = str(source)
        saved["collected_at"] = _dt.datetime.now().isoformat(timespec="seconds")
        if aliases is not None:
            saved["roster"] = sorted(set(aliases.values()))
        course.save_state(assignment, "collect.json", saved)
    return result


def _when(entry, tz=_dt.timezone.utc):
    owner = entry.owner
    t = owner.time.replace(tzinfo=tz).astimezone(_dt.timezone.utc) if owner.time is not None else entry.mtime
    return (t or _dt.datetime.min.replace(tzinfo=_dt.timezone.utc), owner.order)


def _place(course, assignment, manifest, sid, assigned, notes, saved, tz=_dt.timezone.utc):
    """Write the newest copy of each notebook into submitted/; returns {notebook: info}."""
    dest = course.submitted_dir(sid, assignment)
    chosen = {}
    for name, cands in assigned.items():
        cands = sorted(cands, key=lambda c: _when(c.key, tz))
        newest = cands[-1]
        if len(cands) > 1:
            notes.append(f"{len(cands)} copies of {name} handed in: kept the newest ('{newest.key.shown}')")
        chosen[name] = newest.key
    newest_time = max(_when(e, tz)[0] for e in chosen.values())
    old_ts = (dest / "timestamp.txt").read_text().strip() if (dest / "timestamp.txt").exists() else ""
    if old_ts:
        try:
            old = _dt.datetime.strptime(old_ts, TIMESTAMP_FORMAT).replace(tzinfo=_dt.timezone.utc)
            if old > newest_time:
                notes.append(f"kept the submission already collected ({old_ts}): it is newer than this one")
                return {}
        except ValueError:
            pass
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    info = {}
    due = manifest.due
    for name, e in sorted(chosen.items()):
        shutil.copyfile(e.path, dest / name)
        t = _when(e, tz)[0]
        known = t > _dt.datetime.min.replace(tzinfo=_dt.timezone.utc)
        late_by = (t - due).total_seconds() if (due is not None and known) else None
        info[name] = {
            "from": e.shown,
            "lms": e.owner.lms,
            "time": t.isoformat() if known else None,
            "late": bool(e.owner.late_flag or (late_by is not None and late_by > 0)),
            "seconds_late": max(0.0, late_by) if late_by is not None else None,
        }
    if newest_time > _dt.datetime.min.replace(tzinfo=_dt.timezone.utc):
        (dest / "timestamp.txt").write_text(newest_time.astimezone(_dt.timezone.utc).strftime(TIMESTAMP_FORMAT))
    return info


def _release_from_committed(course, assignment, manifest):
    import nbformat

    rel = course.release_dir(assignment)
    out = {}
    for name in manifest.notebooks:
        p = rel / name
        if p.is_file():
            try:
                out[name] = nbformat.read(p, as_version=4)
            except Exception:
                pass
    if not out:  # no release yet: the master itself identifies notebooks just as well
        for name in manifest.notebooks:
            try:
                out[name] = nbformat.read(course.source_dir(assignment) / name, as_version=4)
            except Exception:
                pass
    return out
