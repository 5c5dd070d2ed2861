"""The question path: rewrite -> retrieve -> prompt -> generate -> verify -> Answer.

>>> pipe = open_pipeline(load_settings())  # doctest: +SKIP
>>> pipe.ask("上海有多少家重点人工智能企业？").text  # doctest: +SKIP
'上海有1,149家重点人工智能企业[2]。'
"""

from __future__ import annotations

import dataclasses
import re
import threading
import time
import unicodedata
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING

import numpy as np

from .answer_type import about_question, agrees, expected_kind, scope_of, with_measure_word
from .budget import budget_for
from .cite import (
    SourcePassage,
    SupportChecker,
    Verified,
    adds_nothing,
    model_refused,
    split_claims,
    strip_markers,
)
from .embed import Embedder
from .errors import RagError
from .generate import AnyGenerator, ExtractiveGenerator
from .guard import is_instruction
from .names import names_asked_person, repair_names, states_asked_role
from .parts import join_parts, question_parts
from .per_source import (
    according_to,
    asks_across,
    drop_echo,
    not_stated,
    per_source_question,
    source_documents,
)
from .prompt import (
    ABSTAIN,
    Passage,
    asks_date_of_source,
    build_messages,
    fit_budget,
    judge_messages,
    select_passages,
    without_example,
)
from .records import Answer, Citation, Hit, Timings
from .retrieve import Retriever
from .rewrite import condense, few_words
from .settings import Settings
from .store import Index, live_version, open_index
from .text import dates_in_notation, detect_lang, has_words, in_notation, in_script, is_traditional

if TYPE_CHECKING:
    from .indexer import IndexSummary

MAX_QUESTION_CHARS = 1000


class QuestionError(RagError, ValueError):
    """The question cannot be searched (empty, no words); the message is shown to the user."""


@dataclass(frozen=True)
class Retrieved:
    rewritten: str
    hits: tuple[Hit, ...]


@dataclass(frozen=True)
class Delta:
    text: str


@dataclass(frozen=True)
class Done:
    answer: Answer


Event = Retrieved | Delta | Done


def clean_question(question: str) -> str:
    """Strip control characters and excess whitespace; reject empty input and, in the question's own
    language and script, a question over MAX_QUESTION_CHARS (never cut silently)."""
    q = "".join(ch for ch in question if unicodedata.category(ch)[0] != "C" or ch in " \t")
    q = re.sub(r"\s+", " ", q).strip()
    if not q:
        raise QuestionError("Please type a question. / 请输入问题。")
    if not has_words(q):
        raise QuestionError("The question has no words to search for. / 问题中没有可检索的文字。")
    if len(q) > MAX_QUESTION_CHARS:
        if detect_lang(q) == "zh":
            raise QuestionError(in_script(f"问题太长（{len(q):,} 个字符，上限 {MAX_QUESTION_CHARS:,} 个）。"
                                          "请把问题缩短到一两句话再问。", is_traditional(q)))
        raise QuestionError(f"The question is too long ({len(q):,} characters; the limit is "
                            f"{MAX_QUESTION_CHARS:,}). Please shorten it to a sentence or two.")
    return q


def _in_passage_order(hits: Sequence[Hit], passages: Sequence[Passage]) -> tuple[Hit, ...]:
    """Passage [n] is hit n: the hits shown to the model first, in passage order, the other consulted hits after."""
    order = {p.chunk_id: p.n for p in passages}
    return tuple(sorted((h for h in hits if h.chunk.id in order), key=lambda h: order[h.chunk.id])) + tuple(
        h for h in hits if h.chunk.id not in order)


def judge_score(generator: AnyGenerator | None, question: str, v: Verified,
                title_of: Callable[[str], str]) -> float | None:
    """The generator's P(yes) to "does this evidence state this answer to this question?", over the best
    evidence sentence of each supported citation (led by its document's title). None when nothing is
    supported or the backend cannot read token probabilities."""
    ask = getattr(generator, "yes_probability", None)
    evidence = list(dict.fromkeys(f"{title_of(c.doc_id)}: {c.evidence}"
                                  for c in v.citations if c.supported and c.evidence))
    if ask is None or not v.supported_sentences or not evidence:
        return None
    return ask(judge_messages(question, strip_markers(v.text), evidence))


