"""Hybrid retrieval: three legs fused by weighted reciprocal rank.

- dense chunks: FAISS over chunk vectors (the query embedded with the model's query prompt);
- dense sentences: chunks ranked by their best sentence (precise for factoid questions, whose
  answer is one sentence of a longer chunk);
- keyword: BM25 over jieba/English tokens.

Fusion is rank-based, so the BM25 scale never matters, and the keyword leg is down-weighted
(`keyword_weight`, default 0.1, chosen by measurement: see eval/RESULTS.md): for a Chinese question over English passages BM25 finds
nothing useful, and it must not push the cross-lingual dense matches out of the top k.

>>> rrf([[3, 1], [1, 2]], weights=[1.0, 0.5])[:2]
[(1, 0.0243...), (3, 0.0163...)]
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from .embed import Embedder
from .records import Hit
from .settings import Settings
from .store import Index, LoadedIndex

RRF_K = 60
SENTENCE_SEARCH_MAX = 20_000  # sentences searched exhaustively; above, candidates are re-scored


@lru_cache(maxsize=1)
def _legs() -> ThreadPoolExecutor:
    """Threads for the keyword leg (one per concurrent question, up to the two cores' worth)."""
    return ThreadPoolExecutor(max_workers=4, thread_name_prefix="keyword-leg")


def rrf(rankings: list[list[int]], weights: list[float], k: int = RRF_K) -> list[tuple[int, float]]:
    """Weighted reciprocal-rank fusion of several ranked id lists, best first."""
    scores: dict[int, float] = {}
    for ranking, w in zip(rankings, weights, strict=True):
        for rank, item in enumerate(ranking):
            scores[item] = scores.get(item, 0.0) + w / (k + rank + 1)
    return sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))


@dataclass(frozen=True)
class Retrieval:
    hits: list[Hit]
    query_vector: np.ndarray
    embed_seconds: float
    search_seconds: float


