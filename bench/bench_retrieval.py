"""Retrieval latency and quality at scale: our index and Retriever vs raw FAISS / bm25s, same data.

    python bench/bench_retrieval.py [--sizes 10000 100000 1000000] [--queries 200] [--dim 768] [--store faiss milvus]

Vectors have a low intrinsic dimension, like real sentence embeddings (`--latent 64`: a random 768 x 64
map of Gaussian points plus isotropic noise); `--latent 0` gives uniform random vectors, the worst case
for HNSW (every non-target neighbour is almost equally far). Queries are planted near a target
chunk; texts are synthetic bilingual text with a Zipfian vocabulary (see SynthText). Each chunk has four sentence vectors
while the sentence leg is active (up to SENTENCE_SEARCH_MAX sentences). Query embedding is excluded:
the model's cost is reported by bench_generate/bench_index. Prints a table, then `RESULT {json}`.

`--store milvus` also writes the same chunks, vectors and sentences into a Milvus Lite file (through
the product's MilvusWriter, in `index_batch` batches) and measures the same searches through the same
Retriever, against the same exact ground truth: one row per store and size.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import print_result, print_table  # noqa: E402
from rag.records import Chunk  # noqa: E402
from rag.retrieve import SENTENCE_SEARCH_MAX, Retriever  # noqa: E402
from rag.settings import load_settings  # noqa: E402
from rag.store import FORMAT_VERSION, Manifest, Sentences, load_index, write_generation  # noqa: E402
from rag.text import search_tokens  # noqa: E402

SENTS_PER_CHUNK = 4


class SynthText:
    """Bilingual text with a Zipfian vocabulary, so keyword postings look like real text (a few
    very common words, a long tail of rare ones): Chinese words drawn by frequency from jieba's
    dictionary, English pseudo-words drawn by a Zipf law (exponent 1.07), a number in each chunk."""

    def __init__(self, rng: np.random.Generator, vocab: int = 50_000):
        import jieba

        words, freq = [], []
        with open(Path(jieba.__file__).parent / "dict.txt", encoding="utf-8") as f:
            for line in f:
                w, c = line.split()[:2]
                words.append(w)
                freq.append(int(c))
        counts = np.asarray(freq, np.float64)
        top = np.argsort(-counts)[:vocab]
        self.zh = np.asarray(words, dtype=object)[top]
        self.zh_p = counts[top] / counts[top].sum()
        syll = [a + b for a in "bcdfghjklmnprstvwz" for b in ("a", "e", "i", "o", "u", "ai", "ou", "er")]
        en = {"".join(rng.choice(syll, rng.integers(1, 4))) for _ in range(3 * vocab)}
        self.en = np.asarray(sorted(en)[:vocab], dtype=object)
        rng.shuffle(self.en)
        ranks = np.arange(1, len(self.en) + 1, dtype=np.float64) ** -1.07
        self.en_p = ranks / ranks.sum()
        self.rng = rng

    def texts(self, n: int) -> list[str]:
        """n texts, half Chinese (20-60 words, about 40-120 characters) and half English (20-80 words), in blocks."""
        out: list[str] = []
        for a in range(0, n, 50_000):
            m = min(n, a + 50_000) - a
            zh = self.rng.random(m) < 0.5
            lens = np.where(zh, self.rng.integers(20, 60, m), self.rng.integers(20, 80, m))
            zh_words = self.zh[self.rng.choice(len(self.zh), int(lens[zh].sum()), p=self.zh_p)]
            en_words = self.en[self.rng.choice(len(self.en), int(lens[~zh].sum()), p=self.en_p)]
            numbers = self.rng.integers(1, 99_999, m)
            i = j = 0
            for is_zh, length, num in zip(zh, lens, numbers, strict=True):
                if is_zh:
                    out.append("".join(zh_words[i:i + length]) + f"{num}家。")
                    i += length
                else:
                    out.append(" ".join(en_words[j:j + length]) + f" {num}.")
                    j += length
        return out


def ms(xs, q) -> float:
    return float(np.percentile(np.asarray(xs) * 1000, q))


def timed(fn, items) -> tuple[list, list[float]]:
    out, lat = [], []
    for x in items:
        t = time.perf_counter()
        out.append(fn(x))
        lat.append(time.perf_counter() - t)
    return out, lat


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096 / 1e6


class FixedEmbedder:
    """Returns the planted query vector, so query embedding is excluded from search latency."""

    model_id = "synthetic"

    def __init__(self, dim: int):
        self.dim, self.next = dim, None

    def embed(self, texts, kind="query", titles=None, progress=None):
        return self.next[None, :]


def unit(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def synth_vectors(rng, n: int, n_queries: int, dim: int, latent: int):
    """Chunk vectors and queries planted near `targets`."""
    targets = rng.integers(0, n, n_queries)
    if latent:
        w = rng.standard_normal((latent, dim), dtype=np.float32)
        vecs = np.empty((n, dim), np.float32)
        for a in range(0, n, 100_000):
            z = rng.standard_normal((min(n, a + 100_000) - a, latent), dtype=np.float32)
            vecs[a:a + len(z)] = unit(unit(z @ w) + 0.3 * unit(rng.standard_normal((len(z), dim), dtype=np.float32)))
    else:
        vecs = unit(rng.standard_normal((n, dim), dtype=np.float32))
    queries = unit(vecs[targets] + 0.8 * unit(rng.standard_normal((n_queries, dim), dtype=np.float32)))
    return vecs, queries, targets


def synth_sentences(rng, vecs: np.ndarray) -> Sentences:
    """SENTS_PER_CHUNK float16 sentence vectors around each chunk vector, written in blocks."""
    n, dim = vecs.shape
    rows = np.repeat(np.arange(n, dtype=np.int32), SENTS_PER_CHUNK)
    spans = np.stack([rows, np.zeros_like(rows), np.ones_like(rows)], axis=1)
    svecs = np.empty((len(rows), dim), np.float16)
    for a in range(0, n, 50_000):
        block = np.repeat(vecs[a:a + 50_000], SENTS_PER_CHUNK, axis=0)
        svecs[a * SENTS_PER_CHUNK:a * SENTS_PER_CHUNK + len(block)] = unit(
            block + 0.8 * unit(rng.standard_normal(block.shape, dtype=np.float32)))
    return Sentences(spans, svecs)


def synth_corpus(n: int, n_queries: int, dim: int, latent: int, seed: int = 0):
    """The same synthetic corpus for every store: vectors, planted queries, texts, sentences."""
    rng = np.random.default_rng(seed)
    vecs, queries, targets = synth_vectors(rng, n, n_queries, dim, latent)
    texts = SynthText(np.random.default_rng(seed + 1)).texts(n)
    qtexts = [texts[t][:30] for t in targets]
    sentences = synth_sentences(rng, vecs)
    return vecs, queries, targets, texts, qtexts, sentences


def recall_at_10(found: list, truth: list) -> float:
    """Share of the exact top 10 that a search found, over all queries."""
    return sum(len(set(f) & set(t)) for f, t in zip(found, truth, strict=True)) / (10 * len(truth))


def fused_figures(retr: Retriever, emb: FixedEmbedder, queries: np.ndarray, qtexts: list[str],
                  targets: np.ndarray) -> dict:
    """Fused search latency through the product's Retriever, and how often the planted chunk comes first."""

    def fused(i: int):
        emb.next = queries[i]
        return retr.search(qtexts[i])

    got, _ = timed(fused, range(len(queries)))
    lat = [g.search_seconds for g in got]
    return {"fused_p50_ms": ms(lat, 50), "fused_p99_ms": ms(lat, 99),
            "fused_top1_is_target": float(np.mean([g.hits[0].chunk.doc_id == f"d{t}"
                                                   for g, t in zip(got, targets, strict=True)]))}


