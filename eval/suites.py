"""Public benchmark suites, run through the product's own code path (index, retrieval, prompt,
generation, citation verification, abstention).

    python eval/suites.py xquad      ../shared/benchmarks [--sample-answers 20]
    python eval/suites.py cmrc       ../shared/benchmarks [--sample 300 --sample-answers 30]
    python eval/suites.py rgb        ../shared/benchmarks [--per-level 10]
    python eval/suites.py dragonball ../shared/benchmarks [--domain Finance --lang en --sample-answers 30]

The data directory is passed in, never copied into the repository. Each run prints its figures and
writes eval/results/<suite>.json (or `--out DIR`) and <suite>_records.jsonl (a filtered DragonBall run:
dragonball_<domain>_<lang>.json). Answer accuracy: every gold answer (or one of its aliases) occurs
in the answer, case, whitespace, [n] markers and the gold's closing full stop ignored, and the
system did not abstain; span recall gives CMRC-style partial credit.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import re
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from difflib import SequenceMatcher
from pathlib import Path

import numpy as np
from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rag.answer import Pipeline  # noqa: E402
from rag.embed import load_embedder  # noqa: E402
from rag.evaluate import answer_text, norm  # noqa: E402
from rag.generate import load_generator  # noqa: E402
from rag.pipeline import open_pipeline  # noqa: E402
from rag.retrieve import Retriever  # noqa: E402
from rag.settings import load_settings  # noqa: E402
from rag.text import EN_STOP  # noqa: E402

OUT = Path(__file__).resolve().parent / "results"


_STOPS = " \t\n.。．!！?？"  # a gold span's closing punctuation, not part of the answer to find


def hit_any(answer: str, golds) -> bool:
    """A gold span occurs in the answer; `[n]` markers and the gold's closing full stop are ignored
    ("NASDAQ [1]." answers the gold "NASDAQ.")."""
    a = answer_text(answer)
    return any(norm(g.rstrip(_STOPS)) in a for g in golds if g.rstrip(_STOPS))


def _bare(s: str) -> str:
    return "".join(ch for ch in s.lower() if ch.isalnum())


def span_recall(answer: str, golds) -> float:
    """CMRC-style partial credit: the longest common substring of answer and gold span, as a share of
    the gold span (punctuation and spaces dropped), best over the golds. Unlike `hit_any` it credits
    an answer that quotes most of a long gold span but not all of it."""
    a = _bare(answer)
    best = 0.0
    for g in golds:
        g = _bare(g)
        if g:
            m = SequenceMatcher(None, a, g, autojunk=False).find_longest_match(0, len(a), 0, len(g))
            best = max(best, m.size / len(g))
    return best


def as_groups(gold) -> list:
    """RGB answers are a string, a list of required items, or a list of alias lists."""
    return gold if isinstance(gold, list) else [gold]


def checkpoint(suite: str, results: dict) -> None:
    """Write what is measured so far: a long run stopped midway still leaves its numbers."""
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / f"{suite}.json").write_text(json.dumps(results | {"partial": True}, indent=1, ensure_ascii=False),
                                       encoding="utf-8")


ALL_LEVELS = [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]


def result_name(args) -> str:
    """File stem of a run's summary and records: filtered DragonBall runs get their own name, so they
    never overwrite the full run's figures."""
    parts = [args.suite] + ([args.domain, args.lang] if args.suite == "dragonball" else [])
    if args.suite == "rgb" and (getattr(args, "levels", ALL_LEVELS) != ALL_LEVELS or not getattr(args, "all_tasks", True)):
        parts.append("noise" + "-".join(f"{x:g}" for x in args.levels))  # a partial run keeps its own name
    return "_".join(p for p in parts if p)


def hit_all(answer: str, groups) -> bool:
    """RGB: every item must appear; an item may itself be a list of accepted aliases."""
    return all(hit_any(answer, g if isinstance(g, list) else [g]) for g in groups)


class Models:
    """The default embedder and generator, loaded once per run."""

    def __init__(self, with_generator: bool = True):
        self.settings = load_settings()
        self.embedder = load_embedder(self.settings)
        self.generator = load_generator(self.settings) if with_generator else None


