"""Indexing throughput: our embedding path vs `SentenceTransformer.encode_document` on the same chunks.

    python bench/bench_index.py [--corpus seeds] [--dtypes float32 bfloat16]

Prints a table, then `RESULT {json}`.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import print_result, print_table  # noqa: E402
from rag.chunk import chunk_document  # noqa: E402
from rag.embed import SentenceTransformerEmbedder, cpu_has_bf16  # noqa: E402
from rag.indexer import read_corpus  # noqa: E402
from rag.models import resolve  # noqa: E402
from rag.settings import load_settings  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--corpus", default="seeds")
    ap.add_argument("--dtypes", nargs="+", default=["float32", "bfloat16"])
    args = ap.parse_args()
    s = load_settings()
    path = resolve(s.embed_model, s)
    docs, _ = read_corpus(Path(args.corpus), warn=lambda m: None)
    rows = []
    for dtype in args.dtypes:
        emb = SentenceTransformerEmbedder(path, s.embed_model, dtype=dtype)
        chunks = [c for d in docs for c in chunk_document(d, emb.count_tokens, s.chunk_tokens, s.chunk_overlap)]
        texts = [c.text for c in chunks]
        tokens = sum(emb.count_tokens(texts))
        emb.embed(texts[:4])  # warm-up
        t0 = time.perf_counter()
        emb.embed(texts, kind="document")  # ours: length-sorted batches, no titles (same input as raw)
        ours = time.perf_counter() - t0
        t0 = time.perf_counter()
        emb.model.encode_document(texts, batch_size=emb.batch_size, normalize_embeddings=True)
        raw = time.perf_counter() - t0
        shuffled = texts[:]
        random.Random(0).shuffle(shuffled)
        t0 = time.perf_counter()
        for i in range(0, len(shuffled), emb.batch_size):  # no length bucketing: batches in corpus order
            emb.model.encode(shuffled[i:i + emb.batch_size], batch_size=emb.batch_size)
        unbucketed = time.perf_counter() - t0
        rows.append({"dtype": dtype, "chunks": len(texts), "tokens": tokens, "ours_s": ours, "raw_s": raw,
                     "ours_chunks_per_s": len(texts) / ours, "ours_tokens_per_s": tokens / ours,
                     "raw_tokens_per_s": tokens / raw, "ratio_ours_vs_raw": raw / ours,
                     "unbucketed_tokens_per_s": tokens / unbucketed})
    cols = list(rows[0])
    print(f"native bf16 on this CPU: {cpu_has_bf16()}")
    print_table(rows, cols)
    print_result(rows)


if __name__ == "__main__":
    main()
