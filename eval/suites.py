"""Public benchmark suites, run through the product's own code path.

    python eval/suites.py xquad ../shared/benchmarks [--sample-answers 30]
    python eval/suites.py cmrc  ../shared/benchmarks [--sample 300 --sample-answers 30]
    python eval/suites.py rgb   ../shared/benchmarks [--per-level 15]

The data directory is passed in, never copied into the repository. Each run prints a table and
writes eval/results/<suite>.json. Answer accuracy: a gold answer occurs in the answer (case and
whitespace ignored) and the system did not abstain.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rag.answer import Pipeline  # noqa: E402
from rag.embed import load_embedder  # noqa: E402
from rag.generate import load_generator  # noqa: E402
from rag.indexer import build_index  # noqa: E402
from rag.settings import load_settings  # noqa: E402
from rag.store import load_index  # noqa: E402

OUT = Path(__file__).resolve().parent / "results"


def norm(s: str) -> str:
    return "".join(s.lower().split())


def hit_any(answer: str, golds) -> bool:
    a = norm(answer)
    return any(norm(g) in a for g in golds if g)


def squad_paragraphs(path: Path) -> tuple[list[str], list[dict]]:
    """Paragraph texts, and questions with the index of their paragraph and gold answers."""
    data = json.loads(path.read_text(encoding="utf-8"))["data"]
    paras, qs = [], []
    for art in data:
        for p in art["paragraphs"]:
            paras.append(p["context"])
            for q in p["qas"]:
                qs.append({"id": q["id"], "question": q["question"], "para": len(paras) - 1,
                           "answers": [a["text"] for a in q["answers"]]})
    return paras, qs


def build_corpus_pipeline(paras: list[str], workdir: Path, generator=None) -> Pipeline:
    corpus = workdir / "corpus"
    corpus.mkdir(parents=True, exist_ok=True)
    for i, text in enumerate(paras):
        (corpus / f"p{i:05d}.txt").write_text(text + "\n", encoding="utf-8")
    s = load_settings(overrides={"corpus_dir": str(corpus), "index_dir": str(workdir / "index")})
    emb = load_embedder(s)
    t0 = time.perf_counter()
    summary = build_index(s, emb)
    print(f"indexed {len(paras)} paragraphs ({summary.chunks_total} chunks) in {time.perf_counter() - t0:.0f} s",
          file=sys.stderr)
    return Pipeline(s, emb, generator, load_index(s.index_path))


def retrieval_and_answers(pipe: Pipeline, qs: list[dict], n_answers: int, seed: int = 0) -> dict:
    from rag.retrieve import Retriever

    r1 = r5 = mrr = 0.0
    retriever = Retriever(pipe.index, pipe.embedder, pipe.settings)
    for q in tqdm(qs, desc="retrieve", unit="q", file=sys.stderr):
        hits = retriever.search(q["question"]).hits
        docs = [h.chunk.doc_id for h in hits]
        gold = f"p{q['para']:05d}"
        if gold in docs:
            rank = docs.index(gold) + 1
            r1 += rank == 1
            r5 += rank <= 5
            mrr += 1 / rank
    n = len(qs)
    out = {"questions": n, "recall@1": r1 / n, "recall@5": r5 / n, "mrr": mrr / n}
    if n_answers and pipe.generator is not None:
        sample = random.Random(seed).sample(qs, min(n_answers, n))
        correct = abstained = 0
        ttft = []
        for q in tqdm(sample, desc="answer", unit="q", file=sys.stderr):
            a = pipe.ask(q["question"])
            correct += hit_any(a.text, q["answers"]) and not a.abstained
            abstained += a.abstained
            ttft.append(a.timings.first_token)
        out.update({"answer_sample": len(sample), "answer_accuracy": correct / len(sample),
                    "abstained": abstained / len(sample), "ttft_p50_s": float(np.median(ttft))})
    return out


def run_xquad(bench: Path, args) -> dict:
    en_p, en_q = squad_paragraphs(bench / "xquad" / "xquad.en.json")
    zh_p, zh_q = squad_paragraphs(bench / "xquad" / "xquad.zh.json")
    gen = load_generator(load_settings()) if args.sample_answers else None
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        pipe = build_corpus_pipeline(en_p, Path(tmp) / "en", gen)
        results["zh questions -> en paragraphs"] = retrieval_and_answers(pipe, zh_q, args.sample_answers)
        pipe = build_corpus_pipeline(zh_p, Path(tmp) / "zh", gen)
        results["en questions -> zh paragraphs"] = retrieval_and_answers(pipe, en_q, args.sample_answers)
    return results


def run_cmrc(bench: Path, args) -> dict:
    paras, qs = squad_paragraphs(bench / "cmrc2018" / "cmrc2018_dev_squad.json")
    qs = random.Random(2018).sample(qs, min(args.sample, len(qs)))
    gen = load_generator(load_settings()) if args.sample_answers else None
    with tempfile.TemporaryDirectory() as tmp:
        pipe = build_corpus_pipeline(paras, Path(tmp), gen)
        return {"zh questions -> zh paragraphs": retrieval_and_answers(pipe, qs, args.sample_answers)}


def run_rgb(bench: Path, args) -> dict:
    """RGB noise robustness and rejection with RGB's own passages (retrieval bypassed)."""
    s = load_settings()
    emb = load_embedder(s)
    gen = load_generator(s)
    rows = [json.loads(line) for line in (bench / "rgb" / "zh_refine.json").read_text(encoding="utf-8").splitlines()]
    rows = random.Random(0).sample(rows, min(args.per_level, len(rows)))
    results = {}
    for rate in (0.0, 0.4, 0.8, 1.0):
        correct = refused = 0
        for i, row in enumerate(tqdm(rows, desc=f"noise {rate}", unit="q", file=sys.stderr)):
            rng = random.Random(i)
            n_neg = math.ceil(5 * rate)
            docs = rng.sample(row["negative"], min(n_neg, len(row["negative"])))
            docs += rng.sample(row["positive"], min(5 - len(docs), len(row["positive"])))
            rng.shuffle(docs)
            answer, refusal = _answer_from_passages(row["query"], docs, emb, gen, s)
            if rate == 1.0:
                refused += refusal
            else:
                correct += (not refusal) and all(
                    hit_any(answer, g if isinstance(g, list) else [g]) for g in row["answer"])
        key = f"noise {rate:.1f}"
        results[key] = {"rejection_rate": refused / len(rows)} if rate == 1.0 else {"accuracy": correct / len(rows)}
    results["items_per_level"] = len(rows)
    return results


