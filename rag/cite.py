"""Parse, verify and repair `[n]` citations in a generated answer.

A sentence is supported by a passage when every number in it is stated in the passage (compared by
value across notations, so "4,500", "4500家", "四千五百" match, "224.6 billion" matches "2246亿" and
"216 billion" does not match "216億", which is 21.6 billion; a small count the question gives, "Which
two…", is exempt) for the same thing and year (`units.role_mismatch`: "16次" is not "16个月"), and it
is close in meaning to one of the passage's sentences: cosine of the
multilingual embeddings at least `threshold` (a pair in two languages gets CROSS_LINGUAL_MARGIN first),
or most of its words present in the passage.

>>> split_claims("上海有1,149家企业[1]。规模2246亿元。[2] Done [3]")
[('上海有1,149家企业。', [1]), ('规模2246亿元。', [2]), ('Done', [3])]
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from .records import Citation
from .text import (
    FILLER,
    SENTENCE_END,
    Quantity,
    content_words,
    detect_lang,
    has_han,
    quantities,
    same_quantity,
    search_tokens,
    split_sentences,
)
from .units import role_mismatch, roles

EmbedFn = Callable[[list[str]], np.ndarray]  # answer sentences -> normalised vectors

_MARK = re.compile(r"\s*\[(\d{1,3})\]")
_MARKS_AT_START = re.compile(r"^(?:\s*\[\d{1,3}\])+")
_MARKS_AFTER_STOP = re.compile(r"([。．.!?！？；;])((?:\s*\[\d{1,3}\])+)")
_GAP_AFTER_STOP = re.compile(r"(?<=[。．.!?！？；;])\s*(?:…+|\.{3})(?=\s*(?:\[\d{1,3}\]|$))")


ANCHORED_THRESHOLD = 0.35  # similarity needed when the claim's numbers all occur in the passage sentence
# A claim's figure must come from the passage sentence the claim is about: the sentence stating it may be
# at most this much less similar to the claim than the passage's best sentence (calibrated on RGB, see
# eval/RESULTS.md), so a number swapped in from another sentence of the same passage is not "supported".
ANCHOR_MARGIN = 0.05
# A claim and a passage sentence in different languages are less similar than the same pair in one language:
# by 0.10 at the median on XQuAD's parallel questions against their answer sentences (0.05 / 0.15 at the
# quartiles; eval/crosslingual_margin.py). A cross-language pair's similarity is raised by this much before
# it is compared with the thresholds, so a Chinese answer from an English passage is held to the same bar.
CROSS_LINGUAL_MARGIN = 0.10


def _distinctive(nums: list[Quantity]) -> bool:
    """Numbers specific enough to anchor a claim: at least one with two or more significant digits."""
    return any(abs(q.value) >= 10 or q.value != int(q.value) for q in nums)


def _stated(claim: list[Quantity], source: list[Quantity]) -> bool:
    """Every number of the claim is stated in the source, by value in any notation."""
    return all(any(same_quantity(q, s) for s in source) for q in claim)


def strip_markers(text: str) -> str:
    """The answer's words without its `[n]` markers (what scorers compare with gold spans)."""
    return _MARK.sub("", text)


def split_claims(text: str) -> list[tuple[str, list[int]]]:
    """Answer sentences with their cited passage numbers (markers removed from the sentence)."""
    text = _GAP_AFTER_STOP.sub("", text)  # "…原因。 … [2]": the passages' gap mark, copied, is no sentence
    text = _MARKS_AFTER_STOP.sub(lambda m: m.group(2) + m.group(1), text)  # "…2. [2] C" -> "…2 [2]. C"
    spans = split_sentences(text)
    pieces = [text[a:b] for a, b in spans]
    # "…企业。[2]" puts the marker after the full stop: move leading markers to the previous sentence.
    for i in range(1, len(pieces)):
        m = _MARKS_AT_START.match(pieces[i])
        if m:
            pieces[i - 1] += m.group(0)
            pieces[i] = pieces[i][m.end():].strip()
    out = []
    for p in pieces:
        nums = [int(n) for n in _MARK.findall(p)]
        claim = strip_markers(p).strip()
        if claim:
            out.append((claim, list(dict.fromkeys(nums))))
        elif nums and out:
            out[-1][1].extend(n for n in nums if n not in out[-1][1])
    return out