def exact_truth(vecs: np.ndarray, queries: np.ndarray) -> tuple[list, list[float]]:
    import faiss

    exact = faiss.IndexFlatIP(vecs.shape[1])
    exact.add(vecs)
    return timed(lambda q: exact.search(q[None, :], 10)[1][0], queries)


def run_milvus(n: int, n_queries: int, dim: int, latent: int, batch: int = 10_000, seed: int = 0) -> dict:
    """The same corpus in a Milvus Lite store: build, disk, load, dense/keyword/fused search, recall@10."""
    from rag.milvus_store import close_clients, load_milvus_index
    from rag.milvus_write import Batch, MilvusWriter

    vecs, queries, targets, texts, qtexts, sentences = synth_corpus(n, n_queries, dim, latent, seed)
    truth, lat = exact_truth(vecs, queries)
    out: dict = {"store": "milvus", "chunks": n, "sentences": len(sentences.spans), "raw_exact_p50_ms": ms(lat, 50)}
    with tempfile.TemporaryDirectory() as tmp:
        settings = load_settings(env={}, overrides={"store": "milvus", "index_dir": tmp,
                                                     "milvus_uri": str(Path(tmp) / "milvus.db")})
        t0 = time.perf_counter()
        writer = MilvusWriter(settings, dim, None)
        spans = sentences.spans
        for a in range(0, n, batch):
            b = min(n, a + batch)
            chunks = [Chunk(f"d{i}#{i}", f"d{i}", texts[i], 0, len(texts[i]), "zh") for i in range(a, b)]
            rows = slice(a * SENTS_PER_CHUNK, b * SENTS_PER_CHUNK)
            local = spans[rows].copy()
            local[:, 0] -= a  # sentence spans point at the batch's chunks
            docs = {c.doc_id: {"hash": "", "path": f"{i:09d}", "title": "", "chunk_ids": [c.id]}
                    for i, c in zip(range(a, b), chunks, strict=True)}
            writer.add(Batch(docs, chunks, [0] * len(chunks), vecs[a:b], Sentences(local, sentences.vectors[rows])))
        header = {"format_version": FORMAT_VERSION, "embed_model": "synthetic", "embed_files": {}, "dim": dim,
                  "dtype": "float32", "chunk_tokens": 200, "chunk_overlap": 40, "faiss_type": "milvus",
                  "created": time.time(), "chunker": "bench"}
        writer.commit(header)
        out["index_build_write_s"] = time.perf_counter() - t0
        del texts, sentences, vecs
        close_clients()
        disk = sum(p.stat().st_size for p in Path(tmp).rglob("*") if p.is_file())
        out["disk_mb_per_1M"] = disk / n * 1e6 / 1e6
        before = rss_mb()
        t0 = time.perf_counter()
        ix = load_milvus_index(settings)
        out["index_load_s"] = time.perf_counter() - t0
        out["load_rss_mb_per_1M"] = (rss_mb() - before) / n * 1e6
        out["dense_type"] = "Milvus Lite AUTOINDEX"
        found, lat = timed(lambda q: [ix.chunk_ids[r] for r in ix.search_dense(q, 10)[0]], queries)
        found = [[int(c.split("#")[1]) for c in f] for f in found]
        out.update({"dense_p50_ms": ms(lat, 50), "dense_p99_ms": ms(lat, 99), "recall@10": recall_at_10(found, truth)})
        _, lat = timed(lambda q: ix.search_keyword(q, 30), qtexts)
        out.update({"keyword_p50_ms": ms(lat, 50), "keyword_p99_ms": ms(lat, 99)})
        _, lat = timed(lambda q: ix.search_sentences(q, 30), queries)
        out["sentence_p50_ms"] = ms(lat, 50)
        emb = FixedEmbedder(dim)
        out.update(fused_figures(Retriever(ix, emb, settings), emb, queries, qtexts, targets))
        out["rss_mb_per_1M_after_queries"] = (rss_mb() - before) / n * 1e6
        close_clients()
    return out


