import gzip
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from rag import retrieve, store
from rag.embed import HashEmbedder
from rag.indexer import build_index
from rag.retrieve import Retriever
from rag.store import IndexError_, LockedError, build_lock, load_index

ROOT = Path(__file__).resolve().parent.parent


def test_incremental_updates(fake_settings, corpus):
    emb = HashEmbedder(256)
    first = build_index(fake_settings, emb, quiet=True)
    assert (first.docs_added, first.chunks_embedded) == (5, first.chunks_total)
    live = store.current_generation(fake_settings.index_path)
    again = build_index(fake_settings, emb, quiet=True)
    assert (again.docs_unchanged, again.chunks_embedded, again.chunks_total) == (5, 0, first.chunks_total)
    assert store.current_generation(fake_settings.index_path) == live and "write" not in again.stages

    changed = corpus / "004_2480b54b5f9018f0.txt"
    changed.write_text(changed.read_text() + "\n\nA new closing paragraph about chips.", encoding="utf-8")
    upd = build_index(fake_settings, emb, quiet=True)
    ix = load_index(fake_settings.index_path)
    n_004 = len(ix.manifest.docs["004_2480b54b5f9018f0"]["chunk_ids"])
    assert (upd.docs_changed, upd.docs_unchanged, upd.chunks_embedded) == (1, 4, n_004)
    assert any("closing paragraph" in c.text for c in ix.chunks)

    (corpus / "001_53cdb50f1de54eeb.txt").unlink()
    rem = build_index(fake_settings, emb, quiet=True)
    ix = load_index(fake_settings.index_path)
    assert rem.docs_removed == 1 and rem.chunks_embedded == 0
    assert not any(c.doc_id == "001_53cdb50f1de54eeb" for c in ix.chunks)
    assert len(ix.chunks) == ix.dense.ntotal == len(ix.chunk_vectors(np.arange(len(ix.chunks))))


def test_reused_vectors_equal_fresh_ones(fake_settings, corpus):
    emb = HashEmbedder(256)
    build_index(fake_settings, emb, quiet=True)
    (corpus / "000_3607fdf8deb3dfac.txt").write_text("Fresh text about robots.", encoding="utf-8")
    build_index(fake_settings, emb, quiet=True)
    ix = load_index(fake_settings.index_path)
    fresh = emb.embed([c.text for c in ix.chunks], kind="document")
    assert abs(fresh - ix.chunk_vectors(np.arange(len(ix.chunks)))).max() < 1e-3  # read back from the search index


def test_model_change_forces_full_rebuild(fake_settings):
    build_index(fake_settings, HashEmbedder(256), quiet=True)
    s = build_index(fake_settings.replace(embed_model="hash-128"), HashEmbedder(128), quiet=True)
    assert "embedding model changed" in s.rebuilt_reason and s.chunks_embedded == s.chunks_total
    assert load_index(fake_settings.index_path).manifest.embed_model == "hash-128"


def test_bad_files_are_skipped_and_counted(fake_settings, corpus):
    (corpus / "empty.txt").write_text("")
    (corpus / "bad.pdf").write_bytes(b"%PDF garbage")
    (corpus / "copy.txt").write_bytes((corpus / "004_2480b54b5f9018f0.txt").read_bytes())
    s = build_index(fake_settings, HashEmbedder(256), quiet=True, warn=lambda m: None)
    assert s.docs_skipped == 3 and s.docs_added == 5
    assert any("duplicate of" in line for line in s.skipped)


