"""What a judge threshold would do to recorded answers, offline: an answer whose recorded judge score
(`citation_scores.judge`, written when `judge_threshold` > 0) is below t counts as an abstention.

    python eval/judge_sweep.py SET.jsonl RECORDS.jsonl

Record with the judge on but refusing nothing (`RAG_JUDGE_THRESHOLD=1e-9 rag eval ...`). For answers
assembled per source the record keeps the lowest source's score, so the sweep drops the whole answer
where the product drops one source: a pessimistic estimate for those questions. Scores come from
`rag.evaluate.score_group`, as in `rag eval`'s report.
"""

from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rag.evaluate import is_correct, load_set, score_group  # noqa: E402

THRESHOLDS = (0.0, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)


def judge(record: dict) -> float | None:
    return (record.get("citation_scores") or {}).get("judge")


def right(item: dict, record: dict) -> bool:
    """A right answer given (an answer to an unanswerable question is never right)."""
    return item["answerable"] and is_correct(item, record)


def with_threshold(record: dict, t: float) -> dict:
    """The record as the product would have written it with `judge_threshold = t`."""
    j = judge(record)
    return {**record, "abstained": True} if j is not None and j < t else record


def main() -> int:
    items = {q["id"]: q for q in load_set(Path(sys.argv[1]))}
    records = [json.loads(line) for line in Path(sys.argv[2]).read_text(encoding="utf-8").splitlines() if line.strip()]
    print("thr   acc   abst  f-abst wrong-answers/answered")
    for t in THRESHOLDS:
        pairs = [(items[r["id"]], with_threshold(r, t)) for r in records]
        g = score_group(pairs)
        given = [(i, r) for i, r in pairs if not r["abstained"]]
        wrong = sum(not right(i, r) for i, r in given)
        print(f"{t:.1f}  {g['accuracy']:.3f} {g['abstention_accuracy']:.3f} {g['false_abstention']:.3f}  "
              f"{wrong}/{len(given)}")
    judged = [(judge(r), right(items[r["id"]], r)) for r in records if not r["abstained"] and judge(r) is not None]
    right_scores = [j for j, ok in judged if ok]
    wrong_scores = [j for j, ok in judged if not ok]
    if right_scores and wrong_scores:
        print(f"judged answers: right n={len(right_scores)} mean {statistics.mean(right_scores):.2f}; "
              f"wrong n={len(wrong_scores)} mean {statistics.mean(wrong_scores):.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
