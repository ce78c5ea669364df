"""One truth per number: what the manifest and the course settings own, written into notebooks when they are generated.

An instructor changes a threshold, a notebook's points or where students
install nnkit from in one place; :meth:`autograder.course.Course.generate_assignment`
(which makes both ``release/`` and the gradebook's copy of the master) writes
it into the scratch copy of ``source/<a>`` before nbgrader sees it:

* in markdown cells, ``{{ thresholds.KEY }}`` becomes ``[thresholds] KEY`` of
  the manifest, ``{{ points }}`` the notebook's points, ``{{ points.total }}``
  the assignment's and ``{{ points.GRADE_ID }}`` the points of the graded cell
  of that notebook with that grade id; ``{{ points.ID1 + points.ID2 }}`` is
  their sum (one number for a part graded by several test cells);
  ``{{ extra_credit.GRADE_ID }}`` the extra credit ``[extra_credit] points`` gives that cell;
* in code cells, the literal of every ``NAME = number  # manifest: thresholds.KEY``
  line becomes the manifest's value, so the hidden test reads the number the
  prose states;
* the package spec of every ``%pip install ... "nnkit @ ..."`` line becomes the
  course's install setting (``course.toml``: ``[students] install = "..."``;
  default :data:`DEFAULT_INSTALL`), e.g. a fork's own repository.

A placeholder naming an unknown key (or a grade id of no graded cell), and a
``{{ points... }}`` or ``{{ thresholds... }}`` that is not written as above, is
an error that names the notebook and the fix (never left for students to see);
:func:`placeholder_problems` lists them without writing anything (``check``).
"""

from __future__ import annotations

import re
from pathlib import Path

try:  # Python 3.11+
    import tomllib as _toml
except ModuleNotFoundError:  # pragma: no cover - Python < 3.11
    import tomli as _toml  # type: ignore[no-redef]

#: Where students install nnkit from when ``course.toml`` does not say.
DEFAULT_INSTALL = "nnkit @ git+https://github.com/nnkit-course/nnkit.git"

#: ``NAME = number  # manifest: thresholds.KEY`` (a threshold literal of a test cell).
THRESHOLD = re.compile(r"^(\s*(\w+)\s*=\s*)([-+0-9.eE]+)(\s*#\s*manifest:\s*thresholds\.(\w+)\s*)$", re.M)
#: ``{{ thresholds.KEY }}``, ``{{ points }}``, ``{{ points.total }}``, ``{{ points.ID }}``,
#: ``{{ points.ID + points.ID2 }}``.
PLACEHOLDER = re.compile(r"\{\{\s*(thresholds\.\w+|extra_credit\.[\w-]+|points|points\.[\w-]+(?:\s*\+\s*points\.[\w-]+)*)"
                         r"\s*\}\}")
#: Anything that looks meant as one of them (checked after :data:`PLACEHOLDER`: a typo is an error, not prose).
LOOKS_LIKE_PLACEHOLDER = re.compile(r"\{\{\s*(?:points|thresholds|extra_credit)\b[^{}]*\}\}")
INSTALL_LINE = re.compile(r'^(\s*%pip install[^\n"]*")nnkit @ [^"\n]*(")', re.M)


class CourseValueError(ValueError):
    """A placeholder or threshold marker names a value the manifest does not have."""


def install_spec(course_root):
    """The pip spec students install nnkit from (``course.toml`` ``[students] install``)."""
    path = Path(course_root) / "course.toml"
    if not path.is_file():
        return DEFAULT_INSTALL
    try:
        data = _toml.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise CourseValueError(f"{path}: {exc}; fix the TOML syntax") from None
    spec = (data.get("students") or {}).get("install", DEFAULT_INSTALL)
    if not isinstance(spec, str) or not spec.startswith("nnkit") or '"' in spec:
        raise CourseValueError(f'{path}: [students] install must be a pip spec for nnkit, e.g. install = '
                               f'"{DEFAULT_INSTALL}"')
    return spec


def _number(value):
    return f"{value:g}" if isinstance(value, float) else str(value)


def graded_points(nb):
    """``{grade_id: points}`` of the graded cells of notebook ``nb`` (what ``{{ points.GRADE_ID }}`` reads)."""
    out = {}
    for cell in nb.cells:
        meta = (cell.get("metadata") or {}).get("nbgrader") or {}
        if meta.get("grade") and meta.get("grade_id"):
            out[meta["grade_id"]] = float(meta.get("points") or 0)
    return out


