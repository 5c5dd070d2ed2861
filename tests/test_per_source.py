"""Questions whose answer differs by source: one answer per document, with its title and date,
assembled in code; figures stated for another place than the asked one are not accepted."""

import re
from pathlib import Path

import pytest

from rag.answer_type import in_scope, places, scope_of
from rag.per_source import according_to, asks_across, drop_echo
from rag.pipeline import open_pipeline
from rag.prompt import EXAMPLE_ANSWER


class EchoGenerator:
    """Answers with the first sentence of the first passage it is shown, cited (or a fixed reply)."""

    model_id = "echo"

    def __init__(self, reply: str | None = None):
        self.reply, self.prompts = reply, []

    def count_tokens(self, text):
        return len(text)

    def stream(self, messages, max_tokens=256, lang=None):
        user = messages[-1]["content"]
        self.prompts.append(user)
        if self.reply is not None:
            yield self.reply
            return
        m = re.search(r"^\[(\d+)\](?:\s*(?:《[^》]*》|\"[^\"]*\"))?\s*([^。.\n]*[。.])", user, re.M)
        yield f"{m.group(2)[:-1]}[{m.group(1)}]{m.group(2)[-1]}"


def _corpus(tmp_path: Path, docs: dict[str, str]) -> Path:
    corpus = tmp_path / "differing"
    corpus.mkdir()
    for name, text in docs.items():
        (corpus / f"{name}.txt").write_text(text, encoding="utf-8")
    return corpus


DOCS = {
    "a": "标题：工信部发布会\n时间：2023-10-20\n\n我国人工智能企业数量超过4400家。人工智能芯片发展很快。",
    "b": "标题：经济日报报道\n时间：2024-10-21\n\n我国人工智能企业数量超过4500家。大模型不断涌现。",
}


def test_figures_that_differ_by_source_are_answered_per_source_with_title_and_date(fake_settings, tmp_path):
    gen = EchoGenerator()
    pipe = open_pipeline(fake_settings.replace(corpus_dir=str(_corpus(tmp_path, DOCS))), generator=gen)
    a = pipe.ask("我国有多少家人工智能企业？")
    assert not a.abstained, a.raw_text
    lines = a.text.split("\n")
    assert len(lines) == 2 and len(gen.prompts) == 2  # one small prompt per source
    by_doc = {c.doc_id: c for c in a.citations}
    assert set(by_doc) == {"a", "b"} and all(c.supported for c in a.citations)
    for line in lines:
        n = int(re.search(r"\[(\d+)\]", line).group(1))
        doc = a.hits[n - 1].chunk.doc_id  # each line cites its own source
        expected = {"a": ("据《工信部发布会》（2023年10月20日）：", "4400"), "b": ("据《经济日报报道》（2024年10月21日）：", "4500")}[doc]
        assert line.startswith(expected[0]) and expected[1] in line
    # each prompt held one source's passages only
    assert all(("4400" in p) != ("4500" in p) for p in gen.prompts)


def test_an_undated_source_is_said_to_be_undated(fake_settings, tmp_path):
    docs = dict(DOCS, b="标题：经济日报报道\n\n我国人工智能企业数量超过4500家。大模型不断涌现。")
    pipe = open_pipeline(fake_settings.replace(corpus_dir=str(_corpus(tmp_path, docs))), generator=EchoGenerator())
    a = pipe.ask("我国有多少家人工智能企业？")
    assert "据《工信部发布会》（2023年10月20日）：" in a.text and "据《经济日报报道》（未注明日期）：" in a.text, a.text
    assert according_to(pipe.index.doc_info("b"), "en") == 'According to "经济日报报道" (undated): '


def test_a_source_that_does_not_say_is_reported_as_such(fake_settings, tmp_path):
    docs = dict(DOCS, b="标题：经济日报报道\n时间：2024-10-21\n\n我国大模型不断涌现，人工智能企业数量增长很快。")
    gen = EchoGenerator()
    pipe = open_pipeline(fake_settings.replace(corpus_dir=str(_corpus(tmp_path, docs))), generator=gen)
    a = pipe.ask("两篇报道分别说我国有多少家人工智能企业？")
    assert "据《工信部发布会》（2023年10月20日）：" in a.text and "4400" in a.text
    assert "《经济日报报道》（2024年10月21日）没有给出这一信息。" in a.text, a.text


def test_a_single_source_question_stays_a_single_answer(fake_settings, tmp_path):
    docs = {"a": DOCS["a"], "b": "标题：经济日报报道\n\n大模型不断涌现。"}
    gen = EchoGenerator()
    pipe = open_pipeline(fake_settings.replace(corpus_dir=str(_corpus(tmp_path, docs))), generator=gen)
    a = pipe.ask("我国有多少家人工智能企业？")
    assert not a.abstained and "据" not in a.text and len(gen.prompts) == 1


