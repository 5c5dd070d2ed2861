"""Incremental index build: diff the corpus against the live index by content hash and embed
only what changed.

>>> summary = build_index(settings, embedder)  # doctest: +SKIP
>>> summary.to_json()["chunks_embedded"]  # doctest: +SKIP
0
"""

from __future__ import annotations

import dataclasses
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import numpy as np
from tqdm import tqdm

from .chunk import CHUNKER_VERSION, chunk_document, split_sentences
from .embed import Embedder
from .ingest import IngestError, doc_id_for, iter_corpus, read_document
from .models import SPECS
from .records import Chunk, Document
from .settings import Settings
from .store import (
    FORMAT_VERSION,
    FormatChanged,
    IndexError_,
    Manifest,
    Sentences,
    build_lock,
    open_index,
    uses_graph,
    write_generation,
)


@dataclass
class IndexSummary:
    docs_added: int = 0
    docs_changed: int = 0
    docs_removed: int = 0
    docs_unchanged: int = 0
    docs_skipped: int = 0
    files_seen: int = 0  # every file under the corpus folder: added + changed + unchanged + skipped
    chunks_total: int = 0
    chunks_embedded: int = 0
    seconds: float = 0.0
    skipped: list[str] = field(default_factory=list)  # "path: reason"
    rebuilt_reason: str = ""
    stages: dict[str, float] = field(default_factory=dict)  # seconds: read, chunk, embed, write
    usable_seconds: float = 0.0  # when a build published a usable index before refining its sentence vectors
    provisional: int = 0  # documents left with quick sentence vectors (a build told not to refine them)

    def to_json(self) -> dict:
        return {
            "docs_added": self.docs_added, "docs_changed": self.docs_changed, "docs_removed": self.docs_removed,
            "docs_unchanged": self.docs_unchanged, "docs_skipped": self.docs_skipped, "files_seen": self.files_seen,
            "chunks_total": self.chunks_total, "chunks_embedded": self.chunks_embedded,
            "seconds": round(self.seconds, 2),
            "chunks_per_second": round(self.chunks_embedded / self.seconds, 2) if self.seconds else 0.0,
            "skipped": self.skipped, "rebuilt_reason": self.rebuilt_reason,
            "usable_seconds": round(self.usable_seconds, 2), "provisional": self.provisional,
            "stages": {k: round(v, 2) for k, v in self.stages.items()},
        }


def _reuse_reason(m: Manifest, embedder: Embedder, settings: Settings) -> str:
    """Why the previous index cannot be reused incrementally ('' when it can)."""
    if m.embed_model != embedder.model_id:
        return f"embedding model changed ({m.embed_model} -> {embedder.model_id}): full rebuild"
    if m.dim != embedder.dim:
        return f"embedding dimension changed ({m.dim} -> {embedder.dim}): full rebuild"
    if (m.chunk_tokens, m.chunk_overlap, m.chunker) != (settings.chunk_tokens, settings.chunk_overlap, CHUNKER_VERSION):
        return "chunking settings changed: full rebuild"
    if m.sentence_vectors != settings.sentence_vectors:
        return f"sentence vectors changed ({m.sentence_vectors} -> {settings.sentence_vectors}): full rebuild"
    return ""


def iter_documents(paths: Iterable[Path], root: Path, skipped: list[str],
                   warn: Callable[[str], None]) -> Iterator[Document]:
    """The readable documents among `paths`, one at a time; a 'path: reason' line per skipped file is
    appended to `skipped`."""
    by_hash: dict[str, str] = {}
    for path in paths:
        try:
            doc = read_document(path, doc_id_for(path, root))
        except IngestError as e:
            skipped.append(f"{path}: {e}")
            warn(f"skipped {path}: {e}")
            continue
        except Exception as e:  # a reader library failing in an unexpected way must not stop the build
            skipped.append(f"{path}: unreadable ({type(e).__name__})")
            warn(f"skipped {path}: unreadable ({type(e).__name__}: {str(e)[:80]})")
            continue
        if doc.content_hash in by_hash:
            skipped.append(f"{path}: duplicate of {by_hash[doc.content_hash]}")
            warn(f"skipped {path}: duplicate of {by_hash[doc.content_hash]}")
            continue
        by_hash[doc.content_hash] = doc.id
        yield doc


def read_corpus(root: Path, warn: Callable[[str], None]) -> tuple[list[Document], list[str]]:
    """All readable documents under `root`, plus one 'path: reason' line per skipped file."""
    skipped: list[str] = []
    docs = list(iter_documents(iter_corpus(root), root, skipped, warn))
    return docs, skipped


