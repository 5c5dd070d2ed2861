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
    # a space lost after the full stop (seed 004: "continued to emerge.The coordinated development …")
    s = "Results continued to emerge.The scale grew. Visit www.thepaper.cn now. Mr.Li came."
    assert [s[a:b] for a, b in text.split_sentences(s)] == [
        "Results continued to emerge.", "The scale grew.", "Visit www.thepaper.cn now.", "Mr.Li came."]


@pytest.mark.parametrize("claim,source", [
    ("规模2246亿元", "The industry scale reached 224.6 billion yuan."),  # English figure, Chinese notation
    ("The scale reached 224.6 billion yuan", "产业规模达2246亿元"),
    ("4.5万家", "45,000 companies"), ("四万五千家", "45,000 companies"), ("45 thousand", "4.5万"),
    ("七百四十二人", "742 researchers"), ("十二家", "12 firms"), ("两千人", "2,000 people"),
    ("1.2万亿", "1.2 trillion"), ("810万", "8.1 million racks"), ("三亿", "300 million"),
    ("百分之三十", "30%"), ("30 percent", "增长３０％"), ("30 per cent", "百分之三十"),
    ("第四届", "the 4th forum"), ("fourth", "第四届"), ("2倍", "2 times"),
    ("2.2 trillion", "22460亿"),  # a rounded figure matches what it rounds
    ("21.6 billion", "營收為216億"),  # Traditional numerals
    ("230 EFLOPS", "算力总规模达到230百亿亿次"),  # a unit-like scale: the written number is compared
    ("230 quintillion operations per second", "每秒230百亿亿次浮点运算"),  # 百亿亿 = 10^18 = quintillion
])
def test_numbers_match_by_value_across_notations(claim, source):
    assert text.numbers_supported(claim, source), (claim, text.quantities(claim), text.quantities(source))


@pytest.mark.parametrize("claim,source", [
    ("216 billion", "營收為216億"),  # 億 is a hundred million: 21.6 billion, not 216 billion
    ("224.6亿元", "224.6 billion yuan"),  # ten times off
    ("4,500", "4,460"), ("30%", "30 companies"), ("1,149", "1,194"), ("2.3 trillion", "22460亿"),
    ("23 quintillion", "每秒230百亿亿次"),
])
def test_different_values_do_not_match(claim, source):
    assert not text.numbers_supported(claim, source)


def test_words_that_contain_numerals_are_not_numbers():
    assert text.quantities("一些企业统一部署，千万不要忘记") == []
    assert [q.value for q in text.quantities("2023年3月27日，三家企业")] == [2023, 3, 27, 3]
    assert [q.value for q in text.quantities("上海有1,149家企业[2]。")] == [1149]  # markers are not numbers


@pytest.mark.parametrize("answer,lang,shown", [
    ("上海的产业规模为224.6 billion yuan[1]。", "zh", "上海的产业规模为2246亿元[1]。"),
    ("The scale is 2246亿元 [1].", "en", "The scale is 224.6 billion yuan [1]."),
    ("它有1.2 million用户[1]。", "zh", "它有120万用户[1]。"),
    ("China had 8.1 million racks [1].", "en", "China had 8.1 million racks [1]."),  # already English notation
    ("机架达810万[1]。", "zh", "机架达810万[1]。"),
    ("China has 4,400 AI firms, up 30% [1].", "zh", "China has 4,400 AI firms, up 30% [1]."),  # plain numbers stay
    ("算力达230百亿亿次[1]。", "en", "算力达230百亿亿次[1]。"),  # a unit, not a scale: left alone
    ("消化了300 million yuan的剩余产能[1]。", "zh", "消化了3亿元的剩余产能[1]。"),  # currency right before Han text
    ("5G基站达到了1.854 million[1]。", "zh", "5G基站达到了185.4万[1]。"),  # the marker right after it stays
    ("5G基站达到了1.854 million [1]。", "zh", "5G基站达到了185.4万[1]。"),  # no space before it in Chinese
    ("据介绍，设备超过７８００万台（套）[2]。", "zh", "据介绍，设备超过７８００万台（套）[2]。"),  # punctuation kept
    ("据介绍，机架超过810万架。", "en", "据介绍，机架超过 8.1 million架。"),  # a passage shown to an English reader
])
def test_numbers_are_shown_in_the_readers_notation(answer, lang, shown):
    assert text.in_notation(answer, lang) == shown


@pytest.mark.parametrize("answer,lang,shown", [
    ("这篇文章发布于2021-07-07[1]。", "zh", "这篇文章发布于2021年7月7日[1]。"),
    ("It was published on 2022-08-27 [1].", "en", "It was published on August 27, 2022 [1]."),
    ("The order number is 2021-13-07 [1].", "en", "The order number is 2021-13-07 [1]."),  # no such month
    ("编号A-2021-07-07-5[1]。", "zh", "编号A-2021-07-07-5[1]。"),  # part of a longer code
])
def test_dates_are_shown_in_the_readers_notation(answer, lang, shown):
    assert text.dates_in_notation(answer, lang) == shown


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
