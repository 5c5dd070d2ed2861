"""Would chunk vectors pooled from the sentence vectors do? (issue #16: one embedding pass per text.) Copies
an index and replaces its chunk vectors by the normalised mean of each chunk's stored sentence vectors
("mean") or their length-weighted mean ("len"); then run `rag eval --retrieval-only --index DST` on it.

    python eval/pooled_chunks.py index /tmp/idx_pooled mean
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

import faiss
import numpy as np

from rag.store import build_dense, load_index


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("src", type=Path)
    ap.add_argument("dst", type=Path)
    ap.add_argument("how", choices=["mean", "len"], nargs="?", default="mean")
    a = ap.parse_args()
    if a.dst.exists():
        shutil.rmtree(a.dst)
    shutil.copytree(a.src, a.dst)
    gen = a.dst / (a.dst / "CURRENT").read_text().strip()
    idx = load_index(a.dst)
    n = len(idx.chunks)
    floats, ranges = idx.sentences.floats(), idx.sentences.ranges
    old = idx.chunk_vectors(list(range(n)))
    pooled = np.zeros_like(old)
    for i in range(n):
        vecs = floats[int(ranges[i][0]):int(ranges[i][1])]
        if a.how == "len":
            spans, _ = idx.chunk_sentences(i)
            vecs = vecs * np.array([b - s for s, b in spans], dtype=np.float32)[:, None]
        v = vecs.sum(0)
        pooled[i] = v / np.linalg.norm(v)
    cos = (pooled * old).sum(1)
    print(f"{n} chunks; cosine pooled vs embedded chunk: mean {cos.mean():.3f}, min {cos.min():.3f}")
    faiss.write_index(build_dense(pooled), str(gen / "dense.faiss"))


if __name__ == "__main__":
    main()