def test_crash_during_write_leaves_previous_index(fake_settings, corpus, monkeypatch):
    emb = HashEmbedder(256)
    build_index(fake_settings, emb, quiet=True)
    before = [c.id for c in load_index(fake_settings.index_path).chunks]
    (corpus / "000_3607fdf8deb3dfac.txt").write_text("Replaced text.", encoding="utf-8")

    def boom(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr(store, "_fsync_tree", boom)
    with pytest.raises(OSError):
        build_index(fake_settings, emb, quiet=True)
    assert [c.id for c in load_index(fake_settings.index_path).chunks] == before


def test_second_build_is_refused_while_one_runs(fake_settings):
    with build_lock(fake_settings.index_path):
        with pytest.raises(LockedError, match="another `rag index`"):
            build_index(fake_settings, HashEmbedder(256), quiet=True)


def test_lock_is_released_when_the_holder_is_killed(fake_settings):
    code = ("import sys, time; from pathlib import Path; from rag.store import build_lock\n"
            f"with build_lock(Path({str(fake_settings.index_path)!r})):\n    print('held', flush=True); time.sleep(60)")
    p = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, cwd=ROOT)
    assert p.stdout.readline().strip() == "held"
    with pytest.raises(LockedError):
        with build_lock(fake_settings.index_path):
            pass
    p.kill()
    p.wait()
    with build_lock(fake_settings.index_path):
        pass


def test_damaged_manifest_names_the_fix(fake_settings):
    build_index(fake_settings, HashEmbedder(256), quiet=True)
    gen = store.current_generation(fake_settings.index_path)
    (gen / "manifest.json").write_text("{not json")
    with pytest.raises(IndexError_, match="rag index --rebuild"):
        load_index(fake_settings.index_path)
    (gen / "manifest.json").write_text(json.dumps({"format_version": 2}))
    with pytest.raises(IndexError_, match="rag index --rebuild"):
        load_index(fake_settings.index_path)
    s = build_index(fake_settings, HashEmbedder(256), quiet=True, warn=lambda m: None)
    assert "unusable" in s.rebuilt_reason
    assert load_index(fake_settings.index_path).manifest.n_chunks == s.chunks_total


def test_chunk_texts_are_compressed_and_older_plain_generations_still_load(fake_settings):
    build_index(fake_settings, HashEmbedder(256), quiet=True)
    gen = store.current_generation(fake_settings.index_path)
    packed = gen / "chunks.jsonl.gz"
    chunks = load_index(fake_settings.index_path).chunks
    plain = gzip.decompress(packed.read_bytes())
    assert packed.stat().st_size < len(plain) / 2 and not (gen / "chunks.jsonl").exists()
    # a generation written before chunks were compressed: plain JSON lines, same chunks, no rebuild
    (gen / "chunks.jsonl").write_bytes(plain)
    packed.unlink()
    assert load_index(fake_settings.index_path).chunks == chunks
    # a truncated compressed file is reported as damage with the fix, not as a crash
    (gen / "chunks.jsonl").unlink()
    packed.write_bytes(gzip.compress(plain)[:-40])
    with pytest.raises(IndexError_, match="damaged.*rag index --rebuild"):
        load_index(fake_settings.index_path)


def test_index_cli_json_summary(fake_settings):
    env = {**os.environ, "RAG_EMBED_MODEL": "hash-256"}
    args = [sys.executable, "-m", "rag", "index", "--json", "--corpus", fake_settings.corpus_dir,
            "--index", fake_settings.index_dir]
    out = subprocess.run(args, capture_output=True, text=True, env=env, cwd=ROOT, check=True)
    summary = json.loads(out.stdout)
    assert {"docs_added", "docs_changed", "docs_removed", "docs_unchanged", "docs_skipped", "chunks_total",
            "chunks_embedded", "seconds"} <= set(summary)
    again = json.loads(subprocess.run(args, capture_output=True, text=True, env=env, cwd=ROOT, check=True).stdout)
    assert again["chunks_embedded"] == 0


def test_cli_errors_are_one_line(tmp_path):
    out = subprocess.run([sys.executable, "-m", "rag", "index", "--corpus", str(tmp_path / "nope"),
                          "--index", str(tmp_path / "ix")], capture_output=True, text=True,
                         env={**os.environ, "RAG_EMBED_MODEL": "hash-256"}, cwd=ROOT)
    assert out.returncode == 1
    assert out.stderr.strip().startswith("rag: error:") and len(out.stderr.strip().splitlines()) == 1


