"""Answers across sources: one short answer per document, assembled in code with the document's
title and date, so figures that differ between articles of different dates are shown side by side
with their sources instead of blended or silently chosen.

Used when the question asks across sources ("分别", "compare", "each article") or when the retrieved
documents state different values for the asked kind of quantity (a count of companies, an industry's
size, a percentage).

>>> asks_across("两篇报道分别说有多少家企业？"), asks_across("Compare the two reports."), asks_across("有多少家企业？")
(True, True, False)
>>> from rag.records import DocInfo
>>> according_to(DocInfo("d1", "AI in industry", "2024-10-21"), "en"), according_to(DocInfo("d2", "人工智能", ""), "zh")
('According to "AI in industry" (October 21, 2024): ', '据《人工智能》（未注明日期）：')
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .answer_type import agrees, in_scope, places
from .records import DocInfo, Hit
from .store import Index
from .text import dates_in_notation, has_han, quantities, split_sentences
from .units import is_year

MAX_SOURCES = 3  # one small prompt each: about 2-4 s per source on a 2-core AVX2 machine
FIGURE_SIMILARITY = 0.45  # a document's figure sentence must be at least this close to the question

ACROSS = re.compile(
    r"分别|各自|每篇|各篇|两篇|几篇|不同(?:的)?(?:报道|文章|资料|来源|文件)|各(?:报道|文章|资料)|"
    r"\bcompare|\bcomparison|\bboth\b|\beach (?:article|report|source|document)|\brespectively|"
    r"\bacross (?:the |all )?(?:articles|reports|sources|documents)|\bdifferent (?:articles|reports|sources)",
    re.IGNORECASE)


def asks_across(question: str) -> bool:
    """The question asks what several sources say."""
    return bool(ACROSS.search(question))


@dataclass(frozen=True)
class Figure:
    doc_id: str
    sentence: str
    values: frozenset[float]
    similarity: float


def _figure(question: str, kind: str, hit: Hit, index: Index, query_vec: np.ndarray) -> Figure | None:
    """The hit's sentence closest to the question that states a number of the asked kind for the asked place."""
    spans, vecs = index.chunk_sentences(index.row_of(hit.chunk.id))
    if not len(spans):
        return None
    sims = np.asarray(vecs, dtype=np.float32) @ query_vec
    for i in np.argsort(-sims):
        if sims[i] < FIGURE_SIMILARITY:
            return None
        text = hit.chunk.text[spans[i][0]:spans[i][1]]
        values = frozenset(q.value for q in quantities(text) if q.kind == "number" and not is_year(q))
        if values and agrees(kind, text) and in_scope(question if places(question) else "中国", text):
            return Figure(hit.chunk.doc_id, text, values, float(sims[i]))
    return None


def differing_documents(question: str, kind: str | None, hits: Sequence[Hit], index: Index,
                        query_vec: np.ndarray) -> list[str]:
    """Documents whose best figure sentence for the question states values no other one states, in
    retrieval order; [] unless at least two documents disagree."""
    if kind is None:
        return []
    best: dict[str, Figure] = {}
    for h in hits:
        f = _figure(question, kind, h, index, query_vec)
        if f and (h.chunk.doc_id not in best or f.similarity > best[h.chunk.doc_id].similarity):
            best[h.chunk.doc_id] = f
    if len(best) < 2 or len({f.values for f in best.values()}) < 2:
        return []
    return list(best)[:MAX_SOURCES]


_QUOTED = re.compile(r"《([^》]{4,})》|[“\"]([^”\"]{8,})[”\"]")


def quotes_title(question: str, title: str) -> bool:
    """The question quotes this title, whole or its start ("《人工智能加速赋能千行百业》一文中…",
    'the article "A spokesman for the Ministry of …"').

    >>> quotes_title("《人工智能加速赋能千行百业》一文中，企业数量超过多少家？", "人工智能加速赋能千行百业")
    True
    >>> quotes_title("人工智能加速赋能千行百业的企业有多少家？", "人工智能加速赋能千行百业")
    False
    >>> quotes_title("《人工智能》一书怎么说？", "人工智能加速赋能千行百业")  # too little of the title
    False
    """
    key = re.sub(r"\W", "", title).lower()
    for m in _QUOTED.finditer(question):
        quoted = re.sub(r"\W", "", m.group(1) or m.group(2)).lower()
        if len(quoted) >= min(len(key), 6) and key and (key.startswith(quoted) or quoted.startswith(key)):
            return True
    return False


def source_documents(question: str, kind: str | None, hits: Sequence[Hit], index: Index,
                     query_vec: np.ndarray) -> list[str]:
    """The documents to answer from one by one; [] for an ordinary single answer. A question that names
    one source ("《人工智能加速赋能千行百业》一文中…") is answered from that source only."""
    named = [d for d in dict.fromkeys(h.chunk.doc_id for h in hits) if quotes_title(question, index.doc_info(d).title)]
    if len(named) == 1 and not asks_across(question):
        return named
    if asks_across(question):
        docs = list(dict.fromkeys(h.chunk.doc_id for h in hits))
        return docs[:MAX_SOURCES] if len(docs) >= 2 else []
    return differing_documents(question, kind, hits, index, query_vec)


def _short(title: str, limit: int = 48) -> str:
    return title if len(title) <= limit else title[: limit - 1].rstrip() + "…"


def per_source_question(question: str, lang: str) -> str:
    """The question as put to one source's passages."""
    if lang == "zh":
        return f"{question}（只回答这篇资料的说法，一句话。）"
    return f"{question} (Answer from this article only, in one sentence.)"


def drop_echo(answer: str, question: str) -> str:
    """The answer without leading clauses that repeat the question's words (small models restate the
    question: "两篇报道中，企业数量分别超过4500家" -> "企业数量分别超过4500家").

    >>> drop_echo("两篇报道中，企业数量超过4500家[1]。", "两篇报道中企业数量分别是多少？")
    '企业数量超过4500家[1]。'
    """
    q = re.sub(r"\W", "", question)
    out = []
    for a, b in split_sentences(answer):
        sentence = answer[a:b].strip()
        start = 0
        for m in re.finditer(r"[，：]|[,:](?=\s)", sentence):
            clause = re.sub(r"\W", "", sentence[start:m.start()])
            if not clause or clause not in q:
                break
            start = m.end()
        out.append(sentence[start:].strip() or sentence)
    return ("" if has_han(answer) else " ").join(out)


def source_date(info: DocInfo, lang: str) -> str:
    """A source's date in the reader's notation; said to be missing when the document gives none, so that
    figures of dated and undated sources are not read as equally recent."""
    if info.date:
        return dates_in_notation(info.date, lang)
    return "未注明日期" if lang == "zh" else "undated"


def according_to(info: DocInfo, lang: str) -> str:
    """The lead-in naming a source and its date."""
    title, date = _short(info.title or info.id), source_date(info, lang)
    if lang == "zh":
        return f"据《{title}》（{date}）："
    return f'According to "{title}" ({date}): '


def not_stated(info: DocInfo, lang: str) -> str:
    title, date = _short(info.title or info.id), source_date(info, lang)
    if lang == "zh":
        return f"《{title}》（{date}）没有给出这一信息。"
    return f'"{title}" ({date}) does not say.'