def corpus_pipeline(texts: dict[str, str], workdir: Path, models: Models, quiet: bool = False) -> Pipeline:
    """Index `texts` (document id -> text) with the product's indexer and return its Pipeline."""
    corpus = workdir / "corpus"
    corpus.mkdir(parents=True, exist_ok=True)
    for doc_id, text in texts.items():
        (corpus / f"{doc_id}.txt").write_text(text + "\n", encoding="utf-8")
    s = load_settings(overrides={"corpus_dir": str(corpus), "index_dir": str(workdir / "index")})
    t0 = time.perf_counter()
    pipe = open_pipeline(s, embedder=models.embedder, generator=models.generator, with_generator=False, quiet=quiet)
    if not quiet:
        print(f"indexed {len(texts)} documents ({pipe.build_summary.chunks_total} chunks) in "
              f"{time.perf_counter() - t0:.0f} s", file=sys.stderr)
    return pipe


@contextmanager
def workdir(args) -> Iterator[Path]:
    """Where the suite's corpora and indexes live: `--workdir` keeps them (a re-run only re-embeds
    what changed), otherwise a temporary directory."""
    if args.workdir:
        args.workdir.mkdir(parents=True, exist_ok=True)
        yield args.workdir
    else:
        with tempfile.TemporaryDirectory() as tmp:
            yield Path(tmp)


def squad_paragraphs(path: Path) -> tuple[dict[str, str], list[dict]]:
    """Paragraphs by id, and questions with their paragraph id and gold answers."""
    data = json.loads(path.read_text(encoding="utf-8"))["data"]
    paras, qs = {}, []
    for art in data:
        for p in art["paragraphs"]:
            pid = f"p{len(paras):05d}"
            paras[pid] = p["context"]
            qs.extend({"id": q["id"], "question": q["question"], "doc_ids": [pid],
                       "answers": [a["text"] for a in q["answers"]]} for q in p["qas"])
    return paras, qs


def retrieval_scores(pipe: Pipeline, qs: list[dict], k: int = 5) -> dict:
    """Document recall@1/@k and MRR of the first gold document, over the fused top-k hits."""
    r1 = rk = mrr = 0.0
    retriever = Retriever(pipe.index, pipe.embedder, pipe.settings)
    for q in tqdm(qs, desc="retrieve", unit="q", file=sys.stderr):
        docs = [h.chunk.doc_id for h in retriever.search(q["question"], k).hits]
        ranks = [docs.index(d) + 1 for d in q["doc_ids"] if d in docs]
        if ranks:
            r1 += min(ranks) == 1
            rk += 1
            mrr += 1 / min(ranks)
    n = len(qs)
    return {"questions": n, "recall@1": r1 / n, f"recall@{k}": rk / n, "mrr": mrr / n}


RECORDS: list[dict] = []  # one line per answered question, written next to the suite's summary


def record(q: dict, answer, correct: bool, **extra) -> None:
    RECORDS.append({"question": q.get("question") or q.get("query"), "answer": answer.text,
                    "abstained": answer.abstained, "raw_answer": answer.raw_text, "correct": bool(correct),
                    "cited_docs": sorted({c.doc_id for c in answer.citations}),
                    "judge": answer.citation_scores.get("judge"), **extra})


def answer_scores(pipe: Pipeline, qs: list[dict], n: int, seed: int = 0) -> dict:
    """Answer accuracy and abstention on a seeded sample of `n` questions."""
    sample = random.Random(seed).sample(qs, min(n, len(qs)))
    correct = abstained = 0
    ttft, partial = [], []
    for q in tqdm(sample, desc="answer", unit="q", file=sys.stderr):
        a = pipe.ask(q["question"])
        ok = hit_any(a.text, q["answers"]) and not a.abstained
        partial.append(0.0 if a.abstained else span_recall(a.text, q["answers"]))
        record(q, a, ok, golds=q["answers"], doc_ids=q["doc_ids"], span_recall=partial[-1])
        correct += ok
        abstained += a.abstained
        ttft.append(a.timings.first_token)
    return {"answer_sample": len(sample), "answer_accuracy": correct / len(sample),
            "span_recall": float(np.mean(partial)),
            "abstained": abstained / len(sample), "ttft_p50_s": float(np.median(ttft))}


