"""``collect``: import submissions from a folder or an LMS download zip into ``submitted/``.

For every file it decides whose it is (:func:`autograder.notebook.names.parse_owner_name`,
optionally mapped through a roster CSV), which expected notebook it is
(:func:`autograder.notebook.names.assign_notebooks`), keeps the newest copy when a
student handed in twice, writes ``submitted/<student>/<assignment>/<notebook>``
with nbgrader's ``timestamp.txt``, and records lateness against the manifest's
due date in ``grades/<assignment>/collect.json``. Files it cannot place are
listed with the reason.

Whose a file is comes only from the LMS's own naming of the upload: the
top-level folder or file-name prefix the LMS writes (Canvas, Moodle,
Blackboard) or a top-level plain ``<student>/`` folder. Inside an upload
(subfolders, zips the student uploaded, file names) nothing changes the owner
or the upload's time: a name there that looks like another student's
submission is reported as a conflict and counted as the uploader's file. Zip
entries that cannot be extracted safely (a name that is not valid UTF-8,
``..`` or absolute paths, damaged or encrypted entries) are skipped and
reported; the rest of that zip is still used.

Roster CSV: a header row with a ``student_id`` column (or ``id`` / ``student``);
every other column holds names or LMS ids (Canvas user id, Moodle participant
id or full name, Blackboard username, e-mail, ...) that identify that student.
"""

from __future__ import annotations

import csv
import datetime as _dt
import os
import re
import shutil
import struct
import tempfile
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path

from autograder.course import Course, CourseError, is_ignored
from autograder.notebook.names import (Candidate, Owner, assign_notebooks, claimed_owner, norm_alias, parse_owner_dir,
                              parse_owner_name, same_person)
from autograder.notebook import UnreadableNotebook, parse_notebook

TIMESTAMP_FORMAT = "%Y-%m-%d %H:%M:%S.%f UTC"


@dataclass
class FileEntry:
    path: Path               # where the bytes are (extracted)
    shown: str               # path as the user knows it (inside the zip / folder)
    owner: Owner             # the uploader, as the LMS's own naming of the upload says
    filename: str            # original notebook file name (LMS prefix removed)
    mtime: _dt.datetime | None = None        # time of the upload (for a student's own zip: the zip's time)
    inner_mtime: _dt.datetime | None = None  # the file's own time: only orders copies inside one upload
    claimed: Owner | None = None             # another owner that a name inside the upload claims


@dataclass
class CollectResult:
    students: dict = field(default_factory=dict)      # student -> {notebook: info}
    notes: dict = field(default_factory=dict)         # student -> [note]
    unplaced: list = field(default_factory=list)      # [{"file", "reason"}]
    conflicts: list = field(default_factory=list)     # [{"file", "student", "uploader", "named_like", "used"}]
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
# reading zips: names that zipfile cannot decode, unsafe paths, broken entries


_UTF8_FLAG = 0x800
_EOCD = struct.Struct("<4s4H2LH")            # end of central directory record
_EOCD64_LOCATOR = struct.Struct("<4sLQL")
_EOCD64 = struct.Struct("<4sQ2H2L4Q")
_CENTRAL = struct.Struct("<4s4B4HL2L5H2L")   # central directory file header (46 bytes)


def _bad_utf8_names(fp):
    """``{central-directory flag offset: (entry index, raw name)}`` for entries flagged UTF-8 whose name is not.

    Reads the zip's central directory as the format defines it. Returns {} when
    it cannot find one (zipfile then says what is wrong).
    """
    fp.seek(0, 2)
    size = fp.tell()
    tail_len = min(size, _EOCD.size + 0xFFFF)
    fp.seek(size - tail_len)
    tail = fp.read(tail_len)
    pos = tail.rfind(b"PK\x05\x06")
    if pos < 0 or pos + _EOCD.size > len(tail):
        return {}
    eocd_at = size - tail_len + pos
    cd_size, cd_offset = _EOCD.unpack_from(tail, pos)[5:7]
    concat = eocd_at - cd_size - cd_offset
    loc_at = eocd_at - _EOCD64_LOCATOR.size
    if loc_at >= 0:
        fp.seek(loc_at)
        loc = fp.read(_EOCD64_LOCATOR.size)
        if len(loc) == _EOCD64_LOCATOR.size and loc[:4] == b"PK\x06\x07":
            fp.seek(loc_at - _EOCD64.size)
            rec = fp.read(_EOCD64.size)
            if len(rec) == _EOCD64.size and rec[:4] == b"PK\x06\x06":
                cd_size, cd_offset = _EOCD64.unpack(rec)[8:10]
                concat = loc_at - _EOCD64.size - cd_size - cd_offset
    start = cd_offset + concat
    if start < 0:
        return {}
    fp.seek(start)
    cd = fp.read(cd_size)
    bad, at, index = {}, 0, 0
    while at + _CENTRAL.size <= len(cd) and cd[at:at + 4] == b"PK\x01\x02":
        fields = _CENTRAL.unpack_from(cd, at)
        flags, name_len, extra_len, comment_len = fields[5], fields[12], fields[13], fields[14]
        raw = cd[at + _CENTRAL.size: at + _CENTRAL.size + name_len]
        if flags & _UTF8_FLAG:
            try:
                raw.decode("utf-8")
            except UnicodeDecodeError:
                bad[start + at + 8] = (index, raw)
        at += _CENTRAL.size + name_len + extra_len + comment_len
        index += 1
    return bad


