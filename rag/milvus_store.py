"""The Milvus store (`store = "milvus"`): the index in Milvus collections instead of files. A local
path as `milvus_uri` runs Milvus Lite in-process; `http(s)://host:19530` uses a Milvus server.

    <prefix>_meta             commit records: `current:<gen>` (set, generation, manifest header)
                              and `retired:<set>:<doc>@<gen>` (document versions replaced at a generation)
    <prefix>_<set>_chunks     chunk text and offsets, dense vector, BM25 (jieba) over the keyword text
    <prefix>_<set>_sentences  sentence spans and vectors, keyed by chunk id (the dense-sentence leg)
    <prefix>_<set>_docs       one row per document version: the manifest entry

Crash consistency (milvus_write.py): every row carries the generation `gen` that wrote it. A build inserts the rows of
new and changed documents with generation G+1, a batch at a time (milvus_build.py), and the `retired` records
of the versions they replace, flushes, and only then inserts the `current:G+1` record (one insert: the commit point). Readers see
rows with `gen <= live` whose document version is not retired at or before `live`, so a build killed
at any moment leaves generation G served unchanged; the next build deletes its leftovers (`gen > live`).
Rows retired by earlier builds are deleted once no reader of the previous generation can need them.
A full rebuild (first build, model or chunking change) writes a new set of collections and switches
to it with the same commit record; the set before it is kept for readers still holding it.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .errors import RagError
from .records import Chunk, DocInfo
from .settings import Settings
from .store import FORMAT_VERSION, FormatChanged, IndexError_, Manifest
from .text import search_tokens

FETCH = 256  # chunks fetched per query when rows are read in order
_clients: dict[tuple[str, str], Any] = {}


class MilvusMissing(RagError, RuntimeError):
    pass


def _client(settings: Settings):
    """One client per target and process (Milvus Lite holds a lock on its folder)."""
    key = (settings.milvus_target, settings.milvus_token)
    if key not in _clients:
        try:
            from pymilvus import MilvusClient
        except ImportError:
            raise MilvusMissing('store = "milvus" needs pymilvus and milvus-lite: '
                                'pip install "rag-bilingual[milvus]" (or pip install pymilvus milvus-lite)') from None
        local = "://" not in key[0]
        if local:
            Path(key[0]).parent.mkdir(parents=True, exist_ok=True)
        try:
            _clients[key] = MilvusClient(uri=key[0], token=key[1])
        except Exception as e:  # pymilvus raises its own exception types; one line for the user
            hint = (" (Milvus Lite opens its file in one process only: stop the other `rag` using it, "
                    "or use a Milvus server)") if local else ""
            raise MilvusMissing(f"cannot open Milvus at {key[0]}: {getattr(e, 'message', e)}{hint}") from None
    return _clients[key]


def close_clients() -> None:
    """Close this process's Milvus connections (releases a Milvus Lite file for another process)."""
    for (target, _), c in list(_clients.items()):
        c.close()
        if "://" not in target:  # Milvus Lite keeps its in-process server (and the file lock) until told
            from milvus_lite.server_manager import server_manager_instance

            server_manager_instance.release_server(target)
    _clients.clear()


def load_collection(client, name: str) -> None:
    """`client.load_collection`, mending what a killed Milvus Lite process can leave. Milvus Lite (3.2)
    writes a segment's index file in place, so a kill during that write leaves a cut file that every
    later load fails on ("No data left in file"). Index files are derived from the segments: remove
    the collection's index files and load again, which rebuilds them."""
    try:
        client.load_collection(name)
    except Exception:
        target = next((t for (t, _), c in _clients.items() if c is client), "")
        folder = Path(target, "collections", name) if target and "://" not in target else None
        files = [p for p in folder.glob("partitions/*/indexes/*") if p.suffix in (".idx", ".sidx")] if folder else []
        if not files:
            raise
        logging.getLogger(__name__).warning("Milvus Lite could not load %s; rebuilding its %d index files",
                                            name, len(files))
        for p in files:
            p.unlink()
        client.load_collection(name)