def build_index(settings: Settings, embedder: Embedder, rebuild: bool = False, quiet: bool = False,
                warn: Callable[[str], None] | None = None, refine: bool = True) -> IndexSummary:
    """Bring the index at `settings.index_dir` up to date with `settings.corpus_dir`. With `refine` False a
    two-step build (`settings.usable_first`) stops once its usable index is published; the next build
    refines it."""
    t0 = time.perf_counter()
    warn = warn or (lambda msg: print(msg, file=sys.stderr))
    root, corpus = settings.index_path, settings.corpus_path
    if not corpus.is_dir():
        raise FileNotFoundError(f"corpus directory {corpus} does not exist")
    summary = IndexSummary()
    with build_lock(root):
        prev = None
        if not rebuild:
            try:
                prev = open_index(settings, chunks=settings.store != "milvus")  # Milvus: its catalog
            except FormatChanged as e:
                summary.rebuilt_reason = f"index format changed ({e.old} -> {FORMAT_VERSION}): full rebuild"
            except IndexError_ as e:
                if "no index" not in str(e):
                    summary.rebuilt_reason = f"previous index unusable ({e}): full rebuild"
            if prev is not None and (reason := _reuse_reason(prev.manifest, embedder, settings)):
                summary.rebuilt_reason, prev = reason, None
        if summary.rebuilt_reason:
            warn(summary.rebuilt_reason)
        if settings.store == "milvus":  # streamed: one batch of chunks in memory at a time
            from .milvus_build import build_milvus

            build_milvus(settings, embedder, prev, summary, quiet, warn)
            summary.seconds = time.perf_counter() - t0
            return summary
        t_read = time.perf_counter()
        docs, summary.skipped = read_corpus(corpus, warn)
        t_chunk = time.perf_counter()
        summary.stages["read"] = t_chunk - t_read
        summary.docs_skipped = len(summary.skipped)
        summary.files_seen = len(docs) + len(summary.skipped)
        old_docs = prev.manifest.docs if prev else {}
        old_rows = {c.id: i for i, c in enumerate(prev.chunks)} if prev else {}
        provisional = set(prev.manifest.provisional) if prev else set()
        resentence: set[int] = set()  # reused chunks whose quick sentence vectors are still to be replaced

        chunks: list[Chunk] = []
        rows: list[int | None] = []  # row in the previous vectors, or None when it must be embedded
        to_embed: list[tuple[int, str]] = []
        titles: dict[str, str] = {}
        doc_entries: dict[str, dict] = {}
        for doc in docs:
            old = old_docs.get(doc.id)
            unchanged = old is not None and old["hash"] == doc.content_hash and all(
                cid in old_rows for cid in old["chunk_ids"])
            if unchanged:
                summary.docs_unchanged += 1
                for cid in old["chunk_ids"]:
                    if doc.id in provisional:
                        resentence.add(len(chunks))
                    chunks.append(prev.chunks[old_rows[cid]])
                    rows.append(old_rows[cid])
                doc_entries[doc.id] = old
                continue
            if old is None:
                summary.docs_added += 1
            else:
                summary.docs_changed += 1
            new_chunks = chunk_document(doc, embedder.count_tokens, settings.chunk_tokens, settings.chunk_overlap)
            titles[doc.id] = doc.title
            for c in new_chunks:
                to_embed.append((len(chunks), c.text))
                chunks.append(c)
                rows.append(None)
            doc_entries[doc.id] = doc_entry(doc, new_chunks)
        summary.docs_removed = sum(1 for d in old_docs if d not in doc_entries)
        waiting = sorted({chunks[i].doc_id for i in resentence})  # reused documents still to be refined
        summary.provisional = len(waiting)
        if prev is not None and not (summary.docs_added or summary.docs_changed or summary.docs_removed
                                     or (resentence and refine)):
            # nothing changed: do not read back (and decode) every stored vector just to write none
            summary.chunks_total = len(chunks)
            summary.stages.update(chunk=time.perf_counter() - t_chunk, embed=0.0)
            summary.seconds = time.perf_counter() - t0
            return summary
        vectors = np.zeros((len(chunks), embedder.dim), dtype=np.float32)
        reused = [(i, r) for i, r in enumerate(rows) if r is not None]
        for a in range(0, len(reused), 100_000):  # read back from the previous search index
            part = reused[a:a + 100_000]
            vectors[[i for i, _ in part]] = prev.chunk_vectors([r for _, r in part])
        sentences = new_sentences(chunks, rows, prev, embedder.dim)
        sent_new = [i for i, (row, _, _) in enumerate(sentences.spans) if rows[row] is None]
        sent_again = [i for i, (row, _, _) in enumerate(sentences.spans) if row in resentence]
        t_embed = time.perf_counter()
        summary.stages["chunk"] = t_embed - t_chunk
        summary.chunks_embedded = len(to_embed)
        summary.chunks_total = len(chunks)
        # A large build with separate sentence vectors goes in two steps: the chunk pass alone gives quick
        # sentence vectors (late chunking), and that index is published so questions can be asked; then every
        # sentence is embedded on its own, which is better evidence for the prompt (docs/performance.md).
        quick = (settings.sentence_vectors == "separate" and settings.embed_backend == "local"
                 and settings.usable_first > 0 and len(to_embed) >= settings.usable_first)
        write = partial(_write, root, chunks, vectors, sentences, quiet)
        if quick:
            embed_new(embedder, "late", chunks, to_embed, titles, sentences, sent_new, vectors, quiet)
            t_write = time.perf_counter()
            summary.stages["embed"] = t_write - t_embed
            pending = sorted({chunks[i].doc_id for i, _ in to_embed} | set(waiting))
            first = new_manifest(settings, embedder, len(chunks), doc_entries, provisional=pending)
            usable = write(first)
            summary.stages["write"] = time.perf_counter() - t_write
            summary.usable_seconds = time.perf_counter() - t0
            summary.provisional = len(pending)
            if not refine:
                summary.seconds = time.perf_counter() - t0
                return summary
            if not quiet:
                print(f"index usable after {summary.usable_seconds:.0f} s; refining the sentence vectors of "
                      f"{len(pending)} documents (questions can be asked meanwhile)", file=sys.stderr)
            t_refine = time.perf_counter()
            embed_sentences(embedder, chunks, sentences, sent_new + sent_again, quiet)
            t_write = time.perf_counter()
            summary.stages["refine"] = t_write - t_refine
            # the same chunks, graph and keyword index (and the faiss_type written into `first`)
            write(dataclasses.replace(first, provisional=[], created=time.time()), same_chunks=usable)
            summary.stages["write"] += time.perf_counter() - t_write
            summary.provisional = 0
        else:
            if to_embed:
                embed_new(embedder, settings.sentence_vectors, chunks, to_embed, titles, sentences, sent_new,
                          vectors, quiet)
            if sent_again and refine:
                embed_sentences(embedder, chunks, sentences, sent_again, quiet)
                summary.provisional = 0
            t_write = time.perf_counter()
            summary.stages["embed"] = t_write - t_embed
            # something changed (a run that changed nothing returned above): write a new generation
            write(new_manifest(settings, embedder, len(chunks), doc_entries, provisional=[] if refine else waiting))
            summary.stages["write"] = time.perf_counter() - t_write
    summary.seconds = time.perf_counter() - t0
    return summary


