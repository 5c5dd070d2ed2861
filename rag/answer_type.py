"""Does a figure answer what was asked? The question's expected kind of quantity (a count of
companies, of people, an amount of money or an industry's size, a percentage) against the unit
written next to each number of an answer sentence.

A number whose unit is known and of another kind ("1,149 companies" for "how large is the
industry?", "187,000 people" for "how many companies?") does not answer the question, even when
the cited passage states it. Unknown units and unclassified questions are let through; a sentence with no figure at all does not
answer a question that asks for one.

>>> expected_kind("2020年上海人工智能产业规模达到多少？"), expected_kind("How many AI companies does China have?")
('size', 'company')
>>> agrees("size", "上海人工智能产业规模达到1,149 Key artificial intelligence companies。")
False
>>> agrees("company", "上海有1,149家重点人工智能企业。"), agrees("size", "规模达2246亿元。")
(True, True)
>>> agrees("company", "The country has 40 types of AI imaging medical devices [1]."), agrees("company", "已有40种产品。")
(False, False)
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from .cite import strip_markers
from .text import (
    HAN,
    Quantity,
    has_han,
    is_short,
    normalise_numbers,
    quantities,
    same_quantity,
    search_tokens,
    to_simplified,
)

# unit words -> kind of quantity (English words are matched by prefix: "compan" covers company/companies)
_UNITS: dict[str, tuple[str, ...]] = {
    "company": ("家", "企业", "公司", "展商", "参展商", "compan", "firm", "enterprise", "business", "exhibitor"),
    "people": ("人", "名", "位", "观众", "游客", "访客", "学生", "people", "person", "employee", "worker", "researcher",
               "staff", "talent", "visitor", "attendee", "audience", "student"),
    "money": ("元", "美元", "yuan", "rmb", "dollar", "usd", "$"),
    "percent": ("%", "percent", "per cent", "百分"),
    # counts of other things: never what a question about companies, people or an amount asks for
    "thing": ("种", "类", "项", "所", "台", "款", "件", "座", "辆", "艘", "套", "篇", "type", "kind", "categor",
              "item", "universit", "school", "college", "device", "product", "patent", "paper", "cities", "city",
              "province", "countr", "vessel", "ship", "boat", "station", "rack", "project", "scenario", "park",
              "platform", "application", "track", "zone", "cluster", "model", "factor", "workshop"),
}
_EXPECT = [  # (pattern on the question, kind); the first that matches decides
    ("percent", re.compile(r"增速|增长率|增幅|比例|占比|百分之|growth rate|percentage|what share|proportion|by how much",
                           re.IGNORECASE)),
    ("company", re.compile(r"多少家|几家|how many\s+(?:\w+\s+){0,3}?(?:compan|firm|enterprise|business)",
                           re.IGNORECASE)),
    ("people", re.compile(r"多少(?:人|名|位|观众|游客|访客|学生)|几(?:人|名|位)|从业人员|员工|人员有多少|"
                          r"how many\s+(?:\w+\s+){0,3}?(?:people|persons|employees|workers|researchers|staff|"
                          r"visitors|attendees|students)", re.IGNORECASE)),
    ("size", re.compile(r"规模|产值|营收|收入|投资|投入|资金|多少钱|how much .*(?:invest|spend|cost|worth|revenue|fund)|"
                        r"(?:scale|size|value|revenue|output) of|(?:industry|market) (?:scale|size)|how large|how big", re.IGNORECASE)),
]


_RANK = re.compile(r"第几|排名|排第|名次|\brank|\bplace\b|which position", re.IGNORECASE)


_MEASURE_ASKED = re.compile(r"(?:多少|几)([家个人名位台所项次种款件座辆艘套篇条])")
_BARE_FIGURE = re.compile(r"(?<![\d.,])(\d[\d,]*(?:\.\d+)?(?:万亿|亿|万)?)(?=\s*\[\d+\])")


def with_measure_word(answer: str, question: str, sources: Sequence[str]) -> str:
    """A Chinese answer's figure written bare before its marker ("3,000[4]。") takes the measure word the
    question asks with ("多少家" -> "3,000家[4]。"), unless the `sources` write that value as a count of
    another kind of thing (unknown units are let through, as by the answer-type check).

    >>> src = ["China has more than 3,000 AI companies."]
    >>> with_measure_word("超过3,000[4]。", "中国有多少家人工智能企业？", src), with_measure_word("3,000[4]。", "How many?", src)
    ('超过3,000家[4]。', '3,000[4]。')
    >>> with_measure_word("3,000[4]。", "中国有多少人从事人工智能？", src)  # the passage counts companies
    '3,000[4]。'
    >>> with_measure_word("超过4500家[1]。", "有多少家企业？", src)
    '超过4500家[1]。'
    """
    m = _MEASURE_ASKED.search(question)
    if not m or not has_han(question):
        return answer
    word = m.group(1)
    want = next((k for k, units in _UNITS.items() if word in units), "thing")

    def one(f: re.Match) -> str:
        q = quantities(f.group(1))
        return f.group(1) + word if q and source_kinds(q[0], sources) - {None} <= {want} else f.group(1)
    return _BARE_FIGURE.sub(one, answer)


def expected_kind(question: str) -> str | None:
    q = normalise_numbers(question)
    if _RANK.search(q):
        return None  # a rank is answered by an ordinal
    return next((kind for kind, pattern in _EXPECT if pattern.search(q)), None)


def unit_kind(text: str, end: int) -> str | None:
    """The kind of the unit written right after a number that ends at `end`. A Chinese unit follows the
    number ("1,149家"); where English words come first ("1,149 Key人工智能公司", an answer that copied half
    an English phrase) the noun phrase's last unit word decides (公司, not the 人 of 人工智能)."""
    after = text[end:end + 40].lower()
    if after.startswith(("%", "％")) or re.match(r"\s*(percent|per cent)", after):
        return "percent"
    head = re.match(r"\s*((?:[a-z$-]+\s+){0,3}[a-z$-]+)", after)  # up to four English words
    words = head.group(1).split() if head else []
    zh = re.match(rf"\s*[万亿千百十]*([{HAN}]{{1,2}})", after)
    for kind, units in _UNITS.items():
        if zh and any(zh.group(1).startswith(u) for u in units if not u.isascii()):
            return kind
        if any(w.startswith(u) for w in words for u in units if u.isascii()):
            return kind
    mixed = re.match(rf"\s*(?:[a-z-]+\s*){{1,3}}([{HAN}]{{1,8}})", after)
    if mixed:
        found = [(mixed.group(1).rfind(u), kind) for kind, units in _UNITS.items() for u in units if not u.isascii()]
        pos, kind = max(found)
        return kind if pos >= 0 else None
    return None


