"""Read submitted notebooks defensively and repair them against the release.

Students hand in notebooks that went through Colab, VS Code or a text editor:
broken JSON, empty files, nbgrader metadata stripped or changed, test cells
deleted or copied, cells added. Before nbgrader sees a submission,

* :func:`parse_notebook` turns bytes into a clean nbformat-4 notebook or raises
  :class:`UnreadableNotebook` with a reason a student can understand;
* :func:`repair` matches the submission's cells back to the release notebook
  (by nbgrader ``grade_id``, else by cell id, else by the exact content of
  locked cells, else by position between matched cells), gives matched cells the
  release's nbgrader metadata, drops copies of test cells, restores deleted
  test cells and turns unknown nbgrader cells into ordinary code; it returns
  the notes that say what it changed.

nbgrader then restores locked cells (hidden tests included) from the gradebook
by ``grade_id`` as usual.
"""

from __future__ import annotations

import copy
import difflib
import json
import re
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from nbformat.notebooknode import NotebookNode
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_raw_cell

_CELL_ID = re.compile(r"^[a-zA-Z0-9-_]{1,64}$")


class UnreadableNotebook(ValueError):
    """A submitted file that is not a usable notebook; ``str()`` is the reason."""


# ---------------------------------------------------------------------------------------------
# reading


def _new_cell(cell_type, source, metadata, cell_id):
    make = {"code": new_code_cell, "markdown": new_markdown_cell}.get(cell_type, new_raw_cell)
    cell = make(source, metadata=metadata)
    cell["id"] = cell_id
    return cell


def clean_notebook(raw):
    """A valid nbformat-4 notebook rebuilt from the parsed JSON dict ``raw`` (outputs dropped).

    Cell types, sources, metadata and ids are kept when well-formed; outputs are
    dropped (grading re-runs everything). Raises :class:`UnreadableNotebook`.
    """
    if not isinstance(raw, dict) or not ("cells" in raw or "worksheets" in raw):
        raise UnreadableNotebook("a JSON file that is not a Jupyter notebook (it has no cells)")
    if isinstance(raw.get("nbformat"), int) and raw["nbformat"] < 4:
        try:
            raw = nbformat.convert(nbformat.from_dict(raw), 4)
        except Exception as exc:
            raise UnreadableNotebook(f"an old-format (v{raw.get('nbformat')}) notebook that could not be converted: {exc}") from None
    cells_in = raw.get("cells")
    if not isinstance(cells_in, list):
        raise UnreadableNotebook("a notebook whose 'cells' is not a list")
    cells, seen = [], set()
    for c in cells_in:
        if not isinstance(c, dict):
            continue
        ctype = c.get("cell_type") if c.get("cell_type") in ("code", "markdown", "raw") else "raw"
        src = c.get("source", "")
        src = "".join(str(s) for s in src) if isinstance(src, list) else ("" if src is None else str(src))
        meta = c.get("metadata") if isinstance(c.get("metadata"), dict) else {}
        meta = {k: v for k, v in meta.items() if k not in ("execution", "collapsed", "scrolled")}
        cid = c.get("id")
        if not (isinstance(cid, str) and _CELL_ID.match(cid)) or cid in seen:
            cid = uuid.uuid4().hex[:12]
        seen.add(cid)
        cells.append(_new_cell(ctype, src, meta, cid))
    meta = raw.get("metadata") if isinstance(raw.get("metadata"), dict) else {}
    nb = new_notebook()
    nb.cells = cells
    nb.metadata = meta
    try:
        nbformat.validate(nb)
    except Exception:
        nb.metadata = {k: v for k, v in meta.items() if k in ("kernelspec", "language_info")}
        try:
            nbformat.validate(nb)
        except Exception:
            nb.metadata = {}
    return nb


def parse_notebook(data, name="notebook"):
    """Parse the bytes of a submitted file into a clean notebook; raises :class:`UnreadableNotebook`."""
    if isinstance(data, str):
        data = data.encode("utf-8")
    if not data.strip():
        raise UnreadableNotebook("an empty file (0 bytes of content)" if not data else "an empty file (only whitespace)")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise UnreadableNotebook("a binary file, not a notebook (not UTF-8 text)") from None
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UnreadableNotebook(
            f"broken JSON at line {exc.lineno}, column {exc.colno} ({exc.msg}): the file is damaged or incomplete"
        ) from None
    except RecursionError:
        raise UnreadableNotebook("JSON nested too deeply to be a notebook") from None
    return clean_notebook(raw)