class _FlagPatchedFile:
    """A read-only file whose bytes at given offsets read as given replacements.

    Used to clear the UTF-8 flag of entries whose names are not UTF-8, so that
    :class:`zipfile.ZipFile` can list the rest of the zip instead of failing on
    the first such name.
    """

    def __init__(self, fp, patches):
        self._fp = fp
        self._patches = patches  # {offset: bytes}

    def read(self, n=-1):
        pos = self._fp.tell()
        data = self._fp.read(n)
        hits = [(o, b) for o, b in self._patches.items() if o < pos + len(data) and o + len(b) > pos]
        if not hits:
            return data
        buf = bytearray(data)
        for off, rep in hits:
            for i, byte in enumerate(rep):
                if 0 <= off + i - pos < len(buf):
                    buf[off + i - pos] = byte
        return bytes(buf)

    def seek(self, *args):
        return self._fp.seek(*args)

    def tell(self):
        return self._fp.tell()

    def seekable(self):
        return True

    def close(self):
        self._fp.close()


def _open_zip(fp):
    """``(ZipFile, {entry index: raw name})``: the zip, and its entries whose names could not be decoded."""
    try:
        return zipfile.ZipFile(fp), {}
    except UnicodeDecodeError:
        pass
    bad = _bad_utf8_names(fp)
    if not bad:
        raise zipfile.BadZipFile("a file name in it cannot be decoded")
    patches = {}
    for off in bad:
        fp.seek(off)
        flags = int.from_bytes(fp.read(2), "little") & ~_UTF8_FLAG
        patches[off] = flags.to_bytes(2, "little")
    # zipfile lists entries in central-directory order, the order _bad_utf8_names counted them in
    return zipfile.ZipFile(_FlagPatchedFile(fp, patches)), dict(bad.values())


def _entry_name(info, encoding):
    """The entry's name, reading UTF-8 written without the UTF-8 flag (macOS) as UTF-8."""
    name = info.filename
    if not info.flag_bits & _UTF8_FLAG and not encoding and not name.isascii():
        try:
            name = info.orig_filename.encode("cp437").decode("utf-8")
        except (UnicodeEncodeError, UnicodeDecodeError):
            pass
    return name.replace("\\", "/")


def _unsafe_reason(name):
    """Why an entry name must not be extracted (absolute path, '..', control characters), or ''."""
    if name.startswith("/") or re.match(r"^[A-Za-z]:", name):
        return "an absolute path"
    if ".." in name.split("/"):
        return "a '..' path that points outside the zip"
    if any(ord(ch) < 32 for ch in name):
        return "control characters in its name"
    return ""