def run_xquad(bench: Path, args) -> dict:
    models = Models(with_generator=args.sample_answers > 0)
    results = {}
    with workdir(args) as tmp:
        for q_lang, p_lang in (("zh", "en"), ("en", "zh")):
            paras, p_qs = squad_paragraphs(bench / "xquad" / f"xquad.{p_lang}.json")
            _, qs = squad_paragraphs(bench / "xquad" / f"xquad.{q_lang}.json")  # same ids, parallel
            # The answer is written in the question's language from a passage in the other one: a
            # name or figure may be kept as written in the passage, so both languages' spans count.
            span = {q["id"]: q["answers"] for q in p_qs}
            qs = [q | {"answers": q["answers"] + span.get(q["id"], [])} for q in qs]
            pipe = corpus_pipeline(paras, Path(tmp) / p_lang, models)
            r = retrieval_scores(pipe, qs)
            if args.sample_answers:
                r |= answer_scores(pipe, qs, args.sample_answers)
            results[f"{q_lang} questions -> {p_lang} paragraphs"] = r
    return results


def run_cmrc(bench: Path, args) -> dict:
    paras, qs = squad_paragraphs(bench / "cmrc2018" / "cmrc2018_dev_squad.json")
    qs = random.Random(2018).sample(qs, min(args.sample, len(qs)))
    models = Models(with_generator=args.sample_answers > 0)
    with workdir(args) as tmp:
        pipe = corpus_pipeline(paras, Path(tmp) / "cmrc", models)
        r = retrieval_scores(pipe, qs)
        if args.sample_answers:
            r |= answer_scores(pipe, qs, args.sample_answers)
    return {"zh questions -> zh paragraphs": r}


def ask_over(passages: list[str], question: str, models: Models, tmp: Path):
    """RGB's protocol: the system sees exactly these passages (retrieval bypassed: they are the
    whole index, and all of their chunks are retrieved); everything after retrieval is the product."""
    work = Path(tempfile.mkdtemp(dir=tmp))
    pipe = corpus_pipeline({f"d{i}": p for i, p in enumerate(passages)}, work, models, quiet=True)
    return pipe.ask(question, k=len(pipe.index.chunks))


