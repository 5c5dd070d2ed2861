"""Shared fixtures: a copy of the seed corpus, settings that use the offline fakes, tiny real models."""

from __future__ import annotations

import shutil
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from rag.settings import Settings, load_settings

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    dest = tmp_path / "corpus"
    shutil.copytree(SEEDS, dest)
    return dest


@pytest.fixture
def fake_settings(tmp_path: Path, corpus: Path) -> Settings:
    """Hash embedder + extractive generator: offline, deterministic, fast."""
    return load_settings(env={}, overrides={
        "corpus_dir": str(corpus), "index_dir": str(tmp_path / "index"), "embed_model": "hash-256",
        "backend": "extractive", "abstain_score": 0.05, "support_threshold": 0.5,
        "model_cache": str(tmp_path / "models")})


@pytest.fixture
def serve() -> Iterator[Callable[[type[BaseHTTPRequestHandler]], str]]:
    """Starts local HTTP servers of our own (model-server fakes) on free loopback ports: `serve(Handler)`
    returns the base URL, ending in /v1; all are shut down after the test."""
    servers: list[ThreadingHTTPServer] = []

    def start(handler: type[BaseHTTPRequestHandler]) -> str:
        srv = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        servers.append(srv)
        return f"http://127.0.0.1:{srv.server_address[1]}/v1"

    yield start
    for srv in servers:
        srv.shutdown()
        srv.server_close()


SENTENCES = [
    "Shanghai has 1,149 key artificial intelligence companies.",
    "上海有1149家重点人工智能企业。",
    "The industry scale reached 224.6 billion yuan.",
    "产业规模达到2246亿元。",
    "Beijing is the capital of China.",
    "北京是中国的首都。",
    "Artificial intelligence chips and large models are growing fast.",
    "人工智能芯片和大模型发展迅速。",
]


@pytest.fixture(scope="session")
def tiny_st_model(tmp_path_factory) -> Path:
    """A tiny BERT-shaped sentence-transformers model with random weights and a WordPiece tokenizer
    trained on a few bilingual sentences."""
    import torch
    from sentence_transformers import SentenceTransformer, models
    from tokenizers import Tokenizer, decoders, normalizers, pre_tokenizers, trainers
    from tokenizers.models import WordPiece
    from transformers import BertConfig, BertModel, PreTrainedTokenizerFast

    out = tmp_path_factory.mktemp("tiny_st")
    tok = Tokenizer(WordPiece(unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(handle_chinese_chars=True, lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.decoder = decoders.WordPiece()
    tok.train_from_iterator(SENTENCES * 3, trainers.WordPieceTrainer(
        vocab_size=300, special_tokens=["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]))
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="[UNK]", pad_token="[PAD]", cls_token="[CLS]",
                                   sep_token="[SEP]", mask_token="[MASK]")
    torch.manual_seed(0)
    cfg = BertConfig(vocab_size=fast.vocab_size, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                     intermediate_size=64, max_position_embeddings=128)
    hf_dir = out / "hf"
    BertModel(cfg).save_pretrained(hf_dir)
    fast.save_pretrained(hf_dir)
    word = models.Transformer(str(hf_dir), max_seq_length=128)
    st = SentenceTransformer(modules=[word, models.Pooling(32, "mean"), models.Normalize()])
    st_dir = out / "st"
    st.save(str(st_dir))
    return st_dir
