"""Generation backends behind one interface: `stream(messages) -> Iterator[str]`.

- `llama-cpp` (default): a GGUF model through llama-cpp-python. The system prompt comes first and
  is identical across questions, so llama.cpp reuses its evaluated tokens (prefix match).
- `transformers`: any Hugging Face causal LM directory (or a GGUF file), bfloat16 on capable CPUs.
- `openai`: any OpenAI-compatible chat-completions server (vLLM, llama.cpp server, Ollama).
- `extractive`: no language model; answers with the passage sentences that best match the
  question. Deterministic, instant: for tests and machines without a generator.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from .errors import RagError
from .remote import headers
from .script_guard import ScriptGuard, ScriptMasks, script_masks
from .settings import Settings
from .text import HAN, approx_tokens, search_tokens, split_sentences

if TYPE_CHECKING:
    from .prompt import Passage

Messages = list[dict[str, str]]


class GenerationError(RagError, RuntimeError):
    pass


class Generator(Protocol):
    model_id: str

    def stream(self, messages: Messages, max_tokens: int = 256, lang: str | None = None) -> Iterator[str]:
        """The reply, piece by piece; with `lang` ('zh' or 'en') a backend that can keeps it in that
        language's script (rag/script_guard.py)."""

    def count_tokens(self, text: str) -> int: ...


MAX_SAVED_STATES = 4  # system prompts kept evaluated: the answer prompt in each language, rewrite, judge


class LlamaCppGenerator:
    def __init__(self, path: Path, n_ctx: int = 4096, threads: int = 0):
        import os

        from llama_cpp import Llama

        self.model_id = path.name
        self.llm = Llama(model_path=str(path), n_ctx=n_ctx, n_threads=threads or os.cpu_count() or 2,
                         n_batch=512, verbose=False)
        # llama.cpp keeps the evaluated tokens of the last prompt and re-evaluates only what follows the
        # common prefix, so the fixed system prompt costs nothing for consecutive questions in one
        # language. A question in the other language (or a rewrite prompt) would evaluate its system
        # prompt again (about 300 tokens: 6-8 s on an AVX2 CPU), so the context after each distinct
        # system prompt is saved once and loaded when that prompt comes back (about 1 s). Saving after
        # every answer, as LlamaRAMCache does, cost more than it saved (docs/performance.md).
        self._states: dict[str, object] = {}  # system prompt -> llama state that starts with it
        self._last_system: str | None = None
        self.lock = threading.Lock()  # one llama context: questions are answered one at a time
        self.path, self.threads = path, threads
        self._speed: float | None = None

    def prompt_speed(self) -> float:
        """Prompt-processing tokens/s on this machine: measured once (about 15 s) and cached beside the model."""
        if self._speed is None:
            from .budget import cached_speed, machine_key, measure_llama, store_speed

            cache, key = self.path.with_name(self.path.name + ".speed.json"), machine_key(self.path, self.threads)
            self._speed = cached_speed(cache, key)
            if self._speed is None:
                with self.lock:
                    self._speed = measure_llama(self.llm)
                store_speed(cache, key, self._speed)
        return self._speed

    def count_tokens(self, text: str) -> int:
        return len(self.llm.tokenize(text.encode("utf-8"), add_bos=False, special=False))

    @contextmanager
    def _context(self, messages: Messages) -> Iterator[None]:
        """The llama context, held for one prompt: the context saved after this prompt's system prompt is
        loaded when another prompt came last, and saved once after the first prompt that starts with it."""
        system = messages[0]["content"] if messages and messages[0]["role"] == "system" else None
        with self.lock:
            if system != self._last_system and system in self._states:
                self.llm.load_state(self._states[system])  # its system prompt is evaluated already
            self._last_system = None  # until this prompt is done, the context is unknown
            yield
            if system is not None and system not in self._states and len(self._states) < MAX_SAVED_STATES:
                self._states[system] = self.llm.save_state()
            self._last_system = system

    def stream(self, messages: Messages, max_tokens: int = 256, lang: str | None = None) -> Iterator[str]:
        from llama_cpp import LogitsProcessorList

        guard = LogitsProcessorList([ScriptGuard(self._script_masks(), lang)]) if lang else None
        with self._context(messages):
            for part in self.llm.create_chat_completion(messages=messages, stream=True, temperature=0.0,
                                                        top_k=1, max_tokens=max_tokens, repeat_penalty=1.05,
                                                        logits_processor=guard):
                delta = part["choices"][0].get("delta", {}).get("content")
                if delta:
                    yield delta

    def _script_masks(self) -> ScriptMasks:
        """Which tokens start a piece of which script: read from the vocabulary once (about 1 s)."""
        if not hasattr(self, "_masks"):
            self._masks = script_masks([self.llm.detokenize([i]) for i in range(self.llm.n_vocab())])
        return self._masks

    def yes_probability(self, messages: Messages) -> float:
        """P(yes) / (P(yes) + P(no)) for the model's next token after `messages`, whose last turn asks a
        yes/no question. Only the tokens after the common prefix with the evaluated context are read, and
        the context after a system prompt seen before is loaded, as for answers."""
        import numpy as np

        tokens = self.llm.tokenize(self._chat_prompt(messages).encode("utf-8"), add_bos=False, special=True)
        with self._context(messages):
            done, new = self.llm.input_ids[: self.llm.n_tokens], np.asarray(tokens)
            n = min(len(done), len(new))
            same = int(np.argmin(np.append(done[:n] == new[:n], False)))  # length of the common prefix
            self.llm.n_tokens = min(same, len(tokens) - 1)  # at least one token is read, for fresh logits
            self.llm.eval(tokens[self.llm.n_tokens:])
            logits = np.ctypeslib.as_array(self.llm._ctx.get_logits(), shape=(self.llm.n_vocab(),)).copy()
        yes, no = self._yes_no_ids()
        top = float(logits[yes + no].max())
        p_yes, p_no = (float(np.exp(logits[ids] - top).sum()) for ids in (yes, no))
        return p_yes / (p_yes + p_no)

    def _chat_prompt(self, messages: Messages) -> str:
        """The prompt text the model's own chat template makes of `messages`, ready for the reply."""
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        if not hasattr(self, "_formatter"):
            vocab = self.llm.detokenize
            eos, bos = (vocab([t], special=True).decode("utf-8", "replace") if t >= 0 else ""
                        for t in (self.llm.token_eos(), self.llm.token_bos()))
            self._formatter = Jinja2ChatFormatter(self.llm.metadata["tokenizer.chat_template"], eos, bos)
        return self._formatter(messages=messages).prompt

    def _yes_no_ids(self) -> tuple[list[int], list[int]]:
        """First tokens of the ways a reply can say yes or no."""
        def first(words: tuple[str, ...]) -> list[int]:
            return sorted({self.llm.tokenize(w.encode("utf-8"), add_bos=False)[0] for w in words})

        return first(("yes", "Yes", " yes", " Yes", "YES")), first(("no", "No", " no", " No", "NO"))