def run(n: int, n_queries: int, dim: int, latent: int, efs: list[int], seed: int = 0) -> dict:
    vecs, queries, targets, texts, qtexts, sentences = synth_corpus(n, n_queries, dim, latent, seed)
    out: dict = {"store": "faiss", "chunks": n, "sentences": len(sentences.spans),
                 "sentence_leg": "exact" if len(sentences.spans) <= SENTENCE_SEARCH_MAX else "re-score"}

    # raw libraries: exact FAISS (also the ground truth) and bm25s on pre-tokenized queries
    truth, lat = exact_truth(vecs, queries)
    out["raw_exact_p50_ms"] = ms(lat, 50)

    with tempfile.TemporaryDirectory() as tmp:
        chunks = [Chunk(f"d{i}#{i}", f"d{i}", t, 0, len(t), "zh") for i, t in enumerate(texts)]
        del texts
        m = Manifest(FORMAT_VERSION, "synthetic", {}, dim, "float16", 200, 40, "", n, time.time(), {}, "bench")
        t0 = time.perf_counter()
        write_generation(Path(tmp), m, chunks, vecs, sentences)
        out["index_build_write_s"] = time.perf_counter() - t0
        del chunks, sentences, vecs
        disk = sum(p.stat().st_size for p in Path(tmp).rglob("*") if p.is_file())
        out["disk_mb_per_1M"] = disk / n * 1e6 / 1e6
        before = rss_mb()
        t0 = time.perf_counter()
        ix = load_index(Path(tmp))
        out["index_load_s"] = time.perf_counter() - t0
        out["load_rss_mb_per_1M"] = (rss_mb() - before) / n * 1e6
        dense = ix.dense
        out["dense_type"] = type(dense).__name__

        found, lat = timed(lambda q: dense.search(q[None, :], 10)[1][0], queries)
        out.update({"dense_p50_ms": ms(lat, 50), "dense_p99_ms": ms(lat, 99), "recall@10": recall_at_10(found, truth)})
        raw_tokens = [search_tokens(q) for q in qtexts]
        _, lat = timed(lambda t: ix.keyword.bm25.retrieve([t], k=30, show_progress=False, n_threads=0), raw_tokens)
        out["raw_bm25_p50_ms"] = ms(lat, 50)
        _, lat = timed(lambda q: ix.keyword.search(q, 30), qtexts)
        out.update({"keyword_p50_ms": ms(lat, 50), "keyword_p99_ms": ms(lat, 99)})
        cand = [np.concatenate([dense.search(q[None, :], 30)[1][0], ix.keyword.search(t, 30)[0]])
                for q, t in zip(queries, qtexts, strict=True)]
        emb = FixedEmbedder(dim)
        retr = Retriever(ix, emb, load_settings(env={}))
        retr.sentences(queries[0], 30, cand[0])  # builds the in-memory sentence index once (exact mode)
        _, lat = timed(lambda i: retr.sentences(queries[i], 30, cand[i]), range(n_queries))
        out["sentence_p50_ms"] = ms(lat, 50)

        out.update(fused_figures(retr, emb, queries, qtexts, targets))
        if hasattr(dense, "hnsw"):  # recall and latency of the dense leg, and the fused search, per efSearch
            default_ef = dense.hnsw.efSearch
            out["efSearch"] = default_ef
            for ef in efs:
                dense.hnsw.efSearch = ef
                found, lat = timed(lambda q: dense.search(q[None, :], 10)[1][0], queries)
                fused = fused_figures(retr, emb, queries, qtexts, targets)["fused_p50_ms"]
                out[f"ef{ef}"] = f"{recall_at_10(found, truth):.3f} @ {ms(lat, 50):.2f} ms (fused {fused:.2f} ms)"
            dense.hnsw.efSearch = default_ef
        out["rss_mb_per_1M_after_queries"] = (rss_mb() - before) / n * 1e6
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--dim", type=int, default=768, help="768 = EmbeddingGemma's dimension")
    ap.add_argument("--latent", type=int, default=64, help="intrinsic dimension; 0 = uniform random vectors")
    ap.add_argument("--ef", type=int, nargs="*", default=[32, 64, 96, 128, 192, 256], help="HNSW efSearch sweep")
    ap.add_argument("--store", nargs="+", default=["faiss"], choices=["faiss", "milvus"],
                    help="stores to measure on the same data (milvus: Milvus Lite, needs the milvus extra)")
    args = ap.parse_args()
    rows = []
    for n in args.sizes:
        for store in args.store:
            t0 = time.perf_counter()
            rows.append(run(n, args.queries, args.dim, args.latent, args.ef) if store == "faiss"
                        else run_milvus(n, args.queries, args.dim, args.latent))
            print(f"{store} {n} chunks done in {time.perf_counter() - t0:.0f} s: {rows[-1]}", file=sys.stderr, flush=True)
    cols = ["store", "chunks", "sentences", "sentence_leg", "dense_type", "raw_exact_p50_ms", "dense_p50_ms", "dense_p99_ms", "recall@10",
            "raw_bm25_p50_ms", "keyword_p50_ms", "keyword_p99_ms", "sentence_p50_ms", "fused_p50_ms", "fused_p99_ms",
            "fused_top1_is_target", "index_build_write_s", "index_load_s", "disk_mb_per_1M", "load_rss_mb_per_1M",
            "rss_mb_per_1M_after_queries"]
    print_table([{c: r.get(c, "-") for c in cols} for r in rows], cols)
    sweep = sorted({c for r in rows for c in r if c.startswith("ef") and c != "efSearch"}, key=lambda c: int(c[2:]))
    if sweep:
        print("\nHNSW efSearch sweep (recall@10 @ dense p50 latency, and fused p50):")
        print_table([{c: r.get(c, "-") for c in ["chunks", *sweep]} for r in rows], ["chunks", *sweep])
    print_result(rows)


if __name__ == "__main__":
    main()
