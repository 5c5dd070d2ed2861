"""Hostile input, crashes and concurrency: each case from docs/reliability.md, tried for real."""

import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from rag.embed import HashEmbedder
from rag.indexer import build_index
from rag.ingest import read_document
from rag.store import load_index

ROOT = Path(__file__).resolve().parent.parent
FAKE_ENV = {"RAG_EMBED_MODEL": "hash-256", "RAG_BACKEND": "extractive", "RAG_ABSTAIN_SCORE": "0.05",
            "RAG_SUPPORT_THRESHOLD": "0.5"}


def test_messy_folder_builds_and_reports_counts(fake_settings, corpus):
    (corpus / "empty.txt").write_bytes(b"")
    (corpus / "binary.txt").write_bytes(os.urandom(4096))
    (corpus / "nul.txt").write_bytes(b"text\x00with\x00nul" * 200)
    (corpus / "gbk.txt").write_bytes("北京人工智能企业数量众多。".encode("gbk"))
    (corpus / "utf16.txt").write_bytes("深圳有很多机器人公司。".encode("utf-16"))
    (corpus / "bad.pdf").write_bytes(b"%PDF-1.7\n1 0 obj<<>>\ntrailer<</Root 9 0 R>>")
    (corpus / "bad.docx").write_bytes(b"PK\x03\x04" + os.urandom(100))
    (corpus / "loop").mkdir()
    (corpus / "loop" / "self").symlink_to(corpus / "loop")
    (corpus / "dangling.txt").symlink_to(corpus / "missing.txt")
    (corpus / "twin.txt").write_bytes((corpus / "001_53cdb50f1de54eeb.txt").read_bytes())
    warnings = []
    s = build_index(fake_settings, HashEmbedder(256), quiet=True, warn=warnings.append)
    assert s.docs_added == 7  # 5 seeds + GBK + UTF-16
    assert s.docs_skipped == len(warnings) >= 6
    assert all("\n" not in w for w in warnings)
    ix = load_index(fake_settings.index_path)
    assert {"gbk", "utf16"} <= set(ix.manifest.docs)
    assert len(ix.chunks) == ix.dense.ntotal == len(ix.chunk_vectors(list(range(len(ix.chunks)))))


@pytest.mark.skipif(os.geteuid() == 0, reason="root can read files without read permission")
def test_unreadable_file_is_skipped(fake_settings, corpus):
    f = corpus / "secret.txt"
    f.write_text("secret")
    f.chmod(0)
    s = build_index(fake_settings, HashEmbedder(256), quiet=True, warn=lambda m: None)
    assert any("permission denied" in line for line in s.skipped)


@pytest.mark.slow
def test_fifty_megabyte_text_file(tmp_path):
    f = tmp_path / "big.txt"
    line = "上海人工智能产业规模持续增长，企业数量超过一千家。Shanghai keeps growing its AI industry.\n"
    f.write_text(line * (50 * 1024 * 1024 // len(line.encode())), encoding="utf-8")
    doc = read_document(f)
    assert len(doc.text) > 10_000_000


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_kill_during_index_never_breaks_the_index(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    rng = random.Random(0)
    words = "shanghai beijing chip model data compute factory robot city policy".split()
    for i in range(400):
        (corpus / f"d{i:03d}.txt").write_text(" ".join(rng.choice(words) for _ in range(800)) + ".")
    index = tmp_path / "index"
    env = {**os.environ, **FAKE_ENV}
    cmd = [sys.executable, "-m", "rag", "index", "--corpus", str(corpus), "--index", str(index), "--json"]
    subprocess.run(cmd, env=env, cwd=ROOT, check=True, capture_output=True)
    survived = 0
    for delay in (0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 4.0):
        for f in list(corpus.glob("d0*.txt"))[:50]:  # change 50 documents so the build has work to do
            f.write_text(f.read_text() + f" extra {delay}.")
        p = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(delay)
        p.send_signal(signal.SIGKILL)
        p.wait()
        ix = load_index(index)  # the previous or the new generation, never a broken one
        assert len(ix.chunks) == ix.dense.ntotal == len(ix.chunk_vectors(list(range(len(ix.chunks))))) > 0
        survived += 1
    assert survived == 7
    done = subprocess.run(cmd, env=env, cwd=ROOT, check=True, capture_output=True, text=True)
    assert '"docs_skipped": 0' in done.stdout


@pytest.mark.slow
def test_concurrent_sessions_do_not_leak(tmp_path):
    from gradio_client import Client

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    cities = ["Shanghai", "Beijing", "Shenzhen", "Hangzhou", "Suzhou", "Nanjing", "Chengdu", "Wuhan"]
    for i, city in enumerate(cities):
        (corpus / f"{city}.txt").write_text(f"{city} report.\n\n{city} has {1000 + i} robot companies. "
                                            f"The {city} robot industry employs {50 + i} thousand people.")
    port = _free_port()
    env = {**os.environ, **FAKE_ENV}
    proc = subprocess.Popen([sys.executable, "-m", "rag", "chat", "--corpus", str(corpus), "--index",
                             str(tmp_path / "index"), "--port", str(port)], env=env, cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 90
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert time.time() < deadline and proc.poll() is None
                time.sleep(0.5)
        url = f"http://127.0.0.1:{port}/"
        errors, results = [], {}

        def session(city: str, n: int) -> None:
            try:
                c = Client(url, verbose=False)
                first = c.predict(f"How many robot companies does {city} have?", api_name="/chat")
                follow = c.predict("And how many people does it employ?", api_name="/chat")
                results[city] = (first, follow)
            except Exception as e:  # noqa: BLE001
                errors.append(f"{city}: {e!r}")

        threads = [threading.Thread(target=session, args=(c, i)) for i, c in enumerate(cities)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=300)
        assert not errors, errors
        assert len(results) == 8
        for i, city in enumerate(cities):
            first, follow = results[city]
            assert str(1000 + i) in first["answer"] and not first["abstained"]
            assert city in follow["rewritten_question"]  # its own history, nobody else's
            assert all(other not in follow["rewritten_question"] for other in cities if other != city)

        # memory stays flat over 100 more questions (each from a fresh session)
        def rss_mb() -> float:
            text = Path(f"/proc/{proc.pid}/status").read_text()
            return int(next(line.split()[1] for line in text.splitlines() if line.startswith("VmRSS"))) / 1024

        before = rss_mb()
        for n in range(100):
            city = cities[n % 8]
            r = Client(url, verbose=False).predict(f"How many people does the {city} robot industry employ?",
                                                   api_name="/chat")
            assert str(50 + n % 8) in r["answer"]
        growth = rss_mb() - before
        print(f"server RSS {before:.0f} MB -> {before + growth:.0f} MB after 100 questions")
        assert growth < 60, f"server memory grew by {growth:.0f} MB over 100 questions"
    finally:
        proc.terminate()
        proc.wait(timeout=20)
