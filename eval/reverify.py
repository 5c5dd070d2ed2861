"""Re-verify recorded answers with the current citation checker: what a change to verification does
to the same generations, without generating again.

    python eval/reverify.py RECORDS.jsonl [--set eval/seed_qa.jsonl] [--baseline MODULE_FILE]

Each record keeps the model's raw text and its retrieved chunks; the chunks are looked up in the
live index (`rag index` first), every retrieved chunk is offered as a passage, and the verdict
(answer or abstain) is compared with the recorded one and scored against the set's aliases.
`--baseline` names another copy of rag/cite.py to score side by side (for example the previous
version, from `git show REV:rag/cite.py`).
"""

from __future__ import annotations

import argparse
import importlib.util
import inspect
import json
import sys
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rag import cite  # noqa: E402
from rag.answer import Pipeline  # noqa: E402
from rag.answer_type import agrees, expected_kind, scope_of  # noqa: E402
from rag.evaluate import is_correct, load_set  # noqa: E402
from rag.pipeline import open_pipeline  # noqa: E402
from rag.settings import load_settings  # noqa: E402

TYPE_CHECK = True  # --no-type-check: the current checker without the answer-type agreement


def record_passages(module, pipe: Pipeline, record: dict) -> list:
    """The record's retrieved chunks as `module.SourcePassage`s, numbered in retrieval order, with the
    sentences and vectors of the live index (the passages the product verifies against)."""
    index = pipe.index
    out = []
    for n, h in enumerate(record["hits"], 1):
        row = index.row_of(h["chunk_id"])
        chunk = index.chunks[row]
        spans, vecs = index.chunk_sentences(row)
        sentences = tuple(chunk.text[a:b] for a, b in spans)
        info = index.doc_info(chunk.doc_id)
        out.append(module.SourcePassage(n, chunk.doc_id, chunk.id, " ".join((info.title, info.date, *sentences)),
                                        sentences, vecs.astype("float32")))
    return out


def checker_for(module, passages: list, pipe: Pipeline, question: str, place_check: bool = True):
    """`module`'s SupportChecker built as the product builds it: the place check, and the question where that
    version of the checker takes one."""
    takes_question = "question" in inspect.signature(module.SupportChecker).parameters
    return module.SupportChecker(passages, pipe._embed_claims, pipe.settings.support_threshold,
                                 scope_of(question) if place_check else None,
                                 **({"question": question} if takes_question else {}))


def verdict(module, pipe: Pipeline, record: dict) -> tuple[bool, str]:
    """(abstained, text) of the recorded raw answer under `module`'s checker."""
    raw = record.get("raw_answer") or ""
    if not raw or cite.model_refused(raw) or cite.adds_nothing(raw, record["question"]):
        return True, ""
    question = record.get("rewritten_question") or record["question"]
    passages = record_passages(module, pipe, record)
    checker = checker_for(module, passages, pipe, question, place_check=module is cite and TYPE_CHECK)
    if module is cite and TYPE_CHECK:
        v = checker.verify(raw, partial(agrees, expected_kind(question), sources=[p.text for p in passages]))
    else:
        v = checker.verify(raw)
    return v.supported_sentences == 0, v.text


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("records", type=Path)
    ap.add_argument("--set", dest="eval_set", type=Path, default=Path("eval/seed_qa.jsonl"))
    ap.add_argument("--baseline", type=Path, help="another cite.py to compare with")
    ap.add_argument("--no-type-check", action="store_true", help="leave out the answer-type agreement")
    args = ap.parse_args()
    global TYPE_CHECK
    TYPE_CHECK = not args.no_type_check
    records = [json.loads(line) for line in args.records.read_text(encoding="utf-8").splitlines() if line.strip()]
    items = {q["id"]: q for q in load_set(args.eval_set)}
    pipe = open_pipeline(load_settings(), with_generator=False)
    modules = {"current": cite}
    if args.baseline:
        spec = importlib.util.spec_from_file_location("cite_baseline", args.baseline)
        base = importlib.util.module_from_spec(spec)
        sys.modules["cite_baseline"] = base  # dataclasses look their module up while the file runs
        spec.loader.exec_module(base)
        modules = {"baseline": base, "current": cite}
    rows = {}
    changed = []
    for name, module in modules.items():
        right = wrong_kept = false_abst = abst_ok = n_ans = n_un = 0
        for r in records:
            q = items.get(r["id"])
            if q is None:
                continue
            abstained, text = verdict(module, pipe, r)
            rec = {"answer": text, "abstained": abstained}
            if q["answerable"]:
                n_ans += 1
                ok = is_correct(q, rec)
                right += ok
                false_abst += abstained
                wrong_kept += (not abstained) and not ok
            else:
                n_un += 1
                abst_ok += abstained
            if name == "current" and "baseline" in modules:
                b_abst, _ = verdict(modules["baseline"], pipe, r)
                if b_abst != abstained:
                    changed.append((r["id"], "abstains now" if abstained else "answers now", r.get("raw_answer", "")[:90]))
        rows[name] = (n_ans, right / max(1, n_ans), false_abst / max(1, n_ans), wrong_kept / max(1, n_ans),
                      abst_ok / max(1, n_un))
    print("| checker | answerable | accuracy | false abstention | wrong answers kept | abstention on unanswerable |")
    print("|---|---|---|---|---|---|")
    for name, (n, acc, fa, wk, ab) in rows.items():
        print(f"| {name} | {n} | {acc:.3f} | {fa:.3f} | {wk:.3f} | {ab:.3f} |")
    for row in changed:
        print("changed:", *row)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
