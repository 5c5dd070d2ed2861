"""Questions that ask two things, answered one part at a time.

"我国5G基站数量达到了多少？在用数据中心机架总规模又是多少？" or "How many people work at X, and what
problems does Y face?" got one prompt whose evidence budget held the sentences of one part, and an
answer to that part only. Each part now gets its own retrieval, evidence and verification, and the
answers are joined in code, citations renumbered onto one list of sources.

>>> question_parts("飞机尾翼复合材料检测和老电影4K修复，分别用上了哪家企业的AI技术？")
['飞机尾翼复合材料检测用上了哪家企业的AI技术？', '老电影4K修复用上了哪家企业的AI技术？']
>>> question_parts("How many devices are connected, and how many vessels has it tracked?")
['How many devices are connected?', 'How many vessels has it tracked?']
>>> len(question_parts("工信部10月20日新闻发布会和经济日报2024年的报道中，我国人工智能企业数量分别超过多少家？"))
1
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence

from .records import Answer, Citation, Hit, Timings
from .text import in_script

MAX_PARTS = 3
_WH = r"what|which|who|whom|whose|when|where|why|how"
_ASKS_EN = rf"{_WH}|is|are|was|were|do|does|did|has|have|had|can"  # words that open an English question
_ASKS = re.compile(rf"什么|多[少长久大高远重]|几|哪|谁|怎|如何|为何|为什么|是否|吗|呢|\b({_ASKS_EN})\b", re.IGNORECASE)
_AND_WH = re.compile(rf",\s*and\s+((?:{_WH})\b[^?]*\??)\s*$", re.IGNORECASE)
_WH_START = re.compile(rf"^({_ASKS_EN})\b", re.IGNORECASE)
# "(prefix，)X和Y(，)分别<predicate>": X and Y are one clause each (no comma), the predicate asks
_EACH_ZH = re.compile(r"(?:^|(?<=[，,]))([^，,和]+)和([^，,]+?)[，,]?分别(.+)$")

_COPULA = re.compile(r"^(是|为)(什么|哪些|哪个|谁|多少)")  # "…分别是什么": the thing asked is Y's head noun


def question_parts(question: str) -> list[str]:
    """The parts of a question that asks two (or three) things, or the question alone. Only plain
    shapes split: questions in a row ("…？…？"), "…, and what/how …?", and "X和Y分别…" where X and Y are
    the things asked about. "X和Y的报道中，…分别…" (sources compared) is left to per-source answers."""
    q = question.strip()
    asked = [s.strip() for s in re.findall(r"[^？?]+[？?]", q)]
    rest = re.sub(r"[^？?]+[？?]", "", q).strip()
    if 2 <= len(asked) <= MAX_PARTS and not rest and all(_ASKS.search(s) for s in asked):
        return asked
    m = _AND_WH.search(q)
    if m and _WH_START.match(q):
        first, second = q[: m.start()].rstrip(" ,") + "?", m.group(1).rstrip("?") + "?"
        return [first, second[0].upper() + second[1:]]
    m = _EACH_ZH.search(q)
    if m:
        prefix, x, y, predicate = q[: m.start(1)], m.group(1).strip(), m.group(2).strip(), m.group(3).strip()
        if x and y and _ASKS.search(predicate):
            head = y.rsplit("的", 1)[1] if "的" in y and _COPULA.match(predicate) else ""
            if head and not x.endswith(head):  # "中国移动和中国联通的AI应用分别是什么": both are asked their AI应用
                x = f"{x}的{head}"
            return [prefix + x + predicate, prefix + y + predicate]
    return [q]


def _renumbered(text: str, renumber: dict[int, int]) -> str:
    return re.sub(r"\[(\d+)\]", lambda m: f"[{renumber.get(int(m.group(1)), int(m.group(1)))}]", text)


NOT_ANSWERED = {"zh": "资料中没有找到“{part}”的答案。", "en": 'The documents do not answer "{part}"'}


def join_parts(question: str, rewritten: str, lang: str, traditional: bool, parts: Sequence[str],
               answers: Sequence[Answer], abstain_text: str, total: float) -> Answer:
    """One answer from the parts' answers: texts joined, each part's [n] markers and citations
    renumbered onto one list of sources (a chunk both parts cite keeps one number), a line already given
    not repeated. A part without an answer says so by name; with no part answered, the whole question
    abstains."""
    hits: list[Hit] = []
    number: dict[str, int] = {}
    texts, raws, unsupported = [], [], []
    shown: set[str] = set()
    citations: list[Citation] = []
    for part, a in zip(parts, answers, strict=True):
        renumber: dict[int, int] = {}
        for i, h in enumerate(a.hits, 1):
            if h.chunk.id not in number:
                hits.append(h)
                number[h.chunk.id] = len(hits)
            renumber[i] = number[h.chunk.id]
        raws.append(a.raw_text)
        if a.abstained:
            texts.append(in_script(NOT_ANSWERED[lang].format(part=part.rstrip("？?")), traditional))
            continue
        lines = [x for x in _renumbered(a.text, renumber).split("\n") if x not in shown]
        shown.update(lines)  # two parts answered per source can give the same source's line twice
        if lines:
            texts.append("\n".join(lines))
        citations += [dataclasses.replace(c, n=renumber.get(c.n, c.n)) for c in a.citations]
        unsupported += a.unsupported
    answered = [a for a in answers if not a.abstained]
    scores: dict[str, float] = {"parts": len(parts)}
    for key in ("recall", "precision", "raw_recall", "raw_precision"):
        vals = [a.citation_scores[key] for a in answered if key in a.citation_scores]
        if vals:
            scores[key] = sum(vals) / len(vals)
    first = answers[0].timings
    timings = Timings(first.retrieve, first.first_token, sum(a.timings.generate for a in answers), total)
    if not answered:
        return Answer(question, lang, in_script(abstain_text, traditional), True, (), tuple(hits), rewritten,
                      timings, (), "\n".join(raws), scores, traditional)
    return Answer(question, lang, "\n".join(texts), False, tuple(citations), tuple(hits), rewritten, timings,
                  tuple(unsupported), "\n".join(raws), scores, traditional)
