"""Repair a submitted notebook against the release, and tell which release a notebook is.

Before nbgrader sees a submission, :func:`repair` matches the submission's
cells back to the release notebook (by nbgrader ``grade_id``, else by cell id,
else by the exact content of locked cells, else by position between matched
cells), gives matched cells the release's nbgrader metadata, drops copies of
test cells, restores deleted test cells and turns unknown nbgrader cells into
ordinary code; it returns the notes that say what it changed. nbgrader then
restores locked cells (hidden tests included) from the gradebook by
``grade_id`` as usual. :func:`identify` says which release a stray notebook is
a copy of.
"""

from __future__ import annotations

import copy
import difflib
import re
import uuid
from dataclasses import dataclass, field

from nbformat.notebooknode import NotebookNode
from nbformat.v4 import new_notebook

import nbformat

from autograder.notebook.cells import (grade_id, is_answer_cell, is_graded_cell, is_locked_cell, is_nbgrader_cell,
                                       nbgrader_meta, normalized_source)
from autograder.notebook.reading import _CELL_ID, _new_cell

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
