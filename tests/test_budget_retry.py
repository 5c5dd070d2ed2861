"""The evidence budget sized from the generator's prompt speed, and the one retry with wider evidence."""

import pytest

import rag.budget
from rag.budget import budget_for, cached_speed, measure_llama, store_speed
from rag.pipeline import open_pipeline
from rag.settings import SettingsError, load_settings


class ScriptedGenerator:
    """Replies from a script, one reply per prompt; records the prompts; reports a prompt speed."""

    model_id = "scripted"

    def __init__(self, replies, speed=None):
        self.replies, self.prompts, self.speed, self.speed_calls = list(replies), [], speed, 0

    def count_tokens(self, text):
        return len(text)

    def prompt_speed(self):
        self.speed_calls += 1
        return self.speed

    def stream(self, messages, max_tokens=256, lang=None):
        self.prompts.append(messages[-1]["content"])
        yield self.replies.pop(0) if len(self.replies) > 1 else self.replies[0]


def test_budget_follows_the_measured_prompt_speed():
    assert budget_for(53.0, 3.0) < budget_for(160.0, 3.0) < budget_for(160.0, 5.0)
    assert budget_for(None, 3.0) == 120  # nothing measured: the fixed fallback
    assert budget_for(1.0, 3.0) == 120 and budget_for(10_000.0, 3.0) == 600  # clamped


def test_prompt_budget_setting_is_auto_or_a_token_count():
    assert load_settings(env={}).prompt_budget == "120"  # more evidence measured worse with the default generator
    assert load_settings(env={"RAG_PROMPT_BUDGET": "auto"}).prompt_budget == "auto"
    assert load_settings(env={"RAG_PROMPT_BUDGET": "200"}).prompt_budget == "200"
    with pytest.raises(SettingsError, match="prompt_budget"):
        load_settings(env={"RAG_PROMPT_BUDGET": "lots"})


def test_pipeline_measures_once_and_a_number_overrides(fake_settings):
    gen = ScriptedGenerator(["x"], speed=160.0)
    pipe = open_pipeline(fake_settings.replace(prompt_budget="auto"), generator=gen)
    assert pipe.evidence_budget == budget_for(160.0, fake_settings.target_ttft) == pipe.evidence_budget
    assert gen.speed_calls == 1
    fixed = open_pipeline(fake_settings.replace(prompt_budget="200"), generator=ScriptedGenerator(["x"], 160.0))
    assert fixed.evidence_budget == 200


def test_speed_cache_is_keyed_by_machine(tmp_path):
    cache = tmp_path / "model.gguf.speed.json"
    assert cached_speed(cache, "k1") is None
    store_speed(cache, "k1", 53.04)
    store_speed(cache, "k2", 160.0)
    assert cached_speed(cache, "k1") == 53.0 and cached_speed(cache, "k2") == 160.0
    cache.write_text("not json")
    assert cached_speed(cache, "k1") is None  # a damaged cache is measured again, not trusted


def test_prompt_speed_is_the_best_of_several_runs_not_a_cold_one(monkeypatch):
    """The first evaluation is slow (weights paged in, or another process busy): it must not set the figure."""
    seconds = iter([4.0, 1.0, 2.0, 1.5])  # one evaluation each; the clock is read before and after
    clock = {"t": 0.0}

    class FakeLlama:
        def tokenize(self, text, add_bos=True, special=False):
            return list(range(100))

        def reset(self):
            pass

        def eval(self, tokens):
            clock["t"] += next(seconds)

    monkeypatch.setattr(rag.budget.time, "perf_counter", lambda: clock["t"])
    assert measure_llama(FakeLlama()) == 100.0  # 100 tokens in the best run's 1.0 s, not 25 from the cold 4.0 s


QUESTION = "上海有多少家重点人工智能企业？"


def test_a_refused_draft_is_retried_once_with_wider_evidence(fake_settings, tmp_path):
    corpus = tmp_path / "one"
    corpus.mkdir()
    (corpus / "sh.txt").write_text(  # the sentence closest to the question does not hold the figure
        "上海有多少家重点人工智能企业，上海重点人工智能企业发展怎么样，是上海人工智能企业关心的问题，"
        "上海重点人工智能企业发展很快，上海重点人工智能企业数量很多。截至2020年，共有1,149家。", encoding="utf-8")
    gen = ScriptedGenerator(["资料中没有相关信息。", "截至2020年，共有1,149家[1]。"])
    pipe = open_pipeline(fake_settings.replace(corpus_dir=str(corpus), prompt_budget="80", retry_budget=360), generator=gen)
    a = pipe.ask(QUESTION)
    assert len(gen.prompts) == 2 and "1,149" not in gen.prompts[0] and "1,149" in gen.prompts[1]
    assert not a.abstained and "1,149" in a.text and a.citation_scores["attempts"] == 2


def test_a_draft_that_stays_unsupported_abstains_after_the_retry(fake_settings):
    gen = ScriptedGenerator(["上海有9,999家重点人工智能企业[1]。"])  # a figure no passage states
    pipe = open_pipeline(fake_settings.replace(prompt_budget="80", retry_budget=360), generator=gen)
    assert pipe.ask(QUESTION).abstained and len(gen.prompts) == 2
    once = ScriptedGenerator(["资料中没有相关信息。"])
    off = open_pipeline(fake_settings.replace(prompt_budget="80"), generator=once)
    assert off.ask(QUESTION).abstained and len(once.prompts) == 1  # off by default


def test_a_supported_first_draft_is_not_retried(fake_settings, tmp_path):
    corpus = tmp_path / "one"
    corpus.mkdir()
    (corpus / "sh.txt").write_text("截至2020年，上海有1,149家重点人工智能企业。", encoding="utf-8")
    gen = ScriptedGenerator(["上海有1,149家重点人工智能企业[1]。"])
    pipe = open_pipeline(fake_settings.replace(corpus_dir=str(corpus), prompt_budget="80", retry_budget=360), generator=gen)
    assert not pipe.ask(QUESTION).abstained and len(gen.prompts) == 1
