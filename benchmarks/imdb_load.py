"""Time load_imdb('test') from a local archive: first load (parse) and second (cache).

Usage: python benchmarks/imdb_load.py [ARCHIVE]

ARCHIVE defaults to $NNKIT_IMDB_PATH, else ../shared/data/imdb/aclImdb_labeled.tar.gz
(relative to the repo root). Each run uses a fresh temporary cache folder.
Targets on a 2-core machine: first load under 30 s, second under 3 s.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from nnkit.data import load_imdb

ROOT = Path(__file__).resolve().parents[1]
DEFAULT = ROOT / "../shared/data/imdb/aclImdb_labeled.tar.gz"


def main(argv: list) -> int:
    source = Path(argv[1] if len(argv) > 1 else os.environ.get("NNKIT_IMDB_PATH") or DEFAULT)
    if not source.exists():
        print(f"no IMDB data at {source}; pass the archive as the first argument")
        return 2
    print(f"source: {source.resolve()} ({source.stat().st_size / 1e6:.1f} MB)")
    with tempfile.TemporaryDirectory(prefix="nnkit-bench-") as cache:
        timings = []
        for _ in range(2):
            t0 = time.perf_counter()
            d = load_imdb("test", path=source, cache_dir=cache, progress=False)
            timings.append(time.perf_counter() - t0)
        per_label = np.bincount(d.labels, minlength=2)
        print(f"reviews: {len(d)} (negative {per_label[0]}, positive {per_label[1]}), "
              f"urls: {'yes' if d.urls is not None else 'no'}")
        print(f"first load (parse both splits, write cache): {timings[0]:.2f} s")
        print(f"second load (from cache):                    {timings[1]:.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
