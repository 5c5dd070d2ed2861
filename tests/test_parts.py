"""Questions that ask two things: split by shape, each part answered on its own, joined in code."""

import re

import pytest

from rag.parts import join_parts, question_parts
from rag.pipeline import open_pipeline
from tests.test_per_source import EchoGenerator, _corpus


@pytest.mark.parametrize("question, parts", [
    ("我国5G基站数量达到了多少？在用数据中心机架总规模又是多少？",
     ["我国5G基站数量达到了多少？", "在用数据中心机架总规模又是多少？"]),
    ("采用人工智能后，飞机尾翼复合材料检测和渔船身份核验分别需要多长时间？",
     ["采用人工智能后，飞机尾翼复合材料检测需要多长时间？", "采用人工智能后，渔船身份核验需要多长时间？"]),
    ("How many people work at Shanghai's key AI companies, and what talent problems does China face?",
     ["How many people work at Shanghai's key AI companies?", "What talent problems does China face?"]),
])
def test_questions_asking_two_things_are_split(question, parts):
    assert question_parts(question) == parts


@pytest.mark.parametrize("question", [
    "上海有多少家重点人工智能企业？",
    "工信部10月20日新闻发布会和经济日报2024年的报道中，我国人工智能企业数量分别超过多少家？",  # sources compared
    "陶青在不同报道中分别以什么身份出现？",
    "The guideline lists four principles: enterprise-led, open and integrated, and what else?",
    "上海人工智能产业规模是多少？ 请简要回答。",  # the second sentence asks nothing
])
def test_single_questions_stay_whole(question):
    assert question_parts(question) == [question.strip()]


DOCS = {"jd": "标题：京东在常州\n时间：2024-10-21\n\n京东工业互联网平台在常州落地，连接了4万台设备。",
        "unicom": "标题：联通在威海\n时间：2024-10-21\n\n渔政核查核录系统在威海落地，采集了3100艘渔船的数据。"}


def test_each_part_is_answered_from_its_own_evidence_and_citations_are_renumbered(fake_settings, tmp_path):
    gen = EchoGenerator()
    settings = fake_settings.replace(corpus_dir=str(_corpus(tmp_path, DOCS)))
    a = open_pipeline(settings, generator=gen).ask("京东工业互联网平台和渔政核查核录系统分别在哪个城市落地？")
    assert len(gen.prompts) == 2 and not a.abstained, a.raw_text
    assert "常州" in a.text and "威海" in a.text and len(a.text.split("\n")) == 2
    for line, place, doc in zip(a.text.split("\n"), ("常州", "威海"), ("jd", "unicom"), strict=True):
        n = int(re.search(r"\[(\d+)\]", line).group(1))
        assert place in line and a.hits[n - 1].chunk.doc_id == doc  # the marker points at its own source
    assert {c.doc_id for c in a.citations if c.supported} == {"jd", "unicom"}
    assert a.question == a.rewritten_question == "京东工业互联网平台和渔政核查核录系统分别在哪个城市落地？"

    gen = EchoGenerator()  # the setting off: one prompt for two questions in a row
    open_pipeline(settings.replace(split_questions=False), generator=gen).ask("京东平台在哪里？渔政系统在哪里？")
    assert len(gen.prompts) == 1


def test_a_part_without_an_answer_says_so_and_none_answered_abstains(fake_settings, tmp_path):
    settings = fake_settings.replace(corpus_dir=str(_corpus(tmp_path, DOCS)))
    pipe = open_pipeline(settings, generator=EchoGenerator())
    parts = ["京东工业互联网平台在哪个城市落地？", "渔政核查核录系统在哪个城市落地？"]
    answers = [pipe.ask(parts[0]), pipe.ask(parts[1])]
    answers[1] = answers[1].__class__(**{**answers[1].__dict__, "abstained": True, "citations": ()})
    joined = join_parts("q", "q", "zh", False, parts, answers, "资料中没有找到这个问题的答案。", 1.0)
    assert not joined.abstained and joined.text.endswith("资料中没有找到“渔政核查核录系统在哪个城市落地”的答案。")
    both = join_parts("q", "q", "zh", False, parts, [answers[1], answers[1]], "资料中没有找到这个问题的答案。", 1.0)
    assert both.abstained and both.text == "资料中没有找到这个问题的答案。" and not both.citations


def test_a_line_two_parts_both_give_is_shown_once(fake_settings, tmp_path):
    settings = fake_settings.replace(corpus_dir=str(_corpus(tmp_path, DOCS)))
    pipe = open_pipeline(settings, generator=EchoGenerator())
    parts = ["京东工业互联网平台在哪个城市落地？", "渔政核查核录系统在哪个城市落地？"]
    first, second = pipe.ask(parts[0]), pipe.ask(parts[1])
    twice = join_parts("q", "q", "zh", False, parts, [first, first], "资料中没有找到这个问题的答案。", 1.0)
    assert twice.text == first.text  # per-source parts answered the same way: one copy
    both = join_parts("q", "q", "zh", False, parts, [first, second], "资料中没有找到这个问题的答案。", 1.0)
    lines = both.text.split("\n")
    assert len(lines) == 2 and lines[0] == first.text and "威海" in lines[1]


def test_a_shared_head_noun_is_asked_of_both():
    assert question_parts("中国移动和中国联通的AI应用分别是什么？") == ["中国移动的AI应用是什么？", "中国联通的AI应用是什么？"]
    assert question_parts("京东平台和联通的渔政系统分别在哪个城市落地？") == [  # not a copula: nothing shared
        "京东平台在哪个城市落地？", "联通的渔政系统在哪个城市落地？"]


def test_a_part_naming_too_little_is_rewritten_from_the_one_before():
    from rag.rewrite import condense, few_words

    first, second = question_parts("上海有多少所高校开设了人工智能相关学科？一共开设了多少个？")
    assert few_words(second) and not few_words(first)
    assert condense([first], second, None, "zh", force=True) == f"{first} {second}"  # no model: joined
    assert condense([first], second, None, "zh") == second  # as a chat turn it would stand alone
