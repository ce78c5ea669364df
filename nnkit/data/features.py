"""Fast n-gram count vectors for many texts at once (numpy, no Python loop per token).

:class:`NgramVectorizer` turns reviews into sparse count vectors of word n-grams the way notebook
02 of ``pytorch_imdb`` does by hand (``<br />`` read as a space, lower case, tokens are the maximal
runs of ``a-z``, ``0-9`` and ``'``, n-grams joined by one space), but over the whole corpus at once:
the characters become a numpy array, tokens are found from where runs of token characters start and
end, each token is hashed (64-bit FNV-1a, computed for all tokens one character position at a time)
and n-grams are integer codes of token ids. On 25,000 IMDB reviews, 1-3-grams take a few seconds
instead of the half minute of a ``re.findall`` / ``" ".join`` / ``dict`` pipeline, and no list of
Python strings per review is ever built (which is what made those pipelines need gigabytes).

With ``punctuation=True`` every ASCII punctuation character other than ``'`` is a token of its own
(``"great!"`` gives ``great`` and ``!``), which helps bag-of-n-gram sentiment models a little.

:meth:`NgramVectorizer.analyze` gives the features of one text as a list of strings (plain Python,
for checking and for reading the model), the same features the matrices count.
"""

from __future__ import annotations

import re
import string
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

import numpy as np
import scipy.sparse as sp

_WORD_CHARS = b"abcdefghijklmnopqrstuvwxyz0123456789'"
_PUNCT_CHARS = "".join(c for c in string.punctuation if c != "'").encode()
_IS_WORD = np.zeros(256, dtype=bool)
_IS_WORD[np.frombuffer(_WORD_CHARS, np.uint8)] = True
_IS_PUNCT = np.zeros(256, dtype=bool)
_IS_PUNCT[np.frombuffer(_PUNCT_CHARS, np.uint8)] = True
_WORD_RE = re.compile(r"[a-z0-9']+")
_WORD_PUNCT_RE = re.compile(r"[a-z0-9']+|[" + re.escape(_PUNCT_CHARS.decode()) + "]")
_FNV_OFFSET = np.uint64(0xCBF29CE484222325)
_FNV_PRIME = np.uint64(0x100000001B3)
_SEP = "\x00"  # between texts while a chunk is processed; never part of a token


def _prepare(texts: Sequence[str]) -> bytes:
    """One lower-cased UTF-8 byte string of ``texts``, separated by NUL, ``<br />`` as a space."""
    texts = [t.replace(_SEP, " ") if _SEP in t else t for t in texts]
    return _SEP.join(texts).replace("<br />", " ").lower().encode("utf-8")


def _token_spans(chars: np.ndarray, punctuation: bool) -> Tuple[np.ndarray, np.ndarray]:
    """(starts, ends) of the tokens of a byte array, in order of position."""
    word = _IS_WORD[chars]
    edge = np.diff(word.astype(np.int8), prepend=np.int8(0), append=np.int8(0))
    starts, ends = np.flatnonzero(edge == 1), np.flatnonzero(edge == -1)
    if punctuation:
        marks = np.flatnonzero(_IS_PUNCT[chars])
        starts, ends = np.concatenate([starts, marks]), np.concatenate([ends, marks + 1])
        order = np.argsort(starts, kind="stable")
        starts, ends = starts[order], ends[order]
    return starts, ends


