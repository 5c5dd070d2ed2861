"""Does a draft survive its evidence shown in another order? A probe for wrong answers (issue #14 item 3).

Every question of a set is asked through the product as `rag eval` does. Each time the generator drafts
an answer, the same passages are shown to it once more in reverse order (renumbered, and the second
draft's markers mapped back), and both drafts are written out with the product's final answer. A right
answer should not depend on where its passage stands in the prompt; a span picked from the wrong
sentence often does. `--analyse` then reports, for the answers the product gave, how often the two
drafts agree among right and among wrong answers.

    python eval/consistency_probe.py eval/seed_qa.jsonl --out eval/results/s17/probe_seed.jsonl
    python eval/consistency_probe.py eval/seed_qa.jsonl --analyse eval/results/s17/probe_seed.jsonl
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rag.cite import strip_markers  # noqa: E402
from rag.evaluate import is_correct, load_set  # noqa: E402
from rag.text import content_words, quantities, same_quantity  # noqa: E402


def _renumbered(text: str, back: dict[int, int]) -> str:
    return re.sub(r"\[(\d{1,3})\]", lambda m: f"[{back.get(int(m.group(1)), int(m.group(1)))}]", text)


def run(set_path: Path, out: Path) -> None:
    from rag.answer import Done
    from rag.pipeline import open_pipeline
    from rag.settings import load_settings

    pipe = open_pipeline(load_settings())
    draft = pipe._draft
    drafts: list[dict] = []

    def probed(question, lang, passages):
        pieces = list(draft(question, lang, passages))
        yield from pieces
        if len(passages) < 2:
            drafts.append({"draft": "".join(pieces), "reversed": None})
            return
        rev = [dataclasses.replace(p, n=i) for i, p in enumerate(reversed(passages), 1)]
        back = {i: p.n for i, p in enumerate(reversed(passages), 1)}
        alt = "".join(draft(question, lang, rev))
        drafts.append({"draft": "".join(pieces), "reversed": _renumbered(alt, back)})

    pipe._draft = probed
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "w", encoding="utf-8") as f:
        for n, item in enumerate(load_set(set_path), 1):
            drafts.clear()
            answer = None
            for ev in pipe.stream(item["question"]):
                if isinstance(ev, Done):
                    answer = ev.answer
            rec = {"id": item["id"], **answer.to_json(), "drafts": list(drafts)}
            f.write(json.dumps(rec, ensure_ascii=False) + "\n")
            f.flush()
            print(f"{n} {item['id']}", file=sys.stderr)


def agree(a: str, b: str) -> bool:
    """Two drafts say the same: the same figures (by value, either way round) and most content words shared."""
    a, b = strip_markers(a), strip_markers(b)
    qa, qb = quantities(a), quantities(b)
    if not all(any(same_quantity(x, y) for y in qb) for x in qa) or not all(
            any(same_quantity(y, x) for x in qa) for y in qb):
        return False
    wa, wb = content_words(a), content_words(b)
    return len(wa & wb) / max(1, min(len(wa), len(wb))) >= 0.6


def analyse(set_path: Path, records: Path) -> None:
    items = {i["id"]: i for i in load_set(set_path)}
    rows: dict[str, list[bool]] = {"right": [], "wrong": [], "unanswerable answered": []}
    for line in open(records, encoding="utf-8"):
        r = json.loads(line)
        if r["abstained"] or len(r["drafts"]) != 1 or r["drafts"][0]["reversed"] is None:
            continue  # refused, answered per source (several drafts), or one passage only
        item = items[r["id"]]
        kind = ("right" if is_correct(item, r) else "wrong") if item["answerable"] else "unanswerable answered"
        d = r["drafts"][0]
        rows[kind].append(agree(d["draft"], d["reversed"]))
    for kind, xs in rows.items():
        print(f"{kind}: {len(xs)} answers, drafts agree {sum(xs)} ({sum(xs) / max(1, len(xs)):.2f})")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("set", type=Path)
    ap.add_argument("--out", type=Path)
    ap.add_argument("--analyse", type=Path, help="records written by --out")
    args = ap.parse_args()
    if args.analyse:
        analyse(args.set, args.analyse)
    elif args.out:
        run(args.set, args.out)
    else:
        ap.error("--out or --analyse")
    return 0


if __name__ == "__main__":
    sys.exit(main())
