"""Time to first token when questions alternate between Chinese and English: the product's generator
(which keeps the context after each system prompt and loads it when the prompt returns) against raw
llama-cpp-python doing the same chat completions, in the same run.

    python bench/bench_language_switch.py [--questions 8]

Each question has a different user message (so only the system prompt can be reused), in the order
zh, en, zh, en, ... Prints TTFT per question and the medians after the first two, then `RESULT {json}`.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import print_result, print_table  # noqa: E402
from rag.generate import LlamaCppGenerator  # noqa: E402
from rag.models import resolve  # noqa: E402
from rag.prompt import SYSTEM, Passage, build_messages  # noqa: E402
from rag.settings import load_settings  # noqa: E402

FACTS = [("上海有{n}家重点人工智能企业。", "上海有多少家重点人工智能企业？", "zh"),
         ("Shanghai has {n} key AI companies.", "How many key AI companies does Shanghai have?", "en")]


def messages(i: int) -> list[dict[str, str]]:
    text, question, lang = FACTS[i % 2]
    passage = Passage(1, "c", "d", "AI" if lang == "en" else "人工智能", "", text.format(n=1000 + 37 * i))
    return build_messages(question, lang, [passage])


def ttft(stream) -> float:
    t = time.perf_counter()
    first = None
    for _ in stream:
        first = first or time.perf_counter() - t
    return first or time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--questions", type=int, default=8)
    args = ap.parse_args()
    s = load_settings()
    path = resolve(s.generator_model, s)
    ours = LlamaCppGenerator(path, n_ctx=s.n_ctx, threads=s.threads)
    raw = LlamaCppGenerator(path, n_ctx=s.n_ctx, threads=s.threads).llm  # the bare llama_cpp.Llama

    def raw_stream(msgs):
        for part in raw.create_chat_completion(messages=msgs, stream=True, temperature=0.0, top_k=1, max_tokens=16,
                                               repeat_penalty=1.05):
            if part["choices"][0].get("delta", {}).get("content"):
                yield part

    rows = []
    for i in range(args.questions):
        msgs = messages(i)
        rows.append({"question": i + 1, "lang": "zh" if i % 2 == 0 else "en",
                     "raw_ttft_s": ttft(raw_stream(msgs)), "ours_ttft_s": ttft(ours.stream(msgs, max_tokens=16))})
    print_table(rows, ["question", "lang", "raw_ttft_s", "ours_ttft_s"])
    later = rows[2:]
    raw_p50 = statistics.median(r["raw_ttft_s"] for r in later)
    ours_p50 = statistics.median(r["ours_ttft_s"] for r in later)
    flags = [f for f in ("avx512f", "avx512_bf16", "avx2") if f in Path("/proc/cpuinfo").read_text()]
    print(f"\nafter the first two questions: raw p50 {raw_p50:.2f} s, ours p50 {ours_p50:.2f} s, "
          f"{raw_p50 / ours_p50:.1f}x; CPU flags {' '.join(flags)}; system prompts "
          f"{len(SYSTEM['zh'])} / {len(SYSTEM['en'])} characters")
    print_result({"raw_ttft_p50_s": raw_p50, "ours_ttft_p50_s": ours_p50, "ratio": raw_p50 / ours_p50,
                  "cpu_flags": flags, "rows": rows})


if __name__ == "__main__":
    main()
