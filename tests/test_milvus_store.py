"""The Milvus store (Milvus Lite in a temp folder) behind the FAISS store's interface: same hits,
sentences for the prompt, incremental updates, a killed build that leaves the old data served, and
`rag index` / `rag ask` through the settings."""

import json
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("pymilvus", reason="pymilvus not installed: pip install -e '.[milvus]'")
pytest.importorskip("milvus_lite", reason="milvus-lite not installed: pip install -e '.[milvus]'")

from rag import milvus_store, milvus_write  # noqa: E402
from rag.cli import main  # noqa: E402
from rag.embed import HashEmbedder  # noqa: E402
from rag.indexer import build_index  # noqa: E402
from rag.prompt import select_passages  # noqa: E402
from rag.retrieve import Retriever  # noqa: E402
from rag.store import open_index  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
QUERIES = ["上海有多少家重点人工智能企业？", "What is the number of AI core enterprises in China?", "我国智能算力规模有多大？",
           "What did Tao Qing say about large models?", "人工智能产业规模", "computing power"]
CHANGED, REMOVED = "004_2480b54b5f9018f0", "001_53cdb50f1de54eeb"


@pytest.fixture(autouse=True)
def _close_milvus():
    yield
    milvus_store.close_clients()  # each test's Milvus Lite folder is released


@pytest.fixture
def milvus_settings(fake_settings):
    return fake_settings.replace(store="milvus")


def _top(index, settings, q, k=5):
    return [h.chunk.id for h in Retriever(index, HashEmbedder(256), settings).search(q, k).hits]


