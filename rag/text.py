"""Bilingual text analysis, in one place: which characters are Han, which language a text is in,
jieba words and search tokens, stop words, sentence spans and the numbers a text states.

Every module that needs one of these asks here, so Chinese and English are handled by one
definition everywhere (chunking, retrieval, prompts, verification, evaluation).

>>> detect_lang("上海有多少家重点人工智能企业？"), detect_lang("How many AI firms?")
('zh', 'en')
>>> search_tokens("上海有1,149家重点人工智能企业 in Shanghai")[:6]
['上海', '1149', '家', '重点', '人工', '智能']
>>> text = "上海有1,149家企业。规模达224.6亿元！Mr. Li left. Done"
>>> [text[a:b] for a, b in split_sentences(text)]
['上海有1,149家企业。', '规模达224.6亿元！', 'Mr. Li left.', 'Done']
>>> sorted(numbers_in("4,500 firms, four of them in 上海, 三家 in 224.6 亿"))
['2246', '3', '4', '45']
"""

from __future__ import annotations

import logging
import re

# --- scripts ---------------------------------------------------------------------------------------
# CJK Unified Ideographs, Extension A, Compatibility Ideographs and Extensions B-F (rare names).
HAN = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002ebef"
HAN_CHAR = re.compile(f"[{HAN}]")
HAN_RUN = re.compile(f"[{HAN}]+")
_LATIN = re.compile(r"[A-Za-z]")


def is_han(ch: str) -> bool:
    """One character is a Han ideograph."""
    return bool(HAN_CHAR.fullmatch(ch))


def has_han(text: str) -> bool:
    return bool(HAN_CHAR.search(text))


def has_words(text: str) -> bool:
    """Something to search for: a letter, digit or Han character."""
    return bool(re.search(rf"[\w{HAN}]", text))


# --- Traditional and Simplified Chinese -----------------------------------------------------------
# Matching (keyword search, numbers, word overlap) runs on Simplified text, so a Traditional question
# finds a Simplified passage and the other way round; answers are shown in the question's script.
_converters: dict[str, object] = {}


def _convert(text: str, config: str) -> str:
    if not has_han(text):
        return text
    conv = _converters.get(config)
    if conv is None:
        import opencc

        conv = _converters[config] = opencc.OpenCC(config)
    return conv.convert(text)


def to_simplified(text: str) -> str:
    return _convert(text, "t2s")


def to_traditional(text: str) -> str:
    """Simplified -> Traditional characters (Taiwan standard forms, no phrase rewriting)."""
    return _convert(text, "s2tw")


def is_traditional(text: str) -> bool:
    """More characters in `text` are specific to Traditional than to Simplified writing ("上海" alone,
    written the same in both, is not)."""
    if not has_han(text):
        return False
    as_simplified, as_traditional = to_simplified(text), to_traditional(text)
    t_only = sum(a != b for a, b in zip(text, as_simplified, strict=False))
    s_only = sum(a != b for a, b in zip(text, as_traditional, strict=False))
    return t_only > s_only


def in_script(text: str, traditional: bool) -> str:
    """`text` (product strings and model output are Simplified) in the reader's script."""
    return to_traditional(text) if traditional else text


# --- language --------------------------------------------------------------------------------------
_EN_FUNCTION = re.compile(r"\b(the|a|an|of|in|on|is|are|was|were|what|how|which|who|when|where|why|does|do|did|"
                          r"has|have|and|to|for|with|many|much)\b", re.IGNORECASE)
_ZH_FUNCTION = re.compile(r"[的是吗呢了和在有哪么谁几]|什么|多少|怎么|为什么|如何")


def han_ratio(text: str) -> float:
    """Han characters as a share of Han characters plus Latin words."""
    han = len(HAN_CHAR.findall(text))
    total = han + len(re.findall(r"[A-Za-z]+", text))
    return han / total if total else 0.0


def detect_lang(text: str, default: str = "en") -> str:
    """'zh' (Simplified or Traditional) or 'en'. Mixed text is decided by its grammar words (的/什么/吗
    vs the/what/does), so "What does 人工智能 mean?" is English and "OpenAI 的 GPT-4 是什么？" is
    Chinese; otherwise by the share of Han characters."""
    if not has_han(text):
        return default if not _LATIN.search(text) else "en"
    if not _LATIN.search(text):
        return "zh"
    en, zh = len(_EN_FUNCTION.findall(text)), len(_ZH_FUNCTION.findall(to_simplified(text)))
    if en != zh:
        return "zh" if zh > en else "en"
    return "zh" if han_ratio(text) >= 0.3 else "en"


# --- words -----------------------------------------------------------------------------------------
EN_STOP = frozenset(
    "a an the of and or to in on at for by with from as is are was were be been it its this that these those "
    "what which who whom how many much when where why does do did has have had will would can could than "
    "into about over under there their they we you he she i".split())
ZH_STOP = frozenset("的 了 和 是 在 有 与 及 等 对 也 就 都 还 而 为 以 之 其 或 把 被 这 那 哪 些 个 吗 呢 吧 啊 "
                    "什么 多少 怎么 如何 哪些".split())