def test_a_question_naming_its_source_is_answered_from_that_source_only(fake_settings, tmp_path):
    gen = EchoGenerator()
    pipe = open_pipeline(fake_settings.replace(corpus_dir=str(_corpus(tmp_path, DOCS))), generator=gen)
    a = pipe.ask("《经济日报报道》一文中，我国有多少家人工智能企业？")
    assert not a.abstained and len(gen.prompts) == 1 and "4400" not in gen.prompts[0], a.text
    assert a.text.startswith("据《经济日报报道》（2024年10月21日）：") and "4500" in a.text and "\n" not in a.text


def test_a_figure_stated_for_another_city_is_not_an_answer_for_the_asked_one(fake_settings, tmp_path):
    docs = {"sh": "标题：上海报道\n\n截至2020年，上海有1,149家重点人工智能企业。"}
    settings = fake_settings.replace(corpus_dir=str(_corpus(tmp_path, docs)))
    substituted = open_pipeline(settings, generator=EchoGenerator("深圳有1,149家人工智能企业[1]。"))
    assert substituted.ask("深圳有多少家人工智能企业？").abstained
    right = open_pipeline(settings, generator=EchoGenerator("上海有1,149家重点人工智能企业[1]。"))
    assert not right.ask("上海有多少家重点人工智能企业？").abstained
    unnamed = open_pipeline(settings, generator=EchoGenerator("有1,149家重点人工智能企业[1]。"))
    assert not unnamed.ask("截至2020年有多少家重点人工智能企业？").abstained  # no place asked: no objection


def test_the_system_prompts_example_copied_into_a_draft_is_taken_out(fake_settings, tmp_path):
    """The small generator sometimes writes the worked example's answer before its own."""
    docs = {"sh": "标题：上海报道\n\n截至2020年，上海有1,149家重点人工智能企业。"}
    settings = fake_settings.replace(corpus_dir=str(_corpus(tmp_path, docs)))
    copied = EXAMPLE_ANSWER["zh"] + "上海有1,149家重点人工智能企业[1]。"
    a = open_pipeline(settings, generator=EchoGenerator(copied)).ask("上海有多少家重点人工智能企业？")
    assert not a.abstained and a.text == "上海有1,149家重点人工智能企业[1]。", a.text
    only = open_pipeline(settings, generator=EchoGenerator(EXAMPLE_ANSWER["zh"]))
    assert only.ask("上海有多少家重点人工智能企业？").abstained


@pytest.mark.parametrize("question,across", [
    ("两篇报道分别说有多少家企业？", True), ("Compare the two reports' figures.", True),
    ("What do both articles say about chips?", True), ("各篇文章怎么说？", True),
    ("有多少家企业？", False), ("How many companies does China have?", False), ("Is it both fast and cheap?", True),
])
def test_questions_asking_across_sources(question, across):
    assert asks_across(question) is across


def test_places_and_scope():
    assert places("My country has 4,400 firms; Shanghai 1,149.") == {"china", "shanghai"}
    assert places("上海的企业") == {"shanghai"} and places("上海的企業") == {"shanghai"}  # Traditional too
    assert not in_scope("How many firms in Shenzhen?", "Shanghai has 1,149 firms.")
    assert in_scope("How many firms in Shanghai?", "Shanghai and Beijing have 2,000 firms.")
    assert scope_of("How many firms?")("Shanghai has 1,149 firms.", "Shanghai has 1,149 firms.")
    assert not scope_of("How many firms in China?")("There are 1,149 firms.", "Shanghai has 1,149 firms.")


def test_echoed_question_clauses_are_dropped():
    q = "工信部发布会和经济日报的报道中，企业数量分别是多少？"
    assert drop_echo("工信部发布会和经济日报的报道中，企业数量超过4400家[1]。", q) == "企业数量超过4400家[1]。"
    assert drop_echo("The count is 4,400 [1].", "What is the count?") == "The count is 4,400 [1]."
    assert drop_echo("报道中，", "报道中") == "报道中，"  # nothing would remain: kept whole


def test_a_bare_answer_from_a_passage_not_about_the_question_abstains(fake_settings, tmp_path):
    docs = {"sh": "标题：上海报道\n\n上海是人工智能产业的高地，聚集了大量企业。"}
    settings = fake_settings.replace(corpus_dir=str(_corpus(tmp_path, docs)))
    assert open_pipeline(settings, generator=EchoGenerator("上海[1]。")).ask("中国的首都是哪里？").abstained
    assert not open_pipeline(settings, generator=EchoGenerator("上海[1]。")).ask("人工智能产业的高地是哪里？").abstained
