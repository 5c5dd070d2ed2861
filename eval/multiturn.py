"""The multi-turn set, asked as a chat asks it: each turn with the conversation's earlier questions as
history (the UI passes the same). Scored per turn: the rewrite decision (a turn that depends on the
history is rewritten into a standalone question, one that stands alone is left as it is) and, where
the set gives them, the answer (an alias of every gold group, not abstained) or the abstention (a turn
the documents do not answer).

    python eval/multiturn.py [--set eval/multiturn.jsonl] [--out eval/runs/multiturn_records.jsonl]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rag.answer import clean_question  # noqa: E402
from rag.evaluate import is_correct  # noqa: E402
from rag.pipeline import open_pipeline  # noqa: E402
from rag.settings import load_settings  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def score(records: list[dict]) -> dict[str, float | int]:
    """Per-turn figures: rewrite decisions on second turns, answers and abstentions where scored."""
    later = [r for r in records if r["turn"] > 1]
    dep = [r for r in later if r["depends"]]
    ind = [r for r in later if not r["depends"]]
    answerable = [r for r in records if r.get("answerable") is True]
    unanswerable = [r for r in records if r.get("answerable") is False]
    out: dict[str, float | int] = {
        "conversations": len({r["id"] for r in records}), "turns": len(records),
        "rewrite_right": sum(r["rewrite_right"] for r in later) / len(later),
        "rewritten_when_dependent": sum(r["rewrite_right"] for r in dep) / len(dep) if dep else 0.0,
        "left_alone_when_standalone": sum(r["rewrite_right"] for r in ind) / len(ind) if ind else 0.0,
        "answerable_turns": len(answerable), "unanswerable_turns": len(unanswerable),
    }
    for name, group in (("accuracy", answerable), ("accuracy_first_turn", [r for r in answerable if r["turn"] == 1]),
                        ("accuracy_dependent_turn", [r for r in answerable if r["turn"] > 1 and r["depends"]])):
        if group:
            out[name] = sum(r["correct"] for r in group) / len(group)
    if unanswerable:
        out["abstention"] = sum(r["abstained"] for r in unanswerable) / len(unanswerable)
    out["ttft_p50_s"] = statistics.median(r["ttft_s"] for r in records)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--set", type=Path, default=ROOT / "eval" / "multiturn.jsonl")
    ap.add_argument("--out", type=Path, default=ROOT / "eval" / "runs" / "multiturn_records.jsonl")
    args = ap.parse_args()
    conversations = [json.loads(line) for line in args.set.read_text(encoding="utf-8").splitlines() if line.strip()]
    pipe = open_pipeline(load_settings())
    records = []
    for conv in tqdm(conversations, unit="conversation", file=sys.stderr):
        history: list[str] = []
        for n, turn in enumerate(conv["turns"], 1):
            a = pipe.ask(turn["question"], history=history)
            rec = {"id": conv["id"], "turn": n, "question": turn["question"], "depends": turn["depends"],
                   "rewritten": a.rewritten_question, "answer": a.text, "abstained": a.abstained,
                   "rewrite_right": turn["depends"] == (a.rewritten_question != clean_question(turn["question"])),
                   "ttft_s": a.timings.first_token}
            if "answerable" in turn:
                rec["answerable"] = turn["answerable"]
                if turn["answerable"]:
                    rec["correct"] = is_correct({"answers": turn["answers"]}, rec)
            records.append(rec)
            history.append(turn["question"])
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    print(json.dumps(score(records), indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