STOP = EN_STOP | ZH_STOP

_jieba_ready = False


def _jieba():
    global _jieba_ready
    import jieba

    if not _jieba_ready:
        jieba.setLogLevel(logging.WARNING)
        jieba.initialize()
        _jieba_ready = True
    return jieba


_SEARCH_WORD = re.compile(rf"[A-Za-z][A-Za-z'-]*|\d+(?:[.,]\d+)*|[{HAN}]+")
_WORD = re.compile(rf"[{HAN}]+|\d+(?:[.,]\d+)*|[A-Za-z]{{2,}}")


def search_tokens(text: str) -> list[str]:
    """Tokens for keyword search: jieba's search-mode words for Han runs (overlapping sub-words, so
    人工智能 also matches 人工 and 智能), lower-cased English words with a crude plural folding, and
    digit-only numbers ("1,149" -> "1149"); stop words dropped."""
    out: list[str] = []
    for m in _SEARCH_WORD.finditer(text):
        tok = m.group(0)
        if is_han(tok[0]):
            out.extend(w for w in _jieba().lcut_for_search(to_simplified(tok)) if w not in ZH_STOP)
        elif tok[0].isdigit():
            out.append(tok.replace(",", ""))
        else:
            low = tok.lower()
            if low not in EN_STOP and len(low) > 1:
                out.append(low[:-1] if low.endswith("s") and len(low) > 3 else low)
    return out


def content_words(text: str) -> set[str]:
    """Distinct words that carry content: jieba's precise-mode words for Han runs, numbers and
    lower-cased English words of two or more letters, without `[n]` markers and stop words."""
    out: set[str] = set()
    for u in _WORD.findall(re.sub(r"\[\d+\]", "", text)):
        out.update(_jieba().lcut(to_simplified(u)) if is_han(u[0]) else [u.lower()])
    return out - STOP


# --- sentences -------------------------------------------------------------------------------------
# A sentence ends after a terminator (plus closing quotes/brackets). English "." must be followed by
# whitespace and must not be a decimal point or a one-letter initial.
_END = re.compile(
    r"""(?:[。！？；!?;]+|…+|\.{3}|(?<![0-9A-Z])(?<!\b[A-Za-z])\.(?=["”’']*(?:\s|$))|(?<=[0-9])\.(?=\s+[A-Z]))"""
    r"""["”’'」』）)\]]*"""
    r"|\n\s*\n"
)
_ABBREV = re.compile(r"\b(?:Mr|Mrs|Ms|Dr|Prof|No|Nos|vs|etc|Inc|Ltd|Co|Corp|St|Jr|Sr|Fig|approx|e\.g|i\.e)\.$",
                     re.IGNORECASE)
SENTENCE_END = re.compile(r"[。．.!?！？；;]+[”’\"')）]*$")  # a sentence's closing punctuation


def split_sentences(text: str) -> list[tuple[int, int]]:
    """Character spans of sentences, whitespace trimmed, covering all non-blank text. Sentences end
    at Chinese 。！？；… and English .!?; (not inside numbers such as 224.6 or abbreviations such as
    "Mr.")."""
    spans: list[tuple[int, int]] = []
    pos = 0
    for m in _END.finditer(text):
        if m.group(0) == "." and _ABBREV.search(text, 0, m.start() + 1):
            continue
        add_span(text, pos, m.end(), spans)
        pos = m.end()
    add_span(text, pos, len(text), spans)
    return spans


def add_span(text: str, start: int, end: int, spans: list[tuple[int, int]]) -> None:
    """Append text[start:end] trimmed of whitespace; a piece without letters or digits (a stray
    quote or dot) joins the previous span."""
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    if end > start:
        if spans and not any(ch.isalnum() for ch in text[start:end]):
            spans[-1] = (spans[-1][0], end)
        else:
            spans.append((start, end))


# --- numbers ---------------------------------------------------------------------------------------
NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_EN_NUMBERS = {w: str(i) for i, w in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve".split())}
_EN_WORD = re.compile(r"\b(" + "|".join(_EN_NUMBERS) + r")\b", re.IGNORECASE)
_ZH_DIGITS = {c: str(i) for i, c in enumerate("零一二三四五六七八九")} | {"两": "2", "十": "10"}
_ZH_COUNT = re.compile(r"([零一二两三四五六七八九十])(?=[个项家部条次位名所批类种年月日大点])")


def digit_signature(num: str) -> str:
    """The significant digits of a number as written: '4,500' -> '45', '224.6' -> '2246',
    '2,246' -> '2246', '0.5' -> '5'. Equal signatures match across 224.6 billion / 2246亿."""
    return re.sub(r"[.,]", "", num).strip("0") or "0"


def numbers_in(text: str) -> set[str]:
    """Digit signatures of the numbers in `text`, including small number words ("four", "四项", "兩家")."""
    text = to_simplified(text)
    found = {digit_signature(n) for n in NUMBER.findall(text)}
    found |= {digit_signature(_EN_NUMBERS[w.lower()]) for w in _EN_WORD.findall(text)}
    found |= {digit_signature(_ZH_DIGITS[c]) for c in _ZH_COUNT.findall(text)}
    return found