def test_same_hits_and_sentences_as_faiss(fake_settings, milvus_settings, tmp_path):
    emb = HashEmbedder(256)
    faiss_s = fake_settings.replace(index_dir=str(tmp_path / "faiss_index"))
    build_index(faiss_s, emb, quiet=True)
    build_index(milvus_settings, emb, quiet=True)
    fi, mi = open_index(faiss_s), open_index(milvus_settings)
    assert isinstance(mi, milvus_store.MilvusIndex)
    assert not (Path(milvus_settings.index_dir) / "CURRENT").exists()  # no FAISS files were written
    assert [c.id for c in mi.chunks] == [c.id for c in fi.chunks] and list(mi.chunks) == list(fi.chunks)
    assert {d: {k: v for k, v in e.items()} for d, e in mi.manifest.docs.items()} == fi.manifest.docs
    no_kw = (fake_settings.replace(keyword_weight=0.0), milvus_settings.replace(keyword_weight=0.0))
    for q in QUERIES:
        # Identical sentences of overlapping chunks tie, and FAISS and Milvus order ties differently;
        # BM25 differs a little too (Milvus's jieba analyzer and statistics): the same best hit, and
        # at least 4 of the top 5, with and without the keyword leg
        for sf, sm in (no_kw, (fake_settings, milvus_settings)):
            a, b = _top(fi, sf, q), _top(mi, sm, q)
            assert a[0] == b[0] and len(set(a) & set(b)) >= 4, q
        qv = emb.embed([q], kind="query")[0]
        rf, rm = Retriever(fi, emb, fake_settings), Retriever(mi, emb, milvus_settings)
        (d1, s1), (d2, s2) = rf.dense(qv, 10), rm.dense(qv, 10)
        assert np.allclose(s1, s2, atol=1e-5) and set(d1[:5]) == set(d2[:5])  # same up to ties
        assert np.allclose(rf.sentences(qv, 10)[1], rm.sentences(qv, 10)[1], atol=1e-5)
        assert len(rm.keyword(q, 10)[0]) > 0  # BM25 (jieba analyzer) inside Milvus
        # the prompt's evidence: the same sentences of the same passages
        hits = Retriever(fi, emb, fake_settings).search(q).hits
        p1 = select_passages(hits, fi, qv, 120, lambda t: len(t) // 2)
        p2 = select_passages(hits, mi, qv, 120, lambda t: len(t) // 2)
        assert p1 == p2
    row = fi.row_of(fi.chunks[3].id)
    (sp1, v1), (sp2, v2) = fi.chunk_sentences(row), mi.chunk_sentences(row)
    assert (sp1 == sp2).all() and np.abs(v1 - v2).max() < 1e-6  # the FAISS store's int8 values, exactly
    assert np.abs(fi.chunk_vectors([0, 5]) - mi.chunk_vectors([0, 5])).max() < 1e-3
    assert mi.doc_info(CHANGED) == fi.doc_info(CHANGED)


def test_keyword_leg_matches_chinese_and_english_words(milvus_settings):
    build_index(milvus_settings, HashEmbedder(256), quiet=True)
    mi = open_index(milvus_settings)
    for word in ("算力", "Shanghai"):
        rows, _ = mi.search_keyword(word, 5)
        assert len(rows) and all(word.lower() in mi.chunks[int(r)].text.lower() for r in rows[:3]), word


@pytest.mark.parametrize("batch", [1024, 2])
def test_incremental_update_and_delete(milvus_settings, corpus, batch):
    milvus_settings = milvus_settings.replace(index_batch=batch)
    emb = HashEmbedder(256)
    first = build_index(milvus_settings, emb, quiet=True)
    assert (first.docs_added, first.chunks_embedded) == (5, first.chunks_total)
    again = build_index(milvus_settings, emb, quiet=True)
    assert (again.docs_unchanged, again.chunks_embedded) == (5, 0)

    changed = corpus / f"{CHANGED}.txt"
    changed.write_text(changed.read_text() + "\n\nA new closing paragraph about quantum chips.", encoding="utf-8")
    upd = build_index(milvus_settings, emb, quiet=True)
    ix = open_index(milvus_settings)
    n_changed = len(ix.manifest.docs[CHANGED]["chunk_ids"])
    assert (upd.docs_changed, upd.docs_unchanged, upd.chunks_embedded) == (1, 4, n_changed)
    assert sum("closing paragraph" in c.text for c in ix.chunks) == 1  # the old version is not served
    assert len({c.id for c in ix.chunks}) == len(ix.chunks) == upd.chunks_total
    assert "closing paragraph" in ix.chunks[ix.row_of(_top(ix, milvus_settings, "closing paragraph quantum chips")[0])].text

    n_removed = len(ix.manifest.docs[REMOVED]["chunk_ids"])
    (corpus / f"{REMOVED}.txt").unlink()
    rem = build_index(milvus_settings, emb, quiet=True)
    ix = open_index(milvus_settings)
    assert rem.docs_removed == 1 and rem.chunks_embedded == 0 and REMOVED not in ix.manifest.docs
    assert not any(c.doc_id == REMOVED for c in ix.chunks)
    for q in QUERIES:
        assert not any(cid.startswith(REMOVED) for cid in _top(ix, milvus_settings, q, 10))
    (corpus / "new.txt").write_text("A short new note about robots in Shenzhen.", encoding="utf-8")
    build_index(milvus_settings, emb, quiet=True)
    ix = open_index(milvus_settings)
    stored = ix.client.query(ix.names[0], filter="gen >= 0", output_fields=["doc_id"], limit=10_000)
    # rows of versions replaced two builds ago are deleted; the removed document's rows stay one more
    # generation, for readers that still hold the previous one
    assert sum(r["doc_id"] == CHANGED for r in stored) == len(ix.manifest.docs[CHANGED]["chunk_ids"])
    assert len(stored) == len(ix.chunks) + n_removed


def _many_small_documents(corpus: Path) -> int:
    """The seed corpus plus one file per paragraph of it (distinct texts): returns the number of files."""
    paras = [p.strip() for f in sorted(corpus.glob("*.txt")) for p in f.read_text(encoding="utf-8").split("\n\n")]
    paras = list(dict.fromkeys(p for p in paras if len(p) > 40))[:40]
    for i, p in enumerate(paras):
        (corpus / f"para_{i:03d}.txt").write_text(p, encoding="utf-8")
    return len(list(corpus.iterdir()))


def test_build_in_small_batches_is_the_same_index(milvus_settings, corpus, monkeypatch, capsys):
    """A build a few chunks at a time holds no more than that many chunks (and their vectors) at once,
    shows its progress, and gives the same index as a build in one batch."""
    n_files = _many_small_documents(corpus)
    emb = HashEmbedder(256)
    one = milvus_settings.replace(milvus_collection="one")
    whole = build_index(one, emb, quiet=True)
    batches: list[tuple[int, int]] = []  # (chunks, sentences) of each batch written
    add = milvus_write.MilvusWriter.add

    def counting_add(self, batch):
        batches.append((len(batch.chunks), len(batch.sentences.spans)))
        assert len(batch.vectors) == len(batch.chunks)
        return add(self, batch)

    embedded: list[int] = []  # texts per call to the embedder
    embed = HashEmbedder.embed

    def counting_embed(self, texts, *args, **kwargs):
        embedded.append(len(texts))
        return embed(self, texts, *args, **kwargs)

    monkeypatch.setattr(milvus_write.MilvusWriter, "add", counting_add)
    monkeypatch.setattr(HashEmbedder, "embed", counting_embed)
    small = milvus_settings.replace(milvus_collection="small", index_batch=3)
    capsys.readouterr()
    summary = build_index(small, emb, quiet=False)
    err = capsys.readouterr().err
    assert "indexing" in err and f"{n_files}/{n_files}" in err  # one bar over the corpus's files, with an ETA
    assert summary.to_json() | {"seconds": 0, "chunks_per_second": 0, "stages": {}} == \
        whole.to_json() | {"seconds": 0, "chunks_per_second": 0, "stages": {}}
    assert summary.files_seen == summary.docs_added + summary.docs_skipped == n_files
    assert len(batches) >= summary.chunks_total // 3 and max(c for c, _ in batches) == 3
    assert sum(c for c, _ in batches) == summary.chunks_embedded == summary.chunks_total
    most_sentences = max(s for _, s in batches)
    assert max(embedded) <= most_sentences < summary.chunks_total  # chunk and sentence texts: one batch's

    a, b = open_index(one), open_index(small)
    assert a.chunk_ids == b.chunk_ids and list(a.chunks) == list(b.chunks) and a.manifest.docs == b.manifest.docs
    rows = list(range(len(a.chunk_ids)))
    assert np.array_equal(a.chunk_vectors(rows), b.chunk_vectors(rows))
    for r in rows:
        (sa, va), (sb, vb) = a.chunk_sentences(r), b.chunk_sentences(r)
        assert np.array_equal(sa, sb) and np.array_equal(va, vb)
    for q in QUERIES:
        assert _top(a, one, q) == _top(b, small, q)

    read: list[str] = []  # collections read row by row
    real = milvus_store._query_all
    monkeypatch.setattr(milvus_store, "_query_all", lambda client, coll, *a, **k: read.append(coll) or
                        real(client, coll, *a, **k))
    (corpus / "robots.txt").write_text("A new paragraph about robots in Shenzhen.", encoding="utf-8")
    again = build_index(small, emb, quiet=True)
    assert "small_s1_docs" in read and not any(c.endswith("_chunks") for c in read)  # a build reads no chunk rows
    assert (again.docs_added, again.chunks_embedded) == (1, 1)
    assert again.chunks_total == summary.chunks_total + 1 == open_index(small).manifest.n_chunks


def test_reads_page_past_the_server_offset_cap(milvus_settings, monkeypatch):
    """Rows are read in pages by primary key (query_iterator), never with an offset: a Milvus server
    refuses offset + limit above 16,384."""
    build_index(milvus_settings, HashEmbedder(256), quiet=True)
    ix = open_index(milvus_settings)
    every = ix.client.query(ix.names[1], filter="gen >= 0", output_fields=["chunk_id", "seq"], limit=16_384)
    paged = list(milvus_store._query_all(ix.client, ix.names[1], "gen >= 0", ["chunk_id", "seq"], page=7))
    assert len(every) > 7 * 10 and sorted(map(str, paged)) == sorted(map(str, every))
    query = ix.client.query

    def capped(*args, **kwargs):
        assert not kwargs.get("offset") and kwargs.get("limit", 0) <= 16_384, "offset paging"
        return query(*args, **kwargs)

    monkeypatch.setattr(ix.client, "query", capped)
    real = milvus_store._query_all
    monkeypatch.setattr(milvus_store, "_query_all", lambda *a, page=4096: real(*a, page=5))
    again = open_index(milvus_settings)
    assert again.chunk_ids == ix.chunk_ids and again.manifest.docs == ix.manifest.docs


def _snapshot(settings):
    ix = open_index(settings)
    return [c.id for c in ix.chunks], {q: _top(ix, settings, q) for q in QUERIES}


def _edit(corpus: Path) -> None:
    changed = corpus / f"{CHANGED}.txt"
    changed.write_text(changed.read_text() + "\n\nA paragraph that never got committed.", encoding="utf-8")
    (corpus / f"{REMOVED}.txt").unlink()


@pytest.mark.parametrize("batch", [1024, 2])
def test_build_killed_before_commit_leaves_old_generation(milvus_settings, corpus, monkeypatch, batch):
    """Rows of the new generation are written and flushed (in many batches too), then the build dies
    before its commit record: readers still get the previous generation, and the next build finishes the job."""
    milvus_settings = milvus_settings.replace(index_batch=batch)
    emb = HashEmbedder(256)
    build_index(milvus_settings, emb, quiet=True)
    before = _snapshot(milvus_settings)
    _edit(corpus)

    def killed(*args, **kwargs):
        raise KeyboardInterrupt("killed before the commit")

    monkeypatch.setattr(milvus_write, "_commit", killed)
    with pytest.raises(KeyboardInterrupt):
        build_index(milvus_settings, emb, quiet=True)
    assert _snapshot(milvus_settings) == before  # the deleted document and the old text still served
    monkeypatch.undo()
    s = build_index(milvus_settings, emb, quiet=True)
    assert (s.docs_changed, s.docs_removed) == (1, 1)
    ix = open_index(milvus_settings)
    assert REMOVED not in ix.manifest.docs and any("never got committed" in c.text for c in ix.chunks)
    leftovers = ix.client.query(ix.names[0], filter="gen > 2", output_fields=["chunk_id"], limit=10_000)
    assert not leftovers  # the killed build's rows were deleted, not served


@pytest.mark.slow
def test_process_killed_mid_build_leaves_old_generation(milvus_settings, corpus):
    """A real SIGKILL of a `rag index` process after it wrote its rows, before the commit record."""
    emb = HashEmbedder(256)
    build_index(milvus_settings, emb, quiet=True)
    before = _snapshot(milvus_settings)
    milvus_store.close_clients()  # Milvus Lite: one process at a time
    _edit(corpus)
    script = textwrap.dedent(f"""
        import os, signal
        from rag import milvus_write
        from rag.cli import main
        milvus_write._commit = lambda *a, **k: os.kill(os.getpid(), signal.SIGKILL)
        main(["index", "--corpus", {str(corpus)!r}, "--index", {milvus_settings.index_dir!r}])
    """)
    env = {"PYTHONPATH": str(ROOT), "RAG_STORE": "milvus", "RAG_EMBED_MODEL": "hash-256",
           "RAG_CONFIG": "/nonexistent.toml", "PATH": "/usr/bin:/bin"}
    proc = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, timeout=300)
    assert proc.returncode == -9, proc.stderr.decode()[-500:]
    assert _snapshot(milvus_settings) == before


def test_index_file_cut_by_a_kill_is_rebuilt(milvus_settings, caplog):
    """Milvus Lite writes a segment's index file in place; a kill mid-write leaves it cut (seen in CI)."""
    build_index(milvus_settings, HashEmbedder(256), quiet=True)
    before = _snapshot(milvus_settings)
    milvus_store.close_clients()
    cut = list(Path(milvus_settings.milvus_target).glob("collections/*/partitions/*/indexes/*.idx"))
    assert cut
    for p in cut:
        p.write_bytes(b"")
    assert _snapshot(milvus_settings) == before
    assert "rebuilding" in caplog.text and all(p.stat().st_size > 0 for p in cut if p.exists())


def test_rag_index_and_ask_through_settings(milvus_settings, monkeypatch, capsys):
    for k, v in {"RAG_CORPUS_DIR": milvus_settings.corpus_dir, "RAG_INDEX_DIR": milvus_settings.index_dir,
                 "RAG_EMBED_MODEL": "hash-256", "RAG_CONFIG": "/nonexistent.toml", "RAG_STORE": "milvus",
                 "RAG_ABSTAIN_SCORE": "0.05", "RAG_SUPPORT_THRESHOLD": "0.5"}.items():
        monkeypatch.setenv(k, v)
    assert main(["index", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["docs_added"] == 5 and summary["chunks_embedded"] == summary["chunks_total"] > 0
    assert (Path(milvus_settings.index_dir) / "milvus.db").is_dir()  # default milvus_uri: <index_dir>/milvus.db
    q = "How many key artificial intelligence companies does Shanghai have?"
    assert main(["ask", "--backend", "extractive", "--json", q]) == 0
    record = json.loads(capsys.readouterr().out)
    assert not record["abstained"] and record["citations"] and "1,149" in record["answer"]


def test_milvus_uri_setting_and_rebuild_switches_sets(milvus_settings, tmp_path):
    s = milvus_settings.replace(milvus_uri=str(tmp_path / "elsewhere" / "m.db"), milvus_collection="docs_a")
    emb = HashEmbedder(256)
    for _ in range(3):
        build_index(s, emb, rebuild=True, quiet=True)
    ix = open_index(s)
    names = ix.client.list_collections()
    assert (tmp_path / "elsewhere" / "m.db").exists() and not Path(s.index_dir, "milvus.db").exists()
    assert len([n for n in names if n.endswith("_chunks")]) == 2  # the live set and the one before it
    assert ix.names[0] == "docs_a_s3_chunks" and len(ix.chunks) > 0


def test_missing_pymilvus_is_one_line(fake_env_milvus, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "pymilvus", None)
    milvus_store.close_clients()
    assert main(["index"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "pip install" in err[0] and "pymilvus" in err[0]


@pytest.fixture
def fake_env_milvus(monkeypatch, fake_settings):
    for k, v in {"RAG_CORPUS_DIR": fake_settings.corpus_dir, "RAG_INDEX_DIR": fake_settings.index_dir,
                 "RAG_EMBED_MODEL": "hash-256", "RAG_CONFIG": "/nonexistent.toml", "RAG_STORE": "milvus"}.items():
        monkeypatch.setenv(k, v)


def test_a_running_pipeline_follows_a_new_milvus_generation(milvus_settings, corpus):
    from rag.pipeline import open_pipeline

    s = milvus_settings.replace(reload_check=0.01)
    pipe = open_pipeline(s)
    before = milvus_store.milvus_live_version(s)
    q = "How many kiwi farms does Wellington have?"
    assert pipe.ask(q).abstained
    (corpus / "kiwi.txt").write_text("Wellington has 4,321 kiwi farms, the city's farm office says.", encoding="utf-8")
    build_index(s, pipe.embedder, quiet=True)
    assert milvus_store.milvus_live_version(s) != before
    time.sleep(0.02)
    assert "4,321" in pipe.ask(q).text