def test_rebuild_while_answering(fake_settings, corpus):
    """Questions keep being answered, from a consistent index, while documents change and rebuild."""
    import threading

    from rag.answer import Pipeline
    from rag.generate import ExtractiveGenerator

    emb = HashEmbedder(256)
    build_index(fake_settings, emb, quiet=True)
    pipe = Pipeline(fake_settings, emb, ExtractiveGenerator(), load_index(fake_settings.index_path))
    errors, answers = [], []

    def rebuilds():
        try:
            for i in range(5):
                (corpus / f"extra{i}.txt").write_text(f"Extra note {i}: Ningbo has {100 + i} robot makers.")
                build_index(fake_settings, emb, quiet=True)
                pipe.reload_index()
        except Exception as e:  # noqa: BLE001
            errors.append(e)

    t = threading.Thread(target=rebuilds)
    t.start()
    while t.is_alive() or len(answers) < 10:
        a = pipe.ask("How many key artificial intelligence companies does Shanghai have?")
        answers.append(a)
    t.join()
    assert not errors
    assert all("1,149" in a.text for a in answers)
    assert "Ningbo" in pipe.ask("How many robot makers does Ningbo have?").text


def test_large_index_rescores_candidates_like_the_full_sentence_search(fake_settings, monkeypatch):
    emb = HashEmbedder(256)
    build_index(fake_settings, emb, quiet=True)
    ix = load_index(fake_settings.index_path)
    qv = emb.embed(["上海有多少家重点人工智能企业"], kind="query")[0]
    retriever = Retriever(ix, emb, fake_settings)
    full_rows, full_scores = retriever.sentences(qv, 10)
    monkeypatch.setattr(retrieve, "SENTENCE_SEARCH_MAX", 0)
    everything = np.arange(len(ix.chunks))
    rows, scores = retriever.sentences(qv, 10, everything)
    assert np.allclose(scores, full_scores, atol=1e-3)  # same ranking (overlapping chunks may tie)
    full = dict(zip(full_rows.tolist(), full_scores.tolist(), strict=True))
    assert all(abs(full.get(r, -9) - s) < 1e-3 for r, s in zip(rows.tolist(), scores.tolist(), strict=True))
    some = full_rows[[0, 3, 8]]  # only candidates are ranked, in the same relative order
    assert retriever.sentences(qv, 10, some[::-1])[0].tolist() == some.tolist()
    assert len(retriever.sentences(qv, 10, None)[0]) == 0


def test_4bit_sentence_vectors_keep_similarities_and_do_not_drift():
    rng = np.random.default_rng(0)
    v = rng.standard_normal((200, 768)).astype(np.float32)
    v[:, :4] *= 12  # a few large components, like the real model's
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    v[0] = 0.0  # an empty row stays zero
    codes, scales, rot = store.Sentences(np.zeros((200, 3), np.int32), v).quantized()
    assert codes.dtype == np.uint8 and codes.shape == (200, 384) and scales.dtype == np.float32
    assert np.allclose(rot @ rot.T, np.eye(768), atol=1e-5)
    back = store.Sentences(np.zeros((200, 3), np.int32), codes, scales, rot)
    rows = np.array([5, 1, 199])
    q = v[7]
    assert np.abs(back.floats(rows) @ q - v[rows] @ q).max() < 0.02
    assert np.abs(back.scores(rows, q) - v[rows] @ q).max() < 0.02
    assert np.allclose(back.scores(rows, q), back.floats(rows) @ q, atol=1e-5)
    sims, true = back.floats(slice(1, None)) @ v[1:].T, v[1:] @ v[1:].T
    assert np.abs(sims - true).std() < 0.006
    assert not back.floats(slice(0, 1)).any()
    # a rebuild reuses decoded rows: with the same rotation they get the same codes back
    again = store.Sentences(np.zeros((200, 3), np.int32), back.floats(), rotation=rot).quantized()
    assert np.array_equal(again[0], codes) and np.allclose(again[1], scales)
    odd = store.Sentences(np.zeros((3, 3), np.int32), v[1:4, :7].copy()).stored()  # odd widths pad a code
    assert odd.vectors.shape == (3, 4) and odd.floats().shape == (3, 7)


