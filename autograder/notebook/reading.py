"""Read submitted notebooks defensively.

Students hand in notebooks that went through Colab, VS Code or a text editor:
broken JSON, empty files, cells without ids, outputs of unknown types.
:func:`parse_notebook` turns bytes into a clean nbformat-4 notebook or raises
:class:`UnreadableNotebook` with a reason a student can understand.
"""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path

import nbformat
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


