"""File names: whose submission a file is (LMS download formats) and which notebook it is.

LMS "download all submissions" formats (as documented by their users and tools):

* **Canvas** flattens everything into one folder:
  ``lastnamefirstname_12345_67890_01_layers.ipynb`` (name without spaces,
  Canvas user id, submission/attachment id, original file name), with
  ``_LATE_`` after the name for late submissions, and ``-1``, ``-2`` appended
  to the original name when a student uploaded the same file name again.
* **Moodle** (assign module) makes a folder per participant,
  ``Full Name_12345_assignsubmission_file_/01_layers.ipynb`` (12345 is the
  participant id of the assignment, not the user id), or, without "download in
  folders", prefixes each file the same way: ``Full Name_12345_assignsubmission_file_01_layers.ipynb``.
* **Blackboard** (Grade Centre "Assignment File Download"):
  ``Assignment Name_username_attempt_2026-11-20-23-59-59_01_layers.ipynb``
  plus one ``..._attempt_<time>.txt`` receipt per attempt.
* A plain folder: ``<student>/<file>.ipynb`` (or nbgrader's
  ``<student>/<assignment>/<file>.ipynb``).

In every format the LMS writes the owner *first* and the student's own file
name after it, so the student controls the end of the name. A name is read by
the LMS prefix that ends earliest (:func:`parse_owner_name`): an original
file name such as ``HW_victim_attempt_<time>_01.ipynb`` inside
``impostor_1_2_HW_victim_attempt_...`` can never name another owner.

Notebook names: students rename files (``Copy of 01_layers.ipynb``,
``01_layers (1).ipynb``, ``01_layers-2.ipynb``, ``01-Layers.ipynb``);
:func:`assign_notebooks` maps files to the expected notebook names by name,
then by content (the release's grade ids and locked cells).
"""

from __future__ import annotations

import datetime as _dt
import difflib
import re
from dataclasses import dataclass, field
from pathlib import Path

# Every prefix is matched lazily (its leftmost occurrence): the LMS's prefix comes first in the name.
CANVAS = re.compile(r"^(?P<name>[^_/]+?)(?:_(?P<late>late))?_(?P<uid>\d+)_(?P<sid>\d+)_(?P<file>.+)$", re.I)
MOODLE_DIR = re.compile(r"^(?P<name>.+?)_(?P<pid>\d+)_assignsubmission_(?P<plugin>[a-z]+)_?$")
MOODLE_FILE = re.compile(r"^(?P<name>.+?)_(?P<pid>\d+)_assignsubmission_(?P<plugin>[a-z]+)_(?P<file>.+)$")
BLACKBOARD = re.compile(
    r"^(?P<assignment>.*?)_(?P<user>[^_]+)_attempt_(?P<ts>\d{4}-\d{2}-\d{2}-\d{2}-\d{2}-\d{2})"
    r"(?:_(?P<file>.+)|\.txt)?$")


@dataclass
class Owner:
    """Who a file belongs to, as far as its name tells."""

    lms: str                      # canvas | moodle | blackboard | folder
    student: str                  # default student id (used without a roster)
    aliases: set = field(default_factory=set)   # ids and names a roster may list
    label: str = ""               # human-readable, for messages
    late_flag: bool = False       # the LMS marked the file late (Canvas)
    time: _dt.datetime | None = None  # submission time the name carries (Blackboard)
    order: int = 0                # tie-break among equal times (Canvas submission id)


def slug(text):
    """A student id nbgrader accepts: letters, digits, ``_ . -``; spaces become ``_``."""
    s = re.sub(r"\s+", "_", str(text).strip())
    s = re.sub(r"[^A-Za-z0-9_.-]", "", s)
    return s.strip("._-") or "unknown"


def norm_alias(text):
    return re.sub(r"[^a-z0-9]", "", str(text).lower())


def _prefix_end(m):
    """Where the LMS-written part of a matched name ends (the student's own file name starts)."""
    return m.start("file") if m["file"] is not None else len(m.string)


def _blackboard(m):
    ts = _dt.datetime.strptime(m["ts"], "%Y-%m-%d-%H-%M-%S")
    user = m["user"]
    return Owner("blackboard", slug(user), {user}, f"Blackboard user {user}", time=ts), (m["file"] or "")


def _moodle(m):
    full = m["name"]
    original = m["file"] if "file" in m.re.groupindex else ""
    return Owner("moodle", slug(full), {m["pid"], full}, f"Moodle participant {full} ({m['pid']})"), original


def _canvas(m):
    return (Owner("canvas", slug(m["name"]), {m["uid"], m["name"]}, f"Canvas user {m['name']} ({m['uid']})",
                  late_flag=bool(m["late"]), order=int(m["sid"])), m["file"])


_FILE_FORMATS = ((BLACKBOARD, _blackboard), (MOODLE_FILE, _moodle), (CANVAS, _canvas))


def parse_owner_name(name):
    """``(Owner, original file name)`` from one LMS file name, or ``(None, name)``.

    When several formats match, the one whose LMS prefix ends first wins: the
    rest of the name is the student's own file name and never decides the owner.
    """
    found = [(m, build) for rx, build in _FILE_FORMATS for m in [rx.match(name)] if m]
    if not found:
        return None, name
    m, build = min(found, key=lambda f: _prefix_end(f[0]))  # min keeps the first on ties
    return build(m)