def test_large_collections_get_a_float16_hnsw_graph_that_finds_the_exact_neighbours(monkeypatch, tmp_path):
    import faiss

    monkeypatch.setattr(store, "EXACT_MAX", 500)
    rng = np.random.default_rng(0)
    vecs = rng.standard_normal((3000, 32)).astype(np.float32)
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    added: list[int] = []
    index = store.build_dense(vecs, added.append)
    assert isinstance(index, faiss.IndexHNSWSQ) and sum(added) == 3000
    faiss.write_index(index, str(tmp_path / "d.faiss"))
    loaded = faiss.read_index(str(tmp_path / "d.faiss"))
    assert loaded.hnsw.efSearch == store.ef_search(3000)
    rows = np.array([0, 7, 2999])  # the chunk vectors are read back from the graph's float16 copy
    assert np.array_equal(loaded.reconstruct_batch(rows), vecs[rows].astype(np.float16).astype(np.float32))
    queries = vecs[:50] + 0.1 * rng.standard_normal((50, 32)).astype(np.float32)
    exact = np.argsort(-(queries @ vecs.T), axis=1)[:, :10]
    found = loaded.search(queries, 10)[1]
    recall = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(found, exact, strict=True)])
    assert recall >= 0.95
    assert isinstance(store.build_dense(vecs[:400]), faiss.IndexFlatIP)


def test_changing_how_sentence_vectors_are_made_rebuilds(fake_settings):
    build_index(fake_settings.replace(sentence_vectors="separate"), HashEmbedder(256), quiet=True)
    s = build_index(fake_settings.replace(sentence_vectors="late"), HashEmbedder(256), quiet=True)
    assert "sentence vectors changed (separate -> late)" in s.rebuilt_reason
    ix = load_index(fake_settings.index_path)
    assert ix.manifest.sentence_vectors == "late"
    assert set(s.stages) == {"read", "chunk", "embed", "write"}
    spans, vecs = ix.chunk_sentences(0)
    text = ix.chunks[0].text
    fresh = HashEmbedder(256).embed([text[a:b] for a, b in spans])
    cos = (vecs * fresh).sum(axis=1) / np.linalg.norm(vecs, axis=1)
    assert cos.min() > 0.97  # 4-bit codes on disk


def test_an_index_of_an_older_format_is_rebuilt_with_a_plain_reason(fake_settings):
    build_index(fake_settings, HashEmbedder(256), quiet=True)
    gen = store.current_generation(fake_settings.index_path)
    manifest = json.loads((gen / "manifest.json").read_text())
    manifest["format_version"] = store.FORMAT_VERSION - 1
    (gen / "manifest.json").write_text(json.dumps(manifest))
    s = build_index(fake_settings, HashEmbedder(256), quiet=True)
    assert s.rebuilt_reason == f"index format changed ({store.FORMAT_VERSION - 1} -> {store.FORMAT_VERSION}): full rebuild"
    assert s.chunks_embedded == s.chunks_total


