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
>>> [q.value for q in quantities("4,500 firms, four of them in 上海, 三家, 224.6 亿")]
[4500.0, 4.0, 3.0, 22460000000.0]
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import date

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


_LATIN_WORD = re.compile(r"[A-Za-z]+")


def is_short(text: str, words: int, han: int) -> bool:
    """At most `words` English words and `han` Han characters (a fragment, a bare answer)."""
    return len(_LATIN_WORD.findall(text)) <= words and len(HAN_CHAR.findall(text)) <= han


def has_words(text: str) -> bool:
    """Something to search for: a letter, digit or Han character."""
    return bool(re.search(rf"[\w{HAN}]", text))


_APPROX_TOKEN = re.compile(rf"[{HAN}]|\w+|[^\w\s]")


def approx_tokens(text: str) -> int:
    """Tokens without the model's tokenizer: one per Han character, word and punctuation mark. Above the
    count of large-vocabulary tokenizers for Chinese, near it for English (long rare words split further).

    >>> approx_tokens("上海有1,149家 AI companies.")
    9
    """
    return len(_APPROX_TOKEN.findall(text))


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


# a per-source answer names each source as it is titled: in its lead, or in the line that says it is silent
_LEAD_TITLE = re.compile(r'According to "[^"]*"|"[^"]*"(?= (?:\([^)]*\) )?does not say)')
_ASIDE = re.compile(r"《[^》]*》|（[^）]*）|\([^)]*\)")  # titles, and an original kept beside its translation
_LOWER_WORD = re.compile(r"(?<![A-Za-z])[a-z]{3,}")  # an English word in lower case: not a name or abbreviation


def mixed_fragment(text: str, lang: str) -> str:
    """The first piece of the other language inside an answer written in `lang`, '' if none: Han
    characters in an English answer, a lower-case English word in a Chinese one ("个人隐私、 morality和
    ethics"). Names and abbreviations in capitals (OpenAI, AI, 5G) do not count, nor do titles in 《》,
    a per-source lead's title, or an original in brackets beside its translation (单忠德（Shan Zhongde）)."""
    t = _ASIDE.sub(" ", _LEAD_TITLE.sub(" ", _MARKER.sub(" ", text)))
    m = HAN_CHAR.search(t) if lang == "en" else _LOWER_WORD.search(t)
    if not m:
        return ""
    run = f"[{HAN}]+" if lang == "en" else r"[A-Za-z]+(?:[ '-]+[A-Za-z]+)*"  # the whole run it starts
    return re.compile(run).match(t, m.start()).group(0)


# --- words -----------------------------------------------------------------------------------------
EN_STOP = frozenset(
    "a an the of and or to in on at for by with from as is are was were be been it its this that these those "
    "what which who whom how many much when where why does do did has have had will would can could than "
    "into about over under there their they we you he she i".split())
ZH_STOP = frozenset("的 了 和 是 在 有 与 及 等 对 也 就 都 还 而 为 以 之 其 或 把 被 这 那 哪 些 个 吗 呢 吧 啊 "
                    "什么 多少 怎么 如何 哪些".split())
