"""End to end with the real default models (EmbeddingGemma-300M + Qwen2.5-Coder-1.5B GGUF) on the seeds.

Needs `rag models pull` (the README's install does it). Slow: about three minutes on 2 CPU cores."""

import pytest

from rag.indexer import build_index
from rag.settings import load_settings
from rag.text import mixed_fragment

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def pipe(tmp_path_factory):
    from rag.pipeline import open_pipeline

    s = load_settings(env={}, overrides={"index_dir": str(tmp_path_factory.mktemp("e2e") / "index")})
    p = open_pipeline(s)  # builds the seed index on first use
    first = p.build_summary
    assert first.docs_added == 5 and first.chunks_embedded == first.chunks_total > 20
    assert build_index(s, p.embedder, quiet=True).chunks_embedded == 0
    return p


def _digits(text: str) -> str:
    return text.replace(",", "").replace(" ", "")


def test_chinese_question_answered_from_an_english_article(pipe):
    a = pipe.ask("上海有多少家重点人工智能企业？")
    assert not a.abstained, a.raw_text
    assert "1149" in _digits(a.text) and a.lang == "zh" and not mixed_fragment(a.text, "zh")
    assert any(c.doc_id == "003_aea3d6d152eb6b7f" and c.supported for c in a.citations)


def test_english_question(pipe):
    a = pipe.ask("How many key AI companies did Shanghai have as of 2020?")
    assert not a.abstained, a.raw_text
    assert "1149" in _digits(a.text)
    assert any(c.doc_id == "003_aea3d6d152eb6b7f" and c.supported for c in a.citations)


def test_english_answer_from_a_chinese_article_stays_in_english(pipe):
    # without the script guard the model wrote "a digital产业集群" here (held-aside h-en-022)
    a = pipe.ask('According to Wang Peilin, what globally influential things could the deep advancement of '
                 '"AI+" and "Data Elements ×" help China build?')
    assert not a.abstained, a.raw_text
    assert "cluster" in a.text.lower() and not mixed_fragment(a.text, "en"), a.text


def test_unanswerable_question_abstains(pipe):
    a = pipe.ask("What was the size of Beijing's AI industry in 2021?")
    assert a.abstained and "do not contain" in a.text
    assert a.hits  # the closest passages are still listed
