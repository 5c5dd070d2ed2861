"""A figure must be of the kind the question asks for (the cited passage stating it is not enough)."""

import pytest

from rag.answer_type import agrees, expected_kind


@pytest.mark.parametrize("question,kind", [
    ("中国有多少家人工智能企业？", "company"), ("How many AI companies does China have?", "company"),
    ("How many key AI firms did Shanghai have?", "company"),
    ("上海人工智能产业的从业人员有多少？", "people"), ("How many people work in Shanghai's AI companies?", "people"),
    ("2020年上海人工智能产业规模达到多少？", "size"), ("How much will Inspur Cloud invest?", "size"),
    ("What is the scale of China's AI core industry?", "size"), ("What AI industry scale does Shanghai aim for?", "size"),
    ("上海人工智能产业年均增速是多少？", "percent"), ("What growth rate did Shanghai reach?", "percent"),
    ("我国算力规模在全球排第几？", None), ("Who is Tao Qing?", None),
])
def test_expected_kind(question, kind):
    assert expected_kind(question) == kind


@pytest.mark.parametrize("kind,sentence,ok", [
    ("company", "上海有1,149家重点人工智能企业。", True),
    ("company", "Shanghai has 1,149 key artificial intelligence companies.", True),
    ("company", "上海有187,000名从业人员。", False),  # a head count given as a company count
    ("people", "The industry employs 187,000 people.", True),
    ("people", "There are 1,149 companies.", False),
    ("size", "规模达2246亿元。", True), ("size", "The scale reached 224.6 billion yuan.", True),
    ("size", "规模达到1,149 Key artificial intelligence companies。", False),
    ("size", "投资基金的规模为187,000人。", False),
    ("percent", "年均增速为29.5%。", True), ("percent", "The industry has 1,149 companies.", False),
    ("company", "As of 2020, the number is 1,149.", True),  # no unit written: let through
    ("company", "In 2023, 4,400 companies.", True),  # a year is not the answer's figure
    ("size", "我国算力规模在全球排第2位。", True),  # an ordinal is never held against the kind
    (None, "Anything at all 12 people.", True),
    ("size", "The scale of the artificial intelligence industry is growing rapidly.", False),  # no figure
    ("company", "我国人工智能企业数量增长很快。", False),
])
def test_agrees(kind, sentence, ok):
    assert agrees(kind, sentence) is ok


@pytest.mark.parametrize("kind,sentence,ok", [
    ("size", "2020年上海人工智能产业规模达到1,149 Key人工智能公司[2]。", False),  # half an English phrase copied
    ("people", "1,149人工智能公司。", True),  # a unit right after the number decides: 人 here (not reached: 公司 is later)
    ("people", "The robots served 300 Key人工智能visitors.", True),
])
def test_unit_after_english_words(kind, sentence, ok):
    assert agrees(kind, sentence) is ok


def test_a_figure_without_a_unit_takes_the_unit_its_passage_gives():
    expo = ["This year, offline exhibitors are expected to exceed 300. Among them, 40% are new."]
    assert expected_kind("2021年世界人工智能大会吸引了多少观众？") == "people"
    assert agrees("people", "300 [4]。", expo) is False  # 300 exhibitors, not 300 visitors
    assert agrees("company", "300 [4]。", expo) is True
    assert agrees("people", "300[1]。", ["参展企业超过300，观众超过2万人。"]) is False
    assert agrees("people", "2万[1]。", ["参展企业超过300，观众超过2万人。"]) is True
    assert agrees("people", "300 [4]。", ["The figure was 300."]) is True  # no unit anywhere: let through
    staff = ["the total number of employees in Shanghai's key AI companies will reach 187,000 (July 2020)."]
    assert agrees("people", "The total will reach 187,000 [1].", staff) is True  # two kinds before it: unknown


def test_a_bare_answer_must_come_from_a_passage_about_the_question():
    from rag.answer_type import about_question

    off = ["Shanghai is very, very good in this country. This is Shanghai artificial intelligence."]
    assert not about_question("What is the capital of China?", "Shanghai [1].", off)
    assert about_question("Which Turing Award laureate settled in Shanghai?", "Yao Qizhi [1].",
                          ["Turing Award winner Yao Qizhi settled in Shanghai."])
    assert about_question("What is the capital of China?", "The capital of China is Shanghai [1].", off)  # not bare
    assert about_question("中国的首都是哪里？", "上海[1]。", off)  # a passage in the other language: left to the judge
    assert not about_question("中国的首都是哪里？", "上海[1]。", ["上海是人工智能高地。"])
