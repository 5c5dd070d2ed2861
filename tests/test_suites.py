"""The public-suite runners on tiny hand-made data in each benchmark's format, with the offline fakes."""

import json
import random
import sys
from argparse import Namespace
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "eval"))
import suites  # noqa: E402

PARAS = {"en": ["Shanghai has 1,149 key artificial intelligence companies.", "Beijing is the capital of China."],
         "zh": ["上海有1149家重点人工智能企业。", "北京是中国的首都。"]}
QUESTIONS = {"en": ["How many key AI companies does Shanghai have?", "What is the capital of China?"],
             "zh": ["上海有多少家重点人工智能企业？", "中国的首都是哪里？"]}
ANSWERS = {"en": ["1,149", "Beijing"], "zh": ["1149", "北京"]}


def squad(lang: str) -> dict:
    paras = [{"context": c, "qas": [{"id": f"q{i}", "question": QUESTIONS[lang][i],
                                     "answers": [{"text": ANSWERS[lang][i]}]}]}
             for i, c in enumerate(PARAS[lang])]
    return {"data": [{"paragraphs": paras}]}


@pytest.fixture
def bench(tmp_path, fake_settings, monkeypatch) -> Path:
    monkeypatch.setattr(suites, "load_settings", lambda overrides=None: fake_settings.replace(**(overrides or {})))
    monkeypatch.setattr(suites, "OUT", tmp_path / "results")  # checkpoints must not touch eval/results
    root = tmp_path / "bench"
    for sub in ("xquad", "cmrc2018", "rgb", "dragonball"):
        (root / sub).mkdir(parents=True)
    for lang in ("en", "zh"):
        (root / "xquad" / f"xquad.{lang}.json").write_text(json.dumps(squad(lang), ensure_ascii=False))
    (root / "cmrc2018" / "cmrc2018_dev_squad.json").write_text(json.dumps(squad("zh"), ensure_ascii=False))
    pos, neg = ["上海有1149家重点人工智能企业。"] * 3, ["北京是中国的首都。", "深圳有很多工厂。", "今天天气很好。"] * 2
    rows = [{"id": 0, "query": "上海有多少家重点人工智能企业？", "answer": [["1149", "1,149"]], "positive": pos, "negative": neg}]
    (root / "rgb" / "zh_refine.json").write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows))
    integ = {"id": 0, "query": "上海和北京分别怎样？", "answer": ["1149", "首都"],
             "positive": [pos, ["北京是中国的首都。"]], "negative": neg}
    (root / "rgb" / "zh_int.json").write_text(json.dumps(integ, ensure_ascii=False))
    fact = {"id": 0, "query": "上海有多少家重点人工智能企业？", "answer": "1149", "fakeanswer": "2149",
            "positive_wrong": ["上海有2149家重点人工智能企业。"] * 3, "positive": pos, "negative": neg}
    (root / "rgb" / "zh_fact.json").write_text(json.dumps(fact, ensure_ascii=False))
    docs = [{"domain": "Finance", "language": "en", "doc_id": i, "content": c} for i, c in enumerate(PARAS["en"])]
    (root / "dragonball" / "docs.jsonl").write_text("\n".join(json.dumps(d) for d in docs))
    qs = [{"query": {"query_id": 1, "query_type": "Factual Question", "content": QUESTIONS["en"][0]},
           "ground_truth": {"doc_ids": [0], "content": "1,149", "keypoints": ["1. Shanghai has 1,149 key AI companies."]}},
          {"query": {"query_id": 2, "query_type": "Irrelevant Unsolvable Question", "content": "Who won the 1998 World Cup?"},
           "ground_truth": {"doc_ids": [], "content": "", "keypoints": []}}]
    (root / "dragonball" / "queries_finance_en.jsonl").write_text("\n".join(json.dumps(q) for q in qs))
    return root


def args(**kw) -> Namespace:
    return Namespace(**({"sample": 10, "sample_answers": 2, "per_level": 1, "domain": "", "lang": "",
                            "workdir": None, "levels": suites.ALL_LEVELS, "all_tasks": True} | kw))


def test_xquad_cross_lingual_retrieval_and_answers(bench, tmp_path, monkeypatch):
    monkeypatch.setattr(suites, "RECORDS", [])
    out = suites.run_xquad(bench, args(workdir=tmp_path / "work"))
    for r in out.values():
        assert r["questions"] == 2 and 0 <= r["recall@1"] <= r["recall@5"] == 1.0
        assert r["answer_sample"] == 2 and 0 <= r["answer_accuracy"] <= 1
    assert len(suites.RECORDS) == 4  # one record per answered question, gold spans of both languages
    assert any({"1149", "1,149"} <= set(r["golds"]) for r in suites.RECORDS)
    assert (tmp_path / "work" / "en" / "index" / "CURRENT").exists()  # kept for the next run