def parse_owner_dir(name):
    """``Owner`` for a per-student folder name (Moodle's, or a plain student id)."""
    m = MOODLE_DIR.match(name)
    if m:
        return _moodle(m)[0]
    return Owner("folder", slug(name), {name}, f"folder {name}")


def claimed_owner(name):
    """The owner an LMS-style file or folder name *claims*, or None for a name no LMS writes.

    Used for names inside a student's own upload: such a claim is reported, never obeyed.
    """
    named, _ = parse_owner_name(name)
    if named is not None:
        return named
    m = MOODLE_DIR.match(name)
    return _moodle(m)[0] if m else None


def same_person(a, b):
    """True when two owners are evidently one student (compared as :func:`norm_alias`).

    Their student ids match, or they share an alias and the ids are comparable:
    same LMS, or one is a plain folder (named by any id). A Canvas user id and a
    Moodle participant id that happen to be equal say nothing.
    """
    if norm_alias(a.student) == norm_alias(b.student):
        return True
    if a.lms != b.lms and "folder" not in (a.lms, b.lms):
        return False
    ids_a = {norm_alias(x) for x in a.aliases} - {""}
    return bool(ids_a & ({norm_alias(x) for x in b.aliases} - {""}))


# ---------------------------------------------------------------------------------------------
# notebook names

_COPY_PATTERNS = [
    re.compile(r"^copy\s+of\s+", re.I),
    re.compile(r"\s*-\s*copy(\s*\(\d+\))?$", re.I),
    re.compile(r"[\s_]*\(\d+\)$"),
    re.compile(r"[\s_]copy\d*$", re.I),
    re.compile(r"-\d{1,2}$"),  # Canvas: second upload of the same name
]


def canonical_stem(filename):
    """Lower-case notebook stem with copy/rename decorations removed (``Copy of A (1).ipynb`` -> ``a``)."""
    stem = Path(filename).name
    if stem.lower().endswith(".ipynb"):
        stem = stem[: -len(".ipynb")]
    changed = True
    while changed:
        changed = False
        for pat in _COPY_PATTERNS:
            new = pat.sub("", stem).strip()
            if new != stem and new:
                stem, changed = new, True
    return re.sub(r"[\s\-.]+", "_", stem.lower())


@dataclass
class Candidate:
    """A submitted file that may be one of the expected notebooks."""

    key: object                  # caller's handle (path, zip entry, ...)
    filename: str                # original file name
    notebook: object = None      # parsed NotebookNode, or None when unreadable
    error: str = ""              # why it is unreadable


def assign_notebooks(candidates, expected, releases=None):
    """Map candidate files to expected notebook names.

    Returns ``(assigned, notes, leftovers)``: ``assigned`` is ``{expected name:
    [Candidate, ...]}`` (several when a student handed in more than one copy;
    the caller keeps the newest), ``notes`` say which renamed files were mapped
    and how, ``leftovers`` are ``(Candidate, reason)`` that match nothing.

    Order of evidence: exact name, name without copy decorations, content
    (grade ids and locked cells of the release, when ``releases`` is given),
    a close name, and finally "the only notebook left for the only name left".
    """
    from autograder.notebook import identify

    expected = list(expected)
    canon = {canonical_stem(e): e for e in expected}
    assigned, notes, rest = {}, [], []

    def put(c, name, how):
        assigned.setdefault(name, []).append(c)
        if how:
            notes.append(f"'{c.filename}' graded as {name} ({how})")

    for c in candidates:
        if c.filename in expected:
            put(c, c.filename, "")
        elif canonical_stem(c.filename) in canon:
            put(c, canon[canonical_stem(c.filename)], "renamed file")
        else:
            rest.append(c)
    left = []
    for c in rest:
        if c.notebook is not None and releases:
            name, overlap = identify(c.notebook, releases)
            if name is not None and overlap >= 0.3:
                put(c, name, f"recognized by content, {overlap:.0%} of its cells")
                continue
        close = difflib.get_close_matches(canonical_stem(c.filename), list(canon), n=1, cutoff=0.75)
        if close:
            put(c, canon[close[0]], "similar name")
            continue
        left.append(c)
    leftovers = []
    unfilled = [e for e in expected if e not in assigned]
    nb_left = [c for c in left if c.filename.lower().endswith(".ipynb")]
    if len(unfilled) == 1 and len(nb_left) == 1:
        put(nb_left[0], unfilled[0], "the only notebook handed in for it")
        left.remove(nb_left[0])
    for c in left:
        if not c.filename.lower().endswith(".ipynb"):
            leftovers.append((c, f"not a notebook ({Path(c.filename).suffix or 'no extension'})"))
        elif c.notebook is None:
            leftovers.append((c, f"matches no expected notebook name and is unreadable: {c.error}"))
        else:
            leftovers.append((c, f"matches none of {', '.join(expected)} by name or content"))
    return assigned, notes, leftovers