@dataclass(frozen=True)
class SourcePassage:
    n: int
    doc_id: str
    chunk_id: str
    text: str  # the full chunk text (not only the sentences shown to the model)
    sentences: tuple[str, ...]
    sentence_vectors: np.ndarray  # (m, dim), may be empty


@dataclass(frozen=True)
class Verified:
    text: str  # the answer with corrected markers
    citations: tuple[Citation, ...]
    unsupported: tuple[str, ...]
    supported_sentences: int
    sentences: int


class SupportChecker:
    def __init__(self, passages: Sequence[SourcePassage], embed: EmbedFn | None, threshold: float = 0.55,
                 scope: Callable[[str, str], bool] | None = None, question: str = ""):
        """`scope(claim, sentence)` may reject the passage sentence a claim's figure comes from (a figure
        stated for another place than the claim's). A small count the `question` states itself
        ("Which two universities…") is restated, not claimed: the cited passage need not hold it (see `scores`)."""
        self.passages = {p.n: p for p in passages}
        self._given = quantities(question)
        self.embed, self.threshold, self.scope = embed, threshold, scope
        self._vec_cache: dict[str, np.ndarray] = {}
        self._roles = {p.n: roles(p.text) for p in passages}  # each number with the nouns written with it
        self._numbers = {n: [r.quantity for r in stated] for n, stated in self._roles.items()}
        self._sentence_numbers = {p.n: [quantities(t) for t in p.sentences] for p in passages}
        self._sentence_zh = {p.n: np.array([detect_lang(t) == "zh" for t in p.sentences], dtype=bool)
                             for p in passages}
        self._tokens = {p.n: set(search_tokens(p.text)) for p in passages}

    def _vectors(self, claims: list[str]) -> np.ndarray | None:
        """Claim embeddings, each text embedded once per checker (verify and both ALCE scorings share them)."""
        if self.embed is None or not claims:
            return None
        todo = [c for c in dict.fromkeys(claims) if c not in self._vec_cache]
        if todo:
            self._vec_cache.update(zip(todo, self.embed(todo), strict=True))
        return np.stack([self._vec_cache[c] for c in claims])

    def scores(self, claims: list[str]) -> np.ndarray:
        """(len(claims), len(passages)) support scores in [0, 1]; 0 where a number does not match."""
        ns = sorted(self.passages)
        out = np.zeros((len(claims), len(ns)), dtype=np.float32)
        vecs = self._vectors(claims)
        for i, claim in enumerate(claims):
            stated = quantities(claim)
            restated = [q for q in stated if any(same_quantity(q, g) for g in self._given)]
            figures = [q for q in stated if q not in restated]  # what the claim itself asserts
            # A small count the question gives ("Which two universities…") is a premise: the cited passage need
            # not say "two". A year or larger number of the question must be stated by the cited passage all the
            # same: "截至2022年底…" answered from "截至2023年底…" is a near miss, even when another chunk says 2022.
            premises = [q for q in restated if q.kind == "number" and q.value == int(q.value) and 0 < q.value < 10]
            toks = set(search_tokens(claim))
            claim_zh = detect_lang(claim) == "zh"
            for j, n in enumerate(ns):
                # the question's small count is needed only where this passage states it (then it anchors)
                nums = [q for q in stated if q not in premises or _stated([q], self._numbers[n])]
                if not _stated(nums, self._numbers[n]) or role_mismatch(claim, self._roles[n], figures):
                    continue  # a figure not in the passage, or stated there for another thing ("16个月" as 16次)
                lexical = len(toks & self._tokens[n]) / len(toks) if toks else 0.0
                semantic = 0.0
                p = self.passages[n]
                if vecs is not None and len(p.sentence_vectors):
                    sims = np.asarray(p.sentence_vectors, dtype=np.float32) @ vecs[i]
                    zh = self._sentence_zh[n][: len(sims)]
                    sims[: len(zh)] += CROSS_LINGUAL_MARGIN * (zh != claim_zh)
                    best = float(np.max(sims))
                    semantic = best if best >= self.threshold else 0.0
                    # the passage sentences that state all of the claim's numbers
                    rows = [k for k, sn in enumerate(self._sentence_numbers[n])
                            if k < len(sims) and _stated(nums, sn)] if nums else []
                    if rows and self.scope is not None and not any(self.scope(claim, p.sentences[k]) for k in rows):
                        continue  # the figure is stated, but for another place (上海's 9 universities for 全国)
                    if _distinctive(nums):
                        # ... and those that state its figures, the numbers the question did not give
                        figure_rows = [k for k, sn in enumerate(self._sentence_numbers[n])
                                       if k < len(sims) and _stated(figures, sn)]
                        if figure_rows and max(float(sims[k]) for k in figure_rows) < best - ANCHOR_MARGIN:
                            continue  # the figure is in the passage, but not in the sentence the claim is about
                        # All of the claim's numbers in one sentence that is about the same thing: enough,
                        # even when that sentence packs several facts (which dilutes its similarity).
                        stating = [float(sims[k]) for k in rows]
                        if stating and max(stating) >= ANCHORED_THRESHOLD:
                            semantic = max(semantic, max(stating))
                out[i, j] = max(lexical * 0.9 if lexical >= 0.6 else 0.0, semantic)
        return out

    def best_sentence(self, n: int, claim_vec: np.ndarray | None, claim: str) -> str:
        p = self.passages[n]
        if not p.sentences:
            return ""
        if claim_vec is not None and len(p.sentence_vectors):
            return p.sentences[int(np.argmax(np.asarray(p.sentence_vectors, dtype=np.float32) @ claim_vec))]
        toks = set(search_tokens(claim))
        return max(p.sentences, key=lambda s: len(toks & set(search_tokens(s))))

    def alce(self, answer: str) -> tuple[float, float]:
        """ALCE-style (citation recall, citation precision) of an answer as written, without repair.

        A sentence has recall 1 when one of its cited passages supports it (uncited: 0); a citation is
        precise when its passage supports its sentence on its own."""
        claims = split_claims(answer)
        if not claims:
            return 0.0, 0.0
        ns = sorted(self.passages)
        sc = self.scores([c for c, _ in claims])
        recall, precise, n_cit = 0, 0, 0
        for i, (_, cited) in enumerate(claims):
            ok = [n in self.passages and sc[i, ns.index(n)] > 0 for n in cited]
            recall += any(ok)
            precise += sum(ok)
            n_cit += len(cited)
        return recall / len(claims), (precise / n_cit if n_cit else 0.0)

    def verify(self, answer: str, answers_question: Callable[[str], bool] | None = None) -> Verified:
        """Check every sentence's citations; fix wrong or missing markers; list unsupported sentences.
        `answers_question` may reject a sentence whatever its passages say (a figure of the wrong kind)."""
        claims = split_claims(answer)
        ns = sorted(self.passages)
        if not claims:
            return Verified(answer, (), (), 0, 0)
        texts = [c for c, _ in claims]
        sc = self.scores(texts)
        vecs = self._vectors(texts)
        citations: list[Citation] = []
        unsupported: list[str] = []
        rebuilt: list[str] = []
        supported_count = 0
        for i, (claim, cited) in enumerate(claims):
            cited = [n for n in cited if n in self.passages]  # drop markers pointing at no passage
            on_topic = answers_question is None or answers_question(claim)
            good = [n for n in cited if sc[i, ns.index(n)] > 0] if on_topic else []
            if not good and on_topic and sc.shape[1]:  # wrong or missing marker: use the best supporting passage
                j = int(np.argmax(sc[i]))
                if sc[i, j] > 0:
                    good = [ns[j]]
            if good:
                supported_count += 1
                for n in good:
                    p = self.passages[n]
                    citations.append(Citation(n, p.doc_id, p.chunk_id, True, claim,
                                              self.best_sentence(n, vecs[i] if vecs is not None else None, claim)))
                rebuilt.append(_with_marks(claim, good))
            else:
                unsupported.append(claim)
                for n in cited:
                    p = self.passages[n]
                    citations.append(Citation(n, p.doc_id, p.chunk_id, False, claim, ""))
                rebuilt.append(_with_marks(claim, cited))
        joiner = "" if has_han(answer) else " "
        return Verified(joiner.join(rebuilt), tuple(citations), tuple(unsupported), supported_count, len(claims))


