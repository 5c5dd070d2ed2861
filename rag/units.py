"""What a number counts: the nouns and units written with it ("40,000 devices", "600多家工厂",
"16个月", "52.6%"), as concepts shared by Chinese and English. A figure that the passage states for
one thing and the answer gives for another ("16次AI预警" from "上线16个月", "27 departments" from the
date "2022-08-27", "overruns 40" from "40%") is not stated by that passage.

>>> sorted(concepts_at("connected to more than 40,000 devices in more than 600 factories", 23, 30))
['device']
>>> sorted(concepts_at("已建成58个人工智能应用场景", 3, 5))
['application', 'scenario']
>>> role_mismatch("已完成16次AI预警", "渔政核查核录系统上线16个月以来")
True
>>> role_mismatch("常州600多家工厂", "more than 40,000 devices in more than 600 factories")
False
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from .text import Quantity, normalise_numbers, quantities, same_quantity, split_sentences

# concept -> Chinese words (found anywhere in the phrase after the number) and English word prefixes
# (matched against the first words after it). Only nouns that name what is counted or measured.
_NOUNS: dict[str, tuple[str, ...]] = {
    "company": ("企业", "公司", "厂商", "展商", "compan", "firm", "enterprise", "businesses", "exhibitor"),
    "factory": ("工厂", "factory", "factories"),
    "people": ("人才", "员工", "从业人员", "人员", "观众", "游客", "访客", "学生", "专家", "people", "person", "employee",
               "worker", "researcher", "staff", "talent", "visitor", "attendee", "student", "expert"),
    "money": ("元", "美元", "人民币", "yuan", "rmb", "dollar", "usd"),
    "duration": ("个月", "小时", "分钟", "months", "month", "hours", "minutes", "weeks", "days", "years"),
    "device": ("设备", "终端", "device", "terminal", "equipment"),  # not "machine": "machine frames" are racks
    "school": ("高校", "大学", "院校", "学校", "universit", "school", "college"),
    "vessel": ("渔船", "船只", "船舶", "vessel", "ship", "boat"),
    "kind": ("种类", "类型", "type", "kind", "categor", "varieties"),
    "product": ("产品", "product"),
    "station": ("基站", "station"),
    "rack": ("机架", "rack", "frame"),  # 机架 translated word for word: "standard machine frames"
    "city": ("城市", "cities", "city"),
    "department": ("部门", "部委", "department", "ministr", "agenc"),
    "project": ("项目", "project"),
    "scenario": ("场景", "scenario", "scene"),
    "application": ("应用", "application"),
    "principle": ("原则", "principle"),
    "platform": ("平台", "platform"),
    "country": ("国家", "countr"),
    "province": ("省份", "provinc"),
    "patent": ("专利", "patent"),
    "paper": ("论文", "paper"),
    "model": ("模型", "model"),
    "park": ("园区", "park"),
    "cluster": ("集群", "cluster"),
    "occurrence": ("预警", "warnings", "alerts", "rounds", "iterations"),
    "vote": ("选票", "votes"),
}
# a Chinese classifier right after the number, when the phrase names no noun of its own
# (元 and 个月 are nouns above, found before this is consulted)
_CLASSIFIERS = {"家": "company", "名": "people", "位": "people", "人": "people", "所": "school", "台": "device",
                "艘": "vessel", "票": "vote", "次": "occurrence", "种": "kind", "类": "kind", "款": "product",
                "天": "duration", "月": "month", "日": "day", "号": "day"}
_CLASSIFIER = re.compile(rf"\s*[多余万亿千百十]*([{''.join(_CLASSIFIERS)}])")
_MONTH_NAME = r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?"
_MONTH_BEFORE = re.compile(rf"\b{_MONTH_NAME}\s*$", re.IGNORECASE)  # "October 20"
_MONTH_AFTER = re.compile(rf"\s*{_MONTH_NAME}\b", re.IGNORECASE)  # "20 October"
_DATE = re.compile(r"\d{4}([-/.])(\d{1,2})\1(\d{1,2})")  # 2022-08-27
_ZH_STOP = re.compile(r"[,，。；;：:、()（）\"“”‘’!?！？的和及与]")
_EN_STOP = {"in", "at", "from", "by", "and", "to", "with", "for", "than", "compared", "since", "on", "over", "or"}
_NOT_PEOPLE = re.compile(r"人工智能|智能|机器人|个人")


def concepts_at(text: str, start: int, end: int) -> set[str]:
    """The concepts of the number at `start:end` of normalised `text` (empty when nothing is written)."""
    for m in _DATE.finditer(text):
        if m.start(2) <= start < m.end(2):
            return {"month"}
        if m.start(3) <= start < m.end(3):
            return {"day"}
    if _MONTH_BEFORE.search(text[max(0, start - 12):start]) or _MONTH_AFTER.match(text, end):
        return {"day"}
    after = text[end:end + 24]
    if after.lstrip().startswith(("%", "％")) or re.match(r"\s*(percent|per cent)", after, re.IGNORECASE):
        return {"percent"}
    found: set[str] = set()
    zh = _ZH_STOP.split(after, 1)[0][:12]
    zh_words = _NOT_PEOPLE.sub(" ", zh)
    for concept, words in _NOUNS.items():
        if any(w in zh_words for w in words if not w.isascii()):
            found.add(concept)
    words = []
    for w in re.findall(r"[A-Za-z$-]+|[^\sA-Za-z]", after)[:6]:
        if w.lower() in _EN_STOP or not w.isascii():
            break
        words.append(w.lower())
    for concept, prefixes in _NOUNS.items():
        if any(w.startswith(p) for w in words[:5] for p in prefixes if p.isascii()):
            found.add(concept)
    if not found:
        head = _CLASSIFIER.match(zh)
        if head and not (head.group(1) == "人" and _NOT_PEOPLE.match(zh, head.start(1))):
            found.add(_CLASSIFIERS[head.group(1)])
    return found


_YEAR = re.compile(r"(?<!\d)(?<!\d[.,])(?:19|20)\d{2}(?!\d)(?![.,]\d)")  # not part of 12,019 or 2019.5


def years(text: str) -> set[int]:
    """The years a text names: four-digit numbers from 1900 to 2099 ("2022-08-27" names 2022)."""
    return {int(y) for y in _YEAR.findall(text)}


def is_year(q: Quantity) -> bool:
    """A plain whole number from 1900 to 2100: read as a year, not as a count."""
    return q.kind == "number" and q.value == int(q.value) and 1900 <= q.value <= 2100


@dataclass(frozen=True)
class Stated:
    """A number of a passage, the concepts written with it and the years its sentence names."""

    quantity: Quantity
    concepts: frozenset[str]
    years: frozenset[int]


def roles(text: str) -> list[Stated]:
    """Every number of `text` with the concepts written with it and its sentence's years."""
    t = normalise_numbers(text)
    sentences = [(a, b, frozenset(years(t[a:b]))) for a, b in split_sentences(t)]
    out = []
    for q in quantities(text):
        concepts = {"percent"} if q.kind == "percent" else concepts_at(t, *q.span)
        named = next((ys for a, b, ys in sentences if a <= q.span[0] < b), frozenset())
        out.append(Stated(q, frozenset(concepts), named))
    return out