def _q(s: str) -> str:
    return json.dumps(s, ensure_ascii=False)  # a double-quoted string literal for a filter expression


@dataclass(frozen=True)
class _State:
    set: str
    live: int
    header: dict[str, Any]
    previous_set: str = ""


def _names(prefix: str, set_: str) -> tuple[str, str, str]:
    return f"{prefix}_{set_}_chunks", f"{prefix}_{set_}_sentences", f"{prefix}_{set_}_docs"


def _state(client, prefix: str) -> _State | None:
    meta = f"{prefix}_meta"
    if not client.has_collection(meta):
        return None
    load_collection(client, meta)
    rows = list(_query_all(client, meta, 'key like "current:%"', ["key", "value"]))
    if not rows:
        return None
    v = json.loads(max(rows, key=lambda r: r["key"])["value"])
    return _State(v["set"], int(v["live"]), v["header"], v.get("previous_set", ""))


def milvus_index_exists(settings: Settings) -> bool:
    return _state(_client(settings), settings.milvus_collection) is not None


def milvus_live_version(settings: Settings) -> str | None:
    """The live generation's name (collection set and generation), or None when there is no index."""
    st = _state(_client(settings), settings.milvus_collection)
    return f"{st.set}:{st.live}" if st else None


def _visible(live: int, retired: Sequence[str]) -> str:
    expr = f"gen <= {live}"
    return expr + (f" and doc_gen not in {json.dumps(list(retired), ensure_ascii=False)}" if retired else "")


class _Chunks(Sequence[Chunk]):
    """Chunks by row, fetched from Milvus on use (FETCH rows at a time) and kept once fetched."""

    def __init__(self, index: MilvusIndex):
        self.ix = index

    def __len__(self) -> int:
        return len(self.ix.chunk_ids)

    def __getitem__(self, row):  # type: ignore[override]
        if isinstance(row, slice):
            return [self[i] for i in range(*row.indices(len(self)))]
        cid = self.ix.chunk_ids[row]
        if cid not in self.ix.cache:
            self.ix.fetch(self.ix.chunk_ids[row:row + FETCH] if row >= 0 else [cid])
        return self.ix.cache[cid]

    def __iter__(self) -> Iterator[Chunk]:
        return (self[i] for i in range(len(self)))


