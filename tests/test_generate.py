"""Each generation backend, run for real: the openai one against a local server that speaks the protocol."""

import json
from http.server import BaseHTTPRequestHandler

import pytest

from rag.generate import ExtractiveGenerator, GenerationError, OpenAIGenerator, TransformersGenerator
from rag.prompt import Passage
from rag.text import has_han

MESSAGES = [{"role": "system", "content": "Answer from passages."},
            {"role": "user", "content": "Passages:\n[1] \"T\" Shanghai has 1,149 key AI companies.\n"
                                        "Question: How many AI companies does Shanghai have?\nAnswer:"}]


class ChatServer(BaseHTTPRequestHandler):
    seen: list[dict] = []

    def log_message(self, *args):
        pass

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        ChatServer.seen.append({"path": self.path, "auth": self.headers.get("Authorization"), "body": body})
        if body["model"] == "missing":
            self.send_response(404)
            self.end_headers()
            self.wfile.write(b'{"error": "model not found"}')
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()
        for piece in ["Shanghai has ", "1,149 companies ", "[1]."]:
            chunk = {"choices": [{"delta": {"content": piece}, "index": 0}]}
            self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
            self.wfile.flush()
        self.wfile.write(b"data: [DONE]\n\n")


@pytest.fixture
def server(serve):
    return serve(ChatServer)


def test_openai_backend_streams_from_a_real_server(server):
    gen = OpenAIGenerator(server, "qwen", api_key="secret")
    pieces = list(gen.stream(MESSAGES, max_tokens=50))
    assert pieces == ["Shanghai has ", "1,149 companies ", "[1]."]
    req = ChatServer.seen[-1]
    assert req["path"] == "/v1/chat/completions" and req["auth"] == "Bearer secret"
    assert req["body"]["stream"] is True and req["body"]["messages"] == MESSAGES and req["body"]["max_tokens"] == 50


def test_openai_backend_errors_are_one_line(server):
    with pytest.raises(GenerationError, match="answered 404"):
        list(OpenAIGenerator(server, "missing").stream(MESSAGES))
    with pytest.raises(GenerationError, match="cannot reach"):
        list(OpenAIGenerator("http://127.0.0.1:9/v1", "x", timeout=2).stream(MESSAGES))


def test_extractive_backend_quotes_the_best_sentence():
    passages = [Passage(1, "c1", "d1", "Report", "", "Shanghai has 1,149 key AI companies. Beijing is large."),
                Passage(2, "c2", "d2", "Other", "", "Robots are popular.")]
    out = "".join(ExtractiveGenerator().answer("How many key AI companies does Shanghai have?", passages))
    assert out == "Shanghai has 1,149 key AI companies. [1]"


def test_transformers_backend_streams_from_a_tiny_causal_lm(tmp_path, tiny_st_model):
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    tok = AutoTokenizer.from_pretrained(tiny_st_model)
    torch.manual_seed(0)
    cfg = LlamaConfig(vocab_size=tok.vocab_size, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                      num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=256)
    LlamaForCausalLM(cfg).save_pretrained(tmp_path / "lm")
    tok.save_pretrained(tmp_path / "lm")
    gen = TransformersGenerator(str(tmp_path / "lm"), dtype="float32")
    pieces = list(gen.stream(MESSAGES, max_tokens=8))
    assert pieces and all(isinstance(p, str) for p in pieces)
    assert gen.count_tokens("Shanghai has") > 0
    english = "".join(gen.stream(MESSAGES, max_tokens=16, lang="en"))  # the script guard, as a LogitsProcessor
    assert gen._masks.cjk.any() and not has_han(english)


def test_llama_context_after_each_system_prompt_is_saved_once_and_loaded_when_it_comes_back():
    """Alternating languages must not evaluate each language's long system prompt again every time."""
    import threading

    from rag.generate import LlamaCppGenerator

    class FakeLlama:
        def __init__(self):
            self.saved, self.loaded, self.context = 0, [], None

        def create_chat_completion(self, messages, **kw):
            self.context = messages[0]["content"]
            yield {"choices": [{"delta": {"content": "ok"}}]}

        def save_state(self):
            self.saved += 1
            return f"state after {self.context}"

        def load_state(self, state):
            self.loaded.append(state)

    gen = LlamaCppGenerator.__new__(LlamaCppGenerator)  # the model file is not needed for this
    gen.llm, gen.lock, gen._states, gen._last_system = FakeLlama(), threading.Lock(), {}, None

    def ask(system):
        return "".join(gen.stream([{"role": "system", "content": system}, {"role": "user", "content": "q"}]))

    assert [ask(s) for s in ("zh", "zh", "en", "zh", "zh", "en")] == ["ok"] * 6
    assert gen.llm.saved == 2  # once per system prompt
    assert gen.llm.loaded == ["state after zh", "state after en"]  # only when the language switches back
