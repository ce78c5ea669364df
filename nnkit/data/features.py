"""Fast n-gram count vectors for many texts at once (numpy, no Python loop per token).

:class:`NgramVectorizer` turns reviews into sparse count vectors of word n-grams the way notebook
02 of ``pytorch_imdb`` does by hand (``<br />`` read as a space, lower case, tokens are the maximal
runs of ``a-z``, ``0-9`` and ``'``, n-grams joined by one space), but over the whole corpus at once:
the characters become a numpy array, tokens are found from where runs of token characters start and
end, each token is hashed (64-bit FNV-1a, computed for all tokens one character position at a time)
and n-grams are integer codes of token ids, looked up in numpy hash tables (open addressing, whole
arrays at a time). An n-gram is looked up only where its two (n-1)-grams are in the vocabulary,
which holds for every n-gram of a fitted vocabulary (neither part is rarer than the n-gram). On
25,000 IMDB reviews, 1-3-grams take a few seconds instead of the tens of seconds of a
``re.findall`` / ``" ".join`` / ``dict`` pipeline, and no list of Python strings per review is ever
built. :meth:`NgramVectorizer.fit_transform` tokenizes once.

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
# byte -> b"\x01" for the bytes of the class, b"\x00" otherwise (bytes.translate tables: a class mask of a whole
# byte string in one C pass)
_IS_WORD = bytes(int(c in _WORD_CHARS) for c in range(256))
_IS_PUNCT = bytes(int(c in _PUNCT_CHARS) for c in range(256))
_WORD_RE = re.compile(r"[a-z0-9']+")
_WORD_PUNCT_RE = re.compile(r"[a-z0-9']+|[" + re.escape(_PUNCT_CHARS.decode()) + "]")
_FNV_OFFSET = np.uint64(0xCBF29CE484222325)
_FNV_PRIME = np.uint64(0x100000001B3)
_SEP = "\x00"  # between texts while a chunk is processed; never part of a token


def _prepare(texts: Sequence[str]) -> Tuple[bytes, np.ndarray]:
    """(one lower-cased UTF-8 byte string of ``texts`` separated by NUL with ``<br />`` as a space, the
    number of bytes of each text in it)."""
    out = []
    for text in texts:
        if _SEP in text:
            text = text.replace(_SEP, " ")
        text = text.replace("<br />", " ")
        # bytes.lower() is str.lower() on ASCII text, and several times faster
        out.append(text.encode("ascii").lower() if text.isascii() else text.lower().encode("utf-8"))
    return _SEP.encode("ascii").join(out), np.fromiter(map(len, out), dtype=np.int64, count=len(out))


def _token_spans(data: bytes, punctuation: bool) -> Tuple[np.ndarray, np.ndarray]:
    """(starts, ends) of the tokens of a byte string, in order of position."""
    word = np.frombuffer(data.translate(_IS_WORD), dtype=bool)
    start, end = word.copy(), word.copy()
    start[1:] &= ~word[:-1]  # a word character after a non-word one
    end[:-1] &= ~word[1:]  # a word character before a non-word one
    if punctuation:  # a punctuation mark is a token of its own (never a word character)
        mark = np.frombuffer(data.translate(_IS_PUNCT), dtype=bool)
        start |= mark
        end |= mark
    return np.flatnonzero(start), np.flatnonzero(end) + 1


def _hash_spans(chars: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """64-bit FNV-1a hash of each token ``chars[starts[i]:ends[i]]`` (uint64)."""
    lengths = ends - starts
    if not len(lengths):
        return np.zeros(0, np.uint64)
    # longest first, so that the tokens still being hashed are a prefix (numpy sorts 16-bit keys by radix)
    key = -lengths.astype(np.int16) if lengths.max() < 1 << 15 else -lengths
    order = np.argsort(key, kind="stable")
    pos = starts[order]
    live = len(order) - np.cumsum(np.bincount(lengths))  # live[k]: how many tokens are longer than k bytes
    h = np.full(len(order), _FNV_OFFSET, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for n in live.tolist():
            if n == 0:
                break
            hk = h[:n]
            hk ^= chars[pos[:n]]
            hk *= _FNV_PRIME
            pos[:n] += 1
    out = np.empty_like(h)
    out[order] = h
    return out


def _tokenize_chunk(texts: Sequence[str], punctuation: bool):
    """(token hashes, the index of the text each token is in, the chunk's bytes, token starts, token ends) of a
    list of texts."""
    data, sizes = _prepare(texts)
    chars = np.frombuffer(data, dtype=np.uint8)
    starts, ends = _token_spans(data, punctuation)
    # text i ends at byte seps[i]; the tokens of text i are those starting between seps[i - 1] and seps[i]
    seps = np.cumsum(sizes + 1) - 1
    first_token = np.searchsorted(starts, seps)
    doc = np.repeat(np.arange(len(sizes), dtype=np.int64), np.diff(first_token, prepend=0))
    return _hash_spans(chars, starts, ends), doc, data, starts, ends


def _runs(values: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """(distinct values, how often each occurs) of a sorted array."""
    if not len(values):
        return values, np.zeros(0, np.int64)
    first = np.flatnonzero(np.concatenate(([True], values[1:] != values[:-1])))
    return values[first], np.diff(np.append(first, len(values)))


_MIX = np.uint64(0x9E3779B97F4A7C15)  # 2**64 / golden ratio (Fibonacci hashing)


def _token_keys(hashes: np.ndarray) -> np.ndarray:
    """Token hashes as non-negative int64 keys of a :class:`_CodeTable` (the top 63 bits)."""
    return (hashes >> np.uint64(1)).astype(np.int64)


class _CodeTable:
    """A fixed map from int64 codes (>= 0) to int64 columns, looked up for a whole array at once.

    Open addressing with linear probing in numpy arrays at most a quarter full: a lookup costs a
    few vectorised gathers, against the ~20 cache-missing steps per code of a binary search over
    the sorted codes.
    """

    def __init__(self, codes: np.ndarray, columns: np.ndarray):
        bits = max(4, int(np.ceil(np.log2(max(len(codes), 1) * 4))))
        self._shift = np.uint64(64 - bits)
        self._mask = (1 << bits) - 1
        self._keys = np.full(1 << bits, -1, dtype=np.int64)
        self._values = np.full(1 << bits, -1, dtype=np.int64)
        codes = np.asarray(codes, dtype=np.int64)
        columns = np.asarray(columns, dtype=np.int64)
        pending = np.arange(len(codes))
        slot = self._slots(codes)
        while len(pending):
            s = slot[pending]
            free = self._keys[s] == -1
            # one code per free slot (the first); the others, and codes meeting a taken slot, probe on
            taken_slots, first = np.unique(s[free], return_index=True)
            winners = pending[free][first]
            self._keys[taken_slots] = codes[winners]
            self._values[taken_slots] = columns[winners]
            placed = np.zeros(len(codes), dtype=bool)
            placed[winners] = True
            pending = pending[~placed[pending]]
            slot[pending] = (slot[pending] + 1) & self._mask

    def _slots(self, codes: np.ndarray) -> np.ndarray:
        return ((codes.astype(np.uint64) * _MIX) >> self._shift).astype(np.int64)

    def get(self, codes: np.ndarray) -> np.ndarray:
        """The column of each code (int64), -1 for codes not in the table."""
        codes = np.asarray(codes, dtype=np.int64)
        out = np.full(len(codes), -1, dtype=np.int64)
        live = np.arange(len(codes))
        slot = self._slots(codes)
        while len(live):
            key = self._keys[slot]
            hit = key == codes[live]
            out[live[hit]] = self._values[slot[hit]]
            more = (~hit) & (key != -1)
            live, slot = live[more], (slot[more] + 1) & self._mask
        return out


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
        self._fit(texts)
        return self

    def _fit(self, texts: Sequence[str]) -> list:
        """:meth:`fit`; returns each chunk's (token ids, document of each token, number of texts)."""
        chunks, known, new_hashes, new_names = [], np.zeros(0, np.uint64), [], []
        for chunk in self._chunks(texts):
            h, doc, data, starts, ends = _tokenize_chunk(chunk, self.punctuation)
            uh, first, inv = np.unique(h, return_index=True, return_inverse=True)
            chunks.append((uh, inv.reshape(-1).astype(np.int32), doc.astype(np.int32), len(chunk)))
            new = np.flatnonzero(~np.isin(uh, known, assume_unique=True))  # tokens no earlier chunk had
            new_hashes.append(uh[new])
            new_names += [data[a:b].decode("ascii") for a, b in zip(starts[first[new]].tolist(), ends[first[new]].tolist())]
            known = np.sort(np.concatenate([known, uh[new]]))
            del h, doc, data, starts, ends, first, inv
        hashes = np.concatenate(new_hashes) if new_hashes else np.zeros(0, np.uint64)
        order = np.argsort(hashes)
        self._token_hashes = hashes[order]
        self._tokens = np.array(new_names, dtype=object)[order] if len(order) else np.zeros(0, dtype=object)
        del known, new_hashes, new_names, hashes, order
        self._base = max(len(self._token_hashes), 1)
        # each chunk's tokens as ids (int32 kept small until used)
        chunks = [(np.searchsorted(self._token_hashes, uh).astype(np.int32)[inv], doc, n_texts)
                  for uh, inv, doc, n_texts in chunks]
        lo, hi = self.ngram_range
        cand_n, cand_code, cand_count = np.zeros(0, np.int8), np.zeros(0, np.int64), np.zeros(0, np.int32)
        for n in range(lo, hi + 1):
            if n == 1:  # unigram codes are token ids: counted directly
                count = np.zeros(len(self._token_hashes), np.int64)
                for ids, _, _ in chunks:
                    count += np.bincount(ids, minlength=len(count))
                uniq = np.flatnonzero(count).astype(np.int64)
                count = count[uniq].astype(np.int32)
            else:
                # every n-gram of the corpus as a code, sorted in place: runs of equal codes are counts
                codes = np.concatenate([self._codes(ids.astype(np.int64), doc, n, self._base)[0] for ids, doc, _ in chunks]
                                       if chunks else [np.zeros(0, np.int64)])
                codes.sort()
                uniq, count = _runs(codes)
                count = count.astype(np.int32)
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
        n_all, code_all, count_all = cand_n, cand_code, cand_count
        keep = np.arange(len(count_all))
        # most frequent first; ties: shorter n-grams first, then by code (deterministic)
        order = keep[np.lexsort((code_all[keep], n_all[keep], -count_all[keep].astype(np.int64)))]
        if self.max_features is not None:
            order = order[:self.max_features]
        self._vocab_n, self._vocab_code = n_all[order], code_all[order]
        self.counts_ = count_all[order].astype(np.int64)
        del n_all, code_all, count_all, keep, order
        self._index()
        # every token of the training texts is known: ids without a lookup
        return chunks

    def _index(self):
        """The lookup tables of the fitted vocabulary (``_vocab_n``, ``_vocab_code``, ``_token_hashes``)."""
        lo, hi = self.ngram_range
        self._lookup = {}
        for n in range(lo, hi + 1):
            cols = np.flatnonzero(self._vocab_n == n)
            srt = np.argsort(self._vocab_code[cols], kind="stable")
            self._lookup[n] = (self._vocab_code[cols][srt], cols[srt].astype(np.int64))
        # n-grams are looked up only where their (n-1)-gram prefix and suffix are in the vocabulary when every
        # vocabulary n-gram has both there: true of a fitted vocabulary (neither is rarer than the n-gram, and
        # ties rank shorter n-grams first), checked here for any vocabulary
        self._closed = {}
        for n in range(lo + 1, hi + 1):
            codes, shorter = self._lookup[n][0], self._lookup[n - 1][0]
            self._closed[n] = bool(np.isin(codes // self._base, shorter).all()
                                   and np.isin(codes % self._base ** (n - 1), shorter).all())
        self._tables_built: Optional[Tuple[Dict[int, _CodeTable], _CodeTable]] = None  # made by the first count matrix
        self._fitted = True
        self._names: Optional[np.ndarray] = None
        self._vocabulary: Optional[Dict[str, int]] = None

    def _tables(self) -> Tuple[Dict[int, _CodeTable], _CodeTable]:
        """(hash table of the vocabulary codes of each n > 1, hash table of the token ids), built once."""
        if self._tables_built is None:
            # unigram codes are token ids: a plain array maps them to columns
            self._unigram_columns = np.full(max(len(self._token_hashes), 1), -1, dtype=np.int64)
            if 1 in self._lookup:
                self._unigram_columns[self._lookup[1][0]] = self._lookup[1][1]
            self._tables_built = (
                {n: _CodeTable(codes, columns) for n, (codes, columns) in self._lookup.items() if n > 1 and len(codes)},
                _CodeTable(_token_keys(self._token_hashes), np.arange(len(self._token_hashes))))
        return self._tables_built

    _SAVED = frozenset({"ngram_range", "max_features", "min_count", "punctuation", "chunk_size", "token_hashes",
                        "tokens", "vocab_n", "vocab_code", "counts"})

    def save(self, file) -> None:
        """Write the fitted vectorizer to ``file`` (a path or a binary file object), numpy's ``.npz``
        format without pickles; :meth:`load` reads it back."""
        self._check_fitted()
        np.savez(file, ngram_range=np.asarray(self.ngram_range, np.int64),
                 max_features=np.int64(-1 if self.max_features is None else self.max_features),
                 min_count=np.int64(self.min_count), punctuation=np.bool_(self.punctuation),
                 chunk_size=np.int64(self.chunk_size), token_hashes=self._token_hashes,
                 tokens=np.frombuffer("\n".join(self._tokens.tolist()).encode("ascii"), np.uint8),
                 vocab_n=self._vocab_n, vocab_code=self._vocab_code, counts=self.counts_)

    @classmethod
    def load(cls, file) -> "NgramVectorizer":
        """A fitted vectorizer that :meth:`save` wrote to ``file``: the same vocabulary, counts and matrices."""
        with np.load(file, allow_pickle=False) as z:
            missing = sorted(cls._SAVED - set(z.files))
            if missing:
                raise ValueError(f"{file} was not written by NgramVectorizer.save: it has no {', '.join(missing)}")
            max_features = int(z["max_features"])
            self = cls(tuple(int(v) for v in z["ngram_range"]), None if max_features < 0 else max_features,
                       int(z["min_count"]), bool(z["punctuation"]), int(z["chunk_size"]))
            self._token_hashes = z["token_hashes"].astype(np.uint64)
            text = z["tokens"].tobytes().decode("ascii")
            self._tokens = np.array(text.split("\n") if text else [], dtype=object)
            self._base = max(len(self._token_hashes), 1)
            self._vocab_n, self._vocab_code = z["vocab_n"].astype(np.int8), z["vocab_code"].astype(np.int64)
            self.counts_ = z["counts"].astype(np.int64)
        if len(self._tokens) != len(self._token_hashes) or not len(self._vocab_n) == len(self._vocab_code) == len(self.counts_):
            raise ValueError(f"{file} was not written by NgramVectorizer.save: its arrays do not match")
        self._index()
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
        features = list(features)
        lengths = np.zeros(len(features), dtype=np.int64)  # 0: not an n-gram of known tokens
        codes = np.zeros(len(features), dtype=np.int64)
        for k, f in enumerate(features):
            ids = [index.get(p, -1) for p in f.split(" ")]
            if len(ids) in self._lookup and min(ids) >= 0:
                code = 0
                for i in ids:
                    code = code * self._base + i
                lengths[k], codes[k] = len(ids), code
        out = np.full(len(features), -1, dtype=np.int64)
        for n, (vocab_codes, vocab_columns) in self._lookup.items():
            rows = np.flatnonzero(lengths == n)
            if not len(rows) or not len(vocab_codes):
                continue
            at = np.minimum(np.searchsorted(vocab_codes, codes[rows]), len(vocab_codes) - 1)
            hit = vocab_codes[at] == codes[rows]
            out[rows[hit]] = vocab_columns[at[hit]]
        return out

    def _count_matrix(self, ids: np.ndarray, doc: np.ndarray, n_texts: int) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(data, indices, indptr) of the float32 CSR counts of the vocabulary n-grams of token ``ids``
        (-1: unknown) in documents ``doc`` (sorted indices)."""
        V = len(self._vocab_code)
        ids = ids.astype(np.int64)
        doc = doc.astype(np.int64)
        tables = self._tables()[0]
        keys = []
        prev = None  # the column of the (n-1)-gram starting at each token, -1 where it is not in the vocabulary
        for n in range(self.ngram_range[0], self.ngram_range[1] + 1):
            m = len(ids) - n + 1
            if m <= 0 or not len(self._lookup[n][0]):
                prev = None
                continue
            if n == 1:
                col = self._unigram_columns[ids]
                col[ids < 0] = -1
            else:
                if prev is not None and self._closed[n]:
                    # only where the (n-1)-grams at i and i + 1 are in the vocabulary (then tokens i .. i + n - 1 are
                    # known): every other n-gram is outside it; and tokens i and i + n - 1 in one document
                    where = np.flatnonzero((prev[:m] >= 0) & (prev[1:m + 1] >= 0) & (doc[n - 1:] == doc[:m]))
                    code = ids[where]
                    for k in range(1, n):
                        code = code * self._base + ids[where + k]
                else:
                    code, where = self._codes(ids, doc, n, self._base)
                col = np.full(m, -1, dtype=np.int64)
                col[where] = tables[n].get(code)
            hit = np.flatnonzero(col >= 0)
            keys.append(doc[hit] * V + col[hit])
            prev = col
        key = np.concatenate(keys) if keys else np.zeros(0, np.int64)
        key.sort()
        key, count = _runs(key)
        count = count.astype(np.float32)
        indptr = np.searchsorted(key, np.arange(n_texts + 1, dtype=np.int64) * V)
        # column indices int32 while they fit (a block's nonzeros take 8 bytes instead of 12)
        return count, (key % V).astype(np.int32 if V < 2 ** 31 else np.int64), indptr

    def _stack(self, blocks: List[Tuple[np.ndarray, np.ndarray, np.ndarray]]) -> sp.csr_matrix:
        """One CSR matrix of the rows of the blocks (data, indices, indptr), in order."""
        V = len(self._vocab_code)
        nnz = sum(len(data) for data, _, _ in blocks)
        index = np.int32 if max(nnz, V) < 2 ** 31 else np.int64
        data = np.concatenate([b[0] for b in blocks]) if blocks else np.zeros(0, np.float32)
        indices = np.concatenate([b[1].astype(index, copy=False) for b in blocks]) if blocks else np.zeros(0, index)
        offsets = np.cumsum([0] + [len(b[0]) for b in blocks])
        indptr = np.concatenate([[0]] + [b[2][1:] + off for b, off in zip(blocks, offsets)]).astype(index)
        X = sp.csr_matrix((data, indices, indptr), shape=(len(indptr) - 1, V))
        X.has_sorted_indices = True
        return X

    def transform(self, texts: Sequence[str]) -> sp.csr_matrix:
        """float32 CSR counts, shape ``(len(texts), len(vocabulary_))``, sorted indices."""
        self._check_fitted()
        blocks = []
        for chunk in self._chunks(texts):
            h, doc, _, _, _ = _tokenize_chunk(chunk, self.punctuation)
            blocks.append(self._count_matrix(self._tables()[1].get(_token_keys(h)), doc, len(chunk)))
            del h, doc
        return self._stack(blocks)

    def fit_transform(self, texts: Sequence[str]) -> sp.csr_matrix:
        """:meth:`fit` then :meth:`transform` of the same texts, which are tokenized once."""
        chunks = self._fit(texts)
        blocks = []
        while chunks:
            ids, doc, n_texts = chunks.pop(0)
            blocks.append(self._count_matrix(ids, doc, n_texts))
        return self._stack(blocks)