def extract_zip(zpath, dest, shown_prefix="", unplaced=None):
    """Extract ``zpath`` into ``dest`` keeping entry times as file times.

    Returns False when the zip cannot be read at all. Entries that cannot be
    extracted safely (a name that is not valid UTF-8 although the zip says it
    is, an absolute or ``..`` path, an encrypted or damaged entry) are skipped
    and appended to ``unplaced`` as ``{"file": shown_prefix + name, "reason"}``;
    every other entry is still extracted. ``__MACOSX`` and other junk folders
    are skipped silently.
    """
    unplaced = unplaced if unplaced is not None else []
    dest = Path(dest)
    try:
        fp = open(zpath, "rb")
    except OSError:
        return False
    try:
        try:
            zf, bad_names = _open_zip(fp)
        except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, OSError, ValueError, EOFError):
            return False
        encoding = getattr(zf, "metadata_encoding", None)
        for index, info in enumerate(zf.infolist()):
            raw = bad_names.get(index)
            if raw is not None:
                shown = raw.decode("utf-8", "backslashreplace")
                unplaced.append({"file": f"{shown_prefix}{shown}", "reason": (
                    "skipped: its name in the zip is not valid UTF-8 although the zip says it is; "
                    "rename the file and zip it again to include it")})
                continue
            name = _entry_name(info, encoding)
            parts = [p for p in name.split("/") if p not in ("", ".")]
            if not parts or info.is_dir() or any(is_ignored(p) for p in parts):
                continue
            why = _unsafe_reason(name)
            if why:
                unplaced.append({"file": f"{shown_prefix}{name}", "reason": f"skipped: {why} in the zip"})
                continue
            out = dest.joinpath(*parts)
            try:
                out.parent.mkdir(parents=True, exist_ok=True)
                with zf.open(info) as src, open(out, "wb") as dst:
                    shutil.copyfileobj(src, dst)
            except (zipfile.BadZipFile, RuntimeError, NotImplementedError, OSError, EOFError, ValueError,
                    zlib.error) as exc:
                if out.is_file():
                    out.unlink()
                unplaced.append({"file": f"{shown_prefix}{name}",
                                 "reason": f"skipped: this entry of the zip cannot be extracted ({exc})"})
                continue
            try:
                t = _dt.datetime(*info.date_time).timestamp()
                os.utime(out, (t, t))
            except (ValueError, OverflowError, OSError):
                pass
        zf.close()
        return True
    finally:
        fp.close()


# ---------------------------------------------------------------------------------------------
# walking the input: whose is each file


def _mtime(path):
    try:
        return _dt.datetime.fromtimestamp(os.stat(path).st_mtime, tz=_dt.timezone.utc)
    except OSError:
        return None


def _is_junk(name):
    return is_ignored(name)


def _walk(root, shown_prefix, scratch, out, unplaced, owner=None, claimed=None, upload_time=None, depth=0):
    """Collect :class:`FileEntry` objects under ``root`` (a folder), recursing into zips and folders.

    ``owner`` is None at the LMS's level (the download itself, or a zip with no
    LMS name in it): there a top-level folder or file name says whose upload it
    is. Inside an upload (``owner`` set) nothing changes the owner: an LMS-style
    name there only sets ``claimed`` (reported later) and loses its prefix.
    ``upload_time`` is the time of the student's own zip, which its entries get.
    """
    for p in sorted(root.iterdir()):
        if _is_junk(p.name):
            continue
        shown = f"{shown_prefix}{p.name}"
        if p.is_dir():
            if owner is None:
                named, _ = parse_owner_name(p.name)
                _walk(p, shown + "/", scratch, out, unplaced, owner=named or parse_owner_dir(p.name), depth=depth + 1)
            else:
                claim = claimed or _claim(claimed_owner(p.name), owner)
                _walk(p, shown + "/", scratch, out, unplaced, owner, claim, upload_time, depth + 1)
            continue
        named, original = parse_owner_name(p.name)
        is_zip = p.suffix.lower() == ".zip" and depth < 4
        if owner is None:
            if is_zip:
                _walk_zip(p, shown, scratch, out, unplaced, named, None, _mtime(p) if named else None, depth)
            elif named is None:
                unplaced.append({"file": shown, "reason": (
                    "cannot tell whose file this is: the name matches no LMS format (Canvas, Moodle, "
                    "Blackboard) and it is not in a student's folder") if p.suffix.lower() == ".ipynb" else (
                    f"not a notebook ({p.suffix or 'no extension'}) and not in a student's folder")})
            elif not (named.lms == "blackboard" and not original and p.suffix.lower() == ".txt"):
                out.append(FileEntry(p, shown, named, original, _mtime(p), _mtime(p)))
            # (else: Blackboard's per-attempt receipt)
            continue
        claim, filename = claimed, p.name
        if named is not None:
            filename = original or p.name
            claim = claim or _claim(named, owner)
        if is_zip:
            _walk_zip(p, shown, scratch, out, unplaced, owner, claim, upload_time or _mtime(p), depth)
        else:
            out.append(FileEntry(p, shown, owner, filename, upload_time or _mtime(p), _mtime(p), claim))


