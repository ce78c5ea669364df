"""Build tests/data/imdb_sample.tar.gz from the shared IMDB copy.

Usage: python tests/data/make_imdb_sample.py [SOURCE.tar.gz [OUT.tar.gz]]

SOURCE defaults to ../shared/data/imdb/aclImdb_labeled.tar.gz (relative to the
repo root); its url lists are read from the urls/ folder beside it. The output
is in the official aclImdb_v1.tar.gz layout:

    aclImdb/README                               (says what this file is)
    aclImdb/{train,test}/{neg,pos}/<id>_<rating>.txt   N_PER_GROUP each
    aclImdb/{train,test}/urls_{neg,pos}.txt      the full 12,500-line lists
    aclImdb/train/unsup/<k>_0.txt                a few reviews the loader must skip

The sample is deterministic (fixed seed; fixed tar and gzip timestamps), so
running this again gives a byte-identical file.
"""

from __future__ import annotations

import gzip
import io
import random
import re
import sys
import tarfile
from pathlib import Path

N_PER_GROUP = 60
N_UNSUP = 3
SEED = 20110619  # ACL 2011
ROOT = Path(__file__).resolve().parents[2]
DEFAULT_SOURCE = ROOT / "../shared/data/imdb/aclImdb_labeled.tar.gz"
DEFAULT_OUT = Path(__file__).resolve().parent / "imdb_sample.tar.gz"
SPLITS, LABELS = ("train", "test"), ("neg", "pos")
README = (
    "Test fixture for nnkit: {n} reviews per split and label sampled (seed {seed}) "
    "from the IMDB Large Movie Review Dataset (Maas et al., ACL 2011, "
    "https://ai.stanford.edu/~amaas/data/sentiment/), in the layout of "
    "aclImdb_v1.tar.gz. train/unsup holds copies of a few unsampled train "
    "reviews, for testing that loaders skip it.\n"
)


def _names(source: Path) -> dict:
    """{(split, label): sorted [(id, member name)]} of the source archive."""
    out = {(s, lab): [] for s in SPLITS for lab in LABELS}
    with tarfile.open(source, "r|gz") as tar:
        for m in tar:
            hit = re.search(r"aclImdb/(train|test)/(pos|neg)/(\d+)_\d+\.txt$", m.name)
            if hit:
                out[(hit[1], hit[2])].append((int(hit[3]), m.name))
    return {k: sorted(v) for k, v in out.items()}


def main(source: Path = DEFAULT_SOURCE, out: Path = DEFAULT_OUT) -> None:
    rng = random.Random(SEED)
    names = _names(source)
    wanted = {}
    for key in sorted(names):
        for _id, name in rng.sample(names[key], N_PER_GROUP):
            wanted[name] = name
    unsup_from = [n for _, n in names[("train", "neg")] if n not in wanted][:N_UNSUP]
    for k, name in enumerate(unsup_from):
        wanted[name] = f"aclImdb/train/unsup/{k}_0.txt"

    files = {"aclImdb/README": README.format(n=N_PER_GROUP, seed=SEED).encode()}
    with tarfile.open(source, "r|gz") as tar:
        for m in tar:
            if m.name in wanted:
                files[wanted[m.name]] = tar.extractfile(m).read()
    for split in SPLITS:
        for label in LABELS:
            url_file = source.parent / "urls" / f"{split}_urls_{label}.txt.gz"
            files[f"aclImdb/{split}/urls_{label}.txt"] = gzip.decompress(url_file.read_bytes())

    dirs = {"aclImdb"} | {f"aclImdb/{s}" for s in SPLITS}
    dirs |= {f"aclImdb/{s}/{lab}" for s in SPLITS for lab in LABELS} | {"aclImdb/train/unsup"}
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for name in sorted(dirs | set(files)):
            info = tarfile.TarInfo(name)
            info.mtime = 1309305600  # 2011-06-29, fixed for reproducibility
            if name in dirs:
                info.type, info.mode = tarfile.DIRTYPE, 0o755
                tar.addfile(info)
            else:
                info.size, info.mode = len(files[name]), 0o644
                tar.addfile(info, io.BytesIO(files[name]))
    with open(out, "wb") as f, gzip.GzipFile(fileobj=f, mode="wb", mtime=0, compresslevel=9, filename="") as gz:
        gz.write(buf.getvalue())
    print(f"wrote {out} ({out.stat().st_size:,} bytes, {len(files)} files)")


if __name__ == "__main__":
    args = [Path(a) for a in sys.argv[1:3]]
    main(*args)
