"""Building the Milvus store in batches: documents are read one at a time, and the chunks of added and
changed ones are embedded and inserted `index_batch` chunks at a time, so a build holds one batch of
texts and vectors whatever the size of the corpus (the FAISS store builds its index in memory).
For the whole build it keeps only a catalog per document, none per chunk: the ids and content hashes
read so far, and the previous generation's document entries (read without its chunk rows).

>>> build_milvus(settings, embedder, None, IndexSummary(), quiet=True, warn=print)  # doctest: +SKIP
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from tqdm import tqdm

from .chunk import chunk_document
from .embed import Embedder
from .indexer import IndexSummary, doc_entry, embed_new, iter_documents, new_manifest, new_sentences
from .ingest import iter_corpus
from .milvus_store import MilvusIndex, count_live_chunks
from .milvus_write import Batch, MilvusWriter
from .records import Chunk
from .settings import Settings


@dataclass
class _Pending:
    """Chunks waiting for the next batch, and the documents that start among them."""

    docs: dict[str, dict] = field(default_factory=dict)
    chunks: list[Chunk] = field(default_factory=list)
    seqs: list[int] = field(default_factory=list)
    titles: list[str] = field(default_factory=list)  # of each chunk's document


def build_milvus(settings: Settings, embedder: Embedder, prev: MilvusIndex | None, summary: IndexSummary,
                 quiet: bool, warn: Callable[[str], None]) -> None:
    """Bring the Milvus store up to date with the corpus (`prev`: its live generation, None to write a
    new set of collections); fills `summary`. Nothing is served until the final commit record."""
    stages = summary.stages
    for stage in ("read", "chunk", "embed", "write"):
        stages[stage] = 0.0
    paths = list(iter_corpus(settings.corpus_path))
    old_docs = prev.manifest.docs if prev else {}
    seen: set[str] = set()
    pending = _Pending()
    writer: MilvusWriter | None = None

    def flush() -> None:
        nonlocal writer, pending
        t = time.perf_counter()
        batch = _embed(settings, embedder, pending)
        stages["embed"] += time.perf_counter() - t
        t = time.perf_counter()
        writer = writer or MilvusWriter(settings, embedder.dim, prev)
        writer.add(batch)
        stages["write"] += time.perf_counter() - t
        summary.chunks_embedded += len(batch.chunks)
        pending = _Pending()

    with tqdm(paths, unit="file", desc="indexing", disable=quiet, file=sys.stderr) as bar:
        docs = iter_documents(bar, settings.corpus_path, summary.skipped, warn)
        while True:
            t = time.perf_counter()
            doc = next(docs, None)
            stages["read"] += time.perf_counter() - t
            if doc is None:
                break
            seen.add(doc.id)
            old = old_docs.get(doc.id)
            if old is not None and old["hash"] == doc.content_hash:
                summary.docs_unchanged += 1
                continue
            if old is None:
                summary.docs_added += 1
            else:
                summary.docs_changed += 1
            t = time.perf_counter()
            chunks = chunk_document(doc, embedder.count_tokens, settings.chunk_tokens, settings.chunk_overlap)
            stages["chunk"] += time.perf_counter() - t
            pending.docs[doc.id] = doc_entry(doc, chunks)
            for seq, c in enumerate(chunks):  # a long document continues in the next batch
                pending.chunks.append(c)
                pending.seqs.append(seq)
                pending.titles.append(doc.title)
                if len(pending.chunks) >= settings.index_batch:
                    flush()
                    bar.set_postfix(embedded=summary.chunks_embedded)  # moves during a long document
        if pending.docs or pending.chunks:
            flush()
            bar.set_postfix(embedded=summary.chunks_embedded)
    summary.docs_skipped = len(summary.skipped)
    summary.files_seen = len(paths)
    removed = [d for d in old_docs if d not in seen]
    summary.docs_removed = len(removed)
    if writer is None and (removed or prev is None):
        writer = MilvusWriter(settings, embedder.dim, prev)
    if writer is not None:
        t = time.perf_counter()
        writer.remove(removed)
        header = vars(new_manifest(settings, embedder, 0, {}))
        writer.commit({k: v for k, v in header.items() if k not in ("docs", "n_chunks")})
        stages["write"] += time.perf_counter() - t
    summary.chunks_total = count_live_chunks(settings)


def _embed(settings: Settings, embedder: Embedder, pending: _Pending) -> Batch:
    """The pending chunks embedded, with their sentences."""
    chunks = pending.chunks
    sentences = new_sentences(chunks, [None] * len(chunks), None, embedder.dim)
    vectors = np.zeros((len(chunks), embedder.dim), dtype=np.float32)
    titles = dict(zip((c.doc_id for c in chunks), pending.titles, strict=True))
    if chunks:
        embed_new(embedder, settings.sentence_vectors, chunks, [(i, c.text) for i, c in enumerate(chunks)],
                  titles, sentences, list(range(len(sentences.spans))), vectors, quiet=True)
    return Batch(pending.docs, chunks, pending.seqs, vectors, sentences)
