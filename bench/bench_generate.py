"""Generation: `rag ask` path vs llama-cpp-python called directly with the same prompt.

    python bench/bench_generate.py [--questions 5]

Reports prompt length, time to first token and decoding tokens/s for both, and the ratio. Ours keeps
the answer in the question's script (rag/script_guard.py), as the product does.
Prints a table, then `RESULT {json}`.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rag.pipeline import open_pipeline  # noqa: E402
from rag.prompt import build_messages, select_passages  # noqa: E402
from rag.retrieve import Retriever  # noqa: E402
from rag.settings import load_settings  # noqa: E402
from rag.text import detect_lang  # noqa: E402

QUESTIONS = ["上海有多少家重点人工智能企业？", "我国智能算力规模有多大？", "浪潮云计划投入多少资金？",
             "How many key AI companies did Shanghai have as of 2020?", "What is Shanghai's planned AI industry scale?"]


def timed_stream(pieces_iter):
    t0 = time.perf_counter()
    first, n, text = None, 0, ""
    for piece in pieces_iter:
        if first is None:
            first = time.perf_counter() - t0
        n += 1
        text += piece
    total = time.perf_counter() - t0
    return first or total, total, n, text


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--questions", type=int, default=len(QUESTIONS))
    args = ap.parse_args()
    s = load_settings()
    pipe = open_pipeline(s)
    gen = pipe.generator
    llm = gen.llm
    rows = []
    for q in QUESTIONS[: args.questions]:
        got = Retriever(pipe.index, pipe.embedder, s).search(q)
        passages = select_passages(got.hits, pipe.index, got.query_vector, pipe.evidence_budget, gen.count_tokens)
        msgs = build_messages(q, detect_lang(q), passages)
        prompt_tokens = sum(gen.count_tokens(m["content"]) for m in msgs)
        llm.reset()  # both runs start from an empty context
        raw = timed_stream(p["choices"][0]["delta"].get("content", "") for p in llm.create_chat_completion(
            messages=msgs, stream=True, temperature=0.0, top_k=1, max_tokens=s.max_new_tokens, repeat_penalty=1.05)
            if p["choices"][0]["delta"].get("content"))
        llm.reset()
        gen._script_masks()  # read from the vocabulary once per process (about 1 s): not a per-answer cost
        ours = timed_stream(gen.stream(msgs, max_tokens=s.max_new_tokens, lang=detect_lang(q)))  # as answers are
        t0 = time.perf_counter()
        answer = pipe.ask(q)  # the whole path, system prompt warm
        rows.append({"question": q, "prompt_tokens": prompt_tokens, "raw_ttft_s": raw[0],
                     "raw_decode_tps": (raw[2] - 1) / max(1e-9, raw[1] - raw[0]),
                     "ours_ttft_s": ours[0], "ours_decode_tps": (ours[2] - 1) / max(1e-9, ours[1] - ours[0]),
                     "e2e_retrieve_s": answer.timings.retrieve, "e2e_ttft_s": answer.timings.first_token,
                     "e2e_total_s": time.perf_counter() - t0})
    cols = list(rows[0])[1:]
    print("| question | " + " | ".join(cols) + " |")
    print("|" + "---|" * (len(cols) + 1))
    for r in rows:
        print(f"| {r['question'][:24]} | " + " | ".join(f"{r[c]:.2f}" for c in cols) + " |")
    med = lambda k: sorted(r[k] for r in rows)[len(rows) // 2]  # noqa: E731
    summary = {k: med(k) for k in cols}
    summary["decode_ratio_ours_vs_raw"] = summary["ours_decode_tps"] / summary["raw_decode_tps"]
    print("\nmedians: " + ", ".join(f"{k}={v:.2f}" for k, v in summary.items()))
    print("RESULT " + json.dumps({"rows": rows, "median": summary}, ensure_ascii=False))


if __name__ == "__main__":
    main()
