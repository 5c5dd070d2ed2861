"""Evaluation: run a JSONL question set through the `rag ask` path and score it.

An answer is correct when, for every alias group, one alias occurs in it (case-insensitive,
whitespace removed) and the system did not abstain.

>>> is_correct({"answers": [["4,500", "4500"]]}, {"answer": "超过 4500 家", "abstained": False})
True
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import time
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from tqdm import tqdm

from .cite import QUOTED, strip_markers
from .errors import RagError
from .settings import Settings
from .text import detect_lang, has_han, mixed_fragment

GROUPS = ("lang", "type")
RUNS = Path("eval/runs")  # default output: ignored by git, so evaluating leaves the checkout clean
RESULTS = Path("eval/results")  # evidence kept on purpose (`rag eval --save`)


class EvalError(RagError, ValueError):
    """The evaluation set is missing, malformed or selects no question."""


def load_set(path: Path) -> list[dict[str, Any]]:
    items = []
    with open(path, encoding="utf-8") as f:
        for i, line in enumerate(f, 1):
            if line.strip():
                try:
                    items.append(json.loads(line))
                except ValueError:
                    raise EvalError(f"{path}:{i}: not valid JSON") from None
    return items


def norm(s: str) -> str:
    """Case and whitespace dropped: how aliases and answers are compared (here and in eval/suites.py)."""
    return "".join(s.lower().split())


def answer_text(answer: str) -> str:
    """An answer as aliases are looked up in it: normalised, `[n]` markers dropped ("4500[1]亿元"
    still contains "4500亿元")."""
    return norm(strip_markers(answer))


def answer_lang(answer: str) -> str:
    """The language an answer is written in; quoted source titles (shown in their own language beside
    per-source answers: 据《A spokesman for …》：…) do not count."""
    return detect_lang(QUOTED.sub("", answer))


def in_question_lang(item: dict, record: dict) -> bool:
    """The answer is written in the question's language, without pieces of the other one mid-sentence
    ("能够买 essentials" is a language miss)."""
    answer = record["answer"]
    words = QUOTED.sub("", answer)
    if not (has_han(words) or re.search(r"[A-Za-z]", words)):
        return True  # no words in either language ("40% [2]。")
    return answer_lang(answer) == item["lang"] and not mixed_fragment(answer, item["lang"])


def is_correct(item: dict, record: dict) -> bool:
    if record.get("abstained"):
        return False
    return _holds_answer(item, answer_text(record.get("answer", "")))


def _holds_answer(item: dict, normed: str) -> bool:
    """Every answer group has a form (alias) in `normed`, an already normalised text."""
    return all(any(norm(a) in normed for a in group) for group in item["answers"])


EVIDENCE_BUDGETS = (80, 120, 160)  # 120: the default prompt budget


def in_evidence(item: dict, evidence: str) -> bool:
    """Every answer group has a form in the evidence text (a proxy: the other language's form counts)."""
    return _holds_answer(item, norm(evidence))


def doc_ranks(item: dict, record: dict) -> int | None:
    """1-based rank of the first hit from a gold document, None if absent."""
    gold = set(item.get("doc_ids", []))
    for h in record.get("hits", []):
        if h["doc_id"] in gold:
            return int(h["rank"])
    return None


def _pct(xs: list[float], q: float) -> float:
    if not xs:
        return 0.0
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(q * (len(xs) - 1))))]