def test_a_running_pipeline_loads_a_generation_another_process_published(fake_settings, corpus):
    from rag.pipeline import open_pipeline

    s = fake_settings.replace(reload_check=0.01)
    pipe = open_pipeline(s)
    q = "How many kiwi farms does Wellington have?"
    assert pipe.ask(q).abstained
    (corpus / "kiwi.txt").write_text("Wellington has 4,321 kiwi farms, the city's farm office says.", encoding="utf-8")
    build_index(s, pipe.embedder, quiet=True)  # what `rag index` in another process does
    time.sleep(0.02)
    a = pipe.ask(q)
    assert not a.abstained and "4,321" in a.text
    never = open_pipeline(s.replace(reload_check=0.0), ensure_index=False)
    (corpus / "kiwi.txt").unlink()
    build_index(s, pipe.embedder, quiet=True)
    time.sleep(0.02)
    assert "4,321" in never.ask(q).text  # reload_check 0: the index loaded at start is kept
    assert pipe.ask(q).abstained  # the other one follows the build that removed the document


def test_a_large_build_shows_progress_for_every_step_after_embedding(fake_settings, monkeypatch, capsys):
    import faiss

    monkeypatch.setattr(store, "EXACT_MAX", 10)  # the 45 seed chunks count as a large collection
    s = build_index(fake_settings, HashEmbedder(256), quiet=False)
    err = capsys.readouterr().err
    ix = load_index(fake_settings.index_path)
    n_sent = len(ix.sentences.spans)
    assert "sentence codes: 100%" in err and f"{n_sent}/{n_sent}" in err
    assert "building search graph: 100%" in err and "keyword index (word splitting): 100%" in err
    assert f"{s.chunks_total}/{s.chunks_total}" in err and isinstance(ix.dense, faiss.IndexHNSWSQ)


class QuickLateHash(HashEmbedder):
    """A fake whose quick (late) sentence vectors differ from the separate ones: every sentence gets its
    chunk's vector. Records the texts it embeds on their own."""

    def __init__(self, dim: int = 256):
        super().__init__(dim)
        self.embedded: list[str] = []

    def embed(self, texts, kind="document", titles=None, progress=None):
        self.embedded.extend(texts)
        return super().embed(texts, kind, titles, progress)

    def embed_chunks(self, texts, titles, spans, progress=None):
        vecs = super().embed(texts, titles=titles, progress=progress)
        return vecs, [np.repeat(v[None, :], len(s), axis=0) for v, s in zip(vecs, spans, strict=True)]


def _sentence_cosines(ix, emb) -> np.ndarray:
    """Cosine of every stored sentence vector with the sentence embedded on its own."""
    out = []
    for row, chunk in enumerate(ix.chunks):
        spans, vecs = ix.chunk_sentences(row)
        fresh = HashEmbedder(emb.dim).embed([chunk.text[a:b] for a, b in spans])
        out.append((vecs * fresh).sum(axis=1) / np.maximum(np.linalg.norm(vecs, axis=1), 1e-9))
    return np.concatenate(out)


def test_a_large_build_is_published_usable_then_its_sentence_vectors_refined(fake_settings, monkeypatch):
    from rag import indexer

    s = fake_settings.replace(usable_first=1)
    emb = QuickLateHash()
    seen = {}
    refine = indexer.embed_sentences

    def check_then_refine(*args, **kwargs):
        ix = load_index(s.index_path)  # what questions are answered from while the sentences are embedded
        seen["provisional"] = list(ix.manifest.provisional)
        seen["embedded_alone"] = len(emb.embedded)
        seen["quick"] = float(np.median(_sentence_cosines(ix, emb)))
        seen["hits"] = len(Retriever(ix, emb, s).search("Shanghai artificial intelligence companies").hits)
        return refine(*args, **kwargs)

    monkeypatch.setattr(indexer, "embed_sentences", check_then_refine)
    summary = build_index(s, emb, quiet=True)
    ix = load_index(s.index_path)
    assert len(seen["provisional"]) == 5 and seen["hits"] > 0
    assert seen["quick"] < 0.9 and seen["embedded_alone"] == 0  # quick vectors, from the chunks' pass only
    assert ix.manifest.provisional == [] and _sentence_cosines(ix, emb).min() > 0.97  # refined (4-bit codes)
    assert 0 < summary.usable_seconds <= summary.seconds and "refine" in summary.stages
    one = build_index(s.replace(usable_first=0, index_dir=str(fake_settings.index_path) + "-one"), HashEmbedder(256),
                      quiet=True)
    assert "refine" not in one.stages and one.usable_seconds == 0
    other = load_index(Path(str(fake_settings.index_path) + "-one"))
    assert [c.id for c in other.chunks] == [c.id for c in ix.chunks]
    assert np.abs(other.sentences.floats() - ix.sentences.floats()).max() < 1e-6  # the same index as one pass


