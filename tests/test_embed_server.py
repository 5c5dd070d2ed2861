"""The embeddings-server backend against a local server of our own speaking the OpenAI protocol
(`POST /v1/embeddings`), backed by the hash fake so the right vectors are known."""

from __future__ import annotations

import json
import logging
import shutil
import threading
from http.server import BaseHTTPRequestHandler

import numpy as np
import pytest

from rag import remote
from rag.embed import HashEmbedder, Prompts, SentenceTransformerEmbedder, load_embedder
from rag.embed_server import KNOWN_PROMPTS, ServerEmbedder, load_server_embedder
from rag.indexer import build_index
from rag.remote import ServerError
from rag.settings import SettingsError, load_settings
from rag.store import load_index
from tests.conftest import SENTENCES


class FakeServer:
    """One fake embeddings server: what it was sent, statuses to answer first, vectors it returns."""

    def __init__(self, dim: int = 64, fail: tuple[int, ...] = (), distort: bool = False, model=None,
                 delay: float = 0.0):
        self.requests: list[dict] = []
        self.fail, self.distort, self.fake = list(fail), distort, model or HashEmbedder(dim)
        self.delay = delay  # seconds before answering

    @property
    def inputs(self) -> list[str]:
        return [t for r in self.requests for t in r["body"]["input"]]

    def handler(self) -> type[BaseHTTPRequestHandler]:
        state = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _send(self, status: int, payload: dict) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                state.requests.append({"path": self.path, "auth": self.headers.get("Authorization"), "body": body})
                threading.Event().wait(state.delay)
                if state.fail:
                    self._send(state.fail.pop(0), {"error": {"message": "overloaded,\nretry later"}})
                    return
                texts = [t[::-1] if state.distort else t for t in body["input"]]
                vecs = 3.0 * state.fake.embed(texts)  # not unit length: the client normalises
                data = [{"object": "embedding", "index": i, "embedding": v.tolist()} for i, v in enumerate(vecs)]
                self._send(200, {"object": "list", "model": body["model"], "data": data[::-1],  # any order
                                 "usage": {"prompt_tokens": 0, "total_tokens": 0}})

        return Handler


@pytest.fixture
def no_sleep(monkeypatch) -> list[float]:
    waits: list[float] = []
    monkeypatch.setattr(remote, "sleep", waits.append)
    return waits


def settings_for(url: str, **more):
    return load_settings(env={}, overrides={"embed_backend": "openai", "embed_url": url, "embed_model": "hash-64",
                                            **more})


def test_batches_normalised_rows_in_order_and_progress(serve):
    srv = FakeServer()
    e = load_server_embedder(settings_for(serve(srv.handler()), embed_batch=3, embed_check=False,
                                          embed_api_key="sk-1", embed_server_model="google/embeddinggemma-300m"))
    assert e.model_id == "openai:google/embeddinggemma-300m"  # unchecked vectors: another embedder for the index
    assert e.dim == 64 and len(srv.requests) == 1  # the dimension comes from one request on first use
    done: list[int] = []
    texts = SENTENCES + SENTENCES[:2]  # repeats are sent once
    out = e.embed(texts, progress=done.append)
    batches = [r["body"]["input"] for r in srv.requests[1:]]
    assert [len(b) for b in batches] == [3, 3, 2] and sum(done) == len(texts)
    assert np.allclose(out, HashEmbedder(64).embed(texts), atol=1e-6)
    req = srv.requests[-1]
    assert req["path"] == "/v1/embeddings" and req["auth"] == "Bearer sk-1"
    assert req["body"]["model"] == "google/embeddinggemma-300m"
    assert e.count_tokens(["上海 AI"]) == HashEmbedder().count_tokens(["上海 AI"])


def test_retries_busy_server_with_growing_waits(serve, no_sleep):
    srv = FakeServer(fail=(503, 429, 502))
    e = load_server_embedder(settings_for(serve(srv.handler()), embed_check=False))
    assert e.embed(["上海"]).shape == (1, 64)
    assert len(srv.requests) == 5 and no_sleep == [0.5, 1.0, 2.0]