def _value(key, manifest, notebook, cells):
    """The number placeholder ``key`` (the text inside the braces) stands for, or ``(what, fix)`` when it names none.

    ``cells`` is :func:`graded_points` of the notebook.
    """
    if key.startswith("thresholds."):
        value = manifest.thresholds.get(key.split(".", 1)[1])
        if value is None:
            return None, (f"{{{{ {key} }}}} names no value of assignments/{manifest.name}.toml",
                          "add it there or fix the placeholder")
        return value, None
    if key.startswith("extra_credit."):
        value = getattr(manifest, "extra_credit", None)
        value = value.points.get(key.split(".", 1)[1]) if value else None
        if value is None:
            return None, (f"{{{{ {key} }}}} names no [extra_credit] points of assignments/{manifest.name}.toml",
                          "add it there or fix the placeholder")
        return value, None
    if key == "points":
        value = manifest.points.get(notebook)
        if value is None:
            return None, (f"{{{{ {key} }}}} names no value of assignments/{manifest.name}.toml",
                          f'add "{notebook}" under [points] there or fix the placeholder')
        return value, None
    total = 0.0
    for term in re.split(r"\s*\+\s*", key):
        name = term.split(".", 1)[1]
        if name == "total":
            total += sum(manifest.points.values())
        elif name in cells:
            total += cells[name]
        else:
            known = ", ".join(sorted(cells)[:6]) + (", ..." if len(cells) > 6 else "")
            return None, (f"{{{{ {key} }}}}: {name!r} is the grade id of no graded cell of this notebook",
                          f"use the grade id of one of its test cells ({known or 'it has none'}) "
                          "or fix the placeholder")
    return total, None


def _malformed(text):
    """``(what, fix)`` for every ``{{ points... }}`` / ``{{ thresholds... }}`` in ``text`` that is not a placeholder."""
    return [(f"{m.group(0)} is not a placeholder release can fill",
             "write {{ thresholds.KEY }}, {{ points }}, {{ points.total }}, {{ points.GRADE_ID }}, "
             "{{ points.ID1 + points.ID2 }} or {{ extra_credit.GRADE_ID }}")
            for m in LOOKS_LIKE_PLACEHOLDER.finditer(PLACEHOLDER.sub("", text))]


def placeholder_problems(nb, manifest, notebook):
    """``(what, fix)`` for each placeholder of the markdown cells of ``nb`` that :func:`fill` cannot fill."""
    cells = graded_points(nb)
    problems = []
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            for match in PLACEHOLDER.finditer(cell.source):
                problem = _value(match.group(1), manifest, notebook, cells)[1]
                if problem and problem not in problems:
                    problems.append(problem)
            problems += [p for p in _malformed(cell.source) if p not in problems]
    return problems


def fill(nb, manifest, notebook, install):
    """Write the manifest's values (and the install spec ``install``) into notebook ``nb`` in place.

    ``notebook`` is its file name in the manifest. Returns the number of values written.
    """
    written = 0
    where = f"source/{manifest.name}/{notebook}"
    cells = graded_points(nb)

    def value_of(match):
        nonlocal written
        value, problem = _value(match.group(1), manifest, notebook, cells)
        if problem:
            raise CourseValueError(f"{where}: {problem[0]}; {problem[1]}")
        written += 1
        return _number(value)

    def threshold(match):
        nonlocal written
        key = match.group(5)
        if key not in manifest.thresholds:
            raise CourseValueError(f"{where}: threshold {key} is not under [thresholds] "
                                   f"of assignments/{manifest.name}.toml; add it there")
        written += 1
        return match.group(1) + repr(manifest.thresholds[key]) + match.group(4)

    def spec(match):
        nonlocal written
        written += 1
        return match.group(1) + install + match.group(2)

    for cell in nb.cells:
        if cell.cell_type == "markdown":
            bad = _malformed(cell.source)
            if bad:
                raise CourseValueError(f"{where}: {bad[0][0]}; {bad[0][1]}")
            cell.source = PLACEHOLDER.sub(value_of, cell.source)
        elif cell.cell_type == "code":
            cell.source = INSTALL_LINE.sub(spec, THRESHOLD.sub(threshold, cell.source))
    return written


def fill_folder(folder, manifest, install):
    """:func:`fill` every notebook of ``manifest`` found in ``folder`` (a scratch copy of ``source/<a>``)."""
    import nbformat

    for name in manifest.notebooks:
        path = Path(folder) / name
        if path.is_file():
            nb = nbformat.read(path, as_version=4)
            if fill(nb, manifest, name, install):
                nbformat.write(nb, path)
