"""Chinese person names romanised by code for English readers: 单忠德 -> 单忠德 (Shan Zhongde).

The small generator romanises names itself when it answers an English question from a Chinese
passage, and gets them wrong ("Single Zhongde" for 单忠德). So the passages it reads carry the pinyin
beside each name, once per passage, and the generator copies it.

>>> romanise("单忠德"), romanise("欧阳修")
('Shan Zhongde', 'Ouyang Xiu')
>>> annotate_names("工业和信息化部副部长单忠德介绍，单忠德表示")
'工业和信息化部副部长单忠德 (Shan Zhongde)介绍，单忠德表示'

It still translates a surname now and then, as a word ("Single Zhongde"): an English answer's name whose
given name is a passage name's given name (two syllables or more) is written as the passage's pinyin.

>>> repair_names("The vice minister is Single Zhongde [1].", ["工业和信息化部副部长单忠德介绍"])
'The vice minister is Shan Zhongde [1].'
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from functools import cache, lru_cache

from .text import HAN_RUN, detect_lang

# Common surnames (the first character of a name jieba tags as a person): the filter that keeps words
# jieba mis-tags as names (智能化, 建立健全) out.
_SURNAMES = frozenset(
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚"
    "卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
    "单常温康施文牛樊葛邢安齐易乔伍庞颜倪庄聂章鲁岳翟殷詹申欧耿关兰焦俞左柳甘祝包宁尚符舒阮柯纪梅童凌毕"
    "解查盖区仇朴缪乐")
# Surnames read differently from the character's common reading, and two-character surnames.
_SURNAME_READING = {"单": "shan", "曾": "zeng", "解": "xie", "查": "zha", "盖": "ge", "区": "ou", "仇": "qiu",
                    "朴": "piao", "缪": "miao", "乐": "yue", "翟": "zhai", "覃": "qin", "纪": "ji", "沈": "shen",
                    "欧阳": "ouyang", "司马": "sima", "诸葛": "zhuge", "上官": "shangguan", "东方": "dongfang",
                    "皇甫": "huangfu", "令狐": "linghu", "慕容": "murong", "司徒": "situ", "公孙": "gongsun"}
_COMPOUND = frozenset(k for k in _SURNAME_READING if len(k) == 2)


def romanise(name: str) -> str:
    """Surname and given name in pinyin without tones, each capitalised."""
    from pypinyin import lazy_pinyin

    k = 2 if name[:2] in _COMPOUND else 1
    family = _SURNAME_READING.get(name[:k]) or "".join(lazy_pinyin(name[:k]))
    given = "".join(lazy_pinyin(name[k:]))
    return f"{family.capitalize()} {given.capitalize()}".strip()


@cache
def _tagger():
    import jieba
    import jieba.posseg

    jieba.setLogLevel(logging.WARNING)
    jieba.dt.initialize()  # builds FREQ (a new dict: take it after)
    return jieba.posseg.dt, jieba.dt.FREQ


def person_names(text: str) -> list[str]:
    """Person names in a Chinese text, in order of first mention: words jieba tags as a name (nr) that
    are not in its dictionary (智能化, 顾问 are, with the tag), starting with a common surname and two or
    three characters long, or with a two-character surname and at most four."""
    return list(_person_names(text))


@lru_cache(maxsize=4096)
def _person_names(text: str) -> tuple[str, ...]:
    """`person_names`, once per text: one question tags the same chunks for the prompt's pinyin, the
    answer's name repair and the asked-person check."""
    tagger, freq = _tagger()
    seen: list[str] = []
    for run in HAN_RUN.findall(text):
        for pair in tagger.lcut(run):
            w = pair.word
            shaped = (w[:2] in _COMPOUND and len(w) <= 4) or (w[0] in _SURNAMES and 2 <= len(w) <= 3)
            if pair.flag == "nr" and shaped and not freq.get(w) and w not in seen:
                seen.append(w)
    return tuple(seen)


def annotate_names(text: str) -> str:
    """`text` with the pinyin of each person name beside its first mention."""
    for name in person_names(text):
        i = text.find(name)
        if i >= 0:
            text = f"{text[:i + len(name)]} ({romanise(name)}){text[i + len(name):]}"
    return text


def repair_names(answer: str, sources: Sequence[str]) -> str:
    """`answer` (English) with a mistranslated surname put right: "<Word> <Given>" where <Given> is the
    pinyin given name of a person named in the `sources` and <Word> is not that person's surname."""
    if not any(HAN_RUN.search(t) for t in sources):
        return answer
    full: dict[str, set[str]] = {}
    for name in dict.fromkeys(n for t in sources for n in person_names(t)):
        if len(name) - (2 if name[:2] in _COMPOUND else 1) >= 2:  # a one-syllable given name is too common
            pinyin = romanise(name)
            full.setdefault(pinyin.partition(" ")[2], set()).add(pinyin)
    for given, names in full.items():
        if len(names) == 1:  # two people with this given name: leave it
            answer = re.sub(rf"\b[A-Z][a-z]+ {given}\b", names.pop(), answer)
    return answer


@cache
def _pinyin_surnames() -> frozenset[str]:
    from pypinyin import lazy_pinyin

    return frozenset({_SURNAME_READING.get(s) or "".join(lazy_pinyin(s)) for s in _SURNAMES}
                     | set(_SURNAME_READING.values()))


