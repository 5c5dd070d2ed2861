"""Indexing throughput: our embedding path vs `SentenceTransformer.encode_document` on the same chunks.

    python bench/bench_index.py [--corpus seeds] [--dtypes float32 bfloat16]
    python bench/bench_index.py --bench ../shared/benchmarks --sample 400   # larger bilingual corpus

`--bench` builds a bilingual corpus from the public benchmark folder (XQuAD en+zh paragraphs,
CMRC2018 paragraphs, DragonBall documents), chunks all of it with the product's chunker and times a
seeded sample of `--sample` chunks (mixed lengths and languages). Prints a table, then `RESULT {json}`.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import print_result, print_table  # noqa: E402
from rag.chunk import chunk_document  # noqa: E402
from rag.embed import SentenceTransformerEmbedder, cpu_has_bf16  # noqa: E402
from rag.indexer import read_corpus  # noqa: E402
from rag.models import resolve  # noqa: E402
from rag.settings import load_settings  # noqa: E402


def write_bench_corpus(bench: Path, dest: Path) -> int:
    """The public benchmark texts as one document per file; returns the number of documents."""
    n = 0
    for lang in ("en", "zh"):
        for art in json.loads((bench / "xquad" / f"xquad.{lang}.json").read_text(encoding="utf-8"))["data"]:
            for p in art["paragraphs"]:
                (dest / f"xquad_{lang}_{n:05d}.txt").write_text(p["context"], encoding="utf-8")
                n += 1
    for art in json.loads((bench / "cmrc2018" / "cmrc2018_dev_squad.json").read_text(encoding="utf-8"))["data"]:
        for p in art["paragraphs"]:
            (dest / f"cmrc_{n:05d}.txt").write_text(p["context"], encoding="utf-8")
            n += 1
    for line in (bench / "dragonball" / "docs.jsonl").read_text(encoding="utf-8").splitlines():
        d = json.loads(line)
        (dest / f"dragonball_{d['doc_id']:03d}.txt").write_text(d["content"], encoding="utf-8")
        n += 1
    return n


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--corpus", default="seeds")
    ap.add_argument("--bench", type=Path, help="public benchmark folder: use the larger bilingual corpus")
    ap.add_argument("--sample", type=int, default=0, help="time a seeded sample of this many chunks")
    ap.add_argument("--dtypes", nargs="+", default=["float32", "bfloat16"])
    args = ap.parse_args()
    s = load_settings()
    path = resolve(s.embed_model, s)
    with tempfile.TemporaryDirectory() as tmp:
        corpus = Path(args.corpus)
        if args.bench:
            corpus = Path(tmp)
            write_bench_corpus(args.bench, corpus)
        docs, _ = read_corpus(corpus, warn=lambda m: None)
    rows = []
    for dtype in args.dtypes:
        emb = SentenceTransformerEmbedder(path, s.embed_model, dtype=dtype)
        chunks = [c for d in docs for c in chunk_document(d, emb.count_tokens, s.chunk_tokens, s.chunk_overlap)]
        all_chunks, all_tokens = len(chunks), sum(emb.count_tokens([c.text for c in chunks]))
        if args.sample and args.sample < len(chunks):
            chunks = random.Random(0).sample(chunks, args.sample)
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
        rows.append({"dtype": dtype, "documents": len(docs), "corpus_chunks": all_chunks,
                     "corpus_tokens": all_tokens, "chunks": len(texts), "tokens": tokens, "ours_s": ours, "raw_s": raw,
                     "ours_chunks_per_s": len(texts) / ours, "ours_tokens_per_s": tokens / ours,
                     "raw_tokens_per_s": tokens / raw, "ratio_ours_vs_raw": raw / ours,
                     "unbucketed_tokens_per_s": tokens / unbucketed})
    cols = list(rows[0])
    print(f"native bf16 on this CPU: {cpu_has_bf16()}")
    print_table(rows, cols)
    print_result(rows)


if __name__ == "__main__":
    main()