def score_group(pairs: list[tuple[dict, dict]]) -> dict[str, float]:
    ans = [(i, r) for i, r in pairs if i["answerable"]]
    unans = [(i, r) for i, r in pairs if not i["answerable"]]
    ranks = [doc_ranks(i, r) for i, r in ans]
    out: dict[str, float] = {"n": len(pairs), "n_answerable": len(ans)}
    if ans:
        out["recall@1"] = sum(1 for r in ranks if r == 1) / len(ans)
        out["recall@5"] = sum(1 for r in ranks if r and r <= 5) / len(ans)
        out["mrr"] = sum(1 / r for r in ranks if r) / len(ans)
        out["accuracy"] = sum(is_correct(i, r) for i, r in ans) / len(ans)
        out["false_abstention"] = sum(1 for _, r in ans if r["abstained"]) / len(ans)
        if all("evidence" in r for _, r in ans):  # retrieval-only runs: the answer is in the evidence shown
            for b in EVIDENCE_BUDGETS:
                out[f"evidence@{b}"] = sum(in_evidence(i, r["evidence"][str(b)]) for i, r in ans) / len(ans)
    if unans:
        out["abstention_accuracy"] = sum(1 for _, r in unans if r["abstained"]) / len(unans)
    cits = [(i, c) for i, r in ans for c in r.get("citations", [])]
    if cits:
        out["citation_gold_doc"] = sum(c["doc_id"] in i["doc_ids"] for i, c in cits) / len(cits)
    cs = [r["citation_scores"] for _, r in ans if not r["abstained"] and r.get("citation_scores")]
    for key in ("recall", "precision", "raw_recall", "raw_precision"):
        vals = [c[key] for c in cs if c.get(key) is not None]
        if vals:
            out[f"citation_{key}"] = sum(vals) / len(vals)
    answered = [(i, r) for i, r in pairs if not r["abstained"]]
    if answered:
        out["language_match"] = sum(in_question_lang(i, r) for i, r in answered) / len(answered)
        out["mixed_script"] = sum(bool(mixed_fragment(r["answer"], i["lang"])) for i, r in answered) / len(answered)
    ttft = [r["timings_ms"]["first_token"] for _, r in pairs]
    total = [r["timings_ms"]["total"] for _, r in pairs]
    out.update({"ttft_p50_ms": statistics.median(ttft) if ttft else 0.0, "ttft_p95_ms": _pct(ttft, 0.95),
                "total_p50_ms": statistics.median(total) if total else 0.0, "total_p95_ms": _pct(total, 0.95)})
    return out


def summarize(items: list[dict], records: list[dict]) -> dict[str, Any]:
    by_id = {r["id"]: r for r in records}
    pairs = [(i, by_id[i["id"]]) for i in items if i["id"] in by_id]
    summary: dict[str, Any] = {"overall": score_group(pairs)}
    for g in GROUPS:
        groups: dict[str, list] = defaultdict(list)
        for i, r in pairs:
            groups[i[g]].append((i, r))
        summary[f"by_{g}"] = {k: score_group(v) for k, v in sorted(groups.items())}
    return summary


COLUMNS = [("n", "n", "{:.0f}"), ("recall@1", "R@1", "{:.2f}"), ("recall@5", "R@5", "{:.2f}"), ("mrr", "MRR", "{:.2f}"),
           *((f"evidence@{b}", f"ev@{b}", "{:.2f}") for b in EVIDENCE_BUDGETS),
           ("accuracy", "acc", "{:.2f}"), ("abstention_accuracy", "abst", "{:.2f}"),
           ("false_abstention", "f-abst", "{:.2f}"), ("citation_gold_doc", "cit-doc", "{:.2f}"),
           ("citation_recall", "cit-R", "{:.2f}"), ("citation_precision", "cit-P", "{:.2f}"),
           ("language_match", "lang", "{:.2f}"), ("mixed_script", "mixed", "{:.2f}"), ("ttft_p50_ms", "ttft50", "{:.0f}"), ("total_p50_ms", "tot50", "{:.0f}")]