def for_reader(text: str, lang: str, sources: Sequence[str]) -> str:
    """The verified answer as shown: figures and dates in the reader's notation ("224.6 billion yuan" in a
    Chinese answer -> "2246亿元", "2021-07-07" -> "2021年7月7日") and, in English, Chinese names as the
    passages' pinyin ("Single Zhongde" -> "Shan Zhongde"), by code."""
    text = dates_in_notation(in_notation(text, lang), lang)
    return repair_names(text, sources) if lang == "en" else text


def off_topic(hits: Sequence[Hit], abstain_score: float) -> bool:
    """Abstain without generating: no hit is close in meaning (best dense cosine below `abstain_score`)
    and the best hit is not the keyword leg's best either. A rare name ("马柯德在哪所高校任教？", dense
    0.13) is found by its keywords when the embedder sees little in it; off-topic questions ("How do I
    bake bread?") score 0.07-0.13; those that score higher ("What is the capital of China?", 0.26) are left to
    the model and the checks."""
    if not hits:
        return True
    best = max(h.dense_score for h in hits)
    return best < abstain_score and hits[0].keyword_rank != 0


class Pipeline:
    """Holds the loaded models and index; thread-safe for concurrent questions. Opened with
    `rag.pipeline.open_pipeline`; tests build one from fakes directly."""

    def __init__(self, settings: Settings, embedder: Embedder, generator: AnyGenerator | None, index: Index):
        self.settings, self.embedder, self.generator = settings, embedder, generator
        self._index = index
        self.build_summary: IndexSummary | None = None  # what open_pipeline's index update did
        self.refining: threading.Thread | None = None  # open_pipeline's background refinement of a new index
        self._budget: int | None = None
        self._version = self._live_version()  # the generation loaded (approximately: see _follow_builds)
        self._checked = time.monotonic()

    @property
    def evidence_budget(self) -> int:
        """Tokens of evidence per prompt: the `prompt_budget` setting, or with "auto" what the generator's
        measured prompt speed allows for `target_ttft` (measured once per machine, cached with the model)."""
        if self._budget is None:
            s = self.settings
            if s.prompt_budget != "auto":
                self._budget = int(s.prompt_budget)
            else:
                measure = getattr(self.generator, "prompt_speed", None)
                self._budget = budget_for(measure() if measure else None, s.target_ttft)
        return self._budget

    @property
    def index(self) -> Index:
        return self._index

    def reload_index(self) -> None:
        """Pick up a rebuilt index (answers in flight keep the one they started with)."""
        version = self._live_version()  # read first: a build in between only causes one more reload later
        self._index = open_index(self.settings, expect_model=self.embedder.model_id)
        self._version = version

    def _live_version(self) -> str | None:
        try:
            return live_version(self.settings)
        except Exception:  # noqa: BLE001 - an unreachable store: keep answering from the loaded index
            return None

    def _follow_builds(self) -> None:
        """Every `reload_check` seconds (at a question), load the generation another process has published
        since this one loaded its index: replicas and `rag chat` beside a `rag index` stay current."""
        every = self.settings.reload_check
        if every <= 0 or time.monotonic() - self._checked < every:
            return
        self._checked = time.monotonic()
        version = self._live_version()
        if version is not None and version != self._version:
            try:
                self.reload_index()
            except RagError:  # e.g. built with another model: keep the loaded index until fixed
                self._version = version

    def _embed_claims(self, texts: list[str]) -> np.ndarray:
        return self.embedder.embed(texts, kind="query")

    def ask(self, question: str, history: Sequence[str] = (), k: int | None = None) -> Answer:
        answer = None
        for ev in self.stream(question, history, k):
            if isinstance(ev, Done):
                answer = ev.answer
        assert answer is not None
        return answer

    def stream(self, question: str, history: Sequence[str] = (), k: int | None = None) -> Iterator[Event]:
        """Yield Retrieved, then Delta pieces of the raw answer, then Done with the verified Answer."""
        self._follow_builds()
        s = self.settings
        t0 = time.perf_counter()
        question = clean_question(question)
        lang = detect_lang(question)
        traditional = lang == "zh" and is_traditional(question)  # answers follow the question's script
        standalone = condense(history, question, self.generator, lang) if history else question
        parts = question_parts(standalone) if s.split_questions else [standalone]
        if len(parts) == 1:
            yield from self._answer(question, standalone, lang, traditional, k, t0)
        else:
            yield from self._in_parts(question, standalone, parts, lang, traditional, k, t0)

    def _in_parts(self, question: str, standalone: str, parts: list[str], lang: str, traditional: bool,
                  k: int | None, t0: float) -> Iterator[Event]:
        """A question that asks two things: each part answered on its own (a part that leans on the one
        before, "一共开设了多少个？", is rewritten from it first), the answers joined in code."""
        answers: list[Answer] = []
        asked: list[str] = []
        for i, part in enumerate(parts):
            part = condense(asked[-1:], part, self.generator, lang, force=few_words(part)) if asked else part
            asked.append(part)
            if i:
                yield Delta("\n")
            for ev in self._answer(part, part, lang, traditional, k, time.perf_counter()):
                if isinstance(ev, Done):
                    answers.append(ev.answer)
                elif isinstance(ev, Delta):
                    yield ev
                elif i == 0:  # the first part's sources are shown while the answer streams
                    yield Retrieved(standalone, ev.hits)
        yield Done(join_parts(question, standalone, lang, traditional, asked, answers, ABSTAIN[lang],
                              time.perf_counter() - t0))

    def _answer(self, question: str, standalone: str, lang: str, traditional: bool, k: int | None,
                t0: float) -> Iterator[Event]:
        """Retrieve, prompt, generate and verify for one question (`standalone` is what is searched)."""
        s = self.settings
        index = self._index
        retriever = Retriever(index, self.embedder, s)
        got = retriever.search(standalone, k or s.k)
        hits = tuple(got.hits)

        def finish(text: str, abstained: bool, raw: str = "", citations=(), unsupported=(),
                   first: float = 0.0, gen: float = 0.0, scores: dict | None = None, shown=None) -> Done:
            total = time.perf_counter() - t0
            # an abstention cites nothing: a withdrawn draft's markers stay in `raw` only
            return Done(Answer(question, lang, in_script(text, traditional), abstained, () if abstained else tuple(citations),
                               hits if shown is None else shown,
                               standalone, Timings(t_retrieve, first or total, gen, total),
                               tuple(in_script(u, traditional) for u in unsupported), raw, scores or {}, traditional))

        if off_topic(hits, s.abstain_score) or self.generator is None:
            t_retrieve = time.perf_counter() - t0
            yield Retrieved(standalone, hits)
            yield finish(ABSTAIN[lang], True)
            return
        count = self.generator.count_tokens
        prompt_lang = lang if s.prompt_lang == "auto" else s.prompt_lang
        kind = expected_kind(standalone)  # a count of companies, of people, an amount, a percentage, or None
        docs: list[str] = []
        if s.verify and (kind or asks_across(standalone)):
            # a wider look (the query vector is cached) so that every source stating a figure is seen
            wide = tuple(retriever.search(standalone, 2 * (k or s.k)).hits)
            docs = source_documents(standalone, kind, wide, index, got.query_vector)
        if docs:  # several sources, or sources that disagree: one answer per source, assembled in code
            t_retrieve = time.perf_counter() - t0
            yield from self._per_source(question, standalone, lang, traditional, prompt_lang, kind, docs, wide,
                                        index, got.query_vector, finish, t0)
            return
        # A draft refused or not supported gets one more try with wider evidence (the fact may sit in a
        # retrieved chunk's sentence that the first budget left out); then the answer abstains.
        budget = self.evidence_budget
        budgets = [budget] + ([max(s.retry_budget, 2 * budget)] if s.verify and s.retry_budget
                              and s.evidence == "sentences" else [])
        shown_texts: list[str] = []
        first = 0.0
        t_gen = time.perf_counter()
        raw, v, scores = "", None, {}
        for attempt, budget in enumerate(budgets):
            passages = select_passages(hits, index, got.query_vector, budget, count,
                                       whole_chunks=s.evidence == "chunks")
            passages = fit_budget(question, prompt_lang, passages, count, s.n_ctx - s.max_new_tokens - 64)
            if attempt and [p.text for p in passages] == shown_texts:
                break  # nothing more to show the model
            shown_texts = [p.text for p in passages]
            hits = _in_passage_order(hits, passages)
            if attempt == 0:
                t_retrieve = time.perf_counter() - t0
                yield Retrieved(standalone, hits)
                t_gen = time.perf_counter()
            else:
                yield Delta("\n\n")  # the retry's draft streams below the first one
            pieces: list[str] = []
            for piece in self._draft(question, prompt_lang, passages):
                if not first:
                    first = time.perf_counter() - t0
                pieces.append(piece)
                yield Delta(in_script(piece, traditional))
            raw = without_example("".join(pieces).strip())
            v = None
            titles = [index.doc_info(p.doc_id).title for p in passages]
            if not raw or model_refused(raw) or adds_nothing(raw, f"{question} {standalone}", titles):
                continue
            checker = self._checker(index, passages, standalone)
            raw_recall, raw_precision = checker.alce(raw)
            if not s.verify:  # take the markers at face value (ablation / naive baseline)
                cits = [Citation(n, passages[n - 1].doc_id, passages[n - 1].chunk_id, True, claim)
                        for claim, ns in split_claims(raw) for n in ns if 1 <= n <= len(passages)]
                scores = {"recall": raw_recall, "precision": raw_precision,
                          "raw_recall": raw_recall, "raw_precision": raw_precision}
                yield finish(raw, False, raw, cits, first=first, gen=time.perf_counter() - t_gen, scores=scores)
                return
            # a figure written with no unit takes the unit its passage gives it
            v = checker.verify(raw, partial(agrees, kind, sources=shown_texts))
            recall, precision = checker.alce(v.text)
            scores = {"recall": recall, "precision": precision, "raw_recall": raw_recall,
                      "raw_precision": raw_precision, "attempts": attempt + 1}
            # a bare answer ("Shanghai [1].") must come from passages about the question, and a question
            # about a person from passages that name that person; these string checks run before the judge,
            # which costs a pass of the generator
            cited = [passages[c.n - 1].text for c in v.citations if c.supported and 1 <= c.n <= len(passages)]
            if not (v.supported_sentences and about_question(standalone, v.text, cited)
                    and self._about_asked_person(standalone, v, hits)):
                continue
            judged = self._judge(standalone, v, index)
            if judged is not None:
                scores["judge"] = round(judged, 4)
            if judged is None or judged >= s.judge_threshold:
                shown = with_measure_word(for_reader(v.text, lang, shown_texts), standalone, shown_texts)
                yield finish(shown, False, raw, v.citations, v.unsupported, first, time.perf_counter() - t_gen,
                             scores, hits)
                return
        gen = time.perf_counter() - t_gen
        if v is None:
            yield finish(ABSTAIN[lang], True, raw, first=first, gen=gen, shown=hits)
        else:
            yield finish(ABSTAIN[lang], True, raw, v.citations, v.unsupported, first, gen, scores, hits)

    def _per_source(self, question: str, standalone: str, lang: str, traditional: bool, prompt_lang: str,
                    kind: str | None, docs: list[str], hits: tuple[Hit, ...], index: Index,
                    query_vec: np.ndarray, finish: Callable[..., Done], t0: float) -> Iterator[Event]:
        """One small prompt per source document; each answer verified against its own source's passages
        and led by the source's title and date; a source whose answer fails says so."""
        count = self.generator.count_tokens
        groups: list[tuple[str, list[Passage]]] = []
        n = 0
        for doc in docs:
            ps = select_passages([h for h in hits if h.chunk.doc_id == doc], index, query_vec, self.evidence_budget, count)
            ps = [dataclasses.replace(p, n=n + i) for i, p in enumerate(ps, 1)]  # numbered across sources
            n += len(ps)
            if ps:
                groups.append((doc, ps))
        hits = _in_passage_order(hits, [p for _, ps in groups for p in ps])
        yield Retrieved(standalone, hits)
        t_gen = time.perf_counter()
        first = 0.0
        parts: list[str] = []
        raws: list[str] = []
        citations: list[Citation] = []
        unsupported: list[str] = []
        recall = precision = 0.0
        answered = 0
        judges: list[float] = []
        for doc, ps in groups:
            info = index.doc_info(doc)
            lead = according_to(info, lang)
            yield Delta(in_script(("\n" if raws else "") + lead, traditional))
            pieces = []
            for piece in self._draft(per_source_question(question, prompt_lang), prompt_lang, ps):
                if not first:
                    first = time.perf_counter() - t0
                pieces.append(piece)
                yield Delta(in_script(piece, traditional))
            raw = drop_echo(without_example("".join(pieces).strip()), question)
            raws.append(lead + raw)
            v = None
            titles = [index.doc_info(p.doc_id).title for p in ps]
            texts = [p.text for p in ps]
            if raw and not model_refused(raw) and not adds_nothing(raw, f"{question} {standalone}", titles):
                checker = self._checker(index, ps, standalone)
                v = checker.verify(raw, partial(agrees, kind, sources=texts))
                r, p = checker.alce(v.text)
                recall, precision = recall + r, precision + p
                unsupported.extend(v.unsupported)
                if not self._about_asked_person(standalone, v, hits):
                    v = None  # about someone else than the person asked about
                judged = self._judge(standalone, v, index) if v is not None else None
                if judged is not None:
                    judges.append(judged)
                    if judged < self.settings.judge_threshold:
                        v = None  # the evidence does not state this answer to the question
            if v is not None and v.supported_sentences:
                parts.append(lead + with_measure_word(for_reader(v.text, lang, texts), standalone, texts))
                citations.extend(v.citations)  # a source that "does not say" cites nothing
                answered += 1
            else:
                parts.append(not_stated(info, lang))
        gen = time.perf_counter() - t_gen
        scores = {"recall": recall / len(groups), "precision": precision / len(groups)} if groups else {}
        if judges:
            scores["judge"] = round(min(judges), 4)
        if not answered:
            yield finish(ABSTAIN[lang], True, "\n".join(raws), citations, unsupported, first, gen, scores, hits)
            return
        yield finish("\n".join(parts), False, "\n".join(raws), citations, unsupported, first, gen, scores, hits)

    @staticmethod
    def _about_asked_person(question: str, v: Verified, hits: Sequence[Hit]) -> bool:
        """The chunks the answer cites name every person the question names (`names.names_asked_person`)
        and the role a "who" question asks for (`names.states_asked_role`)."""
        cited = {c.chunk_id for c in v.citations if c.supported}
        docs = {c.doc_id for c in v.citations if c.supported}
        texts = [h.chunk.text for h in hits if h.chunk.id in cited]
        return (names_asked_person(question, texts, [h.chunk.text for h in hits],
                                   [h.chunk.text for h in hits if h.chunk.doc_id in docs])
                and states_asked_role(question, texts))

    def _draft(self, question: str, lang: str, passages: Sequence[Passage]) -> Iterator[str]:
        """The generator's answer, streamed: a language model reads the prompt built from the
        passages; the extractive backend picks a passage sentence itself."""
        if isinstance(self.generator, ExtractiveGenerator):
            return self.generator.answer(question, passages)
        return self.generator.stream(build_messages(question, lang, passages), max_tokens=self.settings.max_new_tokens,
                                     lang=lang)  # kept in the answer's language (rag/script_guard.py)

    def _judge(self, question: str, v: Verified, index: Index) -> float | None:
        """P(yes) from the generator asked whether the evidence sentences of the supported citations state
        this answer to this question; None when the judge is off, nothing is supported or the backend
        cannot read token probabilities. Catches a supported-looking figure about another subject, year
        or unit, which word overlap and number matching let through."""
        if self.settings.judge_threshold <= 0:
            return None
        dated = asks_date_of_source(question)  # then the judge sees the source's date too, as the generator did

        def source(doc: str) -> str:
            info = index.doc_info(doc)
            return f"{info.title[:60]} (published {info.date})" if dated and info.date else info.title[:60]

        return judge_score(self.generator, question, v, source)

    def _checker(self, index: Index, passages: Sequence[Passage], standalone: str) -> SupportChecker:
        """The support checker for answers to `standalone` from these passages (place check included)."""
        return SupportChecker(self._sources(index, passages), self._embed_claims, self.settings.support_threshold,
                              scope_of(standalone), standalone)

    @staticmethod
    def _sources(index: Index, passages: Sequence[Passage]) -> list[SourcePassage]:
        out = []
        for p in passages:
            row = index.row_of(p.chunk_id)
            chunk = index.chunks[row]
            spans, vecs = index.chunk_sentences(row)
            keep = [i for i, (a, b) in enumerate(spans) if not is_instruction(chunk.text[a:b])]
            sentences = tuple(chunk.text[spans[i][0]:spans[i][1]] for i in keep)
            info = index.doc_info(p.doc_id)  # the source's title and date can support a claim too ("the article of …")
            text = " ".join((info.title, info.date, *sentences)) if len(spans) else chunk.text
            out.append(SourcePassage(p.n, p.doc_id, p.chunk_id, text, sentences,
                                     np.asarray(vecs, dtype=np.float32)[keep]))
        return out