def _answer_from_passages(question, docs, emb, gen, s) -> tuple[str, bool]:
    """The product's prompt path over given passages: best sentences, prompt, generate, verify."""
    from rag.chunk import split_sentences
    from rag.cite import SourcePassage, SupportChecker
    from rag.prompt import Passage, build_messages, model_refused

    qv = emb.embed([question], kind="query")[0]
    sents = [(d_i, d[a:b]) for d_i, d in enumerate(docs) for a, b in split_sentences(d)]
    vecs = emb.embed([t for _, t in sents], kind="document")
    order = np.argsort(-(vecs @ qv))
    picked, used = {}, 0
    for j in order:
        cost = gen.count_tokens(sents[j][1])
        if used and used + cost > s.prompt_budget:
            continue
        picked.setdefault(sents[j][0], []).append(int(j))
        used += cost
    passages, sources = [], []
    for d_i in sorted(picked):
        n = len(passages) + 1
        text = " ".join(sents[j][1] for j in sorted(picked[d_i]))
        passages.append(Passage(n, f"d{d_i}", f"d{d_i}", f"资料{n}", "", text))
        idx = [j for j, (dd, _) in enumerate(sents) if dd == d_i]
        sources.append(SourcePassage(n, f"d{d_i}", f"d{d_i}", docs[d_i], tuple(sents[j][1] for j in idx), vecs[idx]))
    raw = "".join(gen.stream(build_messages(question, "zh", passages), max_tokens=s.max_new_tokens)).strip()
    if model_refused(raw):
        return raw, True
    v = SupportChecker(sources, lambda t: emb.embed(t, kind="query"), s.support_threshold).verify(raw)
    return v.text, v.supported_sentences == 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("suite", choices=["xquad", "cmrc", "rgb"])
    ap.add_argument("bench", type=Path, help="the public benchmark folder (e.g. ../shared/benchmarks)")
    ap.add_argument("--sample", type=int, default=300, help="CMRC questions for retrieval")
    ap.add_argument("--sample-answers", type=int, default=30, help="questions also answered by the generator")
    ap.add_argument("--per-level", type=int, default=15, help="RGB items per noise level")
    args = ap.parse_args()
    t0 = time.perf_counter()
    result = {"xquad": run_xquad, "cmrc": run_cmrc, "rgb": run_rgb}[args.suite](args.bench, args)
    result["seconds"] = round(time.perf_counter() - t0)
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / f"{args.suite}.json").write_text(json.dumps(result, indent=1, ensure_ascii=False))
    print(json.dumps(result, indent=1, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
