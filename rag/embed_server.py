"""Embeddings from an OpenAI-compatible server (`embed_backend = "openai"`): vLLM, Text Embeddings
Inference or Infinity serving the model `embed_model` names, at `embed_url`.

The local model's files still do their part when they are in the cache: its prompts are put before
the texts here (the server receives "task: search result | query: …"), its tokenizer counts chunk
tokens, and on first use a few fixed Chinese and English texts are embedded by the server and compared
with the local model's vectors of them (computed once, then kept in the model's folder): a cosine below
`embed_check_min` refuses the server. Without the local model the pinned model's known prompts are
used, token counts are approximate (`text.approx_tokens`) and the check is skipped, as the log says.

>>> e = load_server_embedder(load_settings(overrides={"embed_backend": "openai"}))  # doctest: +SKIP
>>> e.embed(["上海有多少家企业？"], kind="query").shape                                # doctest: +SKIP
(1, 768)
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from .embed import Progress, PromptedEmbedder, Prompts, _QueryCache, count_with, load_local_embedder
from .models import ModelError, resolve
from .remote import ServerError, post_json
from .settings import Settings
from .text import approx_tokens

log = logging.getLogger(__name__)

# Used when the local model's files are not there to read them from.
KNOWN_PROMPTS = {"embeddinggemma-300m": Prompts("task: search result | query: ", "title: none | text: ")}

CHECK_DOCUMENTS = ["上海有1149家重点人工智能企业，产业规模达到2246亿元。",
                   "Shanghai has 1,149 key artificial intelligence companies.",
                   "北京是中国的首都。", "Large models and AI chips are growing fast."]
CHECK_TITLES = ["上海人工智能产业", "AI in Shanghai", "", ""]
CHECK_QUERIES = ["上海有多少家重点人工智能企业？", "How large is the AI industry in Shanghai?"]

CHECK_FILE = ".server-check.npz"  # the local model's vectors of the check texts, kept in its folder

TokenCounter = Callable[[Sequence[str]], list[int]]


class ServerEmbedder(PromptedEmbedder):
    """POSTs prompted texts to `{url}/embeddings` in batches; rows normalised here."""

    def __init__(self, url: str, model: str, *, model_id: str, prompts: Prompts, count_tokens: TokenCounter,
                 api_key: str = "", batch_size: int = 32, timeout: float = 60.0,
                 reference: Callable[[], np.ndarray] | None = None, check_min: float = 0.99,
                 attempts: int = 5, wait: float = 0.5):
        self.url = url.rstrip("/") + "/embeddings"
        self.model, self.model_id, self.prompts = model, model_id, prompts
        self.backend = f"openai: {model} at {url.rstrip('/')}"
        self._count = count_tokens
        self.api_key, self.batch_size, self.timeout = api_key, batch_size, timeout
        self.attempts, self.wait = attempts, wait
        self._reference = reference  # the local model's vectors of the check texts (agreement check)
        self.check_min = check_min
        self._dim: int | None = None
        self._refused = ""
        self._lock = threading.RLock()
        self._client = None
        self._cache = _QueryCache()

    @property
    def dim(self) -> int:
        self._ready()
        assert self._dim is not None
        return self._dim

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        return self._count(texts)

    def embed_chunks(self, texts: Sequence[str], titles: Sequence[str] | None,
                     spans: Sequence[Sequence[tuple[int, int]]], progress: Progress | None = None
                     ) -> tuple[np.ndarray, list[np.ndarray]]:
        raise ServerError("late chunking needs the model's token states, which an embeddings server does not "
                          "return: set sentence_vectors = separate")

    def _encode(self, texts: list[str]) -> np.ndarray:
        self._ready()
        return self._post(texts)

    def _post(self, texts: list[str]) -> np.ndarray:
        import httpx

        if self._client is None:
            self._client = httpx.Client(timeout=self.timeout)
        answer = post_json(self._client, self.url, {"model": self.model, "input": texts}, self.api_key,
                           self.attempts, self.wait, what="embedding server")
        try:
            rows = sorted(answer["data"], key=lambda d: d["index"])
            vecs = np.asarray([r["embedding"] for r in rows], dtype=np.float32)
        except (KeyError, TypeError, ValueError):
            raise ServerError(f"embedding server at {self.url} answered without data[].embedding lists") from None
        if vecs.ndim != 2 or len(vecs) != len(texts) or (self._dim is not None and vecs.shape[1] != self._dim):
            raise ServerError(f"embedding server at {self.url} answered {vecs.shape} for {len(texts)} texts"
                              + (f" of dimension {self._dim}" if self._dim else ""))
        norms = np.linalg.norm(vecs, axis=1, keepdims=True)
        return vecs / np.where(norms > 0, norms, 1)

    def _ready(self) -> None:
        """First use: the dimension from one request, then the agreement check; once per process."""
        with self._lock:
            if self._refused:
                raise ServerError(self._refused)
            if self._dim is None:
                self._dim = int(self._post(CHECK_DOCUMENTS[:1]).shape[1])
            if self._reference is not None:
                make, self._reference = self._reference, None  # the check itself calls embed()
                try:
                    self._check(make())
                except Exception:
                    if not self._refused:  # the server or the local model failed: check again next time
                        self._reference = make
                    raise

    def _check(self, local: np.ndarray) -> None:
        worst, text = 1.0, ""
        if local.shape[1] == self.dim:
            mine = np.concatenate([self.embed(CHECK_DOCUMENTS, titles=CHECK_TITLES),
                                   self.embed(CHECK_QUERIES, kind="query")])
            cos = (mine * local).sum(axis=1)
            worst, text = float(cos.min()), (CHECK_DOCUMENTS + CHECK_QUERIES)[int(cos.argmin())]
        if local.shape[1] != self.dim or worst < self.check_min:
            measured = (f"cosine {worst:.3f} < embed_check_min {self.check_min} on {text!r}"
                        if local.shape[1] == self.dim else f"dimension {self.dim}, local {local.shape[1]}")
            self._refused = (f"embedding server at {self.url} disagrees with the local model {self.model_id} "
                             f"({measured}): serve that model (embed_server_model) or set embed_check = false")
            raise ServerError(self._refused)
        log.info("embedding server %s agrees with the local model %s (lowest cosine %.4f)",
                 self.url, self.model_id, worst)


def _check_key(local_dir: Path) -> str:
    """What the kept check vectors depend on: the check texts and the model's files (size, time)."""
    files = sorted((f.name, f.stat().st_size, f.stat().st_mtime_ns) for f in local_dir.iterdir()
                   if f.is_file() and not f.name.startswith("."))
    return hashlib.sha256(json.dumps([CHECK_DOCUMENTS, CHECK_TITLES, CHECK_QUERIES, files]).encode()).hexdigest()