_PAIR = re.compile(r"\b([A-Z][a-z]+) ([A-Z][a-z]+)\b")


def asked_persons(question: str, hits: Sequence[str]) -> list[tuple[str, ...]]:
    """The people a question names, each as the forms a passage may name them by: a Chinese
    question's names (the Han name, and its pinyin where the retrieved `hits` write it so); an
    English question's pinyin names that the hits write, in pinyin or as a Han name."""
    if HAN_RUN.search(question):
        text = " ".join(hits)
        # a name no hit writes, as it is or in pinyin (a transliterated foreign name, 马丁·路德): no known form
        forms = [tuple(f for f in (n, romanise(n)) if f in text) for n in person_names(question)]
        return [f for f in forms if f]
    pairs = {f"{a} {b}" for a, b in _PAIR.findall(question) if a.lower() in _pinyin_surnames()}
    if not pairs:
        return []
    han = {romanise(n): n for t in hits if HAN_RUN.search(t) for n in person_names(t)}
    return [(p, han[p]) if p in han else (p,) for p in sorted(pairs)
            if p in han or any(p in t for t in hits if not HAN_RUN.search(t))]


def _people(text: str) -> set[str]:
    """The people a text names: Chinese names, and pinyin names ("Tao Qing") of a common surname."""
    found = set(person_names(text)) if HAN_RUN.search(text) else set()
    return found | {f"{a} {b}" for a, b in _PAIR.findall(text) if a.lower() in _pinyin_surnames()}


def names_asked_person(question: str, cited: Sequence[str], hits: Sequence[str], documents: Sequence[str] = ()) -> bool:
    """False when the question names a person whom the cited chunks do not name, in any form the
    retrieved hits use, and the answer is then likely about someone else ("赛迪顾问的邹德宝希望…"
    answered with 付长文's words): the cited chunks name another person, or no retrieved chunk of
    the cited `documents` names the asked one. A chunk that names nobody, in a document that names the
    asked person elsewhere, may continue that person's words (a speech over several chunks): accepted.
    True when the question names nobody.

    >>> names_asked_person("邹德宝希望从哪方面给予支持？", ["付长文表示，算力结构不平衡。"], ["付长文表示", "邹德宝说"])
    False
    >>> names_asked_person("Which firm does Zou Debao work for?", ["赛迪顾问邹德宝说"], ["赛迪顾问邹德宝说"])
    True
    """
    text = " ".join(cited)
    missing = [forms for forms in asked_persons(question, hits) if not any(f in text for f in forms)]
    if not missing:
        return True
    asked = {f for forms in missing for f in forms}
    if _people(text) - asked:
        return False
    context = " ".join(documents)
    return all(any(f in context for f in forms) for forms in missing)


# A role a "who" question asks for, in the forms the passages of either language write it.
_ROLES: dict[str, tuple[str, ...]] = {
    "chairman": ("董事长", "chairman"), "president": ("总裁", "院长", "校长", "president"),
    "ceo": ("首席执行官", "CEO", "chief executive"), "cto": ("首席技术官", "CTO", "chief technology officer"),
    "cdo": ("首席数字官", "chief digital officer"), "founder": ("创始人", "founder"),
    "minister": ("部长", "minister"), "director": ("主任", "局长", "总监", "director"),
    "spokesman": ("发言人", "spokesman", "spokesperson"), "reporter": ("记者", "reporter", "journalist"),
    "mayor": ("市长", "mayor"), "professor": ("教授", "professor"), "expert": ("专家", "expert"),
}
_VICE = re.compile(r"(?:副|deputy |vice[- ]|assistant |co-)$", re.IGNORECASE)  # a lower rank of the role
_WHO = re.compile(r"谁|\bwho\b", re.IGNORECASE)


def _role_mentions(text: str) -> set[tuple[str, bool]]:
    """(role, lower rank) for every role word of `text`: "deputy director" is ("director", True)."""
    found = set()
    for role, forms in _ROLES.items():
        for form in forms:
            pattern = rf"\b{re.escape(form)}\b" if form.isascii() else re.escape(form)
            for m in re.finditer(pattern, text, re.IGNORECASE):
                found.add((role, bool(_VICE.search(text[: m.start()]))))
    return found


def states_asked_role(question: str, cited: Sequence[str]) -> bool:
    """False when a "who" question asks for a role (a president, a CTO, a deputy director, 首席技术官)
    that the cited chunks of the question's language do not name at that rank: "浪潮云的首席技术官是谁？"
    answered with the company's 行业总监, "Who is the director of …?" with its deputy director. True
    otherwise, and when no cited chunk is in the question's language.

    >>> states_asked_role("浪潮云的首席技术官是谁？", ["浪潮云行业总监尹萍说"])
    False
    >>> states_asked_role("Who is the deputy director of the center?", ["中心副主任杨春立说"])
    True
    """
    if not _WHO.search(question):
        return True
    lang = detect_lang(question)
    same = [c for c in cited if detect_lang(c) == lang]  # across languages a role has too many names (总统, 导演)
    return not same or _role_mentions(question) <= _role_mentions(" ".join(same))
