"""Retrieval latency and quality at scale, ours vs raw FAISS / bm25s, on synthetic data.

    python bench/bench_retrieval.py [--sizes 10000 100000] [--queries 200]

Vectors are random unit vectors with planted near-duplicates (so recall is meaningful); text is
synthetic bilingual sentences. Prints a table, then `RESULT {json}`.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import print_result, print_table  # noqa: E402
from rag.keyword import KeywordIndex  # noqa: E402
from rag.records import Chunk  # noqa: E402
from rag.retrieve import Retriever  # noqa: E402
from rag.settings import load_settings  # noqa: E402
from rag.store import Manifest, Sentences, build_dense, load_index, write_generation  # noqa: E402

ZH = list("人工智能企业产业规模上海北京芯片算力数据模型制造应用场景技术创新发展政策城市")
EN = "ai industry scale shanghai beijing chip compute data model manufacturing application scenario technology".split()
DIM = 256


def synth_text(rng: random.Random) -> str:
    if rng.random() < 0.5:
        return "".join(rng.choice(ZH) for _ in range(rng.randint(20, 60))) + f"{rng.randint(1, 99999)}家。"
    return " ".join(rng.choice(EN) for _ in range(rng.randint(10, 40))) + f" {rng.randint(1, 99999)}."


def pct(xs, q):
    return float(np.percentile(np.asarray(xs) * 1000, q))


class FixedEmbedder:
    """Returns pre-made query vectors, so query embedding is excluded from search latency."""

    model_id, dim = "synthetic", DIM

    def __init__(self):
        self.next = None

    def embed(self, texts, kind="query", titles=None, progress=None):
        return self.next[None, :]


def run(n: int, n_queries: int, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    vecs = rng.standard_normal((n, DIM)).astype(np.float32)
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    targets = rng.integers(0, n, n_queries)
    queries = vecs[targets] + 0.35 * rng.standard_normal((n_queries, DIM)).astype(np.float32) / np.sqrt(DIM) * 4
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    r = random.Random(seed)
    texts = [synth_text(r) for _ in range(n)]
    qtexts = [texts[t][:30] for t in targets]
    out: dict = {"chunks": n}

    import faiss

    exact = faiss.IndexFlatIP(DIM)
    exact.add(vecs)
    _, truth = exact.search(queries, 10)
    t0 = time.perf_counter()
    dense = build_dense(vecs)
    out["dense_build_s"] = time.perf_counter() - t0
    out["dense_type"] = type(dense).__name__
    if hasattr(dense, "hnsw"):
        dense.hnsw.efSearch = 64
    lat = []
    found = 0
    for i, q in enumerate(queries):
        t = time.perf_counter()
        _, ids = dense.search(q[None, :], 10)
        lat.append(time.perf_counter() - t)
        found += len(set(ids[0]) & set(truth[i]))
    out.update({"dense_p50_ms": pct(lat, 50), "dense_p99_ms": pct(lat, 99), "recall@10_vs_exact": found / (10 * n_queries)})

    t0 = time.perf_counter()
    kw = KeywordIndex.build(texts)
    out["keyword_build_s"] = time.perf_counter() - t0
    lat = []
    for q in qtexts:
        t = time.perf_counter()
        kw.search(q, 30)
        lat.append(time.perf_counter() - t)
    out.update({"keyword_p50_ms": pct(lat, 50), "keyword_p99_ms": pct(lat, 99)})

    with tempfile.TemporaryDirectory() as tmp:
        chunks = [Chunk(f"d{i}#{i}", f"d{i}", t, 0, len(t), "zh") for i, t in enumerate(texts)]
        m = Manifest(2, "synthetic", {}, DIM, "float32", 200, 40, "", n, time.time(), {}, "bench")
        empty = Sentences(np.zeros((0, 3), np.int32), np.zeros((0, DIM), np.float16))
        t0 = time.perf_counter()
        write_generation(Path(tmp), m, chunks, vecs, empty)
        out["index_write_s"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        ix = load_index(Path(tmp))
        out["index_load_s"] = time.perf_counter() - t0
        emb = FixedEmbedder()
        retr = Retriever(ix, emb, load_settings(env={}, overrides={"sentence_weight": 0.0}))
        lat = []
        for q, qt in zip(queries, qtexts, strict=True):
            emb.next = q
            got = retr.search(qt)
            lat.append(got.search_seconds)
        out.update({"fused_p50_ms": pct(lat, 50), "fused_p99_ms": pct(lat, 99)})
        disk = sum(p.stat().st_size for p in Path(tmp).rglob("*") if p.is_file())
        out["disk_mb_per_million"] = disk / n * 1e6 / 1e6
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    ap.add_argument("--queries", type=int, default=200)
    args = ap.parse_args()
    rows = [run(n, args.queries) for n in args.sizes]
    cols = ["chunks", "dense_type", "dense_p50_ms", "dense_p99_ms", "recall@10_vs_exact", "keyword_p50_ms",
            "keyword_p99_ms", "fused_p50_ms", "fused_p99_ms", "dense_build_s", "keyword_build_s", "index_load_s",
            "disk_mb_per_million"]
    print_table(rows, cols)
    print_result(rows)


if __name__ == "__main__":
    main()