def test_rgb_levels_and_tasks(bench):
    out = suites.run_rgb(bench, args(suite="rgb"))
    assert out["noise 0.0"]["accuracy"] == 1.0  # the extractive fake quotes the only positive passage
    assert set(out["noise 1.0"]) == {"accuracy", "rejection_rate"}
    assert {"integration (noise 0)", "counterfactual"} <= set(out)
    assert out["counterfactual"]["gave_true_answer"] == 0.0  # only planted-error passages were shown


def test_rgb_chosen_levels_only_keep_their_own_summary(bench):
    some = args(suite="rgb", levels=[0.8, 1.0], all_tasks=False)
    out = suites.run_rgb(bench, some)
    assert set(out) == {"items_per_level", "noise 0.8", "noise 1.0"}
    assert suites.result_name(some) == "rgb_noise0.8-1" and suites.result_name(args(suite="rgb")) == "rgb"
    assert not (suites.OUT / "rgb.json").exists()  # its checkpoints never touch the full run's summary


def test_dragonball_retrieval_answers_and_unsolvable(bench, tmp_path):
    out = suites.run_dragonball(bench, args(suite="dragonball"))
    assert out["documents"] == 2 and out["retrieval"]["recall@5"] == 1.0
    assert out["unsolvable"]["questions"] == 1 and out["answers"]["sample"] == 1
    assert (tmp_path / "results" / "dragonball.json").exists()  # the checkpoint of the full run


def test_a_filtered_dragonball_run_keeps_its_own_summary(bench, tmp_path):
    out = suites.run_dragonball(bench, args(suite="dragonball", domain="Finance", lang="en", sample_answers=0))
    assert out["documents"] == 2
    assert suites.result_name(args(suite="dragonball", domain="Finance", lang="en")) == "dragonball_Finance_en"
    assert suites.result_name(args(suite="cmrc", domain="Finance")) == "cmrc"
    assert json.loads((tmp_path / "results" / "dragonball_Finance_en.json").read_text())["partial"]
    assert not (tmp_path / "results" / "dragonball.json").exists()


def test_rgb_noise_rate_sets_the_number_of_negatives():
    pos, neg = [f"p{i}" for i in range(5)], [f"n{i}" for i in range(10)]
    for rate, n_neg in ((0.0, 0), (0.2, 1), (0.4, 2), (0.6, 3), (0.8, 4), (1.0, 5)):
        docs = suites.rgb_docs(random.Random(0), pos, neg, rate)
        assert len(docs) == 5 and sum(d.startswith("n") for d in docs) == n_neg


def test_span_recall_gives_partial_credit():
    gold = ["体淡棕红色，腹部色淡。具稍圆形的截型尾"]
    assert suites.span_recall("开始型雌鱼体淡棕红色，腹部色淡[1]。", gold) == 9 / 17  # 9 of the gold span's 17 characters
    assert suites.span_recall("Shanghai had 1,149 [1].", ["1149", "1,149"]) == 1.0
    assert suites.span_recall("资料中没有找到这个问题的答案。", ["足球运动员"]) == 0.0
    assert suites.span_recall("anything", [""]) == 0.0


def test_scorers():
    assert suites.hit_any("舜天出兵平叛，诛灭利勇[1]。", ["舜天出兵平叛，诛灭利勇。"])  # markers are not answer text
    assert suites.hit_any("It was established on January 1, 1990, in Texas [1].", ["January 1, 1990."])
    assert not suites.hit_any("anything", ["。", ""]) and not suites.hit_any("1,149", ["1,150."])
    assert suites.hit_all("上海有1,149家", [["1149", "1,149"]])
    assert not suites.hit_all("1149 and 3", ["1149", "7"])
    assert suites.hit_all("悉尼在澳大利亚", suites.as_groups(["澳大利亚", "悉尼"]))  # RGB: a list needs every item
    assert suites.hit_all("乔布斯", suites.as_groups([["史蒂夫·乔布斯", "乔布斯"]]))  # ... or one of its aliases
    assert suites.hit_all("答案是70", suites.as_groups("70")) and not suites.hit_all("答案是7", suites.as_groups("70"))
    assert suites.keypoint_recall("Green Fields appointed a new CEO in January 2021.",
                                  ["1. Green Fields Agriculture Ltd. appointed a new CEO in January 2021."]) == 1.0
    assert suites.keypoint_recall("The CEO left.", ["1. Green Fields appointed a new CEO in January 2021."]) == 0.0