def test_a_build_stopped_while_refining_is_usable_and_the_next_run_finishes_it(fake_settings, monkeypatch):
    from rag import indexer

    s = fake_settings.replace(usable_first=1)
    refine = indexer.embed_sentences

    def stopped(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(indexer, "embed_sentences", stopped)
    with pytest.raises(KeyboardInterrupt):
        build_index(s, QuickLateHash(), quiet=True)
    ix = load_index(s.index_path)
    assert len(ix.manifest.provisional) == 5 and len(ix.chunks) > 0
    monkeypatch.setattr(indexer, "embed_sentences", refine)
    emb = QuickLateHash()
    again = build_index(s, emb, quiet=True)
    ix = load_index(s.index_path)
    assert again.chunks_embedded == 0 and len(emb.embedded) == len(ix.sentences.spans)  # sentences only
    assert ix.manifest.provisional == [] and _sentence_cosines(ix, emb).min() > 0.97
    assert build_index(s, emb, quiet=True).stages.keys() == {"read", "chunk", "embed"}  # then nothing to do


def test_the_chat_serves_a_usable_index_while_its_sentence_vectors_are_refined(fake_settings):
    from rag.pipeline import open_pipeline

    s = fake_settings.replace(usable_first=1)
    lines: list[str] = []
    pipe = open_pipeline(s, embedder=QuickLateHash(), refine_in_background=True, warn=lines.append)
    assert len(pipe.index.manifest.provisional) == 5 and pipe.build_summary.provisional == 5  # loaded before refining
    assert not pipe.ask("How many AI companies does Shanghai have?").text == ""
    pipe.refining.join(timeout=60)
    assert not pipe.refining.is_alive() and pipe.index.manifest.provisional == []  # the refined index, loaded
    assert any("refined" in line for line in lines)
    again = open_pipeline(s, embedder=QuickLateHash(), refine_in_background=True, warn=lines.append)
    assert again.refining is None and again.build_summary.provisional == 0  # nothing left to refine


class SlowRefineHash(QuickLateHash):
    """Sentences embedded on their own (the refinement) take a while, so a refinement is running when asked."""

    def __init__(self, dim: int = 256):
        super().__init__(dim)
        import threading

        self.refining = threading.Event()

    def embed(self, texts, kind="document", titles=None, progress=None):
        if kind == "document" and titles is None:
            self.refining.set()
            time.sleep(1.0)
        return super().embed(texts, kind, titles, progress)


def test_an_upload_during_the_chats_refinement_waits_for_it_instead_of_failing(fake_settings):
    pytest.importorskip("gradio")
    from rag.pipeline import open_pipeline
    from rag.ui.app import reindex

    s = fake_settings.replace(usable_first=1)
    emb = SlowRefineHash()
    pipe = open_pipeline(s, embedder=emb, refine_in_background=True, warn=lambda m: None)
    assert emb.refining.wait(timeout=30) and pipe.refining.is_alive()  # it read the corpus and holds the lock
    (s.corpus_path / "lanterns.md").write_text("# Lanterns\n\nQuanzhou made 8,765 paper lanterns in 2023.\n",
                                               encoding="utf-8")
    lines: list[str] = []
    reindex(pipe, s, lines)  # before: LockedError ("another `rag index` is building …")
    assert not pipe.refining.is_alive() and lines[-1].startswith("indexed: 1 added")
    assert pipe.index.manifest.provisional == [] and "lanterns" in pipe.index.manifest.docs
