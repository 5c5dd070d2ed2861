"""What a judge threshold would do to recorded answers, offline: an answer whose recorded judge score
(`citation_scores.judge`, written when `judge_threshold` > 0) is below t counts as an abstention.

    python eval/judge_sweep.py SET.jsonl RECORDS.jsonl

Record with the judge on but refusing nothing (`RAG_JUDGE_THRESHOLD=1e-9 rag eval ...`). For answers
assembled per source the record keeps the lowest source's score, so the sweep drops the whole answer
where the product drops one source: a pessimistic estimate for those questions.
"""
import json, sys
sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parent.parent))
from rag.evaluate import is_correct, load_set
set_path, rec_path = sys.argv[1], sys.argv[2]
items = {q["id"]: q for q in load_set(set_path)}
recs = [json.loads(l) for l in open(rec_path)]
def metrics(t):
    acc = fab = ab = nA = nU = 0; wrong_kept = 0; answered = 0
    for r in recs:
        q = items[r["id"]]
        j = (r.get("citation_scores") or {}).get("judge")
        abst = r["abstained"] or (j is not None and j < t)
        if q["answerable"]:
            nA += 1
            ok = (not abst) and is_correct(q, r)
            acc += ok; fab += abst
            if not abst:
                answered += 1; wrong_kept += not ok
        else:
            nU += 1; ab += abst
            if not abst: answered += 1; wrong_kept += 1
    return acc / nA, ab / nU, fab / nA, wrong_kept, answered
print("thr   acc   abst  f-abst wrong-answers/answered")
for t in (0, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9):
    a, b, c, w, n = metrics(t)
    print(f"{t:.1f}  {a:.3f} {b:.3f} {c:.3f}  {w}/{n}")
# distribution
js = [((r.get("citation_scores") or {}).get("judge"), items[r["id"]]["answerable"] and is_correct(items[r["id"]], r)) for r in recs if not r["abstained"]]
js = [x for x in js if x[0] is not None]
import statistics
right = [j for j, ok in js if ok]; wrong = [j for j, ok in js if not ok]
if right and wrong:
    print(f"judged answers: right n={len(right)} mean {statistics.mean(right):.2f}; wrong n={len(wrong)} mean {statistics.mean(wrong):.2f}")