def _hash_spans(chars: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """64-bit FNV-1a hash of each token ``chars[starts[i]:ends[i]]`` (uint64)."""
    h = np.full(len(starts), _FNV_OFFSET, dtype=np.uint64)
    live = np.arange(len(starts))
    pos = starts.copy()
    with np.errstate(over="ignore"):
        while len(live):
            h[live] = (h[live] ^ chars[pos].astype(np.uint64)) * _FNV_PRIME
            pos += 1
            more = pos < ends[live]
            live, pos = live[more], pos[more]
    return h


def _tokenize_chunk(texts: Sequence[str], punctuation: bool):
    """(token hashes, text of each token, the chunk's bytes, starts, ends) of a list of texts."""
    data = _prepare(texts)
    chars = np.frombuffer(data, dtype=np.uint8)
    starts, ends = _token_spans(chars, punctuation)
    seps = np.flatnonzero(chars == 0)
    doc = np.searchsorted(seps, starts).astype(np.int64)
    return _hash_spans(chars, starts, ends), doc, data, starts, ends


class NgramVectorizer:
    """Word n-gram count vectors of texts, fitted on a training corpus.

    ``ngram_range=(1, n_max)``: the n-grams counted, ``n_max`` up to 3. ``max_features``: keep the
    most frequent n-grams of the training texts (by total count; ties by first appearance of the
    token ids, deterministic), all when None. ``min_count``: drop n-grams seen fewer times in
    the training texts. ``punctuation``: ASCII punctuation marks are tokens too.

    After :meth:`fit`: ``vocabulary_`` (dict feature -> column, most frequent first) and
    ``feature_names_`` (array of str, by column). :meth:`transform` gives float32 CSR count
    matrices with sorted column indices; n-grams outside the vocabulary are ignored.
    """

    def __init__(self, ngram_range: Tuple[int, int] = (1, 2), max_features: Optional[int] = None,
                 min_count: int = 1, punctuation: bool = False, chunk_size: int = 2500):
        lo, hi = ngram_range
        if not (1 <= lo <= hi <= 3):
            raise ValueError(f"ngram_range must be (lo, hi) with 1 <= lo <= hi <= 3, got {ngram_range!r}")
        if max_features is not None and max_features < 1:
            raise ValueError(f"max_features must be None or positive, got {max_features!r}")
        if chunk_size < 1:
            raise ValueError(f"chunk_size must be positive, got {chunk_size!r}")
        self.ngram_range = (int(lo), int(hi))
        self.max_features = max_features
        self.min_count = int(min_count)
        self.punctuation = bool(punctuation)
        self.chunk_size = int(chunk_size)
        self._fitted = False

    # ------------------------------------------------------------ per text (plain Python)

    def analyze(self, text: str) -> List[str]:
        """The n-grams of one text (unigrams first, then bigrams, ...), with repetitions."""
        text = text.replace(_SEP, " ").replace("<br />", " ").lower()
        tokens = (_WORD_PUNCT_RE if self.punctuation else _WORD_RE).findall(text)
        lo, hi = self.ngram_range
        out: List[str] = []
        for n in range(lo, hi + 1):
            out.extend(map(" ".join, zip(*(tokens[k:] for k in range(n)))))
        return out

    # ------------------------------------------------------------ corpus

    def _chunks(self, texts: Sequence[str]) -> Iterable[Sequence[str]]:
        texts = list(texts)
        for start in range(0, len(texts), self.chunk_size):
            yield texts[start:start + self.chunk_size]

    def _codes(self, ids: np.ndarray, doc: np.ndarray, n: int, base: int) -> Tuple[np.ndarray, np.ndarray]:
        """(codes, start positions) of the n-grams of token ids inside one document each.

        Ids < 0 (tokens unknown to the vocabulary) make the n-grams holding them invalid."""
        m = len(ids) - n + 1
        if m <= 0:
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        ok = doc[n - 1:n - 1 + m] == doc[:m]
        code = ids[:m].copy()
        for k in range(1, n):
            ok &= ids[k:k + m] >= 0
            code = code * base + ids[k:k + m]
        ok &= ids[:m] >= 0
        where = np.flatnonzero(ok)
        return code[where], where

    def fit(self, texts: Sequence[str]) -> "NgramVectorizer":
        """Learn the vocabulary of ``texts`` (the training texts only)."""
        chunks, names = [], {}
        for chunk in self._chunks(texts):
            h, doc, data, starts, ends = _tokenize_chunk(chunk, self.punctuation)
            uh, first, inv = np.unique(h, return_index=True, return_inverse=True)
            chunks.append((uh, inv.reshape(-1).astype(np.int32), doc.astype(np.int32)))
            for key, i in zip(uh.tolist(), first.tolist()):
                if key not in names:
                    names[key] = data[starts[i]:ends[i]].decode("ascii")
            del h, doc, data, starts, ends, first, inv
        self._token_hashes = np.unique(np.concatenate([c[0] for c in chunks])) if chunks else np.zeros(0, np.uint64)
        self._tokens = np.array([names[k] for k in self._token_hashes.tolist()], dtype=object)
        del names
        self._base = max(len(self._token_hashes), 1)
        lo, hi = self.ngram_range
        cand_n, cand_code, cand_count = np.zeros(0, np.int8), np.zeros(0, np.int64), np.zeros(0, np.int32)
        for n in range(lo, hi + 1):
            # every n-gram of the corpus as a code, sorted in place: runs of equal codes are counts
            parts = []
            for uh, inv, doc in chunks:
                ids = np.searchsorted(self._token_hashes, uh).astype(np.int64)[inv]
                parts.append(self._codes(ids, doc, n, self._base)[0])
                del ids
            codes = np.concatenate(parts) if parts else np.zeros(0, np.int64)
            del parts
            codes.sort()
            if len(codes):
                starts = np.flatnonzero(np.concatenate(([True], codes[1:] != codes[:-1])))
                count = np.diff(np.append(starts, len(codes))).astype(np.int32)
                uniq = codes[starts]
            else:
                uniq, count = codes, np.zeros(0, np.int32)
            del codes
            cand_n = np.concatenate([cand_n, np.full(len(uniq), n, np.int8)])
            cand_code = np.concatenate([cand_code, uniq])
            cand_count = np.concatenate([cand_count, count])
            del uniq, count
            keep = cand_count >= self.min_count
            if self.max_features is not None and np.count_nonzero(keep) > self.max_features:
                # n-grams less frequent than the max_features-th most frequent one so far are never kept
                c = cand_count[keep]
                kth = np.partition(c, len(c) - self.max_features)[len(c) - self.max_features]
                keep &= cand_count >= kth
                del c
            cand_n, cand_code, cand_count = cand_n[keep], cand_code[keep], cand_count[keep]
        del chunks
        n_all, code_all, count_all = cand_n, cand_code, cand_count
        keep = np.arange(len(count_all))
        # most frequent first; ties: shorter n-grams first, then by code (deterministic)
        order = keep[np.lexsort((code_all[keep], n_all[keep], -count_all[keep].astype(np.int64)))]
        if self.max_features is not None:
            order = order[:self.max_features]
        self._vocab_n, self._vocab_code = n_all[order], code_all[order]
        self.counts_ = count_all[order].astype(np.int64)
        del n_all, code_all, count_all, keep, order
        self._lookup = {}
        for n in range(lo, hi + 1):
            cols = np.flatnonzero(self._vocab_n == n)
            srt = np.argsort(self._vocab_code[cols], kind="stable")
            self._lookup[n] = (self._vocab_code[cols][srt], cols[srt].astype(np.int64))
        self._fitted = True
        self._names: Optional[np.ndarray] = None
        self._vocabulary: Optional[Dict[str, int]] = None
        return self

    def _check_fitted(self):
        if not self._fitted:
            raise RuntimeError("This NgramVectorizer is not fitted yet: call fit(train_texts) first.")

    @property
    def feature_names_(self) -> np.ndarray:
        """The feature (n-gram string) of each column, an array of str."""
        self._check_fitted()
        if self._names is None:
            names = np.empty(len(self._vocab_code), dtype=object)
            for n in range(self.ngram_range[0], self.ngram_range[1] + 1):
                cols = np.flatnonzero(self._vocab_n == n)
                code = self._vocab_code[cols]
                parts = []
                for _ in range(n):
                    parts.append(self._tokens[code % self._base])
                    code = code // self._base
                joined = parts[-1]
                for p in reversed(parts[:-1]):
                    joined = joined + " " + p
                names[cols] = joined
            self._names = names
        return self._names

    @property
    def vocabulary_(self) -> Dict[str, int]:
        """dict feature -> column."""
        if self._vocabulary is None:
            self._vocabulary = {f: j for j, f in enumerate(self.feature_names_.tolist())}
        return self._vocabulary

    def __len__(self) -> int:
        self._check_fitted()
        return len(self._vocab_code)

    def columns(self, features: Iterable[str]) -> np.ndarray:
        """The column of each feature string (int64), -1 for features outside the vocabulary."""
        self._check_fitted()
        index = {t: i for i, t in enumerate(self._tokens.tolist())}
        out = []
        for f in features:
            parts = f.split(" ")
            n = len(parts)
            ids = [index.get(p, -1) for p in parts]
            if n not in self._lookup or min(ids) < 0 or " ".join(parts) != f:
                out.append(-1)
                continue
            code = 0
            for i in ids:
                code = code * self._base + i
            codes, cols = self._lookup[n]
            at = int(np.searchsorted(codes, code))
            out.append(int(cols[at]) if at < len(codes) and codes[at] == code else -1)
        return np.asarray(out, dtype=np.int64)

    def transform(self, texts: Sequence[str]) -> sp.csr_matrix:
        """float32 CSR counts, shape ``(len(texts), len(vocabulary_))``, sorted indices."""
        self._check_fitted()
        texts = list(texts)
        V = len(self._vocab_code)
        blocks = []
        for chunk in self._chunks(texts):
            h, doc, _, _, _ = _tokenize_chunk(chunk, self.punctuation)
            uh, inv = np.unique(h, return_inverse=True)
            pos = np.searchsorted(self._token_hashes, uh)
            pos[pos == len(self._token_hashes)] = 0
            known = np.where(self._token_hashes[pos] == uh, pos, -1) if len(self._token_hashes) else np.full(len(uh), -1)
            ids = known.astype(np.int64)[inv.reshape(-1)]
            keys = []
            for n, (codes, columns) in self._lookup.items():
                code, where = self._codes(ids, doc, n, self._base)
                if len(codes) == 0 or len(code) == 0:
                    continue
                at = np.searchsorted(codes, code)
                at[at == len(codes)] = 0
                hit = codes[at] == code
                keys.append(doc[where[hit]] * V + columns[at[hit]])
            key, count = np.unique(np.concatenate(keys) if keys else np.zeros(0, np.int64), return_counts=True)
            indptr = np.searchsorted(key, np.arange(len(chunk) + 1, dtype=np.int64) * V)
            blocks.append(sp.csr_matrix((count.astype(np.float32), (key % V).astype(np.int32), indptr),
                                        shape=(len(chunk), V)))
        if not blocks:
            return sp.csr_matrix((0, V), dtype=np.float32)
        return sp.vstack(blocks, format="csr", dtype=np.float32)

    def fit_transform(self, texts: Sequence[str]) -> sp.csr_matrix:
        return self.fit(texts).transform(texts)
