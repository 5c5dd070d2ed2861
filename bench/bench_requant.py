"""Prompt and decode speed of the pinned Q4_K_M GGUF vs copies requantised from it (Q8_0, Q4_0), same run.

    python bench/bench_requant.py [GGUF] [OUT_DIR]

A one-off measurement (twelfth session, docs/performance.md): is another llama.cpp weight format of
the same model faster at prompt processing on this CPU? Prints one line per format, then `RESULT {json}`.
"""

from __future__ import annotations

import ctypes
import json
import os
import sys
import time
from pathlib import Path

import llama_cpp
from llama_cpp import Llama

ROOT = Path(__file__).resolve().parent.parent
SRC = Path(sys.argv[1] if len(sys.argv) > 1 else os.path.expanduser(
    "~/.cache/rag-bilingual/models/qwen2.5-coder-1.5b-instruct-q4_k_m/qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"))
OUT = Path(sys.argv[2] if len(sys.argv) > 2 else "/tmp/requant")
KINDS = {"q8_0": llama_cpp.LLAMA_FTYPE_MOSTLY_Q8_0, "q4_0": llama_cpp.LLAMA_FTYPE_MOSTLY_Q4_0}
QUESTION = "截至2020年上海有多少家重点人工智能企业？资料：截至2020年，上海有1149家重点人工智能企业。"


def requantise(name: str, ftype: int) -> Path:
    dst = OUT / f"{name}.gguf"
    if not dst.exists():
        params = llama_cpp.llama_model_quantize_default_params()
        params.ftype, params.allow_requantize, params.nthread = ftype, True, 2
        rc = llama_cpp.llama_model_quantize(str(SRC).encode(), str(dst).encode(), ctypes.byref(params))
        if rc != 0:
            raise SystemExit(f"quantising to {name} failed ({rc})")
    return dst


def speeds(path: Path, text: str) -> dict:
    llm = Llama(model_path=str(path), n_ctx=2048, n_threads=2, n_batch=512, verbose=False)
    tokens = llm.tokenize(text.encode())[:300]
    prompt = 0.0
    for _ in range(3):  # best of three: 300 tokens from an empty context
        llm.reset()
        t = time.perf_counter()
        llm.eval(tokens)
        prompt = max(prompt, len(tokens) / (time.perf_counter() - t))
    n, t1 = 0, 0.0
    for _ in llm.generate(tokens[:50], top_k=1, temp=0.0, reset=True):
        n += 1
        if n == 1:
            t1 = time.perf_counter()
        if n > 32:
            break
    decode = 32 / (time.perf_counter() - t1)
    out = llm.create_chat_completion(messages=[{"role": "user", "content": QUESTION}], temperature=0, top_k=1,
                                     max_tokens=40)
    return {"prompt_tps": round(prompt, 1), "decode_tps": round(decode, 1), "size_mib": path.stat().st_size >> 20,
            "answer": out["choices"][0]["message"]["content"]}


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    seeds = ROOT / "seeds"
    text = (seeds / sorted(os.listdir(seeds))[0]).read_text(encoding="utf-8")
    paths = {"q4_k_m": SRC, **{name: requantise(name, ft) for name, ft in KINDS.items()}}
    rows = {}
    for name, path in paths.items():
        rows[name] = speeds(path, text)
        print(f"{name}: prompt {rows[name]['prompt_tps']} tok/s, decode {rows[name]['decode_tps']} tok/s, "
              f"{rows[name]['size_mib']} MiB | {rows[name]['answer']!r}", flush=True)
    print("RESULT " + json.dumps(rows, ensure_ascii=False))


if __name__ == "__main__":
    main()