def role_mismatch(claim: str, passage: str | Sequence[Stated], figures: Sequence[Quantity] | None = None) -> bool:
    """True when a figure of `claim` (all of its numbers, or `figures`) is, everywhere the passage
    states that value, written for another thing than the claim gives it: other nouns or units, a
    percent stated as a bare number, a date's day as a count or as a month; or in a sentence that
    names years, none of them a year the claim names ("2018年出生人口1523万" from "2019年…出生人口1523万").
    Unknown nouns on either side agree, and so does a sentence without a year."""
    stated = roles(passage) if isinstance(passage, str) else passage
    t = normalise_numbers(claim)
    claim_years = years(t)
    for q in quantities(claim) if figures is None else figures:
        if q.kind in ("ordinal", "times") or is_year(q):
            continue  # a rank, a multiple or a year: not a count of anything
        mine = {"percent"} if q.kind == "percent" else concepts_at(t, *q.span)
        theirs = [s for s in stated if same_quantity(q, s.quantity)]
        if not theirs:
            continue
        if q.kind == "number" and not mine and all("percent" in s.concepts for s in theirs):
            return True  # "缺口是52.6" for "52.6%"
        if mine and all(s.concepts and not (s.concepts & mine) for s in theirs):
            return True
        if claim_years and all(s.years and not (s.years & claim_years) for s in theirs):
            return True
    return False
