"""What a number counts, and figures moved from one role to another (rag/units.py)."""

import numpy as np
import pytest

from rag.cite import SourcePassage, SupportChecker
from rag.text import normalise_numbers, quantities
from rag.units import concepts_at, role_mismatch, roles

FISHERY = "渔政核查核录系统上线16个月以来，AI“船脸”算法平均识别率精度达到86%以上，已完成8580次AI预警、3100多艘渔船的数据搜集。"
JD = "At present, the Jingdong platform has connected more than 40,000 devices in more than 600 factories in Changzhou."


def _concepts(text: str) -> list[set[str]]:
    t = normalise_numbers(text)
    return [concepts_at(t, *q.span) for q in quantities(text)]


@pytest.mark.parametrize("text,expected", [
    ("上海有1,149家重点人工智能企业", [{"company"}]),  # 人工智能's 人 is not people
    ("已建成58个人工智能应用场景", [{"application", "scenario"}]),
    (JD, [{"device"}, {"factory"}]),
    ("连续16个月，投入50亿元资金", [{"duration"}, {"money"}]),
    ("2022-08-27 Six departments", [set(), {"month"}, {"day"}, {"department"}]),  # the year has no noun
    ("on October 20, 2019", [{"day"}, set()]),
    ("185.4万个5G基站", [{"station"}, {"station"}]),
    ("他以1,523票当选", [{"vote"}]),  # 票 counts votes (RGB: a vote count given as another figure)
])
def test_the_nouns_written_with_a_number(text, expected):
    assert _concepts(text) == expected


@pytest.mark.parametrize("claim,passage", [
    ("已完成16次AI预警", FISHERY),  # 16 is a count of months there
    ("The system has been online for 86 months.", FISHERY),  # 86 is a percent there
    ("AI“船脸”算法的识别率精度达到86", FISHERY),  # a percent given as a bare number
    ("京东平台在常州接入了600台设备", JD),  # 600 counts factories
    ("27 departments including the Ministry issued the opinions.", "2022-08-27 Six departments issued the opinions."),
    ("上海有1,149名员工", "上海有1,149家重点人工智能企业"),
    ("嫦娥五号于2020年12月24日发射", "嫦娥五号2020年11月24日4时30分发射，是第12次任务"),  # 12 is no month there
    ("2018年我国出生人口1523万人", "宁吉喆说，2019年我国出生人口1523万人，人口出生率为10.94‰。"),  # RGB: year moved
    ("截至2022年底，数据中心机架总规模超过810万标准机架", "截至2023年底，我国在用数据中心机架总规模超过810万标准机架。"),
])
def test_a_figure_given_for_another_thing_is_a_mismatch(claim, passage):
    assert role_mismatch(claim, passage)


@pytest.mark.parametrize("claim,passage", [
    ("已完成8580次AI预警", FISHERY),
    ("It collected data on more than 3,100 fishing boats.", FISHERY),  # one concept in two languages
    ("常州600多家工厂接入了平台", JD),
    ("Shanghai has 1,149 key AI companies.", "上海有1,149家重点人工智能企业"),
    ("The figure is 1,149.", "上海有1,149家重点人工智能企业"),  # no noun in the claim: nothing to disagree with
    ("上海有1,149家", "Shanghai has 1,149 of them."),  # no noun in the passage either
    ("2023年缺口达到78.4%", "2022年我国智能算力缺口是52.6%，2023年达78.4%。"),
    # multi-turn set mt-10: 机架 translated word for word
    ("The country has 8.1 million standard machine frames in use at the end of 2023.",
     "截至2023年底，我国在用数据中心机架总规模超过810万标准机架。"),
    ("The press conference was on October 20.", "The spokesman spoke on 20 October."),
    ("2023年我国人工智能核心产业规模超过4000亿元，比2019年增长6倍", "规模超过4000亿元，比2019年增长6倍。"),
    ("As of 2021, Shanghai has 1,149 key AI companies.", "Shanghai has 1,149 key AI companies."),  # no year there
])
def test_the_same_role_in_any_wording_agrees(claim, passage):
    assert not role_mismatch(claim, passage)


def test_roles_are_read_once_per_passage():
    stated = roles(JD)
    assert [s.quantity.value for s in stated] == [40000, 600]
    assert role_mismatch("600 devices", stated) and not role_mismatch("40,000 devices", stated)


def test_the_checker_refuses_a_figure_stated_for_another_thing():
    """Found with eval/support_bench.py: "16次AI预警" passed because 16 is in the passage (as months)."""
    vec = np.array([[1.0, 0.0, 0.0, 0.0]], dtype=np.float32)
    ps = [SourcePassage(1, "zh", "zh#1", FISHERY, (FISHERY,), vec)]
    checker = SupportChecker(ps, lambda texts: np.tile(vec[0], (len(texts), 1)))
    assert checker.verify("渔政核查核录系统已完成8580次AI预警[1]。").supported_sentences == 1
    assert checker.verify("渔政核查核录系统已完成16次AI预警[1]。").supported_sentences == 0