def _is_year(text: str, start: int, end: int, value: float) -> bool:
    return 1900 <= value <= 2100 and value == int(value) and (
        text[end:end + 1] == "年" or bool(re.search(r"(in|by|of|since|until|end of|as of)\s*$", text[:start])))


_CLAUSE_END = re.compile(r"[,;:!?，。；：！？]|\.(?=\s)")


def unit_before(text: str, start: int) -> str | None:
    """The kind of the counted nouns in the clause before a number ("exhibitors are expected to exceed
    300", "观众超过300"): English words and Chinese nouns of two or more characters only (a lone 人 or 家
    before a number is not its unit); None when there are none, or nouns of several kinds ("the number
    of employees in … companies will reach 187,000")."""
    before = text[max(0, start - 160):start]
    cut = [m.end() for m in _CLAUSE_END.finditer(before)]
    clause = before[cut[-1] if cut else 0:].lower()
    kinds = {kind for kind, units in _UNITS.items() for u in units if len(u) > 1 and (
        any(w.startswith(u) for w in re.findall(r"[a-z]+", clause)) if u.isascii() and len(u) > 2
        else not u.isascii() and u in clause)}
    return kinds.pop() if len(kinds) == 1 else None


def source_kinds(value: Quantity, sources: Sequence[str]) -> set[str | None]:
    """The kinds of unit the `sources` write with `value` (300 -> {"company"} from "exhibitors are
    expected to exceed 300"); empty when none states it."""
    out: set[str | None] = set()
    for src in sources:
        t = normalise_numbers(src)
        for q in quantities(src):
            if q.kind == value.kind and same_quantity(value, q):
                a, b = q.span
                out.add(unit_kind(t, b) or ("size" if q.scaled else unit_before(t, a)))
    return out


def figure_kinds(sentence: str, sources: Sequence[str] = ()) -> tuple[list[str | None], bool]:
    """The kind of each figure of a sentence ("size" for money and for a scaled figure with no unit,
    None when unknown; years left out), and whether it states a rank or a multiple. A number written
    without a unit ("300 [4]。") takes the unit the `sources` write with the same value, when they agree
    on one (`source_kinds`)."""
    t = normalise_numbers(sentence)
    kinds: list[str | None] = []
    relative = False  # a rank or a multiple ("第2位", "6 times"): never held against the kind
    for q in quantities(sentence):
        a, b = q.span
        if q.kind in ("ordinal", "times"):
            relative = True
            continue
        if _is_year(t, a, b, q.value):
            continue  # a year is not the asked quantity's own figure
        k = "percent" if q.kind == "percent" else unit_kind(t, b)
        if k is None and sources:
            found = source_kinds(q, sources) - {"size"}  # the unit its passage writes with the same value
            k = found.pop() if len(found) == 1 else None
        if k == "money" or (k is None and q.scaled):
            k = "size"  # money, or a scaled figure with no unit: an amount
        kinds.append(k)
    return kinds, relative


