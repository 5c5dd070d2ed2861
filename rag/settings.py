"""One settings object: defaults <- rag.toml <- RAG_* environment <- CLI flags.

>>> s = load_settings(overrides={"k": 3})
>>> s.k
3
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from .errors import RagError


class SettingsError(RagError, ValueError):
    pass


@dataclass(frozen=True)
class Settings:
    corpus_dir: str = "seeds"  # documents to index
    index_dir: str = "index"  # where the built index lives
    store: str = "faiss"  # faiss (plain files in index_dir) | milvus (collections in milvus_uri)
    milvus_uri: str = ""  # a local file path runs Milvus Lite in-process; http(s)://host:19530 a Milvus server;
    # empty: <index_dir>/milvus.db
    milvus_token: str = ""  # "user:password" or an API key for a Milvus server
    milvus_collection: str = "rag"  # prefix of the collections (several corpora can share one server)
    index_batch: int = 1024  # chunks embedded and inserted at a time by a Milvus build: what it holds in memory
    # (1024 chunks of 768 dims with their ~6 sentences each: about 20 MB of float32 vectors), whatever the corpus
    embed_model: str = "embeddinggemma-300m"  # a pinned model name, a local directory, or "hash" (test fake)
    embed_backend: str = "local"  # local (the model in this process) | openai (an OpenAI-compatible /v1/embeddings
    # server serving that model: vLLM, Text Embeddings Inference, Infinity; prompts, tokenizer and the agreement
    # check still use the local model's files when they are there)
    embed_url: str = "http://127.0.0.1:8080/v1"  # base URL of the embeddings server (embed_backend = openai)
    embed_server_model: str = ""  # model name the server knows it by ("": embed_model)
    embed_api_key: str = ""
    embed_batch: int = 32  # texts per request to the server
    embed_timeout: float = 60.0  # seconds per request; failed requests are retried 4 times with back-off
    embed_check: bool = True  # on first use, compare the server's vectors with the local model's (when present)
    embed_check_min: float = 0.99  # lowest cosine that check accepts
    generator_model: str = "qwen2.5-coder-1.5b-instruct-q4_k_m"  # pinned name or a local .gguf / HF dir
    backend: str = "llama-cpp"  # llama-cpp | transformers | openai | extractive
    chunk_tokens: int = 200  # chunk budget in embedding-model tokens
    chunk_overlap: int = 40  # tokens repeated between neighbouring chunks
    k: int = 5  # passages given to the generator
    candidates: int = 30  # hits taken from each retrieval leg before fusion
    keyword_weight: float = 0.1  # weight of the BM25 leg in reciprocal-rank fusion (dense chunks: 1.0); measured
    # on the seed set: 0.1 keeps the best recall@5 (0.986); 0.5 lost 5 points (BM25 only matches same-language text)
    sentence_weight: float = 1.0  # weight of the dense sentence leg (0 turns it off)
    sentence_vectors: str = "separate"  # separate: every sentence embedded on its own | late: from the chunk's
    # own forward pass (about half the embedding work). Measured on the seed set: late raises recall@1 0.82 -> 0.85
    # but the evidence chosen for the prompt holds the answer less often (0.75 -> 0.70 at 80 tokens), so not default
    usable_first: int = 64  # a build embedding at least this many chunks with separate sentence vectors first
    # publishes an index whose sentence vectors come from the chunks' own pass (late: about half the work), so
    # questions can be asked sooner, then embeds the sentences on their own and publishes again (0: one pass)
    evidence: str = "sentences"  # sentences (best sentences within prompt_budget) | chunks (whole chunks)
    abstain_score: float = 0.15  # best dense cosine below this, and the best hit not the keyword leg's best ->
    # abstain without generating (answer.off_topic). Seed set: answerable questions score 0.198 and up; seven
    # off-topic questions ("How do I bake bread?", "红烧肉怎么做？") 0.07-0.13. Near-miss questions score as high as
    # answerable ones, so most abstentions come from the model and from citation verification
    device: str = "auto"  # auto | cpu | cuda
    dtype: str = "auto"  # auto (bfloat16 where the CPU supports it) | bfloat16 | float32
    threads: int = 0  # 0 = all cores
    n_ctx: int = 4096  # generator context window
    max_new_tokens: int = 120  # short answers: decoding runs at about 20 tokens/s on 2 cores
    retry_budget: int = 0  # evidence tokens for one retry after a refused or unsupported draft (0: no retry). Off:
    # on the seed set 360 tokens turned 5 false abstentions into right answers and 9 abstentions into wrong ones;
    # with the judge acting (eleventh session) 6 right and 7 wrong, and the total time p50 went 9.1 -> 11.9 s
    # tokens of evidence sentences, or auto: sized from the generator's measured prompt speed for target_ttft.
    # 120, not auto: with the default generator more evidence gave more wrong answers (AVX-512, 380 tokens vs 120:
    # seed acc 0.66 vs 0.68, held-aside 0.47 vs 0.50, and 1.4 s instead of 3.2 s to the first token; eval/RESULTS.md)
    prompt_budget: str = "120"
    target_ttft: float = 3.0  # seconds to the first answer token that `prompt_budget = "auto"` aims at
    model_cache: str = "~/.cache/rag-bilingual/models"
    model_dir: str = ""  # a local directory holding model files (first source tried)
    openai_base_url: str = "http://127.0.0.1:8000/v1"
    openai_model: str = ""
    openai_api_key: str = ""
    verify: bool = True  # check and repair citations after generation
    split_questions: bool = True  # a question asking two things ("…？…？", "…, and how many…?", "X和Y分别…")
    # is answered one part at a time and the answers joined (rag/parts.py)
    judge_threshold: float = 0.3  # a verified draft whose P(yes) from the generator asked "does the cited evidence
    # state this answer to this question?" is below this is refused (0: the judge does not run)
    support_threshold: float = 0.55  # cosine (answer sentence vs passage sentence) that counts as support
    prompt_lang: str = "auto"  # auto (the question's language) | en | zh
    reload_check: float = 30.0  # seconds between checks, when questions come, whether another process (a build,
    # another replica) has published a new index generation, which is then loaded (0: never check)
    upload_max_mb: int = 20
    users_file: str = "users.toml"  # chat users (`rag users add NAME`); no file and no `users`: no sign-in,
    # and `rag chat` serves the loopback address only
    users: str = ""  # or inline: "name:role:scrypt-hash,…" (RAG_USERS)

    @property
    def corpus_path(self) -> Path:
        return Path(self.corpus_dir).expanduser()

    @property
    def index_path(self) -> Path:
        return Path(self.index_dir).expanduser()

    @property
    def milvus_target(self) -> str:
        """The Milvus URI to connect to: a server address, or a Milvus Lite file."""
        if self.milvus_uri.startswith(("http://", "https://", "tcp://", "unix:")):
            return self.milvus_uri
        return str(Path(self.milvus_uri).expanduser() if self.milvus_uri else self.index_path / "milvus.db")

    @property
    def cache_path(self) -> Path:
        return Path(self.model_cache).expanduser()

    def __post_init__(self) -> None:
        for name, allowed in CHOICES.items():
            value = getattr(self, name)
            if value not in allowed:
                raise SettingsError(f"setting {name} = {value!r} is not one of: {', '.join(allowed)}")
        if self.chunk_overlap >= self.chunk_tokens:
            raise SettingsError("chunk_overlap must be smaller than chunk_tokens")
        if self.prompt_budget != "auto" and not (self.prompt_budget.isdigit() and int(self.prompt_budget) > 0):
            raise SettingsError(f"setting prompt_budget = {self.prompt_budget!r} must be auto or a number of tokens")
        if self.k < 1:
            raise SettingsError("k must be at least 1")
        if self.embed_backend != "local" and self.sentence_vectors == "late":
            raise SettingsError("sentence_vectors = late needs embed_backend = local (an embeddings server returns no "
                                "token states to pool): set sentence_vectors = separate")
        if self.usable_first < 0:
            raise SettingsError("usable_first must be 0 (off) or a number of chunks")
        if self.index_batch < 1:
            raise SettingsError("index_batch must be at least 1")
        if self.embed_batch < 1 or self.embed_timeout <= 0:
            raise SettingsError("embed_batch and embed_timeout must be positive")
        if not 0 < self.embed_check_min <= 1:
            raise SettingsError(f"embed_check_min = {self.embed_check_min} must be a cosine in (0, 1]")

    def replace(self, **changes: Any) -> Settings:
        return dataclasses.replace(self, **{k: v for k, v in changes.items() if v is not None})

    def to_json(self) -> dict[str, Any]:
        """Every setting, as recorded with evaluation runs; secrets (the API key) masked."""
        return {k: ("***" if k in SECRETS and v else v) for k, v in dataclasses.asdict(self).items()}


CHOICES: dict[str, tuple[str, ...]] = {
    "store": ("faiss", "milvus"),
    "backend": ("llama-cpp", "transformers", "openai", "extractive"),
    "embed_backend": ("local", "openai"),
    "device": ("auto", "cpu", "cuda"),
    "dtype": ("auto", "bfloat16", "float32"),
    "evidence": ("sentences", "chunks"),
    "sentence_vectors": ("late", "separate"),
    "prompt_lang": ("auto", "en", "zh"),
}
SECRETS = frozenset({"openai_api_key", "embed_api_key", "users", "milvus_token"})


def _coerce(name: str, raw: Any, kind: type) -> Any:
    try:
        if kind is bool and isinstance(raw, str):
            if raw.lower() in ("1", "true", "yes", "on"):
                return True
            if raw.lower() in ("0", "false", "no", "off"):
                return False
            raise ValueError(raw)
        return kind(raw)
    except (TypeError, ValueError):
        raise SettingsError(f"setting {name!r} must be {kind.__name__}, got {raw!r}") from None


def load_settings(toml_path: str | Path | None = None, env: dict[str, str] | None = None,
                  overrides: dict[str, Any] | None = None) -> Settings:
    """Merge defaults, `rag.toml` (or `toml_path`), `RAG_*` variables and explicit overrides."""
    env = dict(os.environ) if env is None else env
    kinds = {f.name: type(f.default) for f in fields(Settings)}
    values: dict[str, Any] = {}
    path = Path(toml_path or env.get("RAG_CONFIG", "rag.toml"))
    if path.is_file():
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as e:
            raise SettingsError(f"{path}: invalid TOML ({e})") from None
        for key, val in data.items():
            if key not in kinds:
                raise SettingsError(f"{path}: unknown setting {key!r}")
            values[key] = _coerce(key, val, kinds[key])
    for key, kind in kinds.items():
        var = "RAG_" + key.upper()
        if var in env:
            values[key] = _coerce(key, env[var], kind)
    for key, val in (overrides or {}).items():
        if val is None:
            continue
        if key not in kinds:
            raise SettingsError(f"unknown setting {key!r}")
        values[key] = _coerce(key, val, kinds[key])
    return Settings(**values)