def _write(root: Path, chunks: list[Chunk], vectors: np.ndarray, sentences: Sentences, quiet: bool,
           manifest: Manifest, same_chunks: Path | None = None) -> Path:
    """Write a generation with progress bars for the steps that take long on large collections."""
    large = uses_graph(len(chunks)) and same_chunks is None  # small indexes are written in a second or two
    with tqdm(total=len(sentences.spans), unit="sentence", desc="sentence codes", disable=quiet or not large,
              file=sys.stderr) as s_bar, \
            tqdm(total=len(chunks), unit="chunk", desc="building search graph", disable=quiet or not large,
                 file=sys.stderr) as bar, \
            tqdm(total=len(chunks), unit="chunk", desc="keyword index (word splitting)",
                 disable=quiet or not large, file=sys.stderr) as kw_bar:
        return write_generation(root, manifest, chunks, vectors, sentences, progress=bar.update,
                                keyword_progress=kw_bar.update, sentence_progress=s_bar.update,
                                same_chunks=same_chunks)


def doc_entry(doc: Document, chunks: list[Chunk]) -> dict:
    """The manifest's entry for a document."""
    return {"hash": doc.content_hash, "path": doc.path, "title": doc.title, "date": doc.date, "url": doc.url,
            "author": doc.author, "lang": doc.lang, "fields": doc.fields, "chunk_ids": [c.id for c in chunks]}


