"""One truth per number: what the manifest and the course settings own, written into notebooks when they are generated.

An instructor changes a threshold, a notebook's points or where students
install nnkit from in one place; :meth:`autograder.course.Course.generate_assignment`
(which makes both ``release/`` and the gradebook's copy of the master) writes
it into the scratch copy of ``source/<a>`` before nbgrader sees it:

* in markdown cells, ``{{ thresholds.KEY }}`` becomes ``[thresholds] KEY`` of
  the manifest, ``{{ points }}`` the notebook's points and ``{{ points.total }}``
  the assignment's;
* in code cells, the literal of every ``NAME = number  # manifest: thresholds.KEY``
  line becomes the manifest's value, so the hidden test reads the number the
  prose states;
* the package spec of every ``%pip install ... "nnkit @ ..."`` line becomes the
  course's install setting (``course.toml``: ``[students] install = "..."``;
  default :data:`DEFAULT_INSTALL`), e.g. a fork's own repository.

A placeholder naming an unknown key is an error that names the notebook and
the fix (never left for students to see).
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
PLACEHOLDER = re.compile(r"\{\{\s*(thresholds\.\w+|points(?:\.total)?)\s*\}\}")
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


def fill(nb, manifest, notebook, install):
    """Write the manifest's values (and the install spec ``install``) into notebook ``nb`` in place.

    ``notebook`` is its file name in the manifest. Returns the number of values written.
    """
    written = 0

    def value_of(match):
        nonlocal written
        key = match.group(1)
        if key == "points":
            value = manifest.points.get(notebook)
        elif key == "points.total":
            value = sum(manifest.points.values())
        else:
            value = manifest.thresholds.get(key.split(".", 1)[1])
        if value is None:
            raise CourseValueError(f"source/{manifest.name}/{notebook}: {match.group(0)} names no value of "
                                   f"assignments/{manifest.name}.toml; add it there or fix the placeholder")
        written += 1
        return _number(value)

    def threshold(match):
        nonlocal written
        key = match.group(5)
        if key not in manifest.thresholds:
            raise CourseValueError(f"source/{manifest.name}/{notebook}: threshold {key} is not under [thresholds] "
                                   f"of assignments/{manifest.name}.toml; add it there")
        written += 1
        return match.group(1) + repr(manifest.thresholds[key]) + match.group(4)

    def spec(match):
        nonlocal written
        written += 1
        return match.group(1) + install + match.group(2)

    for cell in nb.cells:
        if cell.cell_type == "markdown":
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