def _claim(named, owner):
    """``named`` when it is someone other than ``owner`` (a conflict to report), else None."""
    return named if named is not None and not same_person(named, owner) else None


def _walk_zip(p, shown, scratch, out, unplaced, owner, claimed, upload_time, depth):
    dest = Path(tempfile.mkdtemp(dir=scratch))
    if not extract_zip(p, dest, shown + "!/", unplaced):
        unplaced.append({"file": shown, "reason": "a damaged zip file"})
        return
    _walk(dest, shown + "!/", scratch, out, unplaced, owner, claimed, upload_time, depth + 1)


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
    are replaced only by a newer one, and left untouched (same files, same
    times) when this collect would write the same bytes. ``timezone`` (IANA
    name) is the zone of the times in LMS file names (default: the due date's
    zone, else UTC).

    Files are attributed only from the LMS's own naming of the upload (see
    :func:`_walk`); a file inside one student's upload that is named like
    another student's submission stays the uploader's and is listed in
    ``conflicts`` (and in the notes or ``unplaced``, which the command prints).
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
            if not extract_zip(source, dest, "", result.unplaced):
                raise CourseError(f"{source} is not a readable zip file")
            _walk(dest, "", scratch, entries, result.unplaced)
        else:
            _walk(source, "", scratch, entries, result.unplaced)

        by_student = {}
        for e in entries:
            sid = _student_id(e.owner, aliases)
            if sid is None:
                result.unplaced.append({"file": e.shown, "reason": f"{e.owner.label} is not on the roster"
                                        + (f"; {_conflict_text(e, e.owner.student)}" if e.claimed else "")})
                continue
            if e.claimed is not None and aliases is not None and _student_id(e.claimed, aliases) == sid:
                e.claimed = None  # the roster says both names are this student's
            by_student.setdefault(sid, []).append(e)

        items = sorted(by_student.items())
        iterator = progress(items, desc=f"collect {assignment}", unit="student") if progress else items
        saved = course.state(assignment, "collect.json", {"students": {}})
        for sid, files in iterator:
            _collect_student(course, assignment, manifest, releases, sid, files, tz, result)
        saved.setdefault("students", {}).update({
            s: {"files": result.students[s], "notes": result.notes.get(s, [])} for s in result.students})
        saved["unplaced"] = result.unplaced
        saved["conflicts"] = result.conflicts
        saved["source"] = str(source)
        saved["collected_at"] = _dt.datetime.now().isoformat(timespec="seconds")
        if aliases is not None:
            saved["roster"] = sorted(set(aliases.values()))
        course.save_state(assignment, "collect.json", saved)
    return result


def _student_id(owner, aliases):
    """The student id for ``owner``: its own without a roster, else the roster's (None when not on it)."""
    if aliases is None:
        return owner.student
    return next((aliases[norm_alias(a)] for a in sorted(owner.aliases) if norm_alias(a) in aliases), None)


def _conflict_text(entry, sid):
    """One sentence naming the conflict of an entry whose name claims another owner."""
    hint = ""
    if entry.owner.lms == "folder":
        hint = (f" (if '{entry.owner.label[len('folder '):]}' holds LMS downloads rather than one student's files, "
                "collect that folder itself)")
    return (f"named like a submission of {entry.claimed.label} but inside the upload of {entry.owner.label}: "
            f"counted as {sid}'s file, never as {entry.claimed.student}'s{hint}")


def _collect_student(course, assignment, manifest, releases, sid, files, tz, result):
    """Map one student's files to notebooks, place the newest copies, report what was not used."""
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
    reported = set()
    for c, reason in leftovers:
        e = c.key
        extra = f"; {_conflict_text(e, sid)}" if e.claimed else ""
        result.unplaced.append({"file": e.shown, "reason": f"{sid}: {reason}{extra}"})
        reported.add(id(e))
    chosen = _newest(assigned, notes, tz) if assigned else {}
    placed, kept_old = {}, ""
    if chosen:
        placed, kept_old = _place(course, assignment, manifest, sid, chosen, notes, tz)
    used = {id(e): name for name, e in chosen.items()} if placed else {}
    for name, e in chosen.items():
        if kept_old and not e.claimed:
            result.unplaced.append({"file": e.shown, "reason": f"{sid}: not used for {name}: {kept_old}"})
    for e in files:
        if e.claimed is None:
            continue
        result.conflicts.append({"file": e.shown, "student": sid, "uploader": e.owner.label,
                                 "named_like": e.claimed.label, "used": id(e) in used})
        if id(e) in reported:
            continue
        text = _conflict_text(e, sid)
        if id(e) in used:
            notes.append(f"'{e.shown}' is {text}; graded as {sid}'s {used[id(e)]}")
        else:
            why = kept_old or "a newer copy was kept"
            result.unplaced.append({"file": e.shown, "reason": f"{sid}: {text}; not used: {why}"})
    if placed:
        result.students[sid] = placed
        result.notes[sid] = notes


