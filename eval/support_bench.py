"""Support-checker benchmark: how often the "supported" verdict is right, on right answer sentences
and on wrong ones made from them mechanically.

    python eval/support_bench.py RECORDS.jsonl [--set eval/seed_qa.jsonl] [--baseline OLD_CITE.py] [--judge]
    python eval/support_bench.py --rgb ../shared/benchmarks/rgb/zh_fact.json [--judge]

From each correct, verified answer of a seed run: the sentence with its cited passage (must pass),
the same figure in the other language's notation (must pass), and wrong variants (must fail): a
number swapped for another number of the same passage, a year shifted by one, the unit swapped
(companies <-> people), the subject swapped for another city of the corpus. Each sentence is checked
against the retrieved passages the answer was verified against, as the product checks it (the place
and answer-type checks included). `--baseline` names another copy of rag/cite.py, for example
`git show REV:rag/cite.py` with its relative imports made absolute, checked the same way.
`--judge` also asks the default generator the judge's yes/no question about every variant the
checker passes, and prints the pass rates at several judge thresholds (the figures that choose
`judge_threshold`; the RGB cases are public data, the seed cases are the tuning set).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import re
import sys
from collections import defaultdict
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from reverify import checker_for, record_passages  # noqa: E402

from rag import cite  # noqa: E402
from rag.answer import judge_score  # noqa: E402
from rag.answer_type import agrees, expected_kind  # noqa: E402
from rag.evaluate import is_correct, load_set  # noqa: E402
from rag.pipeline import open_pipeline  # noqa: E402
from rag.settings import load_settings  # noqa: E402
from rag.text import in_notation, quantities  # noqa: E402

CITIES = [("上海", "Shanghai"), ("北京", "Beijing"), ("深圳", "Shenzhen"), ("杭州", "Hangzhou"), ("宁波", "Ningbo"),
          ("广州", "Guangzhou"), ("常州", "Changzhou")]
UNIT_SWAPS = [("家", "名"), ("companies", "people"), ("company", "person"), ("firms", "employees"),
              ("人", "家"), ("people", "companies"), ("亿元", "亿人")]


def variants(claim: str, passage: str, lang: str) -> list[tuple[str, str, bool]]:
    """(variant name, sentence, should pass)."""
    out = [("right", claim, True)]
    other = in_notation(claim, "en" if lang == "zh" else "zh")
    if other != claim:
        out.append(("other notation", other, True))
    nums = [q for q in quantities(claim) if not (1900 <= q.value <= 2100)]
    src = sorted({q.value for q in quantities(passage) if not (1900 <= q.value <= 2100) and q.value >= 10})
    if nums:
        target = nums[0]
        swap = next((v for v in src if v not in {q.value for q in nums}), None)
        if swap is not None:
            a, b = target.span
            text = f"{swap:,.0f}" if swap == int(swap) else f"{swap:g}"
            out.append(("number swapped", claim[:a] + text + claim[b:], False))
    year = re.search(r"\b(19|20)\d{2}\b|(19|20)\d{2}(?=年)", claim)
    if year:
        y = int(year.group(0))
        out.append(("year shifted", claim[:year.start()] + str(y + 1) + claim[year.end():], False))
    for a, b in UNIT_SWAPS:
        if re.search(rf"\d[\d,.]*\s*{re.escape(a)}", claim):
            out.append(("unit swapped", re.sub(rf"(\d[\d,.]*\s*){re.escape(a)}", rf"\g<1>{b}", claim, count=1), False))
            break
    for zh, en in CITIES:
        if zh in claim or en in claim:
            to_zh, to_en = next((c for c in CITIES if c[0] != zh and c[0] not in passage and c[1] not in passage),
                                (None, None))
            if to_zh:
                out.append(("subject swapped", claim.replace(zh, to_zh).replace(en, to_en), False))
            break
    return out


def rgb_cases(path: Path, embed) -> list[tuple[str, str, list, str]]:
    """(question, right sentence, passages, lang) from RGB's Chinese fact questions: the sentence of a
    positive passage that holds the gold answer, checked against all of the question's positive passages."""
    from rag.text import split_sentences

    rows = json.loads(path.read_text(encoding="utf-8")) if path.read_text(encoding="utf-8")[:1] == "[" else [
        json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    out = []
    for row in rows:
        golds = row["answer"] if isinstance(row["answer"], list) else [row["answer"]]
        golds = [g for g in (x if isinstance(x, str) else x[0] for x in golds) if g]
        texts = [p for p in row["positive"] if isinstance(p, str)][:3]
        claim = None
        for text in texts:
            for a, b in split_sentences(text):
                s = text[a:b]
                if any(g in s for g in golds) and len(s) <= 120 and quantities(s):
                    claim = s
                    break
            if claim:
                break
        if not claim:
            continue
        passages = []
        for n, text in enumerate(texts, 1):
            sents = tuple(text[a:b] for a, b in split_sentences(text))
            passages.append((n, text, sents, embed(list(sents)) if sents else None))
        out.append((row["query"], claim, passages, "zh"))
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("records", type=Path, nargs="?")
    ap.add_argument("--set", dest="eval_set", type=Path, default=Path("eval/seed_qa.jsonl"))
    ap.add_argument("--baseline", type=Path, help="another cite.py to score side by side")
    ap.add_argument("--rgb", type=Path, help="instead of records: RGB's zh_fact.json (public data)")
    ap.add_argument("--judge", action="store_true", help="also score the judge (loads the generator)")
    ap.add_argument("--show", default="", help="print the cases of this variant that the checker passes")
    args = ap.parse_args()
    if not args.records and not args.rgb:
        ap.error("give a records file or --rgb")
    items = {q["id"]: q for q in load_set(args.eval_set)}
    records = ([json.loads(line) for line in args.records.read_text(encoding="utf-8").splitlines() if line.strip()]
               if args.records else [])
    pipe = open_pipeline(load_settings(), with_generator=args.judge)
    judged: dict[str, list[float]] = defaultdict(list)  # variant -> judge P(yes) of each checker-passed case

    def judge(variant: str, question: str, v, title_of) -> None:
        if args.judge and v.supported_sentences:
            p = judge_score(pipe.generator, question, v, title_of)
            judged[variant].append(1.0 if p is None else p)
    modules = {"current": cite}
    if args.baseline:
        spec = importlib.util.spec_from_file_location("cite_baseline", args.baseline)
        base = importlib.util.module_from_spec(spec)
        sys.modules["cite_baseline"] = base
        spec.loader.exec_module(base)
        modules = {"baseline": base, "current": cite}
    counts: dict[str, dict[str, list[int]]] = {m: defaultdict(lambda: [0, 0]) for m in modules}
    if args.rgb:
        records = []
        cases = rgb_cases(args.rgb, lambda texts: pipe.embedder.embed(texts, kind="document"))
        for question, claim, raw_passages, lang in cases:
            for name, module in modules.items():
                passages = [module.SourcePassage(n, f"d{n}", f"d{n}#0", text, sents, vecs)
                            for n, text, sents, vecs in raw_passages]
                checker = checker_for(module, passages, pipe, question)
                kind = expected_kind(question)
                for variant, sentence, _should in variants(claim, " ".join(p[1] for p in raw_passages), lang):
                    v = checker.verify(f"{sentence} [1]", partial(agrees, kind, sources=[p[1] for p in raw_passages]))
                    if module is cite:
                        judge(variant, question, v, lambda doc: "")
                    c = counts[name][variant]
                    c[0] += 1
                    c[1] += v.supported_sentences > 0
                    if module is cite and variant == args.show and v.supported_sentences:
                        print(f"{question}: {sentence}\n    claim: {claim}")
    for r in records:
        q = items.get(r["id"])
        if q is None or not q["answerable"] or r["abstained"] or not is_correct(q, r):
            continue
        for name, module in modules.items():
            passages = record_passages(module, pipe, r)
            kind = expected_kind(r.get("rewritten_question") or r["question"])
            checker = checker_for(module, passages, pipe, r.get("rewritten_question") or r["question"])
            for claim, cited in cite.split_claims(r["answer"]):
                good = [n for n in cited if 1 <= n <= len(passages)]
                if not good:
                    continue
                passage = passages[good[0] - 1].text
                for variant, sentence, _should in variants(claim, passage, q["lang"]):
                    marked = f"{sentence} [{good[0]}]"
                    v = checker.verify(marked, partial(agrees, kind, sources=[p.text for p in passages]))
                    if module is cite:
                        judge(variant, r.get("rewritten_question") or r["question"], v,
                              lambda doc: pipe.index.doc_info(doc).title[:60])
                    c = counts[name][variant]
                    c[0] += 1
                    c[1] += v.supported_sentences > 0
                    if module is cite and variant == args.show and v.supported_sentences:
                        print(f"{r['id']}: {sentence}\n    passage: {passage[:300]}")
    print("| variant | should | n | " + " | ".join(f"passed ({m})" for m in modules) + " |")
    print("|---|---|---|" + "---|" * len(modules))
    order = ["right", "other notation", "number swapped", "year shifted", "unit swapped", "subject swapped"]
    for variant in order:
        if variant not in counts["current"]:
            continue
        n = counts["current"][variant][0]
        should = "pass" if variant in ("right", "other notation") else "fail"
        cells = " | ".join(f"{counts[m][variant][1] / n:.2f}" for m in modules)
        print(f"| {variant} | {should} | {n} | {cells} |")
    if args.judge:
        cuts = (0.3, 0.5, 0.6, 0.7, 0.8, 0.9)
        print("\nPassed by the checker and then the judge (P(yes) >= threshold), of all cases:")
        print("| variant | n | " + " | ".join(f"judge {t}" for t in cuts) + " |")
        print("|---|---|" + "---|" * len(cuts))
        for variant in order:
            if variant not in counts["current"]:
                continue
            n, ps = counts["current"][variant][0], judged[variant]
            print(f"| {variant} | {n} | " + " | ".join(f"{sum(p >= t for p in ps) / n:.2f}" for t in cuts) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
