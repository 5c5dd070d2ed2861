"""Index build speed: full `rag index` builds of the same corpus by this code (one row per variant),
optionally by another checkout of the product (today's main), and the raw model doing the least
work possible (`SentenceTransformer.encode_document` of the same chunk texts, once each).

    python bench/bench_index.py --dragonball 24                        # 24 DragonBall documents (12 zh, 12 en)
    python bench/bench_index.py --dragonball 24 --baseline ../base     # plus a checkout of the previous code
    python bench/bench_index.py --corpus seeds --variants sentence_vectors=separate sentence_vectors=late

Every build runs in its own process with a fresh index folder (model loading timed apart), one
after another. Prints a table with documents/min, chunk tokens/s and the stage split (read, chunk,
embed, write), then `RESULT {json}`.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import print_result, print_table  # noqa: E402
from rag.chunk import chunk_document  # noqa: E402
from rag.embed import cpu_has_bf16  # noqa: E402
from rag.indexer import read_corpus  # noqa: E402
from rag.models import resolve  # noqa: E402
from rag.settings import load_settings  # noqa: E402

# Runs inside a child process with the checkout under test first on sys.path.
BUILD_ONCE = """
import json, sys, time
sys.path.insert(0, sys.argv[1])
from rag.embed import load_embedder
from rag.indexer import build_index
from rag.settings import load_settings
s = load_settings(overrides=json.loads(sys.argv[2]))
t0 = time.perf_counter()
emb = load_embedder(s)
t1 = time.perf_counter()
summary = build_index(s, emb, rebuild=True, quiet=True, warn=lambda m: None).to_json()
print("BUILD " + json.dumps({"load_s": t1 - t0, "build_s": time.perf_counter() - t1, **summary}))
"""


def write_dragonball(bench: Path, dest: Path, n: int) -> None:
    """The first n/2 Chinese and n/2 English DragonBall documents, one file each."""
    docs = [json.loads(x) for x in (bench / "dragonball" / "docs.jsonl").read_text(encoding="utf-8").splitlines()]
    for lang in ("zh", "en"):
        for d in [d for d in docs if d["language"] == lang][: (n + 1) // 2 if lang == "zh" else n // 2]:
            (dest / f"dragonball_{d['doc_id']:03d}.txt").write_text(d["content"], encoding="utf-8")


def build(code: Path, corpus: Path, index: Path, overrides: dict) -> dict:
    settings = {"corpus_dir": str(corpus), "index_dir": str(index), **overrides}
    env = {**os.environ, "PYTHONPATH": str(code)}
    out = subprocess.run([sys.executable, "-c", BUILD_ONCE, str(code), json.dumps(settings)], env=env,
                         capture_output=True, text=True, cwd=str(code))
    line = [x for x in out.stdout.splitlines() if x.startswith("BUILD ")]
    if out.returncode or not line:
        raise SystemExit(f"build with {code} failed:\n{out.stderr[-2000:]}")
    return json.loads(line[0][6:])


def raw_encode(corpus: Path, dtype: str) -> dict:
    """The raw model embedding each chunk text once, in one call: the floor for one pass over the corpus."""
    import torch
    from sentence_transformers import SentenceTransformer

    s = load_settings()
    model = SentenceTransformer(str(resolve(s.embed_model, s)), device="cpu", local_files_only=True,
                                model_kwargs={"dtype": getattr(torch, dtype)})

    def count(texts):
        return [len(x) for x in model.tokenizer(list(texts), add_special_tokens=False)["input_ids"]]

    docs, _ = read_corpus(corpus, warn=lambda m: None)
    texts = [c.text for d in docs for c in chunk_document(d, count, s.chunk_tokens, s.chunk_overlap)]
    tokens = sum(count(texts))
    model.encode_document(texts[:2])  # warm-up
    t0 = time.perf_counter()
    model.encode_document(texts, batch_size=16, normalize_embeddings=True)
    return {"texts": len(texts), "tokens": tokens, "seconds": time.perf_counter() - t0}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", type=Path, help="a folder of documents (default: --dragonball)")
    ap.add_argument("--dragonball", type=int, default=24, help="number of DragonBall documents (half zh, half en)")
    ap.add_argument("--bench", type=Path, default=ROOT.parent / "shared" / "benchmarks")
    ap.add_argument("--baseline", type=Path, help="another checkout of the product to build the same corpus")
    ap.add_argument("--variants", nargs="*", default=[""], metavar="SETTING=VALUE[,SETTING=VALUE]",
                    help="settings for this code's builds, one build per variant (default: the defaults)")
    ap.add_argument("--dtypes", nargs="+", default=["float32"] + (["bfloat16"] if cpu_has_bf16() else []),
                    help="dtypes for the raw encode_document row")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        corpus = args.corpus
        if corpus is None:
            corpus = Path(tmp) / "corpus"
            corpus.mkdir()
            write_dragonball(args.bench, corpus, args.dragonball)
        corpus = corpus.resolve()
        n_docs = len(read_corpus(corpus, warn=lambda m: None)[0])
        runs = []
        if args.baseline:
            runs.append(("baseline " + args.baseline.name, args.baseline.resolve(), {}))
        for v in args.variants:
            overrides = dict(kv.split("=", 1) for kv in v.split(",") if kv)
            runs.append(("this code" + (f" ({v})" if v else ""), ROOT, overrides))
        rows = []
        for name, code, overrides in runs:
            r = build(code, corpus, Path(tmp) / f"index{len(rows)}", overrides)
            rows.append({"build": name, "documents": n_docs, "chunks": r["chunks_total"], "load_s": r["load_s"],
                         "build_s": r["build_s"], "docs_per_min": 60 * n_docs / r["build_s"],
                         # when questions can first be asked: a two-step build publishes before refining
                         "usable_s": r.get("usable_seconds") or r["build_s"],
                         **{f"{k}_s": v for k, v in r.get("stages", {}).items()}})
        raws = [raw_encode(corpus, dt) for dt in args.dtypes]
    tokens = raws[0]["tokens"]
    for r in rows:
        r["chunk_tokens_per_s"] = tokens / r["build_s"]
        if args.baseline:
            r["speedup_vs_baseline"] = rows[0]["build_s"] / r["build_s"]
            r["usable_speedup_vs_baseline"] = rows[0]["usable_s"] / r["usable_s"]
        r["vs_raw_encode"] = raws[0]["seconds"] / r["build_s"]
    for dt, raw in zip(args.dtypes, raws, strict=True):
        rows.append({"build": f"raw encode_document {dt} (chunk texts once)", "documents": n_docs,
                     "chunks": raw["texts"], "build_s": raw["seconds"], "docs_per_min": 60 * n_docs / raw["seconds"],
                     "chunk_tokens_per_s": raw["tokens"] / raw["seconds"]})
    cols = []
    for r in rows:
        cols += [c for c in r if c not in cols]
    for r in rows:
        for c in cols:
            r.setdefault(c, "")
    flags = open("/proc/cpuinfo").read() if Path("/proc/cpuinfo").exists() else ""
    simd = sorted({f for f in flags.split() if f.startswith(("avx512", "avx2", "amx", "avx_vnni"))})
    print(f"CPU flags: {' '.join(simd) or 'none'}; native bf16: {cpu_has_bf16()}; cores: {os.cpu_count()}; "
          f"corpus: {n_docs} documents, {tokens} chunk tokens")
    print_table(rows, cols)
    print_result({"cpu_flags": simd, "corpus_tokens": tokens, "rows": rows})


if __name__ == "__main__":
    main()