def rgb_docs(rng: random.Random, positive: list[str], negative: list[str], rate: float, n: int = 5) -> list[str]:
    n_neg = math.ceil(n * rate)
    docs = rng.sample(negative, min(n_neg, len(negative)))
    docs += rng.sample(positive, min(n - len(docs), len(positive)))
    rng.shuffle(docs)
    return docs


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def run_rgb(bench: Path, args) -> dict:
    """Noise robustness (0-0.8), rejection (1.0), information integration and counterfactual robustness."""
    models = Models()
    rows = random.Random(0).sample(read_jsonl(bench / "rgb" / "zh_refine.json"), args.per_level)
    results: dict = {"items_per_level": len(rows)}
    with tempfile.TemporaryDirectory() as tmp:
        for rate in args.levels:
            correct = refused = 0
            for i, row in enumerate(tqdm(rows, desc=f"noise {rate}", unit="q", file=sys.stderr)):
                docs = rgb_docs(random.Random(i), row["positive"], row["negative"], rate)
                a = ask_over(docs, row["query"], models, Path(tmp))
                ok = not a.abstained and hit_all(a.text, row["answer"])
                record(row, a, ok, task=f"noise {rate:.1f}", golds=row["answer"])
                refused += a.abstained
                correct += ok
            key = f"noise {rate:.1f}"
            results[key] = {"accuracy": correct / len(rows), "abstained": refused / len(rows)}
            checkpoint(result_name(args), results)
        if "noise 1.0" in results:
            results["noise 1.0"]["rejection_rate"] = results["noise 1.0"].pop("abstained")
        if not args.all_tasks:
            return results

        rows = random.Random(0).sample(read_jsonl(bench / "rgb" / "zh_int.json"), args.per_level)
        correct = partial = 0
        for i, row in enumerate(tqdm(rows, desc="integration", unit="q", file=sys.stderr)):
            rng = random.Random(i)
            docs = [rng.choice(group) for group in row["positive"] if group]  # one passage per sub-answer
            docs += rng.sample(row["negative"], min(5 - len(docs), len(row["negative"])))
            rng.shuffle(docs)
            a = ask_over(docs, row["query"], models, Path(tmp))
            found = [not a.abstained and hit_all(a.text, [g]) for g in row["answer"]]
            record(row, a, all(found), task="integration", golds=row["answer"])
            correct += all(found)
            partial += any(found)
        results["integration (noise 0)"] = {"accuracy": correct / len(rows), "some_part": partial / len(rows)}
        checkpoint(result_name(args), results)

        rows = random.Random(0).sample(read_jsonl(bench / "rgb" / "zh_fact.json"), args.per_level)
        misled = right = refused = 0
        for i, row in enumerate(tqdm(rows, desc="counterfactual", unit="q", file=sys.stderr)):
            docs = list(row["positive_wrong"])
            random.Random(i).shuffle(docs)
            a = ask_over(docs, row["query"], models, Path(tmp))
            true, fake = (not a.abstained and hit_all(a.text, as_groups(row[key])) for key in ("answer", "fakeanswer"))
            record(row, a, true and not fake, task="counterfactual", golds=row["answer"], planted=row["fakeanswer"])
            refused += a.abstained
            misled += fake
            right += true and not fake
        n = len(rows)
        results["counterfactual"] = {"repeated_planted_error": misled / n, "gave_true_answer": right / n,
                                     "abstained": refused / n}
    return results


def content_terms(text: str) -> set[str]:
    return {w for w in re.findall(r"[a-z0-9][a-z0-9.,%$-]*", text.lower()) if w not in EN_STOP and len(w) > 2}


def keypoint_recall(answer: str, keypoints: list[str], cover: float = 0.6) -> float:
    """Lexical proxy for RAGEval's keypoint completeness: a keypoint counts as covered when at least
    `cover` of its content words occur in the answer (RAGEval itself uses an LLM judge)."""
    got = content_terms(answer)
    scores = []
    for kp in keypoints:
        terms = content_terms(re.sub(r"^\s*\d+\.\s*", "", kp))
        scores.append(bool(terms) and len(terms & got) / len(terms) >= cover)
    return float(np.mean(scores)) if scores else 0.0


def short_gold(q: dict) -> bool:
    """DragonBall golds short enough (a name, date or figure) to expect verbatim in the answer."""
    return len(q["answer"]) <= 40