def new_manifest(settings: Settings, embedder: Embedder, n_chunks: int, doc_entries: dict[str, dict],
                 provisional: list[str] | None = None) -> Manifest:
    spec = SPECS.get(embedder.model_id)
    return Manifest(
        format_version=FORMAT_VERSION, embed_model=embedder.model_id,
        embed_files={f.path: f.sha256 for f in spec.files} if spec else {},
        dim=embedder.dim, dtype="float16", chunk_tokens=settings.chunk_tokens,
        chunk_overlap=settings.chunk_overlap, faiss_type="", n_chunks=n_chunks, created=time.time(),
        docs=doc_entries, chunker=CHUNKER_VERSION, sentence_vectors=settings.sentence_vectors,
        embed_backend=embedder.backend, provisional=provisional or [])


def embed_new(embedder: Embedder, how: str, chunks: list[Chunk], to_embed: list[tuple[int, str]],
               titles: dict[str, str], sentences: Sentences, sent_todo: list[int], vectors: np.ndarray,
               quiet: bool) -> None:
    """Embed the new chunks into `vectors` and their sentences into `sentences.vectors`."""
    chunk_titles = [titles[chunks[i].doc_id] for i, _ in to_embed]
    if how == "late":
        slot = {row: k for k, (row, _) in enumerate(to_embed)}
        spans: list[list[tuple[int, int]]] = [[] for _ in to_embed]
        where: list[list[int]] = [[] for _ in to_embed]
        for i in sent_todo:
            row, a, b = sentences.spans[i]
            spans[slot[int(row)]].append((int(a), int(b)))
            where[slot[int(row)]].append(i)
        with tqdm(total=len(to_embed), unit="chunk", desc="embedding chunks", disable=quiet, file=sys.stderr) as bar:
            embedded, span_vecs = embedder.embed_chunks([t for _, t in to_embed], chunk_titles, spans,
                                                        progress=bar.update)
        for rows_k, vecs_k in zip(where, span_vecs, strict=True):
            if rows_k:
                sentences.vectors[rows_k] = vecs_k
    else:
        with tqdm(total=len(to_embed) + len(sent_todo), unit="text", desc="embedding chunks+sentences",
                  disable=quiet, file=sys.stderr) as bar:
            embedded = embedder.embed([t for _, t in to_embed], kind="document", titles=chunk_titles,
                                      progress=bar.update)
            _embed_sentence_rows(embedder, chunks, sentences, sent_todo, bar.update)
    for (i, _), vec in zip(to_embed, embedded, strict=True):
        vectors[i] = vec


def embed_sentences(embedder: Embedder, chunks: list[Chunk], sentences: Sentences, todo: list[int],
                    quiet: bool) -> None:
    """Embed the sentences of rows `todo` on their own, replacing their (quick) vectors."""
    with tqdm(total=len(todo), unit="sentence", desc="refining sentence vectors", disable=quiet,
              file=sys.stderr) as bar:
        _embed_sentence_rows(embedder, chunks, sentences, todo, bar.update)


def _embed_sentence_rows(embedder: Embedder, chunks: list[Chunk], sentences: Sentences, todo: list[int],
                         progress: Callable[[int], object]) -> None:
    if todo:
        texts = [chunks[row].text[a:b] for row, a, b in (sentences.spans[i] for i in todo)]
        sentences.vectors[todo] = embedder.embed(texts, kind="document", progress=progress)


def new_sentences(chunks: list[Chunk], rows: list[int | None], prev, dim: int) -> Sentences:
    """Sentence spans for every chunk; vectors copied from the previous index for reused chunks
    (rows still to embed are left zero)."""
    spans: list[tuple[int, int, int]] = []
    copy_from: list[int] = []
    for i, (chunk, r) in enumerate(zip(chunks, rows, strict=True)):
        if r is not None:
            old_spans, _ = prev.chunk_sentences(r)
            a = int(prev.sentences.ranges[r][0])
            for j, (s0, s1) in enumerate(old_spans):
                spans.append((i, int(s0), int(s1)))
                copy_from.append(a + j)
        else:
            for s0, s1 in split_sentences(chunk.text):
                spans.append((i, s0, s1))
                copy_from.append(-1)
    arr = np.asarray(spans, dtype=np.int32).reshape(-1, 3)
    vecs = np.zeros((len(arr), dim), dtype=np.float32)
    src = np.asarray(copy_from, dtype=np.int64)
    if prev is not None and (src >= 0).any():
        vecs[src >= 0] = prev.sentences.floats(src[src >= 0])
    # the previous rotation: quantizing a decoded row again gives its codes back, so reused rows never drift
    return Sentences(arr, vecs, rotation=prev.sentences.rotation if prev is not None else None)