def agrees(kind: str | None, sentence: str, sources: Sequence[str] = ()) -> bool:
    """False when the sentence states no figure, or every number of it carries a known unit of another
    kind than asked (units of bare numbers read from the `sources`, see `figure_kinds`)."""
    if kind is None:
        return True
    kinds, relative = figure_kinds(sentence, sources)
    if not kinds:
        return relative  # "how many?" answered without a figure ("the industry is growing fast") is no answer
    return any(k is None or k == kind for k in kinds)


_PLACES = {
    "china": ("中国", "我国", "全国", "国内", "china", "my country", "the country", "nationwide", "national"),
    "beijing": ("北京", "beijing"), "shanghai": ("上海", "shanghai"), "shenzhen": ("深圳", "shenzhen"),
    "guangzhou": ("广州", "guangzhou"), "hangzhou": ("杭州", "hangzhou"), "nanjing": ("南京", "nanjing"),
    "suzhou": ("苏州", "suzhou"), "wuhan": ("武汉", "wuhan"), "chengdu": ("成都", "chengdu"),
    "chongqing": ("重庆", "chongqing"), "tianjin": ("天津", "tianjin"), "hefei": ("合肥", "hefei"),
    "xian": ("西安", "xi'an", "xian"), "changzhou": ("常州", "changzhou"), "weihai": ("威海", "weihai"),
    "guangdong": ("广东", "guangdong"), "zhejiang": ("浙江", "zhejiang"), "jiangsu": ("江苏", "jiangsu"),
    "shandong": ("山东", "shandong"), "hongkong": ("香港", "hong kong"), "taiwan": ("台湾", "taiwan"),
    "ningbo": ("宁波", "ningbo"), "xiamen": ("厦门", "xiamen"), "qingdao": ("青岛", "qingdao"),
    "dalian": ("大连", "dalian"), "changsha": ("长沙", "changsha"), "zhengzhou": ("郑州", "zhengzhou"),
    "jinan": ("济南", "jinan"), "fuzhou": ("福州", "fuzhou"), "shenyang": ("沈阳", "shenyang"),
    "wuxi": ("无锡", "wuxi"), "harbin": ("哈尔滨", "harbin"), "kunming": ("昆明", "kunming"),
}


def places(text: str) -> set[str]:
    """The places of `_PLACES` a text names ("我国" and "my country" are China).

    >>> sorted(places("截至2020年，上海有1,149家重点企业，占全国的三分之一"))
    ['china', 'shanghai']
    """
    t = to_simplified(text).lower()
    return {p for p, names in _PLACES.items()
            if any(re.search(rf"(?<![a-z]){re.escape(n)}(?![a-z])" if n.isascii() else re.escape(n), t)
                   for n in names)}


def in_scope(asked: str, sentence: str) -> bool:
    """False when the sentence names places and none of them is a place `asked` names: Shanghai's
    figure does not answer for Shenzhen or for China. Either side naming no place: no objection.

    >>> in_scope("深圳有多少家企业？", "上海有1,149家企业。"), in_scope("上海有多少家企业？", "有1,149家企业。")
    (False, True)
    """
    stated, wanted = places(sentence), places(asked)
    return not stated or not wanted or not stated.isdisjoint(wanted)


def scope_of(question: str) -> Callable[[str, str], bool]:
    """The support checker's place check for answers to `question`: the sentence a figure comes from
    must be in scope for the places the question names and for those the answer sentence names.

    >>> check = scope_of("深圳有多少家企业？")
    >>> check("上海有1,149家企业。", "上海有1,149家企业。"), scope_of("有多少家企业？")("有1,149家。", "上海有1,149家。")
    (False, True)
    >>> scope_of("上海有多少家企业？")("北京有1,149家企业。", "上海有1,149家企业。")  # the answer swapped the city
    False
    """
    return lambda claim, sentence: in_scope(claim, sentence) and in_scope(question, sentence)


def about_question(question: str, answer: str, cited: Sequence[str]) -> bool:
    """A bare answer ("Shanghai [1].", "浪潮云[1]。": four words or eight Chinese characters at most) must
    come from passages that share a word with the question besides the answer's own: "What is the capital
    of China?" answered "Shanghai" from a passage on Shanghai's chip makers is no answer. Longer answers
    restate the question and are left to the other checks; so are passages in the other language.

    >>> about_question("What is the capital of China?", "Shanghai [1].", ["This is Shanghai artificial intelligence."])
    False
    >>> about_question("Which Turing Award laureate settled in Shanghai?", "Yao Qizhi [1].", ["Turing Award winner Yao Qizhi"])
    True
    """
    bare = strip_markers(answer)
    if not is_short(bare, 4, 8):
        return True
    if any(has_han(t) != has_han(question) for t in cited):
        return True
    asked = set(search_tokens(question)) - set(search_tokens(bare))
    return not asked or bool(asked & {w for t in cited for w in search_tokens(t)})
