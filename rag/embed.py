"""Embedders behind one interface: `embed(texts, kind)` returns L2-normalised float32 rows.

`SentenceTransformerEmbedder` runs the real multilingual model (bfloat16 where the CPU has
native bfloat16, else float32); `embed_server.ServerEmbedder` asks an OpenAI-compatible embeddings
server, with the same prompts and batching (`PromptedEmbedder`). `HashEmbedder` is a deterministic,
dependency-free fake for tests: character n-gram hashing, so texts sharing words or Chinese
characters land close.

>>> e = HashEmbedder(dim=64)
>>> v = e.embed(["上海人工智能", "上海 AI"], kind="document")
>>> v.shape
(2, 64)
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from .settings import Settings
from .text import HAN, NUMBER

Progress = Callable[[int], None]  # called with the number of texts just embedded


class Embedder(Protocol):
    model_id: str  # recorded in the index: another id means other vectors, and a full rebuild
    dim: int
    backend: str  # where the vectors come from: "local", or the server (recorded in the index too)

    def embed(self, texts: Sequence[str], kind: str = "document", titles: Sequence[str] | None = None,
              progress: Progress | None = None) -> np.ndarray: ...

    def embed_chunks(self, texts: Sequence[str], titles: Sequence[str] | None,
                     spans: Sequence[Sequence[tuple[int, int]]], progress: Progress | None = None
                     ) -> tuple[np.ndarray, list[np.ndarray]]: ...

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


def count_with(tokenizer, texts: Sequence[str]) -> list[int]:
    """Tokens of each text under a Hugging Face tokenizer, without special tokens (the chunk budget's unit)."""
    if not texts:
        return []
    return [len(ids) for ids in tokenizer(list(texts), add_special_tokens=False)["input_ids"]]


@dataclass(frozen=True)
class Prompts:
    """What goes before a query or a document, the same for the local model and for a server.

    >>> p = Prompts("task: search result | query: ", "title: none | text: ")
    >>> p.documents(["上海有1149家企业。"], ["报告"])
    ['title: 报告 | text: 上海有1149家企业。']
    """

    query: str = ""
    document: str = ""

    @staticmethod
    def from_config(prompts: Mapping[str, str]) -> Prompts:
        """From a sentence-transformers model's named prompts."""
        return Prompts(prompts.get("query", prompts.get("Retrieval-query", "")),
                       prompts.get("document", prompts.get("Retrieval-document", "")))

    @staticmethod
    def read(model_dir: Path) -> Prompts:
        """From a model folder's config_sentence_transformers.json, without loading the model."""
        try:
            config = json.loads((model_dir / "config_sentence_transformers.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return Prompts()
        return Prompts.from_config(config.get("prompts") or {})

    def queries(self, texts: Sequence[str]) -> list[str]:
        return [self.query + t for t in texts]

    def documents(self, texts: Sequence[str], titles: Sequence[str] | None) -> list[str]:
        # EmbeddingGemma's document prompt is "title: {title | none} | text: "; fill in the real title.
        if titles is not None and self.document.startswith("title: none"):
            return [f"title: {t or 'none'} | text: {x}" for t, x in zip(titles, texts, strict=True)]
        return [self.document + x for x in texts]


class PromptedEmbedder:
    """`embed` for the local model and the server alike: prompts, each distinct text once, batches sorted by
    token count, progress per batch, a cache of single queries. Subclasses encode one batch of prompted
    texts into unit rows (`_encode`)."""

    prompts: Prompts
    batch_size: int
    dim: int
    _cache: _QueryCache

    def _encode(self, texts: list[str]) -> np.ndarray:
        raise NotImplementedError

    def embed(self, texts: Sequence[str], kind: str = "document", titles: Sequence[str] | None = None,
              progress: Progress | None = None) -> np.ndarray:
        if kind == "query":
            if len(texts) == 1 and (hit := self._cache.get(texts[0])) is not None:
                return hit[None, :]
            inputs = self.prompts.queries(texts)
        else:
            inputs = self.prompts.documents(texts, titles)
        # Each distinct text once (overlapping chunks share sentences, documents share boilerplate);
        # batches of texts of about the same number of tokens keep padding low (sorted by characters, a
        # mixed Chinese and English corpus was padded by 28 %: docs/performance.md); progress is
        # reported per batch, in texts asked for.
        distinct = list(dict.fromkeys(inputs))
        slot = {t: i for i, t in enumerate(distinct)}
        copies = np.bincount([slot[t] for t in inputs], minlength=len(distinct))
        one_batch = len(distinct) <= self.batch_size  # a question, say: no order to find
        order = np.arange(len(distinct)) if one_batch else np.argsort([-n for n in self.count_tokens(distinct)],
                                                                      kind="stable")
        vecs_d = np.zeros((len(distinct), self.dim), dtype=np.float32)
        for i in range(0, len(order), self.batch_size):
            idx = order[i:i + self.batch_size]
            vecs_d[idx] = self._encode([distinct[j] for j in idx])
            if progress:
                progress(int(copies[idx].sum()))
        out = vecs_d[[slot[t] for t in inputs]] if inputs else np.zeros((0, self.dim), dtype=np.float32)
        if kind == "query" and len(texts) == 1:
            self._cache.put(texts[0], out[0])
        return out


class SentenceTransformerEmbedder(PromptedEmbedder):
    """A sentence-transformers model loaded from a local directory."""

    backend = "local"

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
        self.prompts = Prompts.from_config(self.model.prompts or {})
        self._cache = _QueryCache()

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        return count_with(self.tokenizer, texts)

    def _encode(self, texts: list[str]) -> np.ndarray:
        vecs = self.model.encode(texts, batch_size=self.batch_size, convert_to_numpy=True,
                                 normalize_embeddings=True, show_progress_bar=False)
        return np.asarray(vecs, dtype=np.float32)

    def embed_chunks(self, texts: Sequence[str], titles: Sequence[str] | None,
                     spans: Sequence[Sequence[tuple[int, int]]], progress: Progress | None = None
                     ) -> tuple[np.ndarray, list[np.ndarray]]:
        """Chunk vectors and, from the same forward pass, one vector per (start, end) character span of
        each chunk ("late chunking"): the span's token states are mean-pooled and sent through the
        model's dense layers, instead of embedding every sentence again on its own. Progress counts chunks."""
        import torch

        inputs = self.prompts.documents(texts, titles)
        shift = [len(x) - len(t) for x, t in zip(inputs, texts, strict=True)]  # the prompt before the text
        order = np.argsort([-n for n in self.count_tokens(inputs)], kind="stable")
        out = np.zeros((len(inputs), self.dim), dtype=np.float32)
        span_out = [np.zeros((len(s), self.dim), dtype=np.float32) for s in spans]
        dense = [m for m in list(self.model)[2:] if type(m).__name__ == "Dense"]
        for i in range(0, len(order), self.batch_size):
            idx = order[i:i + self.batch_size]
            enc = self.tokenizer([inputs[j] for j in idx], return_offsets_mapping=True, padding=True,
                                 truncation=True, max_length=self.max_tokens, return_tensors="pt")
            offsets = enc.pop("offset_mapping").numpy()
            features = {k: v.to(self.model.device) for k, v in enc.items()}
            with torch.inference_mode():
                res = self.model.forward(dict(features))
                out[idx] = res["sentence_embedding"].float().cpu().numpy()
                states = res["token_embeddings"]
                pooled, where = [], []
                for b, j in enumerate(idx):
                    starts, ends = offsets[b, :, 0], offsets[b, :, 1]
                    real = ends > starts  # special and padding tokens have empty offsets
                    for s, (a, z) in enumerate(spans[j]):
                        a, z = a + shift[j], z + shift[j]
                        tok = np.flatnonzero(real & (starts < z) & (ends > a))
                        if len(tok):
                            pooled.append(states[b, tok].mean(dim=0))
                            where.append((j, s))
                        else:  # a span past the model's length limit: the chunk's vector stands in
                            span_out[j][s] = out[j]
                if pooled:
                    x = {"sentence_embedding": torch.stack(pooled)}
                    for layer in dense:
                        x = layer(x)
                    vecs = torch.nn.functional.normalize(x["sentence_embedding"].float(), dim=-1).cpu().numpy()
                    for (j, s), v in zip(where, vecs, strict=True):
                        span_out[j][s] = v
            if progress:
                progress(len(idx))
        return out, span_out


_TOKEN = re.compile(rf"[{HAN}]|[A-Za-z]+|{NUMBER.pattern}")


class HashEmbedder:
    """Deterministic fake: hashed unigrams and bigrams of words / Han characters."""

    backend = "local"

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

    def embed_chunks(self, texts: Sequence[str], titles: Sequence[str] | None,
                     spans: Sequence[Sequence[tuple[int, int]]], progress: Progress | None = None
                     ) -> tuple[np.ndarray, list[np.ndarray]]:
        """Chunk vectors and one vector per character span of each chunk (the fake embeds the span text)."""
        vecs = self.embed(texts, titles=titles, progress=progress)
        return vecs, [self.embed([t[a:b] for a, b in s]) if s else np.zeros((0, self.dim), np.float32)
                      for t, s in zip(texts, spans, strict=True)]


def load_embedder(settings: Settings) -> Embedder:
    """The embedder the settings name; never downloads (a missing model says to run `rag models pull`)."""
    if settings.embed_backend == "openai":
        from .embed_server import load_server_embedder

        return load_server_embedder(settings)
    return load_local_embedder(settings)


def load_local_embedder(settings: Settings) -> Embedder:
    """`embed_model` in this process, whatever `embed_backend` says."""
    if settings.embed_model.startswith("hash"):
        dim = int(settings.embed_model.split("-")[1]) if "-" in settings.embed_model else 256
        return HashEmbedder(dim)
    from .models import resolve

    path = resolve(settings.embed_model, settings)
    return SentenceTransformerEmbedder(path, settings.embed_model, settings.device, settings.dtype, settings.threads)