def test_gives_up_with_one_line_naming_url_and_status(serve, no_sleep):
    url = serve(FakeServer(fail=(503,) * 9).handler())
    with pytest.raises(ServerError) as e:
        load_server_embedder(settings_for(url, embed_check=False)).embed(["上海"])
    msg = str(e.value)
    assert msg.startswith(f"embedding server at {url}/embeddings failed 5 times, last: HTTP 503")
    assert "\n" not in msg and len(no_sleep) == 4

    srv = FakeServer(fail=(404,))  # not a busy server: no retry
    with pytest.raises(ServerError, match="answered HTTP 404"):
        load_server_embedder(settings_for(serve(srv.handler()), embed_check=False)).embed(["x"])
    assert len(srv.requests) == 1

    with pytest.raises(ServerError, match=r"at http://127\.0\.0\.1:9/v1/embeddings failed 5 times, last: Connect"):
        load_server_embedder(settings_for("http://127.0.0.1:9/v1", embed_check=False)).embed(["x"])

    slow = FakeServer(delay=1.0)  # slower than embed_timeout: each try times out, then the same line
    with pytest.raises(ServerError, match="failed 5 times, last: ReadTimeout"):
        load_server_embedder(settings_for(serve(slow.handler()), embed_check=False, embed_timeout=0.1)).embed(["x"])
    assert len(slow.requests) == 5


def test_server_receives_the_prompted_texts(serve):
    srv = FakeServer()
    e = ServerEmbedder(serve(srv.handler()), "m", model_id="m", prompts=KNOWN_PROMPTS["embeddinggemma-300m"],
                       count_tokens=HashEmbedder().count_tokens)
    e.embed(["上海有多少家企业？"], kind="query")
    e.embed(["上海有1149家企业。", "Beijing."], titles=["报告", ""])
    e.embed(["A sentence."])
    assert srv.inputs[1:] == ["task: search result | query: 上海有多少家企业？",
                              "title: 报告 | text: 上海有1149家企业。", "title: none | text: Beijing.",
                              "title: none | text: A sentence."]


def test_prompts_and_tokenizer_come_from_the_local_model_files(serve, tiny_st_model, tmp_path):
    model = tmp_path / "model"
    shutil.copytree(tiny_st_model, model)
    cfg = model / "config_sentence_transformers.json"
    cfg.write_text(json.dumps({**json.loads(cfg.read_text()),
                               "prompts": {"query": "task: search result | query: ", "document": "title: none | text: "}}))
    srv = FakeServer()
    e = load_server_embedder(settings_for(serve(srv.handler()), embed_model=str(model), embed_check=False))
    e.embed(["上海"], kind="query")
    e.embed(["北京。"], titles=["T"])
    assert srv.inputs[1:] == ["task: search result | query: 上海", "title: T | text: 北京。"]
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(tiny_st_model))
    assert e.count_tokens(SENTENCES[:2]) == [len(tok(s, add_special_tokens=False)["input_ids"]) for s in SENTENCES[:2]]


def test_without_local_model_token_counts_are_approximate_and_check_is_skipped(serve, tmp_path, caplog):
    srv = FakeServer()
    s = settings_for(serve(srv.handler()), embed_model="embeddinggemma-300m", model_cache=str(tmp_path))
    with caplog.at_level(logging.WARNING, logger="rag.embed_server"):
        e = load_server_embedder(s)
    assert "check is skipped" in caplog.text and e.model_id == "openai:embeddinggemma-300m"
    assert e.prompts == KNOWN_PROMPTS["embeddinggemma-300m"] and e.count_tokens(["上海 AI"]) == [3]


def test_agreement_check_refuses_a_server_with_other_vectors(serve):
    e = load_server_embedder(settings_for(serve(FakeServer(distort=True).handler())))
    for _ in range(2):  # refused for good, not only the first time
        with pytest.raises(ServerError) as err:
            e.embed(["上海"], kind="query")
        assert "disagrees with the local model hash-64 (cosine" in str(err.value) and "\n" not in str(err.value)