class TransformersGenerator:
    def __init__(self, name_or_path: str, device: str = "auto", dtype: str = "auto", threads: int = 0):
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        from .embed import cpu_has_bf16

        if threads > 0:
            torch.set_num_threads(threads)
        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        if dtype == "auto":
            dtype = "bfloat16" if device != "cpu" or cpu_has_bf16() else "float32"
        path = Path(name_or_path)
        kwargs = {"gguf_file": path.name} if path.suffix == ".gguf" else {}
        src = str(path.parent if path.suffix == ".gguf" else path)
        self.tok = AutoTokenizer.from_pretrained(src, **kwargs)
        self.model = AutoModelForCausalLM.from_pretrained(src, dtype=getattr(torch, dtype), **kwargs).to(device)
        self.model.eval()
        self.device = device
        self.model_id = path.name
        self.lock = threading.Lock()

    def count_tokens(self, text: str) -> int:
        return len(self.tok(text, add_special_tokens=False)["input_ids"])

    def stream(self, messages: Messages, max_tokens: int = 256, lang: str | None = None) -> Iterator[str]:
        from transformers import LogitsProcessorList, TextIteratorStreamer

        if self.tok.chat_template:
            prompt = self.tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        else:
            prompt = "\n\n".join(m["content"] for m in messages) + "\n\n"
        inputs = self.tok(prompt, return_tensors="pt").to(self.device)
        streamer = TextIteratorStreamer(self.tok, skip_prompt=True, skip_special_tokens=True)
        kwargs = dict(**inputs, streamer=streamer, max_new_tokens=max_tokens, do_sample=False,
                      pad_token_id=self.tok.pad_token_id or self.tok.eos_token_id)
        if lang:
            kwargs["logits_processor"] = LogitsProcessorList([self._guard(lang)])
        with self.lock:
            worker = threading.Thread(target=self.model.generate, kwargs=kwargs, daemon=True)
            worker.start()
            yield from (t for t in streamer if t)
            worker.join()

    def _guard(self, lang: str):
        """The script guard as a transformers logits processor (one row: greedy, no batch)."""
        import torch

        if not hasattr(self, "_masks"):  # a token split inside a character decodes to U+FFFD, a CJK-range form
            self._masks = script_masks([self.tok.decode([i]).encode("utf-8") for i in range(len(self.tok))])
        guard = ScriptGuard(self._masks, lang)

        def process(input_ids, scores):
            ban = torch.from_numpy(guard.banned(int(input_ids[0, -1])))
            n = min(scores.shape[-1], len(ban))
            scores[:, :n] = scores[:, :n].masked_fill(ban[:n], float("-inf"))
            return scores

        return process


