"""Does the judge prefer the answer's figure to the other figures of its evidence? (issue #14 item 3: a
stronger signal for "right passage, wrong figure".) For every given answer of a run whose judged evidence
sentences hold other figures, the judge's P(yes) for the answer and for the answer with its first figure
replaced by each other figure of that evidence; prints the rule "refuse when an alternative beats the
answer by more than m" for several m, on right and on wrong answers.

    python eval/judge_contrast.py RECORDS.jsonl [--set eval/seed_qa.jsonl] [--out cases.jsonl]
"""

from __future__ import annotations

import argparse
import json
import sys
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from reverify import checker_for, record_passages  # noqa: E402

from rag import cite  # noqa: E402
from rag.answer_type import agrees, expected_kind  # noqa: E402
from rag.cite import strip_markers  # noqa: E402
from rag.evaluate import is_correct, load_set  # noqa: E402
from rag.pipeline import open_pipeline  # noqa: E402
from rag.prompt import judge_messages  # noqa: E402
from rag.settings import load_settings  # noqa: E402
from rag.text import in_notation, normalise_numbers, quantities  # noqa: E402
from rag.units import is_year  # noqa: E402

MARGINS = (0.0, 0.1, 0.2, 0.3, 0.5)


def alternatives(answer: str, evidence: list[str], lang: str) -> list[str]:
    """The answer with its first figure (not a year) replaced by each other figure of the evidence, written
    as the evidence writes it, in the reader's notation."""
    text = normalise_numbers(answer)
    mine = [q for q in quantities(text) if not is_year(q)]
    if not mine:
        return []
    a, b = mine[0].span
    out, seen = [], {mine[0].value}
    for sentence in evidence:
        s = normalise_numbers(sentence)
        for q in quantities(s):
            if is_year(q) or q.value in seen or q.kind != mine[0].kind:
                continue
            seen.add(q.value)
            out.append(text[:a] + in_notation(s[q.span[0]:q.span[1]], lang) + text[b:])
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("records", type=Path, nargs="+")
    ap.add_argument("--set", dest="eval_set", type=Path, action="append")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    items = {q["id"]: q for s in (args.eval_set or [Path("eval/seed_qa.jsonl")]) for q in load_set(s)}
    pipe = open_pipeline(load_settings())
    ask = pipe.generator.yes_probability
    rows = []
    for path in args.records:
        for line in path.read_text(encoding="utf-8").splitlines():
            r = json.loads(line)
            q = items.get(r["id"])
            if q is None or r["abstained"] or "据《" in r["answer"] or "According to \"" in r["answer"]:
                continue  # per-source answers are judged per source
            question = r.get("rewritten_question") or r["question"]
            passages = record_passages(cite, pipe, r)
            checker = checker_for(cite, passages, pipe, question)
            v = checker.verify(r["answer"], partial(agrees, expected_kind(question), sources=[p.text for p in passages]))
            evidence = [c.evidence for c in v.citations if c.supported and c.evidence]
            if not evidence:
                continue
            titled = list(dict.fromkeys(f"{pipe.index.doc_info(c.doc_id).title[:60]}: {c.evidence}"
                                        for c in v.citations if c.supported and c.evidence))
            answer = strip_markers(v.text)
            alts = alternatives(answer, evidence, q["lang"])
            if not alts:
                continue
            p = ask(judge_messages(question, answer, titled))
            ps = [ask(judge_messages(question, alt, titled)) for alt in alts]
            right = q["answerable"] and is_correct(q, r)
            best = max(range(len(ps)), key=ps.__getitem__)
            rows.append({"id": r["id"], "right": right, "p": round(p, 4), "alt_p": round(ps[best], 4),
                         "answer": answer, "alt": alts[best], "n_alts": len(alts)})
            print(f"{r['id']} {'RIGHT' if right else 'WRONG'} p={p:.2f} best alt={ps[best]:.2f} ({len(alts)}) "
                  f"| {answer[:80]} | alt: {alts[best][:80]}", flush=True)
    if args.out:
        args.out.write_text("".join(json.dumps(x, ensure_ascii=False) + "\n" for x in rows), encoding="utf-8")
    n_right, n_wrong = sum(x["right"] for x in rows), sum(not x["right"] for x in rows)
    print(f"\n{len(rows)} answers with other figures in their evidence: {n_right} right, {n_wrong} wrong")
    print("| refuse when an alternative's P(yes) exceeds the answer's by more than | right refused | wrong refused |")
    print("|---|---|---|")
    for m in MARGINS:
        rr = sum(x["right"] and x["alt_p"] > x["p"] + m for x in rows)
        wr = sum(not x["right"] and x["alt_p"] > x["p"] + m for x in rows)
        print(f"| {m} | {rr} / {n_right} | {wr} / {n_wrong} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
