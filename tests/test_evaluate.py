"""The scorer, checked on hand-made result records."""

import json
import sys
from pathlib import Path

import pytest

from rag.evaluate import is_correct, load_set, summarize

ITEMS = [
    {"id": "a", "question": "上海有多少家企业？", "lang": "zh", "answers": [["1,149", "1149"]], "doc_ids": ["d3"],
     "answerable": True, "type": "cross-lingual"},
    {"id": "b", "question": "How many firms in China?", "lang": "en", "answers": [["4,500", "4500"], ["4,400", "4400"]],
     "doc_ids": ["d2", "d4"], "answerable": True, "type": "multi-doc"},
    {"id": "c", "question": "Beijing 2021 size?", "lang": "en", "answers": [], "doc_ids": [], "answerable": False,
     "type": "unanswerable"},
]


def rec(id_, answer, abstained=False, hits=(), cits=(), ttft=100.0):
    return {"id": id_, "answer": answer, "abstained": abstained,
            "hits": [{"rank": i + 1, "doc_id": d, "chunk_id": f"{d}#x", "score": 1.0, "text": ""} for i, d in enumerate(hits)],
            "citations": [{"n": 1, "doc_id": d, "chunk_id": f"{d}#x", "supported": True} for d in cits],
            "timings_ms": {"retrieve": 1, "first_token": ttft, "generate": 1, "total": ttft * 2},
            "citation_scores": {"recall": 1.0, "precision": 1.0}}


def test_alias_matching_ignores_case_and_whitespace():
    assert is_correct(ITEMS[0], {"answer": "上海有 1149 家[1]", "abstained": False})
    item = dict(ITEMS[0], answers=[["4500亿元"]])
    assert is_correct(item, {"answer": "规模达到4500[1]亿元", "abstained": False})  # a marker inside the alias
    assert not is_correct(ITEMS[0], {"answer": "上海有1150家", "abstained": False})  # wrong alias
    assert not is_correct(ITEMS[1], {"answer": "4,500 firms", "abstained": False})  # one group missing
    assert not is_correct(ITEMS[0], {"answer": "1149", "abstained": True})  # abstained


def test_summary_metrics():
    records = [
        rec("a", "上海有1,149家企业[1]。", hits=["d1", "d3"], cits=["d3"], ttft=100),
        rec("b", "The documents do not contain this.", abstained=True, hits=["d2"], ttft=300),
        rec("c", "Beijing was 9 billion [1].", hits=["d1"], cits=["d1"], ttft=200),
    ]
    s = summarize(ITEMS, records)["overall"]
    assert s["accuracy"] == 0.5  # a right, b abstained
    assert s["false_abstention"] == 0.5
    assert s["abstention_accuracy"] == 0.0  # c answered instead of abstaining
    assert s["recall@1"] == 0.5 and s["recall@5"] == 1.0 and s["mrr"] == pytest.approx(0.75)
    assert s["citation_gold_doc"] == 1.0  # only answerable questions' citations count
    assert s["ttft_p50_ms"] == 200
    assert s["language_match"] == 1.0


def test_citation_to_a_wrong_document_lowers_gold_doc_share():
    records = [rec("a", "上海有1,149家企业[1]。", hits=["d3"], cits=["d1"])]
    assert summarize(ITEMS[:1], records)["overall"]["citation_gold_doc"] == 0.0


def test_seed_set_is_well_formed():
    items = load_set("eval/seed_qa.jsonl")
    assert len(items) >= 150 and len({i["id"] for i in items}) == len(items)
    assert sum(not i["answerable"] for i in items) >= 25
    for i in items:
        assert set(i) == {"id", "question", "lang", "answers", "doc_ids", "answerable", "type"}
        assert i["answerable"] == (i["type"] != "unanswerable")
    langs = [i["lang"] for i in items]
    assert abs(langs.count("zh") - langs.count("en")) < 0.2 * len(items)


def test_load_set_reports_the_bad_line(tmp_path):
    f = tmp_path / "s.jsonl"
    f.write_text(json.dumps(ITEMS[0]) + "\n{oops\n")
    with pytest.raises(ValueError, match="s.jsonl:2"):
        load_set(f)


def test_verification_ablation_rescores_the_raw_text():
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "eval"))
    from verification_ablation import unverified

    rec = {"answer": "资料中没有找到这个问题的答案。", "abstained": True, "raw_answer": "上海有1149家[1]。",
           "citation_scores": {"recall": 0.0, "precision": 0.0, "raw_recall": 1.0, "raw_precision": 0.5}}
    raw = unverified(rec)
    assert (raw["answer"], raw["abstained"]) == ("上海有1149家[1]。", False)
    assert raw["citation_scores"] == {"recall": 1.0, "precision": 0.5}
    assert unverified(rec | {"raw_answer": "The documents do not contain this information."})["abstained"]
    assert unverified(rec | {"raw_answer": ""})["abstained"]


def test_mixing_languages_mid_sentence_is_a_language_miss():
    records = [rec("a", "上海有1,149家 key companies[1]。"), rec("b", "China has 4,500 家 firms [1].")]
    s = summarize(ITEMS[:2], records)["overall"]
    assert s["language_match"] == 0.0 and s["mixed_script"] == 1.0
    records = [rec("a", "据《Shanghai AI report》（2021-07-07）：上海有1,149家AI企业[1]。"),
               rec("b", 'According to "人工智能加速赋能千行百业": Shan Zhongde (单忠德) said 4,500 [1].')]
    s = summarize(ITEMS[:2], records)["overall"]  # titles, leads and an original in brackets are no mix
    assert s["language_match"] == 1.0 and s["mixed_script"] == 0.0
    s = summarize(ITEMS[:1], [rec("a", "1,149 [1]。")])["overall"]  # no words in either language: no miss
    assert s["language_match"] == 1.0
