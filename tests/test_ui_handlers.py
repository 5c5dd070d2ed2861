"""The chat UI's handlers, without a browser."""

from pathlib import Path

import pytest

from rag.answer import Pipeline
from rag.embed import HashEmbedder
from rag.generate import ExtractiveGenerator
from rag.indexer import build_index
from rag.store import load_index
from rag.ui.documents import UploadError, add_uploads, safe_name
from rag.ui.handlers import Session, chat_turn, render_sources
from rag.users import User

XSS = '<script>window.__xss=1</script><img src=x onerror="window.__xss=1"> [click](javascript:alert(1))'


@pytest.fixture
def pipe(fake_settings, corpus):
    (corpus / "xss.html").write_text(f"<html><body><p>Robots in Hangzhou are cheap. {XSS.replace('<', '&lt;')}</p>"
                                     "</body></html>", encoding="utf-8")
    emb = HashEmbedder(256)
    build_index(fake_settings, emb, quiet=True)
    return Pipeline(fake_settings, emb, ExtractiveGenerator(), load_index(fake_settings.index_path))


def test_chat_turn_streams_then_shows_verified_answer_and_sources(pipe):
    session = Session()
    turns = list(chat_turn(pipe, session, "How many key artificial intelligence companies does Shanghai have?"))
    assert not turns[0].done and turns[-1].done
    final = turns[-1]
    assert 'class="cite" href="#src-' in final.messages[-1]["content"]
    assert "Cited / 引用" in final.sources and "<mark>" in final.sources and 'id="src-1"' in final.sources
    assert session.questions == ["How many key artificial intelligence companies does Shanghai have?"]


def test_sessions_keep_separate_histories(pipe):
    a, b = Session(), Session()
    list(chat_turn(pipe, a, "How many key artificial intelligence companies does Shanghai have?"))
    turns = list(chat_turn(pipe, a, "What about Beijing?"))
    assert "→ How many key artificial intelligence companies does Shanghai have? What about Beijing?" in \
        turns[-1].messages[-1]["content"]
    list(chat_turn(pipe, b, "What about Beijing?"))
    assert b.questions == ["What about Beijing?"] and len(a.questions) == 2


def test_document_html_is_escaped(pipe):
    turns = list(chat_turn(pipe, Session(), "Are robots in Hangzhou cheap?"))
    html = turns[-1].sources + turns[-1].messages[-1]["content"]
    assert "<script" not in html and "<img" not in html and "](javascript:" not in html
    assert "&lt;script&gt;" in html


def test_bad_questions_get_short_replies(pipe):
    for q in ["", "   ", "？？？", "😀"]:
        turns = list(chat_turn(pipe, Session(), q))
        assert turns[-1].done and len(turns[-1].messages[-1]["content"]) < 120


def test_errors_reach_the_user_as_one_line(pipe, monkeypatch):
    def boom(*a, **k):
        raise RuntimeError("backend exploded")
        yield

    monkeypatch.setattr(pipe, "stream", boom)
    turns = list(chat_turn(pipe, Session(), "anything"))
    assert turns[-1].messages[-1]["content"].startswith("⚠ Something went wrong: RuntimeError: backend exploded")


def test_sources_placeholder():
    assert "Sources appear here" in render_sources(None, None)


@pytest.mark.parametrize("name,clean", [("../../etc/passwd.txt", "passwd.txt"), ("a/b\\c.md", "c.md"),
                                        ("报告 2024.docx", "报告 2024.docx"), ("x<y>.html", "x_y_.html")])
def test_safe_names(name, clean):
    assert safe_name(name) == clean


def test_safe_name_rejects_empty_and_hidden():
    for bad in ["..", ".bashrc", "/", ""]:
        with pytest.raises(UploadError):
            safe_name(bad)


def test_uploads_respect_type_size_and_existing_files(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "a.txt").write_text("old")
    src = tmp_path / "src"
    src.mkdir()
    files = {"a.txt": "new", "b.md": "fine", "evil.exe": "MZ", "big.txt": "x" * (2 * 1024 * 1024),
             "../../escape.txt": "up"}
    paths = []
    for i, data in enumerate(files.values()):
        p = src / f"f{i}"
        p.write_text(data)
        paths.append(p)
    lines, saved = add_uploads(paths, list(files), corpus, max_mb=1, user=User("local", "editor"))
    assert (corpus / "a.txt").read_text() == "old" and (corpus / "a-1.txt").read_text() == "new"
    assert any("saved as a-1.txt" in line for line in lines)
    assert any("unsupported type .exe" in line for line in lines)
    assert any("over the 1 MB limit" in line for line in lines)
    assert (corpus / "escape.txt").exists() and not (tmp_path / "escape.txt").exists()
    assert sorted(saved) == ["a-1.txt", "b.md", "escape.txt"]
    assert sorted(p.name for p in Path(corpus).iterdir()) == ["a-1.txt", "a.txt", "b.md", "escape.txt"]
