"""What citation verification buys: re-score a `rag eval` results file from the model's raw text.

    python eval/verification_ablation.py eval/results/seed_results.jsonl [--set eval/seed_qa.jsonl]

Each record keeps `raw_answer` (the model's text before verification). The "raw" row treats it as
the answer and abstains only when the model refused (or nothing was generated), i.e. the product
with verification switched off, on exactly the same generations.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rag.cite import model_refused  # noqa: E402
from rag.evaluate import load_set, summarize  # noqa: E402

COLS = ("accuracy", "abstention_accuracy", "false_abstention", "citation_recall", "citation_precision")


def unverified(record: dict) -> dict:
    raw = record.get("raw_answer") or ""
    scores = record.get("citation_scores") or {}
    return record | {"answer": raw, "abstained": not raw or model_refused(raw),
                     "citation_scores": {"recall": scores.get("raw_recall", 0.0),
                                         "precision": scores.get("raw_precision", 0.0)}}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("results", type=Path)
    ap.add_argument("--set", dest="eval_set", type=Path, default=Path("eval/seed_qa.jsonl"))
    args = ap.parse_args()
    records = [json.loads(line) for line in args.results.read_text(encoding="utf-8").splitlines() if line.strip()]
    ids = {r["id"] for r in records}
    items = [q for q in load_set(args.eval_set) if q["id"] in ids]
    print("| pipeline | n | " + " | ".join(COLS) + " |")
    print("|---|---|" + "---|" * len(COLS))
    for name, recs in (("verified (product)", records), ("raw model output", [unverified(r) for r in records])):
        o = summarize(items, recs)["overall"]
        print(f"| {name} | {len(recs)} | " + " | ".join(f"{o.get(c, float('nan')):.3f}" for c in COLS) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
