"""The deliberately naive baseline that `rag eval --naive` measures the product against.

Same models, but: fixed 256-token windows (no sentence boundaries, no overlap), dense top-5 only,
whole chunks in one English prompt, no citation verification, and abstaining only when the model
says so. Every difference in `eval/RESULTS.md` is a measured gain (or loss) of the real pipeline.
"""

from __future__ import annotations

import time

import numpy as np

from .answer import Pipeline
from .chunk import make_chunk
from .embed import load_embedder
from .indexer import read_corpus
from .pipeline import open_pipeline
from .records import Chunk, Document
from .settings import Settings
from .store import FORMAT_VERSION, Manifest, Sentences, write_generation

WINDOW = 256


def window_chunks(doc: Document, tokenizer, window: int = WINDOW) -> list[Chunk]:
    """Cut every `window` tokens, wherever that falls."""
    enc = tokenizer(doc.text, add_special_tokens=False, return_offsets_mapping=True)
    offsets = enc["offset_mapping"]
    out = []
    for i in range(0, len(offsets), window):
        part = offsets[i:i + window]
        start, end = part[0][0], part[-1][1]
        if doc.text[start:end].strip():
            out.append(make_chunk(doc, start, end))
    return out


def naive_settings(s: Settings) -> Settings:
    return s.replace(index_dir=str(s.index_path) + "-naive", keyword_weight=0.0, sentence_weight=0.0, k=5,
                     evidence="chunks", prompt_lang="en", verify=False, abstain_score=-1.0)


def naive_pipeline(s: Settings) -> Pipeline:
    s = naive_settings(s)
    embedder = load_embedder(s)
    docs, _ = read_corpus(s.corpus_path, warn=lambda m: None)
    chunks = [c for d in docs for c in window_chunks(d, embedder.tokenizer)]
    t0 = time.perf_counter()
    vectors = embedder.embed([c.text for c in chunks], kind="document")
    manifest = Manifest(FORMAT_VERSION, embedder.model_id, {}, embedder.dim, "float16", WINDOW, 0, "", len(chunks),
                        time.time(), {d.id: {"hash": d.content_hash, "title": d.title, "date": d.date, "url": d.url,
                                            "lang": d.lang, "chunk_ids": []} for d in docs}, chunker="window-256")
    empty = Sentences(np.zeros((0, 3), np.int32), np.zeros((0, embedder.dim), np.float16))
    write_generation(s.index_path, manifest, chunks, vectors, empty)
    print(f"naive index: {len(chunks)} windows embedded in {time.perf_counter() - t0:.1f} s")
    return open_pipeline(s, ensure_index=False, embedder=embedder)  # its own window index, built above
