"""Keyword retrieval: BM25 (bm25s) over `text.search_tokens` (jieba words for Chinese, lower-cased
English words, digit-only numbers).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from .text import search_tokens


class KeywordIndex:
    """BM25 over chunk texts, row-aligned with the dense index."""

    def __init__(self, bm25=None, size: int = 0):
        self.bm25, self.size = bm25, size

    @classmethod
    def build(cls, texts: list[str], progress: Callable[[int], object] | None = None) -> KeywordIndex:
        """`progress` gets the number of texts tokenized (jieba: about 10 minutes per million chunks)."""
        import bm25s

        if not texts:
            return cls(None, 0)
        tokens = []
        for i, t in enumerate(texts, 1):
            tokens.append(search_tokens(t) or ["\x00"])
            if progress and (i % 1000 == 0 or i == len(texts)):
                progress(1000 if i % 1000 == 0 else i % 1000)
        bm25 = bm25s.BM25()
        bm25.index(tokens, show_progress=False)
        return cls(bm25, len(texts))

    def save(self, path: Path) -> None:
        path.mkdir(parents=True, exist_ok=True)
        if self.bm25 is not None:
            # Each word's score in each chunk as float16 (about 3 significant digits, ample for ranking by a
            # sum of a few scores): half of the largest file, written once. Loading takes either dtype, and
            # the index in memory is then the same as one loaded from disk.
            self.bm25.scores["data"] = np.asarray(self.bm25.scores["data"], dtype=np.float16)
            self.bm25.save(str(path), show_progress=False)

    @classmethod
    def load(cls, path: Path, size: int) -> KeywordIndex:
        import bm25s

        if size == 0 or not (path / "params.index.json").exists():
            return cls(None, 0)
        bm25 = bm25s.BM25.load(str(path), mmap=True, show_progress=False)
        # plain views of the memory maps: same pages, without np.memmap's Python overhead per slice
        bm25.scores = {k: v.view(np.ndarray) if isinstance(v, np.memmap) else v for k, v in bm25.scores.items()}
        return cls(bm25, size)

    def search(self, query: str, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Row ids and BM25 scores of the best `k` rows with a positive score, best first.

        bm25s scores every row per query (a dense array of all N rows, then a partial sort of it),
        which costs O(N) per query word even when the word occurs in a handful of rows. Here the query
        words' postings in bm25s's precomputed score matrix are summed, and only rows that occur in
        them are ranked: the cost follows the postings (bench/bench_retrieval.py compares both).
        """
        toks = search_tokens(query)
        if self.bm25 is None or not toks or k <= 0:
            return np.zeros(0, np.int64), np.zeros(0, np.float32)
        if self.bm25.nonoccurrence_array is not None:  # BM25L/BM25+ score absent words too: library path
            ids, scores = self.bm25.retrieve([toks], k=min(k, self.size), show_progress=False, n_threads=0)
            keep = scores[0] > 0
            return ids[0][keep].astype(np.int64), scores[0][keep].astype(np.float32)
        words = self.bm25.get_tokens_ids(toks)  # repeated words count again, as in bm25s
        if not words:
            return np.zeros(0, np.int64), np.zeros(0, np.float32)
        m = self.bm25.scores
        indptr, indices, data = m["indptr"], m["indices"], m["data"]
        spans = [(indptr[w], indptr[w + 1]) for w in words]  # each word's postings: contiguous slices
        rows = np.concatenate([indices[a:b] for a, b in spans])
        vals = np.concatenate([data[a:b] for a, b in spans])
        if 64 * len(rows) < self.size:  # rare words: sum per distinct row
            rows, owner = np.unique(rows, return_inverse=True)
            scores = np.bincount(owner, weights=vals).astype(np.float32)
        else:  # common words: sum into all rows, then keep only rows that occur in the postings
            total = np.bincount(rows, weights=vals, minlength=self.size)
            reach = k * len(words)  # the k best distinct rows are among the best k*len(words) postings
            if len(rows) > reach:
                rows = rows[np.argpartition(-total[rows], reach - 1)[:reach]]
            rows = np.unique(rows)
            scores = total[rows].astype(np.float32)
        keep = scores > 0
        rows, scores = rows[keep], scores[keep]
        if len(rows) > k:
            top = np.argpartition(-scores, k - 1)[:k]
            rows, scores = rows[top], scores[top]
        order = np.lexsort((rows, -scores))  # best first, ties by row
        return rows[order].astype(np.int64), scores[order]