_MIN_TIME = _dt.datetime.min.replace(tzinfo=_dt.timezone.utc)


def _when(entry, tz=_dt.timezone.utc):
    """Sort key of a file: (upload time, LMS submission order, the file's own time inside the upload)."""
    owner = entry.owner
    t = owner.time.replace(tzinfo=tz).astimezone(_dt.timezone.utc) if owner.time is not None else entry.mtime
    return (t or _MIN_TIME, owner.order, entry.inner_mtime or _MIN_TIME)


def _newest(assigned, notes, tz):
    """``{notebook: FileEntry}``: the newest of one student's copies of each notebook (noted when several)."""
    chosen = {}
    for name, cands in assigned.items():
        cands = sorted(cands, key=lambda c: _when(c.key, tz))
        newest = cands[-1]
        if len(cands) > 1:
            others = ", ".join(f"'{c.key.shown}'" for c in cands[:-1])
            notes.append(f"{len(cands)} copies of {name} handed in: kept the newest ('{newest.key.shown}'), "
                         f"not {others}")
        chosen[name] = newest.key
    return chosen


def _same_submission(dest, chosen, timestamp):
    """True when ``dest`` already holds exactly ``chosen`` (same bytes) and the same timestamp.txt."""
    if not dest.is_dir():
        return False
    present = {p.name for p in dest.iterdir()} - {"timestamp.txt"}
    if present != set(chosen):
        return False
    ts = dest / "timestamp.txt"
    if (ts.read_text() if ts.is_file() else None) != timestamp:
        return False
    return all((dest / name).is_file() and (dest / name).read_bytes() == e.path.read_bytes()
               for name, e in chosen.items())


def _place(course, assignment, manifest, sid, chosen, notes, tz=_dt.timezone.utc):
    """Write ``chosen`` into submitted/; returns ``({notebook: info}, why not)``.

    Returns ``({}, reason)`` and writes nothing when the submission already
    collected is newer; writes nothing either (but returns the info) when it is
    byte-for-byte this one.
    """
    dest = course.submitted_dir(sid, assignment)
    newest_time = max(_when(e, tz)[0] for e in chosen.values())
    old_ts = (dest / "timestamp.txt").read_text().strip() if (dest / "timestamp.txt").exists() else ""
    if old_ts:
        try:
            old = _dt.datetime.strptime(old_ts, TIMESTAMP_FORMAT).replace(tzinfo=_dt.timezone.utc)
            if old > newest_time:
                notes.append(f"kept the submission already collected ({old_ts}): it is newer than this one")
                return {}, f"the submission already collected ({old_ts}) is newer"
        except ValueError:
            pass
    timestamp = (newest_time.astimezone(_dt.timezone.utc).strftime(TIMESTAMP_FORMAT)
                 if newest_time > _MIN_TIME else None)
    if not _same_submission(dest, chosen, timestamp):
        if dest.exists():
            if old_ts:
                notes.append(f"replaced the submission collected earlier ({old_ts})")
            shutil.rmtree(dest)
        dest.mkdir(parents=True)
        for name, e in sorted(chosen.items()):
            shutil.copyfile(e.path, dest / name)
        if timestamp is not None:
            (dest / "timestamp.txt").write_text(timestamp)
    info = {}
    due = manifest.due
    for name, e in sorted(chosen.items()):
        t = _when(e, tz)[0]
        known = t > _MIN_TIME
        late_by = (t - due).total_seconds() if (due is not None and known) else None
        info[name] = {
            "from": e.shown,
            "lms": e.owner.lms,
            "time": t.isoformat() if known else None,
            "late": bool(e.owner.late_flag or (late_by is not None and late_by > 0)),
            "seconds_late": max(0.0, late_by) if late_by is not None else None,
        }
    return info, ""


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
