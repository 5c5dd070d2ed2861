"""What the claim-level judge costs: seed questions answered with the judge off and on (the same
pipeline and models, in the same run), and the judge's own yes/no read against raw llama-cpp-python
generating one token for the same messages.

    python bench/bench_judge.py [--questions 12] [--threshold 0.3]

The questions alternate between the set's languages. Prints per-question times, medians, and
`RESULT {json}`. The judge runs after the answer has streamed, so it adds to the total time; the
time to the first token changes only through the llama context it leaves behind.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import print_result, print_table  # noqa: E402
from rag.evaluate import load_set  # noqa: E402
from rag.generate import LlamaCppGenerator  # noqa: E402
from rag.models import resolve  # noqa: E402
from rag.pipeline import open_pipeline  # noqa: E402
from rag.settings import load_settings  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--questions", type=int, default=12)
    ap.add_argument("--threshold", type=float, default=0.3)
    args = ap.parse_args()
    items = [q for q in load_set(Path("eval/seed_qa.jsonl")) if q["answerable"]]
    by_lang = [[q for q in items if q["lang"] == lang] for lang in ("zh", "en")]
    questions = [by_lang[i % 2][(i // 2) * 7 % len(by_lang[i % 2])]["question"] for i in range(args.questions)]
    s = load_settings()
    pipe = open_pipeline(s)
    gen = pipe.generator
    bare = LlamaCppGenerator(resolve(s.generator_model, s), n_ctx=s.n_ctx, threads=s.threads).llm  # bare Llama
    judge_calls: list[dict] = []
    ask = gen.yes_probability

    def timed(messages):  # the judge's own read, and raw llama-cpp-python producing one token for it
        t = time.perf_counter()
        p = ask(messages)
        ours = time.perf_counter() - t
        t = time.perf_counter()
        for _ in bare.create_chat_completion(messages=messages, max_tokens=1, temperature=0.0, top_k=1):
            pass
        judge_calls.append({"ours_s": ours, "raw_one_token_s": time.perf_counter() - t, "p_yes": p})
        return p

    gen.yes_probability = timed
    pipe.ask("warm-up: 上海有多少家重点人工智能企业？")
    rows = []
    for threshold in (0.0, args.threshold):
        pipe.settings = s.replace(judge_threshold=threshold)
        for q in questions:
            a = pipe.ask(q)
            rows.append({"judge": threshold, "question": q[:28], "ttft_s": a.timings.first_token,
                         "total_s": a.timings.total, "abstained": a.abstained})
    print_table(rows, ["judge", "question", "ttft_s", "total_s", "abstained"])
    off, on = ([r for r in rows if r["judge"] == t] for t in (0.0, args.threshold))
    med = {name: {k: statistics.median(r[k] for r in part) for k in ("ttft_s", "total_s")}
           for name, part in (("off", off), ("on", on))}
    ours = statistics.median(c["ours_s"] for c in judge_calls) if judge_calls else 0.0
    raw = statistics.median(c["raw_one_token_s"] for c in judge_calls) if judge_calls else 0.0
    flags = [f for f in ("avx512f", "avx512_bf16", "avx2") if f in Path("/proc/cpuinfo").read_text()]
    speed = gen.prompt_speed()
    print(f"\njudge off: TTFT p50 {med['off']['ttft_s']:.2f} s, total p50 {med['off']['total_s']:.2f} s; "
          f"judge on ({args.threshold}): TTFT p50 {med['on']['ttft_s']:.2f} s, total p50 {med['on']['total_s']:.2f} s")
    print(f"judge read p50 {ours:.2f} s over {len(judge_calls)} calls; raw llama-cpp-python one token for the same "
          f"messages p50 {raw:.2f} s ({raw / ours if ours else 0:.1f}x); CPU flags {' '.join(flags)}; "
          f"prompt speed {speed:.1f} tokens/s")
    print_result({"off": med["off"], "on": med["on"], "threshold": args.threshold, "judge_p50_s": ours,
                  "raw_one_token_p50_s": raw, "cpu_flags": flags, "prompt_tokens_per_s": speed, "rows": rows,
                  "judge_calls": judge_calls})


if __name__ == "__main__":
    main()