class Retriever:
    """The three legs search the FAISS store's files here; a store that searches itself (Milvus)
    answers them itself (`search_dense`, `search_keyword`, `search_sentences`). Fusion and selection are shared."""

    def __init__(self, index: Index, embedder: Embedder, settings: Settings):
        self.index, self.embedder, self.settings = index, embedder, settings
        self.own = None if isinstance(index, LoadedIndex) else index

    def dense(self, qv: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
        """Chunk rows and cosines of the `n` chunk vectors nearest to `qv` (FAISS)."""
        if self.own is not None:
            return self.own.search_dense(qv, n)
        if self.index.dense is None or n <= 0:
            return np.zeros(0, np.int64), np.zeros(0, np.float32)
        scores, ids = self.index.dense.search(qv.reshape(1, -1).astype(np.float32), min(n, len(self.index.chunks)))
        keep = ids[0] >= 0
        return ids[0][keep], scores[0][keep]

    def keyword(self, query: str, n: int) -> tuple[np.ndarray, np.ndarray]:
        """Chunk rows and BM25 scores of the best `n` keyword matches."""
        if self.own is not None:
            return self.own.search_keyword(query, n)
        return self.index.keyword.search(query, n)

    def sentences(self, qv: np.ndarray, n: int, candidates: np.ndarray | None = None
                  ) -> tuple[np.ndarray, np.ndarray]:
        """Chunk rows ranked by their best sentence's similarity to `qv`.

        Up to SENTENCE_SEARCH_MAX sentences every sentence is searched (exact). Above that a full
        scan would cost more than everything else together (it reads every sentence vector per
        query), so only the `candidates` rows found by the other legs are re-scored."""
        if self.own is not None:
            return self.own.search_sentences(qv, n)
        ix = self.index
        m = len(ix.sentences.spans)
        if m == 0 or n <= 0:
            return np.zeros(0, np.int64), np.zeros(0, np.float32)
        if m > SENTENCE_SEARCH_MAX:
            return self._rescore_sentences(qv, n, candidates)
        if ix.sentence_flat is None:
            import faiss

            flat = faiss.IndexFlatIP(ix.manifest.dim)
            flat.add(ix.sentences.floats())
            ix.sentence_flat = flat
        scores, ids = ix.sentence_flat.search(qv.reshape(1, -1).astype(np.float32), min(m, 4 * n))
        rows = ix.sentences.spans[ids[0][ids[0] >= 0], 0]
        _, first = np.unique(rows, return_index=True)  # best sentence of each chunk
        first.sort()
        return rows[first][:n].astype(np.int64), scores[0][first][:n]

    def _rescore_sentences(self, qv: np.ndarray, n: int, candidates: np.ndarray | None
                           ) -> tuple[np.ndarray, np.ndarray]:
        sent_store = self.index.sentences
        ranges = sent_store.ranges
        rows = np.unique(np.asarray(candidates if candidates is not None else [], dtype=np.int64))
        rows = rows[rows < len(ranges)]
        starts, ends = ranges[rows, 0], ranges[rows, 1]
        has = ends > starts
        rows, starts, lengths = rows[has], starts[has], (ends - starts)[has]
        if not len(rows):
            return np.zeros(0, np.int64), np.zeros(0, np.float32)
        first = np.cumsum(lengths) - lengths  # each row's first position in `sent`
        sent = np.repeat(starts - first, lengths) + np.arange(lengths.sum())
        sims = sent_store.scores(sent, qv)
        best = np.maximum.reduceat(sims, first)  # best sentence of each row (rows are contiguous)
        order = np.argsort(-best, kind="stable")[:n]
        return rows[order], best[order]

    def search(self, query: str, k: int | None = None, keyword_weight: float | None = None) -> Retrieval:
        """The top `k` fused hits for `query`, overlapping chunks removed and documents kept diverse."""
        k = k or self.settings.k
        w_kw = self.settings.keyword_weight if keyword_weight is None else keyword_weight
        n = self.settings.candidates
        t0 = time.perf_counter()
        # The keyword leg needs no query vector: it runs on another thread while the query is embedded
        # and the dense leg searches (both release the GIL), so the legs take the longer one's time.
        keyword = _legs().submit(self.keyword, query, n) if w_kw > 0 else None
        qv = self.embedder.embed([query], kind="query")[0]
        t1 = time.perf_counter()
        d_ids, d_scores = self.dense(qv, n)
        k_ids = keyword.result()[0] if keyword is not None else np.zeros(0, np.int64)
        w_s = self.settings.sentence_weight
        s_ids = self.sentences(qv, n, np.concatenate([d_ids, k_ids]))[0] if w_s > 0 else np.zeros(0, np.int64)
        fused = rrf([d_ids.tolist(), s_ids.tolist(), k_ids.tolist()], [1.0, w_s, w_kw])
        dense_rank = {int(i): r for r, i in enumerate(d_ids)}
        dense_score = {int(i): float(s) for i, s in zip(d_ids, d_scores, strict=True)}
        kw_rank = {int(i): r for r, i in enumerate(k_ids)}
        missing = [i for i, _ in fused[: 3 * k] if i not in dense_score]
        if missing:  # keyword-only hits still get a cosine, for abstention and display
            sims = self.index.chunk_vectors(missing) @ qv
            dense_score.update({i: float(s) for i, s in zip(missing, sims, strict=True)})
        hits = self._select(fused, k, dense_score, dense_rank, kw_rank)
        t2 = time.perf_counter()
        return Retrieval(hits, qv, t1 - t0, t2 - t1)

    def _select(self, fused, k, dense_score, dense_rank, kw_rank) -> list[Hit]:
        chunks = self.index.chunks
        per_doc_cap = max(2, k - 2)
        chosen: list[Hit] = []
        deferred: list[Hit] = []
        for i, score in fused:
            c = chunks[i]
            hit = Hit(c, score, dense_score.get(i, 0.0), dense_rank.get(i), kw_rank.get(i))
            if any(h.chunk.doc_id == c.doc_id and _overlap(h.chunk, c) > 0.5 for h in chosen):
                continue
            if sum(h.chunk.doc_id == c.doc_id for h in chosen) >= per_doc_cap:
                deferred.append(hit)
                continue
            chosen.append(hit)
            if len(chosen) == k:
                break
        for hit in deferred:  # fill up when too few other documents matched
            if len(chosen) >= k:
                break
            chosen.append(hit)
        return sorted(chosen, key=lambda h: -h.score)


def _overlap(a, b) -> float:
    inter = min(a.end, b.end) - max(a.start, b.start)
    return max(0, inter) / max(1, min(a.end - a.start, b.end - b.start))