def table(summary: dict[str, Any]) -> str:
    rows = [("overall", summary["overall"])]
    for g in GROUPS:
        rows += [(f"{g}={k}", v) for k, v in summary[f"by_{g}"].items()]
    cols = [c for c in COLUMNS if any(c[0] in m for _, m in rows)]  # e.g. evidence@B only without generation
    head = "| group | " + " | ".join(c[1] for c in cols) + " |"
    sep = "|---" * (len(cols) + 1) + "|"
    lines = [head, sep]
    for name, m in rows:
        cells = [fmt.format(m[k]) if k in m else "-" for k, _, fmt in cols]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def write_report(summary: dict[str, Any], report_dir: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    report_dir.mkdir(parents=True, exist_ok=True)
    (report_dir / "summary.json").write_text(json.dumps(summary, indent=1, ensure_ascii=False))
    (report_dir / "report.md").write_text(f"# {title}\n\n{table(summary)}\n", encoding="utf-8")
    for g in GROUPS:
        groups = summary[f"by_{g}"]
        names = list(groups)
        fig, ax = plt.subplots(figsize=(7, 3.5))
        metrics = ["recall@5", "accuracy", "abstention_accuracy", "citation_recall"]
        width = 0.8 / len(metrics)
        for j, m in enumerate(metrics):
            ax.bar([x + j * width for x in range(len(names))], [groups[n].get(m, 0) for n in names], width, label=m)
        ax.set_xticks([x + 0.4 - width / 2 for x in range(len(names))], names)
        ax.set_ylim(0, 1)
        ax.set_title(f"{title}: by {g}")
        ax.legend(fontsize=7, loc="lower right")
        fig.tight_layout()
        fig.savefig(report_dir / f"by_{g}.png", dpi=110)
        plt.close(fig)


def run(pipe, items: Iterable[dict], out: Path, keyword_weight: float | None = None) -> list[dict]:
    """Ask every question through the same path as `rag ask`; write one JSON line per question."""
    from .answer import Done

    items = list(items)
    out.parent.mkdir(parents=True, exist_ok=True)
    records = []
    with open(out, "w", encoding="utf-8") as f, tqdm(items, unit="q", desc="eval", file=sys.stderr) as bar:
        for item in bar:
            answer = None
            for ev in pipe.stream(item["question"]):
                if isinstance(ev, Done):
                    answer = ev.answer
            rec = {"id": item["id"], **answer.to_json()}
            records.append(rec)
            f.write(json.dumps(rec, ensure_ascii=False) + "\n")
            f.flush()
            ok = sum(is_correct(i, r) if i["answerable"] else r["abstained"] for i, r in zip(items, records, strict=False))
            bar.set_postfix_str(f"correct {ok}/{len(records)}")
    return records


def _retrieval_only(args: argparse.Namespace, s: Settings, items: list[dict]) -> int:
    from .pipeline import open_pipeline
    from .prompt import select_passages
    from .retrieve import Retriever

    pipe = open_pipeline(s, with_generator=False)
    retriever = Retriever(pipe.index, pipe.embedder, s)
    records = []
    for item in tqdm(items, unit="q", desc="retrieve", file=sys.stderr):
        got = retriever.search(item["question"])
        # the evidence sentences the generator would see at each budget (counted in embedder tokens)
        evidence = {str(b): "\n".join(p.text for p in select_passages(got.hits, pipe.index, got.query_vector, b,
                                                                      lambda t: pipe.embedder.count_tokens([t])[0]))
                    for b in EVIDENCE_BUDGETS}
        records.append({"id": item["id"], "answer": "", "abstained": True, "citations": [],
                        "hits": [{"rank": i + 1, "doc_id": h.chunk.doc_id, "chunk_id": h.chunk.id, "score": h.score}
                                 for i, h in enumerate(got.hits)], "evidence": evidence,
                        "timings_ms": {"retrieve": (got.embed_seconds + got.search_seconds) * 1000,
                                       "first_token": 0.0, "generate": 0.0, "total": 0.0}})
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    summary = summarize(items, records)
    summary["settings"] = s.to_json()
    keep = ("n", "n_answerable", "recall@1", "recall@5", "mrr", *(f"evidence@{b}" for b in EVIDENCE_BUDGETS))
    for group in [summary["overall"], *summary["by_lang"].values(), *summary["by_type"].values()]:
        for key in list(group):
            if key not in keep:
                del group[key]
    Path(args.report).mkdir(parents=True, exist_ok=True)
    (Path(args.report) / "summary.json").write_text(json.dumps(summary, indent=1))
    print(table(summary))
    return 0


def output_paths(args: argparse.Namespace) -> tuple[Path, Path]:
    """Where a run writes its records and report: the ignored eval/runs/ unless `--save` asks for
    the tracked eval/results/ (evidence kept on purpose); `--out` / `--report` override either."""
    base = RESULTS if getattr(args, "save", False) else RUNS
    return (Path(args.out) if args.out else base / "seed_results.jsonl",
            Path(args.report) if args.report else base / "report")


def cmd_eval(args: argparse.Namespace, s: Settings) -> int:
    path = Path(args.eval_set)
    if not path.is_file():
        raise EvalError(f"evaluation set {path} not found")
    items = load_set(path)
    if getattr(args, "types", None):
        items = [q for q in items if q.get("type") in args.types]
        if not items:
            raise EvalError(f"no questions of type {', '.join(args.types)} in {args.eval_set}")
    args.out, args.report = output_paths(args)
    if args.limit:
        items = items[: args.limit]
    if args.sample and args.sample < len(items):
        step = len(items) / args.sample
        items = [items[int(i * step)] for i in range(args.sample)]
    if args.retrieval_only:
        return _retrieval_only(args, s, items)
    if args.naive:
        from .naive import naive_pipeline

        pipe = naive_pipeline(s)
        title = "naive baseline"
    else:
        from .pipeline import open_pipeline

        pipe = open_pipeline(s)  # the index is brought up to date with the corpus first
        title = "rag eval"
    t0 = time.perf_counter()
    records = run(pipe, items, Path(args.out))
    summary = summarize(items, records)
    summary["seconds"] = round(time.perf_counter() - t0, 1)
    summary["settings"] = pipe.settings.to_json()
    write_report(summary, Path(args.report), title)
    print(table(summary))
    print(f"\n{len(records)} questions in {summary['seconds']:.0f} s; report in {args.report}")
    return 0