class OpenAIGenerator:
    """Streams from `{base_url}/chat/completions` using server-sent events."""

    def __init__(self, base_url: str, model: str, api_key: str = "", timeout: float = 120.0):
        self.base_url = base_url.rstrip("/")
        self.model_id = model or "default"
        self.api_key = api_key
        self.timeout = timeout

    def count_tokens(self, text: str) -> int:  # the server's tokenizer is unknown: a safe over-estimate
        return approx_tokens(text)

    def stream(self, messages: Messages, max_tokens: int = 256, lang: str | None = None) -> Iterator[str]:
        """`lang` is not enforced here: the server's vocabulary is unknown."""
        import httpx

        body = {"model": self.model_id, "messages": messages, "stream": True, "temperature": 0,
                "max_tokens": max_tokens}
        try:
            with httpx.stream("POST", f"{self.base_url}/chat/completions", json=body, headers=headers(self.api_key),
                              timeout=self.timeout) as resp:
                if resp.status_code != 200:
                    resp.read()
                    raise GenerationError(f"generation server answered {resp.status_code}: {resp.text[:200]}")
                for line in resp.iter_lines():
                    if not line.startswith("data:"):
                        continue
                    data = line[5:].strip()
                    if data == "[DONE]":
                        break
                    choice = (json.loads(data).get("choices") or [{}])[0]
                    delta = (choice.get("delta") or {}).get("content") or (choice.get("text") or "")
                    if delta:
                        yield delta
        except httpx.HTTPError as e:
            raise GenerationError(f"cannot reach the generation server at {self.base_url} ({type(e).__name__})") from None


class ExtractiveGenerator:
    """No language model: answers with the passage sentence sharing most words with the question."""

    model_id = "extractive"

    def count_tokens(self, text: str) -> int:
        return len(re.findall(rf"[{HAN}]|\w+", text))

    def answer(self, question: str, passages: Sequence[Passage]) -> Iterator[str]:
        q = set(search_tokens(question))
        best, best_score = None, 0.0
        for p in passages:
            for a, b in split_sentences(p.text):
                sent = p.text[a:b].strip(" …")
                score = len(q & set(search_tokens(sent))) / (len(q) ** 0.5 + 1e-9)
                if score > best_score:
                    best, best_score = (p.n, sent), score
        if best is None or best_score < 0.5:
            yield "The documents do not contain this information."
            return
        n, sent = best
        yield from re.findall(r"\S+\s*|\s+", f"{sent} [{n}]")


AnyGenerator = Generator | ExtractiveGenerator


def load_generator(settings: Settings) -> AnyGenerator:
    backend = settings.backend
    if backend == "extractive":
        return ExtractiveGenerator()
    if backend == "openai":
        if not settings.openai_model:
            raise GenerationError("backend openai needs openai_model (RAG_OPENAI_MODEL) and openai_base_url")
        return OpenAIGenerator(settings.openai_base_url, settings.openai_model, settings.openai_api_key)
    from .models import resolve

    if backend == "llama-cpp":
        try:
            import llama_cpp  # noqa: F401
        except ImportError:
            raise GenerationError("llama-cpp-python is not installed: run the README's install command") from None
        return LlamaCppGenerator(resolve(settings.generator_model, settings), settings.n_ctx, settings.threads)
    if backend == "transformers":
        return TransformersGenerator(str(resolve(settings.generator_model, settings)), settings.device,
                                     settings.dtype, settings.threads)
    raise GenerationError(f"unknown backend {backend!r} (llama-cpp, transformers, openai, extractive)")
