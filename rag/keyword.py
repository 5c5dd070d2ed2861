"""Keyword retrieval: BM25 (bm25s) over jieba-segmented Chinese and lower-cased English words.

>>> tokenize("上海有1,149家重点人工智能企业 in Shanghai")[:6]
['上海', '1149', '家', '重点', '人工', '智能']
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

import numpy as np

_WORD = re.compile(r"[A-Za-z][A-Za-z'-]*|\d+(?:[.,]\d+)*|[\u3400-\u9fff]+")
_EN_STOP = frozenset(
    "a an the of and or to in on at for by with from as is are was were be been it its this that these those "
    "what which who whom how many much when where why does do did has have had will would can could than "
    "into about over under there their they we you he she i".split())
_ZH_STOP = frozenset("的 了 和 是 在 有 与 及 等 对 也 就 都 而 为 以 之 其 或 把 被 这 那 哪 些 个 吗 呢 吧 啊 什么 多少 怎么 如何 哪些".split())

_jieba_ready = False


def _jieba():
    global _jieba_ready
    import jieba

    if not _jieba_ready:
        jieba.setLogLevel(logging.WARNING)
        jieba.initialize()
        _jieba_ready = True
    return jieba


def tokenize(text: str) -> list[str]:
    """Search tokens: jieba's search-mode words for Han runs, lower-cased words and digit-only numbers."""
    out: list[str] = []
    for m in _WORD.finditer(text):
        tok = m.group(0)
        if "\u3400" <= tok[0] <= "\u9fff":
            out.extend(w for w in _jieba().lcut_for_search(tok) if w not in _ZH_STOP)
        elif tok[0].isdigit():
            out.append(tok.replace(",", ""))
        else:
            low = tok.lower()
            if low not in _EN_STOP and len(low) > 1:
                out.append(low[:-1] if low.endswith("s") and len(low) > 3 else low)  # crude plural folding
    return out


class KeywordIndex:
    """BM25 over chunk texts, row-aligned with the dense index."""

    def __init__(self, bm25=None, size: int = 0):
        self.bm25, self.size = bm25, size

    @classmethod
    def build(cls, texts: list[str]) -> KeywordIndex:
        import bm25s

        if not texts:
            return cls(None, 0)
        bm25 = bm25s.BM25()
        bm25.index([tokenize(t) or ["\x00"] for t in texts], show_progress=False)
        return cls(bm25, len(texts))

    def save(self, path: Path) -> None:
        path.mkdir(parents=True, exist_ok=True)
        if self.bm25 is not None:
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
        toks = tokenize(query)
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