def read_notebook_file(path):
    """:func:`parse_notebook` on a file."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise UnreadableNotebook(f"could not be read: {exc.strerror or exc}") from None
    return parse_notebook(data, path.name)


# ---------------------------------------------------------------------------------------------
# cell helpers


def nbgrader_meta(cell):
    meta = cell.get("metadata", {}).get("nbgrader")
    return meta if isinstance(meta, dict) else {}


def grade_id(cell):
    gid = nbgrader_meta(cell).get("grade_id")
    return gid if isinstance(gid, str) and gid else None


def is_nbgrader_cell(cell):
    m = nbgrader_meta(cell)
    return bool(grade_id(cell)) and bool(m.get("grade") or m.get("solution") or m.get("locked") or m.get("task"))


def is_locked_cell(cell):
    m = nbgrader_meta(cell)
    return bool(m.get("locked")) and not m.get("solution")


def is_answer_cell(cell):
    return bool(nbgrader_meta(cell).get("solution"))


def is_graded_cell(cell):
    m = nbgrader_meta(cell)
    return bool(m.get("grade") or m.get("task"))


_MARKER = re.compile(r"^\s*### (BEGIN|END) (SOLUTION|HIDDEN TESTS)\s*$")


def strip_markers(nb):
    """A copy of master notebook ``nb`` with its solution and hidden-test marker lines removed: the
    reference solution as a student would hand it in (the hidden tests stay; grading restores them)."""
    out = nbformat.reads(nbformat.writes(nbformat.from_dict(nb)), as_version=4)
    for cell in out.cells:
        if cell.cell_type == "code":
            cell.source = "\n".join(line for line in cell.source.split("\n") if not _MARKER.match(line))
    return out


def solution_notebook(course_root, assignment, notebook):
    """The reference solution of ``<course_root>/source/<assignment>/<notebook>`` (markers stripped)."""
    return strip_markers(nbformat.read(Path(course_root) / "source" / assignment / notebook, as_version=4))


def normalized_source(src):
    return "\n".join(line.rstrip() for line in str(src).strip().splitlines())


def _kind(cell):
    m = nbgrader_meta(cell)
    if m.get("grade") and not m.get("solution"):
        return "test"
    if m.get("solution"):
        return "answer"
    return "locked"


def _similarity(release_src, sub_src):
    score = difflib.SequenceMatcher(None, release_src, sub_src, autojunk=False).ratio()
    for name in re.findall(r"^\s*(?:def|class)\s+(\w+)", release_src, flags=re.M):
        if re.search(rf"^\s*(?:def|class)\s+{re.escape(name)}\b", sub_src, flags=re.M):
            score += 1.0
    return score


def _same_locked(release_src, sub_src, threshold):
    """A locked release cell and a submitted cell look like the same cell (edited, or with hidden tests)."""
    a, b = normalized_source(release_src), normalized_source(sub_src)
    if a and a in b:
        return True
    return difflib.SequenceMatcher(None, a, b, autojunk=False).ratio() >= threshold


def _increasing_subsequence(pairs):
    """Longest subsequence of (j, r) pairs (sorted by j) with increasing r."""
    if not pairs:
        return []
    best = [1] * len(pairs)
    prev = [-1] * len(pairs)
    for i in range(len(pairs)):
        for k in range(i):
            if pairs[k][1] < pairs[i][1] and best[k] + 1 > best[i]:
                best[i], prev[i] = best[k] + 1, k
    i = max(range(len(pairs)), key=lambda n: best[n])
    out = []
    while i != -1:
        out.append(pairs[i])
        i = prev[i]
    return out[::-1]


# ---------------------------------------------------------------------------------------------
# repair


@dataclass
class RepairResult:
    notebook: NotebookNode
    notes: list = field(default_factory=list)
    matched_by: dict = field(default_factory=dict)  # method -> number of cells

    @property
    def changed(self):
        return bool(self.notes)


def _plain_copy(cell):
    meta = {k: v for k, v in cell.get("metadata", {}).items() if k != "nbgrader"}
    return _new_cell(cell.cell_type, cell.source, meta, cell.get("id") or uuid.uuid4().hex[:12])


def repair(submission, release):
    """Match ``submission``'s cells to ``release`` and return a :class:`RepairResult`.

    The repaired notebook keeps the student's cells in the student's order:
    answer cells carry the student's source with the release's nbgrader
    metadata; locked cells (instructions, tests) are the release's; copies of
    test cells are dropped; test cells missing from the submission are put back
    after the cell that precedes them in the release; cells the release does
    not know become ordinary cells without nbgrader metadata.
    """
    sub_cells = list(submission.cells)
    rel_cells = list(release.cells)
    rel_nbg = [r for r, c in enumerate(rel_cells) if is_nbgrader_cell(c)]
    rel_by_gid = {grade_id(rel_cells[r]): r for r in rel_nbg}
    rel_by_cid = {rel_cells[r].get("id"): r for r in rel_nbg if rel_cells[r].get("id")}
    match, how, dup = {}, {}, {}
    taken = {}
    notes = []

    def take(j, r, method):
        match[j], how[j], taken[r] = r, method, j

    # 1. nbgrader grade_id
    for j, c in enumerate(sub_cells):
        gid = grade_id(c)
        if gid in rel_by_gid:
            r = rel_by_gid[gid]
            if r in taken:
                dup[j] = r
            else:
                take(j, r, "grade_id")
    # 2. cell id (kept by most editors even when they drop metadata)
    for j, c in enumerate(sub_cells):
        if j in match or j in dup or grade_id(c) in rel_by_gid:
            continue
        r = rel_by_cid.get(c.get("id"))
        if r is not None and r not in taken and c.cell_type == rel_cells[r].cell_type and (
                is_answer_cell(rel_cells[r]) or _same_locked(rel_cells[r].source, c.source, 0.5)):
            take(j, r, "cell id")
    # 3. exact content of locked cells
    by_content = {}
    for r in rel_nbg:
        if is_locked_cell(rel_cells[r]):
            by_content.setdefault((rel_cells[r].cell_type, normalized_source(rel_cells[r].source)), []).append(r)
    for j, c in enumerate(sub_cells):
        if j in match or j in dup:
            continue
        key = (c.cell_type, normalized_source(c.source))
        if key not in by_content or not key[1]:
            continue
        free = [r for r in by_content[key] if r not in taken]
        if free:
            take(j, free[0], "content")
        else:
            dup[j] = by_content[key][0]
    # 4. position between anchors
    anchors = _increasing_subsequence(sorted(match.items()))
    anchors = [(-1, -1)] + anchors + [(len(sub_cells), len(rel_cells))]
    for (j0, r0), (j1, r1) in zip(anchors, anchors[1:]):
        rel_free = [r for r in range(r0 + 1, r1) if r in rel_by_gid.values() and r not in taken]
        sub_free = [j for j in range(j0 + 1, j1) if j not in match and j not in dup]
        last = -1
        for r in rel_free:
            rc = rel_cells[r]
            cands = [j for j in sub_free if j > last and j not in match and sub_cells[j].cell_type == rc.cell_type]
            if not cands:
                continue
            scores = {j: _similarity(rc.source, sub_cells[j].source) for j in cands}
            best = max(cands, key=lambda j: (scores[j], -j))
            if is_answer_cell(rc):
                if len(cands) > 1 and scores[best] < 0.2:
                    continue
            elif not _same_locked(rc.source, sub_cells[best].source, 0.6):  # an edited locked cell: only when clear
                continue
            take(best, r, "position")
            last = best

    # build the repaired notebook
    out = []  # (cell, release index or None)
    for j, c in enumerate(sub_cells):
        if j in dup:
            rc = rel_cells[dup[j]]
            label = grade_id(rc)
            if is_answer_cell(rc):
                out.append((_plain_copy(c), None))
                notes.append(f"a second copy of answer cell '{label}' was kept as ordinary code")
            else:
                notes.append(f"removed a duplicate of {_kind(rc)} cell '{label}'")
            continue
        if j not in match:
            gid = grade_id(c)
            if gid:
                notes.append(f"cell with unknown grade_id '{gid}' treated as ordinary code")
            out.append((_plain_copy(c), None))
            continue
        r = match[j]
        rc = rel_cells[r]
        if is_answer_cell(rc):
            meta = {k: v for k, v in c.get("metadata", {}).items() if k != "nbgrader"}
            meta["nbgrader"] = copy.deepcopy(nbgrader_meta(rc))
            cell = _new_cell(rc.cell_type, c.source, meta, rc.get("id") or c.get("id"))
            if how[j] == "grade_id":
                _note_altered(c, rc, notes)
        else:
            cell = nbformat.from_dict(copy.deepcopy(dict(rc)))
            if rc.cell_type == "code":
                cell.outputs, cell.execution_count = [], None
            if how[j] == "grade_id":
                _note_altered(c, rc, notes)
        out.append((cell, r))

    missing = [r for r in rel_by_gid.values() if r not in taken]
    for r in sorted(missing):
        rc = rel_cells[r]
        label = grade_id(rc)
        if is_graded_cell(rc):
            pos = 0
            for i, (_, rr) in enumerate(out):
                if rr is not None and rr < r:
                    pos = i + 1
            cell = nbformat.from_dict(copy.deepcopy(dict(rc)))
            if rc.cell_type == "code":
                cell.outputs, cell.execution_count = [], None
            out.insert(pos, (cell, r))
            what = "test" if not is_answer_cell(rc) else "manually graded answer"
            notes.append(f"{what} cell '{label}' was missing (deleted?): restored from the release")
        elif is_answer_cell(rc):
            notes.append(f"answer cell '{label}' not found (deleted or merged into another cell): graded as submitted")

    counts = {}
    for method in how.values():
        counts[method] = counts.get(method, 0) + 1
    recovered = {k: v for k, v in counts.items() if k != "grade_id"}
    if recovered:
        detail = ", ".join(f"{k} ({v})" for k, v in sorted(recovered.items()))
        notes.insert(0, f"nbgrader metadata missing on {sum(recovered.values())} cells (edited in Colab or VS Code?): "
                        f"matched to the release by {detail}")

    nb = new_notebook(metadata=copy.deepcopy(dict(release.metadata)))
    nb.cells = [c for c, _ in out]
    _dedupe_ids(nb)
    return RepairResult(nb, notes, counts)


def _note_altered(sub_cell, rel_cell, notes):
    a, b = nbgrader_meta(sub_cell), nbgrader_meta(rel_cell)
    changed = [k for k in ("grade", "solution", "locked", "points") if k in b and a.get(k) != b.get(k)]
    if changed:
        detail = ", ".join(f"{k} {a.get(k)!r} -> {b.get(k)!r}" for k in changed)
        notes.append(f"nbgrader metadata of cell '{grade_id(rel_cell)}' was altered ({detail}): restored")


def _dedupe_ids(nb):
    seen = set()
    for cell in nb.cells:
        cid = cell.get("id")
        if not cid or cid in seen or not _CELL_ID.match(str(cid)):
            cid = uuid.uuid4().hex[:12]
            cell["id"] = cid
        seen.add(cid)


# ---------------------------------------------------------------------------------------------
# which notebook is this?


def identify(nb, releases):
    """Which of ``releases`` ({name: release notebook}) ``nb`` is a copy of: ``(name, overlap)``.

    ``overlap`` is the larger of the fraction of the release's grade ids found in
    ``nb`` and the fraction of its locked cells (instructions, tests) whose text
    appears in one of ``nb``'s cells (works when an editor dropped the
    metadata); ``(None, 0.0)`` when nothing matches.
    """
    sub_gids = {grade_id(c) for c in nb.cells if grade_id(c)}
    sub_srcs = [normalized_source(c.source) for c in nb.cells]
    best, best_score = None, 0.0
    for name, rel in releases.items():
        gids = {grade_id(c) for c in rel.cells if is_nbgrader_cell(c)}
        locked = [normalized_source(c.source) for c in rel.cells if is_locked_cell(c) and c.source.strip()]
        by_gid = len(sub_gids & gids) / len(gids) if gids else 0.0
        by_src = sum(any(r in x for x in sub_srcs) for r in locked) / len(locked) if locked else 0.0
        score = max(by_gid, by_src)
        if score > best_score:
            best, best_score = name, score
    return best, best_score
