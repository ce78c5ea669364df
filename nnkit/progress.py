"""Progress bars that work in a terminal, Jupyter and Colab."""

from __future__ import annotations

import os


def progress_bar(iterable=None, **kwargs):
    """A tqdm bar (``tqdm.auto``: a widget in notebooks, text elsewhere).

    Keyword arguments go to tqdm. Bars write to stdout, never stderr, so that
    they cannot fail an nbgrader test cell; ``NNKIT_NO_PROGRESS=1`` turns them
    off (the autograder sets it).
    """
    import sys

    from tqdm.auto import tqdm

    if os.environ.get("NNKIT_NO_PROGRESS"):
        kwargs["disable"] = True
    kwargs.setdefault("file", sys.stdout)
    kwargs.setdefault("mininterval", 0.5)
    return tqdm(iterable, **kwargs)