def run_dragonball(bench: Path, args) -> dict:
    docs = [d for d in read_jsonl(bench / "dragonball" / "docs.jsonl")
            if (not args.domain or d["domain"] == args.domain) and (not args.lang or d["language"] == args.lang)]
    texts = {f"db{d['doc_id']:03d}": d["content"] for d in docs}
    qs = []
    for row in read_jsonl(bench / "dragonball" / "queries_finance_en.jsonl"):
        gt = row["ground_truth"]
        qs.append({"question": row["query"]["content"], "type": row["query"]["query_type"],
                   "doc_ids": [f"db{i:03d}" for i in gt["doc_ids"]], "answer": gt["content"],
                   "keypoints": gt["keypoints"]})
    unsolvable = [q for q in qs if q["type"] == "Irrelevant Unsolvable Question"]
    solvable = [q for q in qs if q not in unsolvable]
    models = Models(with_generator=args.sample_answers > 0)
    out: dict = {"documents": len(texts), "filter": {"domain": args.domain, "lang": args.lang}}
    with workdir(args) as tmp:
        pipe = corpus_pipeline(texts, Path(tmp) / f"dragonball-{args.domain or 'all'}-{args.lang or 'all'}", models)
        out["retrieval"] = retrieval_scores(pipe, [q for q in solvable if q["doc_ids"]])
        checkpoint(result_name(args), out)
        if args.sample_answers:
            sample = random.Random(0).sample(solvable, min(args.sample_answers, len(solvable)))
            by_type: dict[str, list[float]] = {}
            exact = abst = 0
            for q in tqdm(sample, desc="answer", unit="q", file=sys.stderr):
                a = pipe.ask(q["question"])
                kp = 0.0 if a.abstained else keypoint_recall(a.text, q["keypoints"])
                record(q, a, kp > 0, type=q["type"], keypoint_recall=kp, golds=[q["answer"]], doc_ids=q["doc_ids"])
                by_type.setdefault(q["type"], []).append(kp)
                exact += not a.abstained and short_gold(q) and hit_any(a.text, [q["answer"]])
                abst += a.abstained
            short = sum(map(short_gold, sample))
            out["answers"] = {"sample": len(sample), "keypoint_recall": float(np.mean(sum(by_type.values(), []))),
                              "short_answers": short,
                              "short_answer_exact": exact / short if short else None,
                              "false_abstention": abst / len(sample),
                              "keypoint_recall_by_type": {t: float(np.mean(v)) for t, v in sorted(by_type.items())}}
            checkpoint(result_name(args), out)
            refused = 0
            unsolvable = random.Random(0).sample(unsolvable, min(args.sample_answers, len(unsolvable)))
            for q in tqdm(unsolvable, desc="unsolvable", unit="q", file=sys.stderr):
                a = pipe.ask(q["question"])
                record(q, a, a.abstained, type=q["type"])
                refused += a.abstained
            out["unsolvable"] = {"questions": len(unsolvable), "abstained": refused / len(unsolvable)}
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("suite", choices=["xquad", "cmrc", "rgb", "dragonball"])
    ap.add_argument("bench", type=Path, help="the public benchmark folder (e.g. ../shared/benchmarks)")
    ap.add_argument("--sample", type=int, default=300, help="CMRC questions for retrieval")
    ap.add_argument("--sample-answers", type=int, default=30, help="questions also answered by the generator")
    ap.add_argument("--per-level", type=int, default=10, help="RGB items per noise level and per task")
    ap.add_argument("--levels", type=lambda v: [float(x) for x in v.split(",")], default=ALL_LEVELS,
                    help="RGB noise levels to run, comma-separated (default: all six)")
    ap.add_argument("--noise-only", dest="all_tasks", action="store_false",
                    help="RGB: skip the integration and counterfactual tasks")
    ap.add_argument("--workdir", type=Path, help="keep corpora and indexes here for re-runs (default: temporary)")
    ap.add_argument("--domain", default="", help="DragonBall: only documents of this domain (default: all)")
    ap.add_argument("--lang", default="", help="DragonBall: only documents in this language (default: all)")
    ap.add_argument("--out", type=Path, help="folder for <suite>.json and its records (default: eval/results)")
    args = ap.parse_args()
    global OUT
    OUT = args.out or OUT  # checkpoints and the final figures go here
    if not (args.bench / args.suite if args.suite != "cmrc" else args.bench / "cmrc2018").is_dir():
        ap.error(f"{args.bench} does not hold the {args.suite} data (see ../shared/benchmarks/README.md)")
    t0 = time.perf_counter()
    runner = {"xquad": run_xquad, "cmrc": run_cmrc, "rgb": run_rgb, "dragonball": run_dragonball}[args.suite]
    result = runner(args.bench, args)
    result["seconds"] = round(time.perf_counter() - t0)
    result["command"] = " ".join(["python eval/suites.py", *sys.argv[1:]])
    OUT.mkdir(parents=True, exist_ok=True)
    name = result_name(args)
    (OUT / f"{name}.json").write_text(json.dumps(result, indent=1, ensure_ascii=False), encoding="utf-8")
    with open(OUT / f"{name}_records.jsonl", "w", encoding="utf-8") as f:
        f.writelines(json.dumps(r, ensure_ascii=False) + "\n" for r in RECORDS)
    print(json.dumps(result, indent=1, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
