"""The Milvus store (`store = "milvus"`): the index in Milvus collections instead of files. A local
path as `milvus_uri` runs Milvus Lite in-process; `http(s)://host:19530` uses a Milvus server.

    <prefix>_meta             commit records: `current:<gen>` (set, generation, manifest header)
                              and `retired:<set>:<doc>@<gen>` (document versions replaced at a generation)
    <prefix>_<set>_chunks     chunk text and offsets, dense vector, BM25 (jieba) over the keyword text
    <prefix>_<set>_sentences  sentence spans and vectors, keyed by chunk id (the dense-sentence leg)
    <prefix>_<set>_docs       one row per document version: the manifest entry

Crash consistency: every row carries the generation `gen` that wrote it. A build inserts the rows of
new and changed documents with generation G+1 and the `retired` records of the versions they replace,
flushes, and only then inserts the `current:G+1` record (one insert: the commit point). Readers see
rows with `gen <= live` whose document version is not retired at or before `live`, so a build killed
at any moment leaves generation G served unchanged; the next build deletes its leftovers (`gen > live`).
Rows retired by earlier builds are deleted once no reader of the previous generation can need them.
A full rebuild (first build, model or chunking change) writes a new set of collections and switches
to it with the same commit record; the set before it is kept for readers still holding it.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .errors import RagError
from .records import Chunk, DocInfo
from .settings import Settings
from .store import FORMAT_VERSION, FormatChanged, IndexError_, Manifest, Sentences
from .text import search_tokens

MAX_TEXT = 65_535  # Milvus VARCHAR limit (bytes)
ANALYZER = {"tokenizer": "jieba", "filter": ["lowercase"]}
BM25_PARAMS = {"bm25_k1": 1.5, "bm25_b": 0.75}  # bm25s's defaults, as the FAISS store's keyword index
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
    client.load_collection(meta)
    rows = client.query(meta, filter='key like "current:%"', output_fields=["key", "value"], limit=16_384)
    if not rows:
        return None
    v = json.loads(max(rows, key=lambda r: r["key"])["value"])
    return _State(v["set"], int(v["live"]), v["header"], v.get("previous_set", ""))


def milvus_index_exists(settings: Settings) -> bool:
    return _state(_client(settings), settings.milvus_collection) is not None


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


def load_milvus_index(settings: Settings, expect_model: str | None = None) -> MilvusIndex:
    """The live generation; IndexError_ with the fix when there is none or it was built differently."""
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
        client.load_collection(name)
    retired = [r["key"].split(":", 2)[2] for r in client.query(
        f"{prefix}_meta", filter=f'key like {_q(f"retired:{st.set}:%")}', output_fields=["key", "value"],
        limit=16_384) if json.loads(r["value"])["at"] <= st.live]
    visible = _visible(st.live, retired)
    entries: dict[str, dict] = {}
    doc_gens: dict[str, str] = {}
    for r in _query_all(client, names[2], visible, ["doc_id", "doc_gen", "entry"]):
        entries[r["doc_id"]] = json.loads(r["entry"])
        doc_gens[r["doc_id"]] = r["doc_gen"]
    seqs: dict[str, list[tuple[int, str]]] = {d: [] for d in entries}
    for r in _query_all(client, names[0], visible, ["chunk_id", "doc_id", "seq"]):
        seqs.setdefault(r["doc_id"], []).append((int(r["seq"]), r["chunk_id"]))
    docs: dict[str, dict] = {}
    for doc_id in sorted(entries, key=lambda d: (Path(entries[d].get("path", "")), d)):  # the corpus order
        docs[doc_id] = {**entries[doc_id], "chunk_ids": [c for _, c in sorted(seqs.get(doc_id, []))]}
    chunk_ids = [c for d in docs.values() for c in d["chunk_ids"]]
    manifest = Manifest.from_json({**st.header, "docs": docs, "n_chunks": len(chunk_ids)})
    return MilvusIndex(client, names, visible, manifest, chunk_ids, doc_gens)


def _query_all(client, coll: str, expr: str, fields: list[str], page: int = 16_384) -> Iterator[dict]:
    """Every matching row, a page at a time (Milvus Lite has no query_iterator timestamps)."""
    offset = 0
    while True:
        batch = client.query(coll, filter=expr, output_fields=fields, limit=page, offset=offset)
        yield from batch
        if len(batch) < page:
            return
        offset += page


# --- writing -----------------------------------------------------------------------------------------

def _create_set(client, prefix: str, set_: str, dim: int) -> None:
    from pymilvus import DataType, Function, FunctionType

    chunks, sentences, docs = _names(prefix, set_)

    def base(extra):
        s = client.create_schema(auto_id=True)
        s.add_field("pk", DataType.INT64, is_primary=True)
        for name, kind, kw in extra:
            s.add_field(name, kind, **kw)
        return s

    key = [("chunk_id", DataType.VARCHAR, {"max_length": 1024}), ("doc_id", DataType.VARCHAR, {"max_length": 1024}),
           ("doc_gen", DataType.VARCHAR, {"max_length": 1100}), ("gen", DataType.INT64, {}),
           ("seq", DataType.INT64, {}), ("start", DataType.INT64, {}), ("end", DataType.INT64, {})]
    s = base([*key, ("lang", DataType.VARCHAR, {"max_length": 16}),
              ("text", DataType.VARCHAR, {"max_length": MAX_TEXT}),
              ("keywords", DataType.VARCHAR, {"max_length": MAX_TEXT, "enable_analyzer": True,
                                              "analyzer_params": ANALYZER}),
              ("vector", DataType.FLOAT_VECTOR, {"dim": dim}), ("sparse", DataType.SPARSE_FLOAT_VECTOR, {})])
    s.add_function(Function(name="bm25", function_type=FunctionType.BM25, input_field_names=["keywords"],
                            output_field_names=["sparse"]))
    ip = client.prepare_index_params()
    ip.add_index("vector", index_type="AUTOINDEX", metric_type="IP")
    ip.add_index("sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="BM25", params=BM25_PARAMS)
    client.create_collection(chunks, schema=s, index_params=ip)
    s = base([*key, ("vector", DataType.FLOAT_VECTOR, {"dim": dim})])
    ip = client.prepare_index_params()
    ip.add_index("vector", index_type="AUTOINDEX", metric_type="IP")
    client.create_collection(sentences, schema=s, index_params=ip)
    s = base([("doc_id", DataType.VARCHAR, {"max_length": 1024}), ("doc_gen", DataType.VARCHAR, {"max_length": 1100}),
              ("gen", DataType.INT64, {}), ("entry", DataType.VARCHAR, {"max_length": MAX_TEXT}),
              ("v", DataType.FLOAT_VECTOR, {"dim": 2})])  # Milvus wants a vector field in every collection
    ip = client.prepare_index_params()
    ip.add_index("v", index_type="AUTOINDEX", metric_type="L2")
    client.create_collection(docs, schema=s, index_params=ip)


def _ensure_meta(client, prefix: str) -> str:
    from pymilvus import DataType

    meta = f"{prefix}_meta"
    if not client.has_collection(meta):
        s = client.create_schema(auto_id=False)
        s.add_field("key", DataType.VARCHAR, is_primary=True, max_length=2048)
        s.add_field("value", DataType.VARCHAR, max_length=MAX_TEXT)
        s.add_field("v", DataType.FLOAT_VECTOR, dim=2)
        ip = client.prepare_index_params()
        ip.add_index("v", index_type="AUTOINDEX", metric_type="L2")
        client.create_collection(meta, schema=s, index_params=ip)
    client.load_collection(meta)
    return meta


def _tidy(client, prefix: str, st: _State) -> None:
    """Delete what no reader can see: rows of a killed build (gen > live), its retired records, and rows
    retired before the live generation (readers of the previous generation still see those retired at it)."""
    meta = f"{prefix}_meta"
    names = _names(prefix, st.set)
    for name in names:
        client.load_collection(name)
        client.delete(name, filter=f"gen > {st.live}")
    records = client.query(meta, filter=f'key like {_q(f"retired:{st.set}:%")}', output_fields=["key", "value"],
                           limit=16_384)
    stale = [r for r in records if json.loads(r["value"])["at"] > st.live]
    old = [r for r in records if json.loads(r["value"])["at"] < st.live]
    if old:
        gens = [r["key"].split(":", 2)[2] for r in old]
        for name in names:
            client.delete(name, filter=f"doc_gen in {json.dumps(gens, ensure_ascii=False)}")
    if stale or old:
        client.delete(meta, ids=[r["key"] for r in stale + old])
    currents = sorted(r["key"] for r in client.query(meta, filter='key like "current:%"', output_fields=["key"],
                                                    limit=16_384))
    if len(currents) > 2:
        client.delete(meta, ids=currents[:-2])
    _drop_sets(client, prefix, keep={st.set, st.previous_set})


def _drop_sets(client, prefix: str, keep: set[str]) -> None:
    ours = re.compile(rf"{re.escape(prefix)}_(s\d+)_(chunks|sentences|docs)")
    for name in client.list_collections():
        if (m := ours.fullmatch(name)) and m.group(1) not in keep:
            client.drop_collection(name)


def write_milvus(settings: Settings, manifest: Manifest, prev: MilvusIndex | None, new: list[Chunk],
                 vectors: np.ndarray, sentences: Sentences) -> None:
    """Commit a generation: `new` chunks (with their vectors and sentences) are the chunks of the
    documents added or changed since `prev`; with `prev` None everything is written to a new set."""
    client, prefix = _client(settings), settings.milvus_collection
    meta = _ensure_meta(client, prefix)
    st = _state(client, prefix)
    if st is not None:
        _tidy(client, prefix, st)
    gen = (st.live if st else 0) + 1
    if prev is None or st is None:
        set_ = f"s{gen}"
        for name in _names(prefix, set_):  # left by a killed full rebuild
            if client.has_collection(name):
                client.drop_collection(name)
        _create_set(client, prefix, set_, manifest.dim)
        old_docs: dict[str, dict] = {}
    else:
        set_, old_docs = st.set, prev.manifest.docs
    chunks_c, sentences_c, docs_c = _names(prefix, set_)
    for name in (chunks_c, sentences_c, docs_c):
        client.load_collection(name)
    written = [d for d, e in manifest.docs.items() if old_docs.get(d) != e]
    retired = [prev.doc_gens[d] for d in old_docs if d in prev.doc_gens and (d in written or d not in manifest.docs)]
    doc_gen = {d: f"{d}@{gen}" for d in written}
    seq = {cid: i for d in written for i, cid in enumerate(manifest.docs[d]["chunk_ids"])}
    _insert(client, docs_c, [{"doc_id": d, "doc_gen": doc_gen[d], "gen": gen, "v": [0.0, 0.0],
                              "entry": json.dumps({k: v for k, v in manifest.docs[d].items() if k != "chunk_ids"},
                                                  ensure_ascii=False)} for d in written])
    _insert(client, chunks_c, [
        {"chunk_id": c.id, "doc_id": c.doc_id, "doc_gen": doc_gen[c.doc_id], "gen": gen, "seq": seq[c.id],
         "start": c.start, "end": c.end, "lang": c.lang, "text": _fit(c.text),
         "keywords": _fit(" ".join(search_tokens(c.text))), "vector": vectors[i].tolist()}
        for i, c in enumerate(new)])
    q, scales = sentences.quantized()  # the values the FAISS store keeps (int8 with a scale per row)
    floats = q.astype(np.float32) * scales[:, None]
    _insert(client, sentences_c, [
        {"chunk_id": new[r].id, "doc_id": new[r].doc_id, "doc_gen": doc_gen[new[r].doc_id], "gen": gen,
         "seq": j, "start": int(a), "end": int(b), "vector": floats[j].tolist()}
        for j, (r, a, b) in enumerate(sentences.spans.tolist())])
    _insert(client, meta, [{"key": f"retired:{set_}:{g}", "value": json.dumps({"at": gen}), "v": [0.0, 0.0]}
                           for g in retired])
    for name in (chunks_c, sentences_c, docs_c, meta):
        client.flush(name)
    header = {k: v for k, v in vars(manifest).items() if k not in ("docs", "n_chunks")}
    header.update(faiss_type="milvus", created=time.time())
    previous = st.set if st and st.set != set_ else (st.previous_set if st else "")
    _commit(client, meta, gen, {"set": set_, "live": gen, "header": header, "previous_set": previous})
    _drop_sets(client, prefix, keep={set_, previous})  # after a full rebuild: sets no reader can hold


def _commit(client, meta: str, gen: int, record: dict[str, Any]) -> None:
    """The commit point: one inserted record; readers opening from now on see generation `gen`."""
    client.insert(meta, [{"key": f"current:{gen:012d}", "v": [0.0, 0.0],
                          "value": json.dumps(record, ensure_ascii=False)}])
    client.flush(meta)


def _fit(text: str) -> str:
    """Milvus caps VARCHAR at MAX_TEXT bytes (a chunk is a few hundred tokens: never in practice)."""
    b = text.encode("utf-8")
    return text if len(b) <= MAX_TEXT else b[:MAX_TEXT].decode("utf-8", "ignore")


def _insert(client, coll: str, rows: list[dict], batch: int = 1000) -> None:
    for a in range(0, len(rows), batch):
        client.insert(coll, rows[a:a + batch])