STOP = EN_STOP | ZH_STOP
FILLER = frozenset({"分别", "各自", "respectively", "both"})  # words an answer may add without saying anything

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
# whitespace (or, a space lost, run straight into a capitalised word) and must not be a decimal point or a
# one-letter initial.
_END = re.compile(
    r"""(?:[。！？；!?;]+|…+|\.{3}|(?<![0-9A-Z])(?<!\b[A-Za-z])\.(?=["”’']*(?:\s|$))|(?<=[0-9])\.(?=\s+[A-Z])"""
    r"""|(?<=[a-z]{2})\.(?=[A-Z][a-z]))"""  # a space lost after the stop: "…continued to emerge.The coordinated …"
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


# --- numbers --------------------------------------------------------------------------------------
# Numbers are compared by value across notations: 224.6 billion = 2246亿, 4.5万 = 45,000 = 四万五千,
# 30% = 百分之三十 = 30 percent, 第四届 = 4th = fourth, 2倍 = 2 times, full-width １２３ = 123.

NUMBER = re.compile(r"\d+(?:,\d{3})*(?:\.\d+)?")
_ZH_DIGIT = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_ZH_UNIT = {"十": 10, "百": 100, "千": 1000}
_ZH_SCALE = {"十": 10, "百": 100, "千": 1000, "万": 10**4, "亿": 10**8}
_EN_SCALE = {"thousand": 10**3, "million": 10**6, "billion": 10**9, "trillion": 10**12, "quadrillion": 10**15,
             "quintillion": 10**18, "bn": 10**9, "mn": 10**6}
_EN_WORDS = {w: i for i, w in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve".split())}
_EN_ORDINALS = {w: i + 1 for i, w in enumerate(
    "first second third fourth fifth sixth seventh eighth ninth tenth eleventh twelfth".split())}
_MEASURE = "个项家部条次位名所批类种年月日天周届倍点季期轮座艘台辆人只件份篇"  # a lone 一…九 counts before these
_ZH_RUN = re.compile(r"[零〇一二两三四五六七八九十百千万亿]+")
_ARABIC = re.compile(r"(?P<ord>第\s*)?(?P<pct>百分之)?(?P<num>\d+(?:,\d{3})*(?:\.\d+)?)\s*"
                     r"(?P<scale>(?:[十百千万亿]+(?=[^\d十百千万亿]|$))|(?:thousand|million|billion|trillion|quadrillion|quintillion|bn|mn)(?![A-Za-z]))?"
                     r"\s*(?P<suffix>%|(?:percent|per\s*cent|times|st|nd|rd|th)(?![A-Za-z])|倍)?", re.IGNORECASE)
_EN_NUMBER_WORD = re.compile(r"\b(?P<word>" + "|".join([*_EN_WORDS, *_EN_ORDINALS]) + r")\b"
                             r"(?:\s+(?P<scale>thousand|million|billion|trillion|quadrillion|quintillion)\b)?"
                             r"(?:\s*(?P<suffix>percent\b|per\s*cent\b|times\b))?", re.IGNORECASE)


@dataclass(frozen=True)
class Quantity:
    """A number a text states, by value: `kind` is number, percent, times or ordinal; `digits` is
    how many significant digits it was written with (a rounded figure matches what it rounds)."""

    value: float
    kind: str = "number"
    digits: int = 15
    span: tuple[int, int] = (0, 0)  # in the normalised text (`normalise_numbers`)
    scaled: bool = False  # written with a common scale word (万, 亿, 万亿, million, billion, …)
    mantissa: float = 0.0  # the number before its scale word
    compound: bool = False  # a unit-like scale (230百亿亿次 = 230 EFLOPS): matched by mantissa too


_MARKER = re.compile(r"\[\d{1,3}\]")
COMMON_SCALES = {"十", "百", "千", "万", "亿", "十万", "百万", "千万", "十亿", "百亿", "千亿", "万亿",
                 "thousand", "million", "billion", "trillion", "quadrillion", "quintillion", "bn", "mn"}


def normalise_numbers(text: str) -> str:
    """Full-width digits and signs as ASCII, Traditional numerals as Simplified (兩 -> 两, 億 -> 亿),
    citation markers blanked (same length: spans stay valid)."""
    text = to_simplified(text).translate(_FULLWIDTH)
    return _MARKER.sub(lambda m: " " * len(m.group(0)), text)


_FULLWIDTH = {0xFF10 + i: 0x30 + i for i in range(10)} | {0xFF05: ord("%"), 0xFF0E: ord("."), 0xFF0C: ord(",")}


def zh_numeral(s: str) -> int | None:
    """七百四十二 -> 742, 十二 -> 12, 两千 -> 2000, 三万五千 -> 35000, 一亿二千万 -> 120000000,
    二〇二三 -> 2023 (digits read one by one when there is no unit)."""
    if not s or any(c not in _ZH_DIGIT and c not in _ZH_SCALE for c in s):
        return None
    if not any(c in _ZH_SCALE for c in s):
        return int("".join(str(_ZH_DIGIT[c]) for c in s))
    total = section = 0
    digit: int | None = None
    for c in s:
        if c in _ZH_DIGIT:
            digit = _ZH_DIGIT[c]
        elif c in _ZH_UNIT:
            section += (1 if digit is None else digit) * _ZH_UNIT[c]
            digit = None
        elif c == "万":
            section = (section + (digit or 0)) * 10**4
            digit = None
            if total:  # 一亿三万: the 万 section belongs under the 亿 part
                total, section = total + section, 0
        elif c == "亿":
            total = (total + section + (digit or 0)) * 10**8
            section, digit = 0, None
    return total + section + (digit or 0)


def _starts_word(t: str, a: int) -> bool:
    """jieba segments t[a] as the start of a word ("有|三家|企业"), not inside one ("统一|部署")."""
    start = max(0, a - 4)
    pos = start
    for w in _jieba().lcut(t[start:a + 3]):
        if pos == a:
            return True
        if pos > a:
            return False
        pos += len(w)
    return False


def _sig_digits(mantissa: str, scaled: bool) -> int:
    """Significant digits as written: '2.2' (trillion) -> 2; '4,500' -> 4 (a plain integer is exact)."""
    digits = mantissa.replace(",", "")
    if "." in digits or scaled:
        return max(1, len(digits.replace(".", "").lstrip("0")))
    return 15


def quantities(text: str) -> list[Quantity]:
    """Every number `text` states, with its value in plain units and its kind."""
    t = normalise_numbers(text)
    out: list[Quantity] = []
    taken = [False] * (len(t) + 1)
    for m in _ARABIC.finditer(t):
        value = float(m["num"].replace(",", ""))
        scale, suffix = m["scale"] or "", (m["suffix"] or "").lower()
        for c in scale if scale and scale[0] in _ZH_SCALE else ():
            value *= _ZH_SCALE[c]
        if scale.lower() in _EN_SCALE:
            value *= _EN_SCALE[scale.lower()]
        kind = ("percent" if m["pct"] or suffix.startswith(("%", "per")) else "times" if suffix in ("倍", "times")
                else "ordinal" if m["ord"] or suffix in ("st", "nd", "rd", "th") else "number")
        common = scale.lower() in COMMON_SCALES
        out.append(Quantity(value, kind, _sig_digits(m["num"], bool(scale)), m.span(), bool(scale) and common,
                            float(m["num"].replace(",", "")), bool(scale) and not common))
        for i in range(*m.span()):
            taken[i] = True
    for m in _ZH_RUN.finditer(t):
        a, b = m.span()
        run = m.group(0)
        if taken[a] or (a and t[a - 1].isdigit()):
            continue
        before, after = t[max(0, a - 3):a], t[b:b + 1]
        lone = len(run) == 1 or not any(c in _ZH_DIGIT for c in run)
        if lone and not before.endswith(("第", "百分之")) and (not (after and after in _MEASURE)
                                                             or not _starts_word(t, a)):
            continue  # 一些, 统一部署, 千万不要: words, not numbers
        value = zh_numeral(run)
        if value is None:
            continue
        kind = ("percent" if before.endswith("百分之") else "ordinal" if before.endswith("第")
                else "times" if after == "倍" else "number")
        out.append(Quantity(float(value), kind, 15, (a - (3 if kind == "percent" else 0), b),
                            any(c in "万亿" for c in run), float(value)))
    for m in _EN_NUMBER_WORD.finditer(t):
        word = m["word"].lower()
        if word == "second" and re.search(r"\b(?:per|a|one|each|every|\d)\s*$", t[:m.start()], re.IGNORECASE):
            continue  # the unit of time ("per second"), not an ordinal
        value = float(_EN_WORDS.get(word, _EN_ORDINALS.get(word, 0)))
        scale = (m["scale"] or "").lower()
        suffix = (m["suffix"] or "").lower()
        kind = ("ordinal" if word in _EN_ORDINALS else "percent" if suffix.startswith("per")
                else "times" if suffix == "times" else "number")
        out.append(Quantity(value * _EN_SCALE.get(scale, 1), kind, 15, m.span(), bool(scale), value))
    return sorted(out, key=lambda q: q.span)


def _rounds_to(exact: float, shown: float, digits: int) -> bool:
    if exact == shown:
        return True
    if digits >= 15 or exact == 0:
        return abs(exact - shown) <= 1e-9 * max(abs(exact), 1.0)
    magnitude = 10 ** (int(f"{abs(exact):e}".split("e")[1]) - digits + 1)
    return abs(round(exact / magnitude) * magnitude - shown) <= 1e-9 * max(abs(shown), 1.0)


def same_quantity(claim: Quantity, source: Quantity) -> bool:
    """The claim states the source's value, in any notation, possibly rounded; a percent must be a
    percent, an ordinal or a multiple may be written as a plain number."""
    if claim.kind == "percent" and source.kind != "percent":
        return False
    if (claim.compound or source.compound) and _rounds_to(source.mantissa, claim.mantissa, claim.digits):
        return True
    return _rounds_to(source.value, claim.value, claim.digits)


def numbers_supported(claim: str, source: str | list[Quantity]) -> bool:
    """Every number of `claim` is stated in `source` (by value, across notations)."""
    have = quantities(source) if isinstance(source, str) else source
    return all(any(same_quantity(q, s) for s in have) for q in quantities(claim))


# --- numbers shown in the reader's notation -------------------------------------------------------

def _fmt(x: float) -> str:
    return f"{x:,.4f}".rstrip("0").rstrip(".") if x != int(x) else f"{int(x):,}"


def zh_notation(value: float) -> str:
    """2.246e11 -> '2246亿', 4.5e4 -> '4.5万', 1.2e12 -> '1.2万亿', 950 -> '950'."""
    for unit, name in ((10**12, "万亿"), (10**8, "亿"), (10**4, "万")):
        if abs(value) >= unit:
            return _fmt(round(value / unit, 4)).replace(",", "") + name
    return _fmt(value)


def en_notation(value: float) -> str:
    """2.246e11 -> '224.6 billion', 45000 -> '45,000', 1.2e6 -> '1.2 million'."""
    for unit, name in ((10**12, "trillion"), (10**9, "billion"), (10**6, "million")):
        if abs(value) >= unit:
            return f"{_fmt(round(value / unit, 4))} {name}"
    return _fmt(value)


_MONEY = {"yuan": "元", "rmb": "元", "us dollars": "美元", "dollars": "美元", "元": " yuan", "美元": " US dollars"}
_MONEY_ZH = re.compile(r"\s*(yuan|RMB|US dollars|dollars)(?![A-Za-z])", re.IGNORECASE)  # "yuan的": no \b before Han
_MONEY_EN = re.compile(r"\s*(美元|元)")


_GAP_BEFORE_MARKER = re.compile(r"\s+(?=\[\d+\])")


_ISO_DATE = re.compile(r"(?<![\d-])(\d{4})-(\d{1,2})-(\d{1,2})(?![\d-])")
_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
           "November", "December")


def dates_in_notation(text: str, lang: str) -> str:
    """ISO dates (a source's date, as the index stores it) written as a reader of `lang` writes them.

    >>> dates_in_notation("发布于2021-07-07[1]。", "zh"), dates_in_notation("on 2022-08-27 [1].", "en")
    ('发布于2021年7月7日[1]。', 'on August 27, 2022 [1].')
    """
    def one(m: re.Match) -> str:
        try:
            day = date(*(int(g) for g in m.groups()))
        except ValueError:  # no such day: not a date
            return m.group(0)
        return (f"{day.year}年{day.month}月{day.day}日" if lang == "zh"
                else f"{_MONTHS[day.month - 1]} {day.day}, {day.year}")
    return _ISO_DATE.sub(one, text)


def in_notation(text: str, lang: str) -> str:
    """Rewrite the scaled figures of an answer (万/亿 or million/billion) in the notation of `lang`:
    a Chinese answer that quotes "224.6 billion yuan" says "2246亿 yuan" and so on. Plain numbers,
    percentages and years are left as they are."""
    normalised = normalise_numbers(text)
    if len(normalised) != len(text):  # a conversion changed lengths: spans would not line up
        return text
    t = text.translate(_FULLWIDTH)  # digits read here; the text between figures is copied from `text`
    out, pos = [], 0
    for q in quantities(text):
        a, b = q.span
        b = a + len(normalised[a:b].rstrip())  # a [n] marker right after it (blank when normalised) stays
        if not q.scaled or q.kind != "number" or a < pos:
            continue
        piece = t[a:b]
        is_zh_form = bool(re.search(r"[万亿]", piece))
        if (lang == "zh") == is_zh_form:
            continue  # already in the reader's notation
        want = zh_notation(q.value) if lang == "zh" else en_notation(q.value)
        money = _MONEY_ZH.match(t, b) if lang == "zh" else _MONEY_EN.match(t, b)
        if money:  # "224.6 billion yuan" -> "2246亿元", "2246亿元" -> "224.6 billion yuan"
            want += _MONEY[money.group(1).lower()] if lang == "zh" else _MONEY[money.group(1)]
            b = money.end()
        gap = _GAP_BEFORE_MARKER.match(t, b) if lang == "zh" else None
        if gap:  # "185.4万 [1]" -> "185.4万[1]": no space before a marker in Chinese
            b = gap.end()
        if lang == "en" and a and t[a - 1].isalnum():
            want = " " + want
        out.append(text[pos:a] + want)
        pos = b
    return "".join(out) + text[pos:]
