"""Data an assignment's notebooks read, made ready before any grading kernel starts.

Grading kernels run sandboxed: no network, and nnkit's data cache is mounted
read-only. So the grader itself loads every dataset the manifest names
(``[data] imdb = true``) once, outside the sandbox: a missing local copy is
downloaded (with its checksum) and the parsed cache is built, and every kernel
then reads the cache in a fraction of a second instead of parsing the archive.
"""

from __future__ import annotations

import time

from autograder.course import CourseError


def prepare_data(manifest, echo=None, cache_dir=None):
    """Load the datasets ``manifest`` declares. Returns a list of ``(name, seconds)``.

    ``cache_dir``: nnkit's data cache to fill (default: ``NNKIT_DATA_DIR``, else
    the user cache, as :func:`nnkit.data.load_imdb` chooses).

    Raises :class:`CourseError` naming the fix when a dataset cannot be found,
    read or downloaded.
    """
    done = []
    if manifest.data.get("imdb"):
        from nnkit.data import load_imdb
        from nnkit.data.imdb import SPLITS, IMDBDataError

        t0 = time.monotonic()
        try:
            for split in SPLITS:
                load_imdb(split, cache_dir=cache_dir, progress=echo is not None)
        except IMDBDataError as exc:
            raise CourseError(f"assignment {manifest.name} reads IMDB ([data] imdb = true in its manifest), "
                              f"but the data is not available: {exc}") from None
        done.append(("imdb", time.monotonic() - t0))
        if echo is not None:
            echo(f"data: IMDB ready (train and test, {done[-1][1]:.1f} s)")
    return done
