"""Embedders behind one interface: `embed(texts, kind)` returns L2-normalised float32 rows.

`SentenceTransformerEmbedder` runs the real multilingual model (bfloat16 where the CPU has
native bfloat16, else float32). `HashEmbedder` is a deterministic, dependency-free fake for
tests: character n-gram hashing, so texts sharing words or Chinese characters land close.

>>> e = HashEmbedder(dim=64)
>>> v = e.embed(["上海人工智能", "上海 AI"], kind="document")
>>> v.shape
(2, 64)
"""

from __future__ import annotations

import hashlib
import re
from collections import OrderedDict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Protocol

import numpy as np

from .settings import Settings
from .text import HAN, NUMBER

Progress = Callable[[int], None]  # called with the number of texts just embedded


class Embedder(Protocol):
    model_id: str
    dim: int

    def embed(self, texts: Sequence[str], kind: str = "document", titles: Sequence[str] | None = None,
              progress: Progress | None = None) -> np.ndarray: ...

    def count_tokens(self, texts: Sequence[str]) -> list[int]: ...


def cpu_has_bf16() -> bool:
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return bool(re.search(r"\b(avx512_bf16|amx_bf16)\b", flags))


class _QueryCache:
    """A small LRU of query vectors: chat users repeat and rephrase questions."""

    def __init__(self, size: int = 512):
        self.size, self.data = size, OrderedDict[str, np.ndarray]()

    def get(self, key: str) -> np.ndarray | None:
        if key in self.data:
            self.data.move_to_end(key)
            return self.data[key]
        return None

    def put(self, key: str, vec: np.ndarray) -> None:
        self.data[key] = vec
        if len(self.data) > self.size:
            self.data.popitem(last=False)


LOADED_MARK = ".rag-loaded"  # written after a model folder's first load
SHOW_LOAD_PROGRESS: bool | None = None  # the CLI sets it from --verbose; None leaves the libraries' default


def _loading_progress(path: Path) -> None:
    """The CLI shows the libraries' model-loading progress bars on a model's first load and with
    --verbose only; library users keep the libraries' own default."""
    if SHOW_LOAD_PROGRESS is None:
        return
    from transformers.utils import logging as hf_logging

    first = not (path / LOADED_MARK).exists()
    (hf_logging.enable_progress_bar if SHOW_LOAD_PROGRESS or first else hf_logging.disable_progress_bar)()


def _mark_loaded(path: Path) -> None:
    try:
        (path / LOADED_MARK).touch()
    except OSError:  # a read-only model folder: the bars show on every load, nothing else changes
        pass


class SentenceTransformerEmbedder:
    """A sentence-transformers model loaded from a local directory."""

    def __init__(self, path: Path, model_id: str, device: str = "auto", dtype: str = "auto", threads: int = 0,
                 batch_size: int = 16):
        import torch
        from sentence_transformers import SentenceTransformer

        if threads > 0:
            torch.set_num_threads(threads)
        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        if dtype == "auto":
            dtype = "bfloat16" if (device != "cpu" or cpu_has_bf16()) else "float32"
        self.dtype = dtype
        _loading_progress(path)
        self.model = SentenceTransformer(str(path), device=device, local_files_only=True,
                                         model_kwargs={"dtype": getattr(torch, dtype)})
        _mark_loaded(path)
        self.model_id = model_id
        self.dim = int((getattr(self.model, "get_embedding_dimension", None) or self.model.get_sentence_embedding_dimension)())
        self.batch_size = batch_size
        self.max_tokens = int(self.model.max_seq_length or 512)
        self.tokenizer = self.model.tokenizer
        prompts = self.model.prompts or {}
        self.query_prompt = prompts.get("query", prompts.get("Retrieval-query", ""))
        self.doc_prompt = prompts.get("document", prompts.get("Retrieval-document", ""))
        self._cache = _QueryCache()

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        if not texts:
            return []
        enc = self.tokenizer(list(texts), add_special_tokens=False)["input_ids"]
        return [len(ids) for ids in enc]

    def _document_inputs(self, texts: Sequence[str], titles: Sequence[str] | None) -> list[str]:
        # EmbeddingGemma's document prompt is "title: {title | none} | text: "; fill in the real title.
        if titles is not None and self.doc_prompt.startswith("title: none"):
            return [f"title: {t or 'none'} | text: {x}" for t, x in zip(titles, texts, strict=True)]
        return [self.doc_prompt + x for x in texts]

    def embed(self, texts: Sequence[str], kind: str = "document", titles: Sequence[str] | None = None,
              progress: Progress | None = None) -> np.ndarray:
        if kind == "query":
            if len(texts) == 1 and (hit := self._cache.get(texts[0])) is not None:
                return hit[None, :]
            inputs = [self.query_prompt + t for t in texts]
        else:
            inputs = self._document_inputs(texts, titles)
        # Length-sorted batches keep padding low; progress is reported per batch.
        order = np.argsort([-len(t) for t in inputs], kind="stable")
        out = np.zeros((len(inputs), self.dim), dtype=np.float32)
        for i in range(0, len(order), self.batch_size):
            idx = order[i:i + self.batch_size]
            vecs = self.model.encode([inputs[j] for j in idx], batch_size=self.batch_size,
                                     convert_to_numpy=True, normalize_embeddings=True, show_progress_bar=False)
            out[idx] = np.asarray(vecs, dtype=np.float32)
            if progress:
                progress(len(idx))
        if kind == "query" and len(texts) == 1:
            self._cache.put(texts[0], out[0])
        return out


_TOKEN = re.compile(rf"[{HAN}]|[A-Za-z]+|{NUMBER.pattern}")


class HashEmbedder:
    """Deterministic fake: hashed unigrams and bigrams of words / Han characters."""

    def __init__(self, dim: int = 256):
        self.model_id = f"hash-{dim}"
        self.dim = dim

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        return [len(_TOKEN.findall(t)) for t in texts]

    def _vec(self, text: str) -> np.ndarray:
        toks = [t.lower() for t in _TOKEN.findall(text)]
        grams = toks + [a + b for a, b in zip(toks, toks[1:], strict=False)]
        v = np.zeros(self.dim, dtype=np.float32)
        for g in grams:
            h = int.from_bytes(hashlib.md5(g.encode()).digest()[:4], "little")
            v[h % self.dim] += 1.0 if (h >> 31) & 1 else -1.0
        n = np.linalg.norm(v)
        return v / n if n else v

    def embed(self, texts: Sequence[str], kind: str = "document", titles: Sequence[str] | None = None,
              progress: Progress | None = None) -> np.ndarray:
        out = np.stack([self._vec(t) for t in texts]) if texts else np.zeros((0, self.dim), np.float32)
        if progress:
            progress(len(texts))
        return out


def load_embedder(settings: Settings) -> Embedder:
    """The embedder the settings name; never downloads (a missing model says to run `rag models pull`)."""
    if settings.embed_model.startswith("hash"):
        dim = int(settings.embed_model.split("-")[1]) if "-" in settings.embed_model else 256
        return HashEmbedder(dim)
    from .models import resolve

    path = resolve(settings.embed_model, settings)
    return SentenceTransformerEmbedder(path, settings.embed_model, settings.device, settings.dtype, settings.threads)