def _with_marks(claim: str, ns: list[int]) -> str:
    """Put markers before the sentence's final punctuation: "…企业[1]。", "… firms [1]."."""
    marks = "".join(f"[{n}]" for n in ns)
    m = SENTENCE_END.search(claim)
    if not marks:
        return claim
    if m:
        # no space in a Chinese sentence, also after a figure ("缺口是78.4%[1]。")
        sep = "" if has_han(claim[: m.start()][-1:]) or claim[m.start()] in "。！？；…" else " "
        return claim[: m.start()].rstrip() + sep + marks + claim[m.start():]
    return claim + " " + marks


# --- judging the draft as a whole -------------------------------------------------------------
REFUSAL_PATTERNS = re.compile(
    r"资料中没有|没有相关信息|未提及|没有提到|无法回答|无法确定|do(?:es)? not contain|no information|not mentioned|"
    r"cannot be (?:answered|determined)|not (?:provided|specified|stated) in|don't contain|doesn't contain",
    re.IGNORECASE)


def model_refused(text: str) -> bool:
    return bool(REFUSAL_PATTERNS.search(text))


QUOTED = re.compile(r"《([^》]*)》|\"([^\"]*)\"|“([^”]*)”")  # a quoted title or phrase


def adds_nothing(answer: str, question: str, titles: Sequence[str] = ()) -> bool:
    """True when the answer only restates the question: no Han character, number or word beyond it
    (citation markers, filler and the passages' own titles aside). Such an answer passes citation
    checks but tells nothing.

    >>> adds_nothing("马英九祭祖时间[1]。", "马英九祭祖时间"), adds_nothing("时间是3月27日[1]。", "马英九祭祖时间")
    (True, False)
    >>> adds_nothing("两部电影是《人工智能加速…》[1]。", "两部电影是什么", ["人工智能加速赋能千行百业"])
    True

    A name of several capitalised words that the question does not contain as such is new even when each
    of its words is in the question (h2-en-004):

    >>> adds_nothing("The Shanghai Stock Exchange [4].", "Which stock exchange is Shanghai's workstation linked with?")
    False
    """
    def is_title(m: re.Match) -> bool:
        inner = strip_markers(next(g for g in m.groups() if g is not None)).strip(" …")
        return bool(inner) and any(t.replace("…", "").startswith(inner) for t in titles)

    if titles:
        answer = QUOTED.sub(lambda m: " " if is_title(m) else m.group(0), answer)
    if content_words(answer) - content_words(question) - FILLER:
        return False
    asked = " ".join(re.sub(r"'s\b", "", question).lower().split())
    return not any(m.group(0).lower() not in asked for m in _NAME.finditer(strip_markers(answer)))


# a name of two or more capitalised words ("Shanghai Stock Exchange", "Ministry of Industry"), a leading
# article aside ("The MIIT" is one word)
_NAME = re.compile(r"(?<![A-Za-z])(?!The\b)(?:[A-Z][a-z]+|[A-Z]{2,})(?:\s+(?:of|and|the|for)?\s*(?:[A-Z][a-z]+|[A-Z]{2,}))+")

