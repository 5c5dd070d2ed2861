"""The `rag` command as a user meets it: one-line errors, the version, help with defaults and examples."""

import subprocess
import sys
from pathlib import Path

import pytest

from rag.cli import build_parser, main

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def fake_env(monkeypatch, fake_settings):
    for k, v in {"RAG_CORPUS_DIR": fake_settings.corpus_dir, "RAG_INDEX_DIR": fake_settings.index_dir,
                 "RAG_EMBED_MODEL": "hash-256", "RAG_CONFIG": "/nonexistent.toml",
                 "RAG_ABSTAIN_SCORE": "0.05", "RAG_SUPPORT_THRESHOLD": "0.5"}.items():
        monkeypatch.setenv(k, v)


def test_openai_backend_without_a_model_is_one_line(fake_env, capsys):
    assert main(["ask", "--backend", "openai", "上海有多少家重点人工智能企业？"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("rag: error:") and "openai_model" in err[0]


def test_openai_backend_without_a_server_is_one_line(fake_env, monkeypatch, capsys):
    monkeypatch.setenv("RAG_OPENAI_MODEL", "qwen")
    monkeypatch.setenv("RAG_OPENAI_BASE_URL", "http://127.0.0.1:9/v1")  # nothing listens on port 9
    assert main(["ask", "--backend", "openai", "How many key AI companies does Shanghai have?"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("rag: error:") and "cannot reach" in err[-1]
    assert not any("Traceback" in line for line in err)


def test_bad_setting_and_empty_question_are_one_line(fake_env, monkeypatch, capsys):
    monkeypatch.setenv("RAG_DTYPE", "float16")
    assert main(["index"]) == 1
    assert capsys.readouterr().err.strip() == (
        "rag: error: setting dtype = 'float16' is not one of: auto, bfloat16, float32")
    monkeypatch.delenv("RAG_DTYPE")
    assert main(["ask", "？？"]) == 1
    assert capsys.readouterr().err.startswith("rag: error: The question has no words")


def test_version_and_help_show_defaults_and_examples():
    out = subprocess.run([sys.executable, "-m", "rag", "--version"], capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0 and out.stdout.startswith("rag ")
    parser = build_parser()
    sub = parser._subparsers._group_actions[0].choices
    for name, p in sub.items():
        text = p.format_help()
        assert "examples:" in text and f"rag {name}" in text
    assert "setting k, default 5" in sub["ask"].format_help()
    assert "default 'seeds'" in sub["index"].format_help()


def test_ask_prints_the_stream_then_only_what_verification_changed(fake_env, capsys):
    assert main(["ask", "--backend", "extractive", "How many key artificial intelligence companies does Shanghai have?"]) == 0
    out = capsys.readouterr().out
    assert "Answer (verified)" not in out
    first = out.split("\n")[0]
    assert "1,149" in first and out.count("1,149 key") <= 2  # the answer once, its evidence once in Sources
    assert "Sources:" in out
