"""rag/text.py: the one definition of scripts, language, words, sentences and numbers."""

import re
from pathlib import Path

import pytest

from rag import text

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("ch,han", [("上", True), ("㐀", True), ("丽", True), ("𠀀", True), ("a", False),
                                    ("。", False), ("１", False), ("ア", False)])
def test_han_covers_extension_a_compatibility_and_extension_b(ch, han):
    assert text.is_han(ch) is han


@pytest.mark.parametrize("q,lang", [("上海有多少家重点人工智能企业？", "zh"), ("How many AI firms?", "en"),
                                    ("What does 人工智能 mean?", "en"), ("OpenAI 的 GPT-4 是什么？", "zh"),
                                    ("2024", "en"), ("㐀㐁", "zh")])
def test_detect_lang(q, lang):
    assert text.detect_lang(q) == lang


def test_search_tokens_and_content_words():
    assert text.search_tokens("上海有1,149家重点人工智能企业 in Shanghai")[:6] == ["上海", "1149", "家", "重点", "人工", "智能"]
    assert "shanghai" in text.search_tokens("Shanghai companies") and "companie" in text.search_tokens("companies")
    assert "the" not in text.search_tokens("the firms") and "的" not in text.search_tokens("上海的企业")
    assert text.content_words("上海的企业[1]。") == {"上海", "企业"}  # no marker, stop word or punctuation


def test_sentences_in_both_languages():
    s = "上海有1,149家企业。规模达224.6亿元！Mr. Li left. Done"
    assert [s[a:b] for a, b in text.split_sentences(s)] == ["上海有1,149家企业。", "规模达224.6亿元！", "Mr. Li left.", "Done"]


def test_numbers_by_significant_digits():
    assert text.numbers_in("4,500 firms and 224.6 billion") == {"45", "2246"}
    assert text.numbers_in("2246亿元，四项") == {"2246", "4"}
    assert text.numbers_in("four companies") == {"4"}


def test_no_other_module_defines_han_ranges_stop_words_sentences_or_numbers():
    """The issue's grep: text.py is the only place with a Han range, a stop-word list, sentence
    splitting or number extraction."""
    han = re.compile(r"\\u3400|\\u4e00|\\u9fff|\\uf900")
    definitions = re.compile(r"STOPS?\s*=\s*frozenset|_FILLER\s*=|def split_sentences|def numbers_in|"
                             r"def digit_signature|def detect_lang|def tokenize")
    offenders = []
    for path in [*ROOT.glob("rag/**/*.py"), *ROOT.glob("ui/**/*.py"), *ROOT.glob("eval/**/*.py")]:
        if path.name == "text.py":
            continue
        src = path.read_text(encoding="utf-8")
        if han.search(src) or definitions.search(src):
            offenders.append(str(path.relative_to(ROOT)))
    assert not offenders
