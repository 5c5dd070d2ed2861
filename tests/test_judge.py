"""The claim-level judge: the generator's P(yes) over (question, evidence, answer) can refuse a draft
that the citation checks accept."""

import threading

import numpy as np
import pytest

from rag.generate import LlamaCppGenerator
from rag.pipeline import open_pipeline
from rag.prompt import judge_messages

QUESTION = "上海有多少家重点人工智能企业？"


class JudgedGenerator:
    """One scripted reply; a fixed P(yes) for every judge question, which it records."""

    model_id = "judged"

    def __init__(self, reply, p_yes):
        self.reply, self.p_yes, self.judged = reply, p_yes, []

    def count_tokens(self, text):
        return len(text)

    def stream(self, messages, max_tokens=256, lang=None):
        yield self.reply

    def yes_probability(self, messages):
        self.judged.append(messages[-1]["content"])
        return self.p_yes


@pytest.fixture()
def shanghai(tmp_path):
    corpus = tmp_path / "one"
    corpus.mkdir()
    (corpus / "sh.txt").write_text("截至2020年，上海共有1,149家重点人工智能企业。", encoding="utf-8")
    return corpus


def test_a_draft_the_judge_rejects_abstains_and_one_it_accepts_stands(fake_settings, shanghai):
    s = fake_settings.replace(corpus_dir=str(shanghai), prompt_budget="200", judge_threshold=0.6)
    low = JudgedGenerator("上海共有1,149家重点人工智能企业[1]。", 0.3)
    a = open_pipeline(s, generator=low).ask(QUESTION)
    assert a.abstained and a.citation_scores["judge"] == 0.3
    assert a.citations == () and "[1]" in a.raw_text  # the withdrawn draft's markers are not shown as citations
    # the judge saw the question, the answer without markers and the cited evidence sentence
    assert QUESTION in low.judged[0] and "1,149家重点人工智能企业。" in low.judged[0] and "[1]" not in low.judged[0]
    high = JudgedGenerator("上海共有1,149家重点人工智能企业[1]。", 0.9)
    b = open_pipeline(s, generator=high).ask(QUESTION)
    assert not b.abstained and "1,149" in b.text and b.citation_scores["judge"] == 0.9


def test_the_judge_does_not_run_when_off_or_when_nothing_is_supported(fake_settings, shanghai):
    off = JudgedGenerator("上海共有1,149家重点人工智能企业[1]。", 0.1)
    a = open_pipeline(fake_settings.replace(corpus_dir=str(shanghai), prompt_budget="200", judge_threshold=0.0),
                      generator=off).ask(QUESTION)
    assert not a.abstained and not off.judged and "judge" not in a.citation_scores
    wrong = JudgedGenerator("上海共有9,999家重点人工智能企业[1]。", 0.99)  # no passage states it
    s = fake_settings.replace(corpus_dir=str(shanghai), prompt_budget="200", judge_threshold=0.6)
    assert open_pipeline(s, generator=wrong).ask(QUESTION).abstained and not wrong.judged


def test_judge_messages_hold_question_answer_and_evidence():
    m = judge_messages("Q?", "A.", ["t: e1", "t: e2"])
    assert m[0]["role"] == "system" and "Passage: t: e1\nt: e2\nQuestion: Q?\nProposed answer: A." in m[1]["content"]


def test_yes_probability_reads_only_the_new_tokens_and_compares_yes_with_no():
    vocab = {"yes": 1, "Yes": 1, " yes": 1, " Yes": 1, "YES": 1, "no": 2, "No": 2, " no": 2, " No": 2, "NO": 2}

    class Ctx:
        logits = np.zeros(4, dtype=np.float32)

        def get_logits(self):
            return np.ctypeslib.as_ctypes(self.logits)

    class FakeLlama:
        def __init__(self):
            self.input_ids, self.n_tokens, self.evaluated, self._ctx = np.array([5, 6, 7, 8, 0, 0]), 4, [], Ctx()

        def tokenize(self, text, add_bos=False, special=False):
            return [vocab[text.decode()]] if text.decode() in vocab else [5, 6, 9, 3]

        def eval(self, tokens):
            self.evaluated.append(list(tokens))
            ids = [*self.input_ids[: self.n_tokens], *tokens]
            self.input_ids, self.n_tokens = np.array([*ids, 0, 0]), len(ids)
            self._ctx.logits[:] = [0.0, np.log(3.0), 0.0, 0.0]  # yes three times as likely as no

        def n_vocab(self):
            return 4

        def save_state(self):
            self.saved = getattr(self, "saved", 0) + 1
            return ("state", self.input_ids.copy(), self.n_tokens)

        def load_state(self, state):
            self.loaded = getattr(self, "loaded", 0) + 1
            _, self.input_ids, self.n_tokens = state[0], state[1].copy(), state[2]

    gen = LlamaCppGenerator.__new__(LlamaCppGenerator)
    gen.llm, gen.lock, gen._states, gen._last_system = FakeLlama(), threading.Lock(), {}, None
    gen._chat_prompt = lambda messages: "prompt"
    p = gen.yes_probability([{"role": "system", "content": "S"}, {"role": "user", "content": "U"}])
    assert p == pytest.approx(0.75)
    assert gen.llm.evaluated == [[9, 3]]  # the common prefix [5, 6] was not read again
    assert gen._last_system == "S" and gen.llm.saved == 1  # the context after the judge's system prompt is kept
    gen._last_system = "an answer's system prompt"  # an answer ran in between
    gen.llm.input_ids, gen.llm.n_tokens = np.array([1, 1, 1, 1, 0, 0]), 4
    gen.yes_probability([{"role": "system", "content": "S"}, {"role": "user", "content": "U"}])
    assert gen.llm.loaded == 1 and gen.llm.evaluated[-1] == [3]  # loaded, then only the last token is read


def test_an_answer_about_another_person_than_the_one_asked_abstains(fake_settings, tmp_path):
    """Held-aside h-zh-012: "赛迪顾问的邹德宝希望…" was answered with 付长文's words from another paragraph."""
    corpus = tmp_path / "two"
    corpus.mkdir()
    (corpus / "fu.txt").write_text("赛迪顾问股份有限公司总裁付长文表示，当前我国算力规模居全球第二位。", encoding="utf-8")
    (corpus / "zou.txt").write_text("赛迪顾问的邹德宝希望有关部门在政策方面给予支持。", encoding="utf-8")
    s = fake_settings.replace(corpus_dir=str(corpus), prompt_budget="200", abstain_score=0.0)
    question = "赛迪顾问的邹德宝希望有关部门从哪方面给予支持？"
    judged = JudgedGenerator("付长文表示，当前我国算力规模居全球第二位[1]。", 0.9)
    other = open_pipeline(s, generator=judged).ask(question)
    assert other.abstained and other.citations == ()
    assert not judged.judged  # refused by the string check: the generator's judge pass is not spent
    right = open_pipeline(s, generator=JudgedGenerator("邹德宝希望有关部门在政策方面给予支持[1]。", 0.9)).ask(question)
    assert not right.abstained and "政策" in right.text
