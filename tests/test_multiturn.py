"""The multi-turn set's format and the per-turn scoring of eval/multiturn.py."""

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "eval"))
import multiturn  # noqa: E402


def test_the_set_has_two_turns_each_labelled():
    rows = [json.loads(x) for x in (ROOT / "eval" / "multiturn.jsonl").read_text(encoding="utf-8").splitlines()]
    assert len(rows) >= 40 and {r["lang"] for r in rows} == {"en", "zh"}
    for r in rows:
        assert len(r["turns"]) == 2 and not r["turns"][0]["depends"]
        for t in r["turns"]:
            assert isinstance(t["depends"], bool)
            assert t.get("answerable") is not True or all(isinstance(g, list) and g for g in t["answers"])


def test_per_turn_scores():
    recs = [
        {"id": "a", "turn": 1, "depends": False, "rewrite_right": True, "answerable": True, "correct": True,
         "abstained": False, "ttft_s": 1.0},
        {"id": "a", "turn": 2, "depends": True, "rewrite_right": False, "answerable": True, "correct": False,
         "abstained": True, "ttft_s": 2.0},
        {"id": "b", "turn": 1, "depends": False, "rewrite_right": True, "ttft_s": 1.0, "abstained": False},
        {"id": "b", "turn": 2, "depends": False, "rewrite_right": True, "answerable": False, "abstained": True,
         "ttft_s": 3.0},
    ]
    s = multiturn.score(recs)
    assert s["rewrite_right"] == 0.5 and s["rewritten_when_dependent"] == 0.0 and s["left_alone_when_standalone"] == 1.0
    assert s["accuracy"] == 0.5 and s["accuracy_first_turn"] == 1.0 and s["accuracy_dependent_turn"] == 0.0
    assert s["abstention"] == 1.0 and s["ttft_p50_s"] == 1.5 and s["conversations"] == 2