@dataclass
class MilvusIndex:
    """The live generation of a Milvus store: the same reads as LoadedIndex, plus its own search."""

    client: Any
    names: tuple[str, str, str]
    visible: str  # filter expression selecting this generation's rows
    manifest: Manifest
    chunk_ids: list[str]  # row -> chunk id, in manifest order (as the FAISS store's rows)
    doc_gens: dict[str, str]  # doc id -> doc_gen of its live version
    cache: dict[str, Chunk] = field(default_factory=dict, repr=False)
    _rows: dict[str, int] = field(default_factory=dict, repr=False)
    _sent: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self._rows = {cid: i for i, cid in enumerate(self.chunk_ids)}

    @property
    def chunks(self) -> Sequence[Chunk]:
        return _Chunks(self)

    def row_of(self, chunk_id: str) -> int:
        return self._rows[chunk_id]

    def doc_info(self, doc_id: str) -> DocInfo:
        d = self.manifest.docs.get(doc_id, {})
        return DocInfo(doc_id, d.get("title", ""), d.get("date", ""), d.get("url", ""), d.get("lang", ""))

    def _in(self, ids: Sequence[str]) -> str:
        return f"{self.visible} and chunk_id in {json.dumps(list(ids), ensure_ascii=False)}"

    def fetch(self, ids: Sequence[str]) -> None:
        todo = [i for i in dict.fromkeys(ids) if i not in self.cache]
        if todo:
            got = self.client.query(self.names[0], filter=self._in(todo), limit=len(todo),
                                    output_fields=["chunk_id", "doc_id", "text", "start", "end", "lang"])
            for r in got:
                self._keep(r)

    def _keep(self, r: dict) -> None:
        if len(self.cache) > 50_000:
            self.cache.clear()
        self.cache[r["chunk_id"]] = Chunk(r["chunk_id"], r["doc_id"], r["text"], int(r["start"]), int(r["end"]),
                                          r["lang"])

    def chunk_vectors(self, rows: list[int]) -> np.ndarray:
        ids = [self.chunk_ids[r] for r in rows]
        got = self.client.query(self.names[0], filter=self._in(ids), output_fields=["chunk_id", "vector"],
                                limit=len(ids))
        by_id = {r["chunk_id"]: r["vector"] for r in got}
        return np.asarray([by_id[i] for i in ids], dtype=np.float32).reshape(len(ids), self.manifest.dim)

    def chunk_sentences(self, row: int) -> tuple[np.ndarray, np.ndarray]:
        """Spans (m, 2) relative to the chunk text, and vectors (m, dim) of chunk `row`'s sentences."""
        cid = self.chunk_ids[row]
        if cid not in self._sent:
            got = self.client.query(self.names[1], filter=self._in([cid]), limit=16_384,
                                    output_fields=["seq", "start", "end", "vector"])
            got = sorted(got, key=lambda r: r["seq"])
            spans = np.asarray([(r["start"], r["end"]) for r in got], dtype=np.int32).reshape(-1, 2)
            vecs = np.asarray([r["vector"] for r in got], dtype=np.float32).reshape(-1, self.manifest.dim)
            if len(self._sent) > 4096:
                self._sent.clear()
            self._sent[cid] = (spans, vecs)
        return self._sent[cid]

    def _search(self, coll: str, data: list, field_: str, metric: str, n: int, out: list[str]) -> list[dict]:
        if n <= 0 or not self.chunk_ids:
            return []
        res = self.client.search(coll, data=data, anns_field=field_, limit=n, filter=self.visible,
                                 output_fields=out, search_params={"metric_type": metric})
        return list(res[0]) if res else []

    def _rows_scores(self, hits: list[dict]) -> tuple[np.ndarray, np.ndarray]:
        """Rows and scores, best first; ties by row, as the FAISS store breaks them."""
        rows = np.asarray([self._rows[h["entity"]["chunk_id"]] for h in hits], dtype=np.int64)
        scores = np.abs(np.asarray([h["distance"] for h in hits], dtype=np.float32))  # Lite: BM25 negative
        order = np.lexsort((rows, -scores))
        return rows[order], scores[order]

    def search_dense(self, qv: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
        hits = self._search(self.names[0], [qv.astype(np.float32).tolist()], "vector", "IP",
                            min(n, len(self.chunk_ids)), ["chunk_id", "doc_id", "text", "start", "end", "lang"])
        for h in hits:
            self._keep(h["entity"])
        return self._rows_scores(hits)

    def search_keyword(self, query: str, n: int) -> tuple[np.ndarray, np.ndarray]:
        """BM25 inside Milvus over the product's keyword tokens (search_tokens: Traditional folded to
        Simplified, numbers without commas, stop words dropped), split again by Milvus's jieba analyzer."""
        toks = search_tokens(query)
        if not toks:
            return np.zeros(0, np.int64), np.zeros(0, np.float32)
        hits = self._search(self.names[0], [" ".join(toks)], "sparse", "BM25", min(n, len(self.chunk_ids)),
                            ["chunk_id", "doc_id", "text", "start", "end", "lang"])
        for h in hits:
            self._keep(h["entity"])
        return self._rows_scores(hits)

    def search_sentences(self, qv: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
        """Chunk rows ranked by their best sentence (4n sentences searched, as the FAISS store's exact leg)."""
        hits = self._search(self.names[1], [qv.astype(np.float32).tolist()], "vector", "IP", 4 * n, ["chunk_id"])
        rows, scores = self._rows_scores(hits)
        _, first = np.unique(rows, return_index=True)  # best sentence of each chunk
        first.sort()
        return rows[first][:n], scores[first][:n]


def _live(settings: Settings, expect_model: str | None = None) -> tuple[Any, _State, tuple[str, str, str], str]:
    """Client, state, collection names and visibility filter of the live generation."""
    client, prefix = _client(settings), settings.milvus_collection
    st = _state(client, prefix)
    if st is None:
        raise IndexError_(f"no index in {settings.milvus_target} (collections {prefix}_*): run `rag index`")
    if st.header.get("format_version") != FORMAT_VERSION:
        raise FormatChanged(int(st.header.get("format_version", 0)))
    if expect_model and st.header["embed_model"] != expect_model:
        raise IndexError_(f"index was built with {st.header['embed_model']}, settings say {expect_model}: run `rag index`")
    names = _names(prefix, st.set)
    for name in names:
        load_collection(client, name)
    retired = [r["key"].split(":", 2)[2] for r in _query_all(
        client, f"{prefix}_meta", f'key like {_q(f"retired:{st.set}:%")}', ["key", "value"])
        if json.loads(r["value"])["at"] <= st.live]
    return client, st, names, _visible(st.live, retired)


def load_milvus_index(settings: Settings, expect_model: str | None = None, chunks: bool = True) -> MilvusIndex:
    """The live generation; IndexError_ with the fix when there is none or it was built differently.
    With `chunks` False only its catalog is read (header, document entries without `chunk_ids`, no chunk
    rows): what a build needs, in memory per document rather than per chunk."""
    client, st, names, visible = _live(settings, expect_model)
    entries: dict[str, dict] = {}
    doc_gens: dict[str, str] = {}
    for r in _query_all(client, names[2], visible, ["doc_id", "doc_gen", "entry"]):
        entries[r["doc_id"]] = json.loads(r["entry"])
        doc_gens[r["doc_id"]] = r["doc_gen"]
    if not chunks:
        manifest = Manifest.from_json({**st.header, "docs": entries, "n_chunks": 0})
        return MilvusIndex(client, names, visible, manifest, [], doc_gens)
    seqs: dict[str, list[tuple[int, str]]] = {d: [] for d in entries}
    for r in _query_all(client, names[0], visible, ["chunk_id", "doc_id", "seq"]):
        seqs.setdefault(r["doc_id"], []).append((int(r["seq"]), r["chunk_id"]))
    docs: dict[str, dict] = {}
    for doc_id in sorted(entries, key=lambda d: (Path(entries[d].get("path", "")), d)):  # the corpus order
        docs[doc_id] = {**entries[doc_id], "chunk_ids": [c for _, c in sorted(seqs.get(doc_id, []))]}
    chunk_ids = [c for d in docs.values() for c in d["chunk_ids"]]
    manifest = Manifest.from_json({**st.header, "docs": docs, "n_chunks": len(chunk_ids)})
    return MilvusIndex(client, names, visible, manifest, chunk_ids, doc_gens)


def count_live_chunks(settings: Settings) -> int:
    """Chunks in the live generation, counted by Milvus."""
    client, _, names, visible = _live(settings)
    got = client.query(names[0], filter=visible, output_fields=["count(*)"], consistency_level="Strong")
    return int(got[0]["count(*)"])  # Strong: the rows a build has just committed are counted too


def _query_all(client, coll: str, expr: str, fields: list[str], page: int = 4096) -> Iterator[dict]:
    """Every matching row, a page at a time, with Milvus's query iterator: it pages by primary key
    (`pk > last`, rows in key order) at one snapshot timestamp, so it has no offset cap (a server
    refuses offset + limit above 16,384) and a build committing meanwhile does not shift the pages."""
    it = client.query_iterator(coll, batch_size=page, filter=expr, output_fields=fields)
    try:
        while batch := it.next():
            yield from batch
    finally:
        it.close()


class _NoLiteTimestamp(logging.Filter):
    """Milvus Lite returns no snapshot timestamp to the query iterator, which then warns and uses the
    client's clock; one process owns a Lite file, so that clock is as good."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "mvccTs" not in record.getMessage()


logging.getLogger("pymilvus.client.iterator.query_iterator").addFilter(_NoLiteTimestamp())