def _reference_vectors(settings: Settings, local_dir: Path | None) -> Callable[[], np.ndarray]:
    """The local model's vectors of the check texts. Computed once by loading the model and kept in its
    folder, so that later processes check the server without loading the model again."""

    def vectors() -> np.ndarray:
        path, key = (local_dir / CHECK_FILE, _check_key(local_dir)) if local_dir else (None, "")
        if path is not None:
            try:
                with np.load(path) as kept:
                    if str(kept["key"]) == key:
                        return kept["vectors"]
            except (OSError, ValueError, KeyError):
                pass
        local = load_local_embedder(settings)
        vecs = np.concatenate([local.embed(CHECK_DOCUMENTS, titles=CHECK_TITLES),
                               local.embed(CHECK_QUERIES, kind="query")])
        if path is not None:
            try:
                with open(path.with_name(CHECK_FILE + ".tmp"), "wb") as f:
                    np.savez(f, key=np.array(key), vectors=vecs)
                os.replace(path.with_name(CHECK_FILE + ".tmp"), path)
            except OSError:  # a read-only model folder: the model is loaded for each check
                pass
        return vecs

    return vectors


def _tokenizer_counter(model_dir: Path) -> TokenCounter | None:
    """The local model's tokenizer alone (a few MB, no weights), or None when it cannot be read."""
    try:
        from transformers import AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(str(model_dir), local_files_only=True)
    except (OSError, ValueError) as e:
        log.warning("cannot read the tokenizer in %s (%s): token counts are approximate", model_dir, e)
        return None
    return lambda texts: count_with(tokenizer, texts)


def _approx_counter(texts: Sequence[str]) -> list[int]:
    return [approx_tokens(t) for t in texts]


def load_server_embedder(settings: Settings) -> ServerEmbedder:
    """The server the settings name, with what the local model lends (prompts, tokenizer, the check).

    Its `model_id` is `embed_model` when the check will vouch for the vectors, so switching between the
    local model and a server that agrees with it keeps the index; otherwise it is "openai:<server model>",
    and the first build with it (or back) rebuilds the index."""
    server_model = settings.embed_server_model or settings.embed_model
    prompts, count, reference = KNOWN_PROMPTS.get(settings.embed_model, Prompts()), None, None
    if settings.embed_model.startswith("hash"):  # the test fake: no files, always there
        prompts, count = Prompts(), load_local_embedder(settings).count_tokens
        reference = _reference_vectors(settings, None)
    else:
        try:
            local_dir: Path | None = resolve(settings.embed_model, settings)
        except ModelError as e:
            local_dir = None
            log.warning("embedding server: the local model is not available (%s): the agreement check is skipped "
                        "and token counts are approximate", e)
        if local_dir is not None and local_dir.is_dir():
            prompts = Prompts.read(local_dir)
            count = _tokenizer_counter(local_dir)
            reference = _reference_vectors(settings, local_dir)
    if not settings.embed_check and reference is not None:
        log.info("embedding server: embed_check = false, its vectors are not compared with the local model's")
        reference = None
    return ServerEmbedder(settings.embed_url, server_model,
                          model_id=settings.embed_model if reference else f"openai:{server_model}",
                          prompts=prompts, count_tokens=count or _approx_counter, api_key=settings.embed_api_key,
                          batch_size=settings.embed_batch, timeout=settings.embed_timeout, reference=reference,
                          check_min=settings.embed_check_min)