def test_agreement_check_refuses_another_dimension(serve, tiny_st_model, tmp_path):
    shutil.copytree(tiny_st_model, tmp_path / "model")
    e = load_server_embedder(settings_for(serve(FakeServer().handler()), embed_model=str(tmp_path / "model")))
    with pytest.raises(ServerError, match="dimension 64, local 32"):
        e.embed(["上海"])


def test_agreement_check_loads_the_local_model_once_then_keeps_its_vectors(serve, tiny_st_model, tmp_path,
                                                                            monkeypatch):
    from rag import embed_server

    model = tmp_path / "model"
    shutil.copytree(tiny_st_model, model)
    url = serve(FakeServer(model=SentenceTransformerEmbedder(model, "tiny", dtype="float32")).handler())
    s = settings_for(url, embed_model=str(model), dtype="float32")
    first = load_server_embedder(s)
    assert first.model_id == str(model) and first.embed(["上海"]).shape == (1, 32)  # agrees: the local id
    assert (model / embed_server.CHECK_FILE).is_file()

    def no_model(settings):
        raise AssertionError("the local model was loaded again")

    monkeypatch.setattr(embed_server, "load_local_embedder", no_model)
    assert load_server_embedder(s).embed(["北京"]).shape == (1, 32)


def test_index_build_and_search_through_the_server(serve, fake_settings, caplog):
    srv = FakeServer(dim=256)
    url = serve(srv.handler())
    local = build_index(fake_settings, HashEmbedder(256), quiet=True)
    s = fake_settings.replace(embed_backend="openai", embed_url=url)
    with caplog.at_level(logging.INFO, logger="rag.embed_server"):
        from rag.pipeline import open_pipeline

        pipe = open_pipeline(s)
    assert "agrees with the local model hash-256" in caplog.text
    assert pipe.build_summary.chunks_embedded == 0  # vectors shown equal: the local index is kept

    summary = build_index(s, load_embedder(s), rebuild=True, quiet=True)
    assert summary.chunks_embedded == local.chunks_embedded and srv.requests
    manifest = load_index(s.index_path).manifest
    assert manifest.embed_model == "hash-256" and manifest.embed_backend == f"openai: hash-256 at {url}"
    answer = open_pipeline(s).ask("How many key artificial intelligence companies does Shanghai have?")
    assert "1,149" in answer.text and answer.citations[0].doc_id == "003_aea3d6d152eb6b7f"

    unchecked = s.replace(embed_check=False)
    again = build_index(unchecked, load_embedder(unchecked), quiet=True)
    assert "embedding model changed (hash-256 -> openai:hash-256)" in again.rebuilt_reason


def test_settings_switch_by_environment_and_refuse_late_chunking():
    s = load_settings("/nonexistent.toml", env={"RAG_EMBED_BACKEND": "openai", "RAG_EMBED_URL": "http://gpu:8080/v1",
                                                "RAG_EMBED_API_KEY": "sk-2", "RAG_EMBED_BATCH": "8"})
    assert (s.embed_backend, s.embed_url, s.embed_batch) == ("openai", "http://gpu:8080/v1", 8)
    assert s.to_json()["embed_api_key"] == "***"
    with pytest.raises(SettingsError, match="sentence_vectors = late needs embed_backend = local") as e:
        load_settings("/nonexistent.toml", env={"RAG_EMBED_BACKEND": "openai", "RAG_SENTENCE_VECTORS": "late"})
    assert "\n" not in str(e.value)


def test_a_check_that_could_not_run_runs_again(serve):
    from rag.embed_server import CHECK_DOCUMENTS, CHECK_QUERIES, CHECK_TITLES

    calls: list[int] = []

    def reference():
        calls.append(1)
        if len(calls) == 1:
            raise OSError("local model unreadable")
        fake = HashEmbedder(64)
        return np.concatenate([fake.embed(CHECK_DOCUMENTS, titles=CHECK_TITLES), fake.embed(CHECK_QUERIES)])

    e = ServerEmbedder(serve(FakeServer().handler()), "m", model_id="hash-64", prompts=Prompts(),
                       count_tokens=HashEmbedder().count_tokens, reference=reference)
    with pytest.raises(OSError):
        e.embed(["上海"])
    assert e.embed(["上海"]).shape == (1, 64) and len(calls) == 2
