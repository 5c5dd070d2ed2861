"""Writing a Milvus store (see milvus_store.py for the layout): create a set of collections, insert
the rows of added and changed documents under the next generation a batch at a time, then commit it
with one record. Vectors are FLOAT_VECTOR: Milvus Lite (3.2) refuses FLOAT16_VECTOR fields."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from .milvus_store import MilvusIndex, _client, _names, _q, _query_all, _State, _state, load_collection
from .records import Chunk
from .settings import Settings
from .store import Sentences
from .text import search_tokens

MAX_TEXT = 65_535  # Milvus VARCHAR limit (bytes)
ANALYZER = {"tokenizer": "jieba", "filter": ["lowercase"]}
BM25_PARAMS = {"bm25_k1": 1.5, "bm25_b": 0.75}  # bm25s's defaults, as the FAISS store's keyword index


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
    load_collection(client, meta)
    return meta


def _tidy(client, prefix: str, st: _State) -> None:
    """Delete what no reader can see: rows of a killed build (gen > live), its retired records, and rows
    retired before the live generation (readers of the previous generation still see those retired at it)."""
    meta = f"{prefix}_meta"
    names = _names(prefix, st.set)
    for name in names:
        load_collection(client, name)
        client.delete(name, filter=f"gen > {st.live}")
    records = list(_query_all(client, meta, f'key like {_q(f"retired:{st.set}:%")}', ["key", "value"]))
    stale = [r for r in records if json.loads(r["value"])["at"] > st.live]
    old = [r for r in records if json.loads(r["value"])["at"] < st.live]
    if old:
        gens = [r["key"].split(":", 2)[2] for r in old]
        for name in names:
            client.delete(name, filter=f"doc_gen in {json.dumps(gens, ensure_ascii=False)}")
    if stale or old:
        client.delete(meta, ids=[r["key"] for r in stale + old])
    currents = sorted(r["key"] for r in _query_all(client, meta, 'key like "current:%"', ["key"]))
    if len(currents) > 2:
        client.delete(meta, ids=currents[:-2])
    _drop_sets(client, prefix, keep={st.set, st.previous_set})


def _drop_sets(client, prefix: str, keep: set[str]) -> None:
    ours = re.compile(rf"{re.escape(prefix)}_(s\d+)_(chunks|sentences|docs)")
    for name in client.list_collections():
        if (m := ours.fullmatch(name)) and m.group(1) not in keep:
            client.drop_collection(name)


@dataclass(frozen=True)
class Batch:
    """Rows written together: the documents that start here (id -> manifest entry, chunk ids included)
    and up to `index_batch` chunks with their place in their document, vectors and sentences (whose
    spans index `chunks`). A document longer than a batch continues in the next ones."""

    docs: dict[str, dict]
    chunks: list[Chunk]
    seqs: list[int]
    vectors: np.ndarray  # (len(chunks), dim) float32
    sentences: Sentences


class MilvusWriter:
    """One generation being written. Opening it tidies what a killed build left and picks the set of
    collections (a new one when `prev` is None); `add` inserts batches; nothing is visible to readers
    until `commit` writes the generation's single record.

    >>> w = MilvusWriter(settings, dim=768, prev=index)  # doctest: +SKIP
    >>> w.add(batch); w.remove(["old_doc"]); w.commit(header)  # doctest: +SKIP
    """

    def __init__(self, settings: Settings, dim: int, prev: MilvusIndex | None):
        self.client, self.prefix = _client(settings), settings.milvus_collection
        self.meta = _ensure_meta(self.client, self.prefix)
        self.st = st = _state(self.client, self.prefix)
        if st is not None:
            _tidy(self.client, self.prefix, st)
        self.gen = (st.live if st else 0) + 1
        if prev is None or st is None:
            self.set = f"s{self.gen}"
            for name in _names(self.prefix, self.set):  # left by a killed full rebuild
                if self.client.has_collection(name):
                    self.client.drop_collection(name)
            _create_set(self.client, self.prefix, self.set, dim)
            self.old_gens: dict[str, str] = {}
        else:
            self.set, self.old_gens = st.set, prev.doc_gens
        self.names = _names(self.prefix, self.set)
        for name in self.names:
            load_collection(self.client, name)

    def _doc_gen(self, doc_id: str) -> str:
        return f"{doc_id}@{self.gen}"

    def add(self, batch: Batch) -> None:
        """Insert a batch under this generation; the previous versions of its documents are retired
        (at this generation: readers of the live one still see them)."""
        chunks_c, sentences_c, docs_c = self.names
        self._retire(batch.docs)
        _insert(self.client, docs_c, [
            {"doc_id": d, "doc_gen": self._doc_gen(d), "gen": self.gen, "v": [0.0, 0.0],
             "entry": json.dumps({k: v for k, v in e.items() if k != "chunk_ids"}, ensure_ascii=False)}
            for d, e in batch.docs.items()])
        _insert(self.client, chunks_c, [
            {"chunk_id": c.id, "doc_id": c.doc_id, "doc_gen": self._doc_gen(c.doc_id), "gen": self.gen, "seq": s,
             "start": c.start, "end": c.end, "lang": c.lang, "text": _fit(c.text),
             "keywords": _fit(" ".join(search_tokens(c.text))), "vector": batch.vectors[i].tolist()}
            for i, (c, s) in enumerate(zip(batch.chunks, batch.seqs, strict=True))])
        floats = batch.sentences.stored().floats()  # the values the FAISS store keeps (4-bit codes)
        new = batch.chunks
        _insert(self.client, sentences_c, [
            {"chunk_id": new[r].id, "doc_id": new[r].doc_id, "doc_gen": self._doc_gen(new[r].doc_id),
             "gen": self.gen, "seq": j, "start": int(a), "end": int(b), "vector": floats[j].tolist()}
            for j, (r, a, b) in enumerate(batch.sentences.spans.tolist())])

    def remove(self, doc_ids: Iterable[str]) -> None:
        """Documents no longer in the corpus: retired at this generation."""
        self._retire(doc_ids)

    def _retire(self, doc_ids: Iterable[str]) -> None:
        gens = [self.old_gens[d] for d in doc_ids if d in self.old_gens]
        _insert(self.client, self.meta, [{"key": f"retired:{self.set}:{g}", "value": json.dumps({"at": self.gen}),
                                          "v": [0.0, 0.0]} for g in gens])

    def commit(self, header: dict[str, Any]) -> None:
        """Flush every row, then write the commit record (the manifest header: no documents)."""
        for name in (*self.names, self.meta):
            self.client.flush(name)
        st = self.st
        previous = st.set if st and st.set != self.set else (st.previous_set if st else "")
        _commit(self.client, self.meta, self.gen, {"set": self.set, "live": self.gen,
                                                   "header": {**header, "faiss_type": "milvus",
                                                              "created": time.time()},
                                                   "previous_set": previous})
        _drop_sets(self.client, self.prefix, keep={self.set, previous})  # after a full rebuild: sets no reader holds


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
