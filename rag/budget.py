"""How much evidence fits a target time to first token: the generator's prompt speed, measured once
per machine and model (and cached beside the model), times the target, less the fixed part of the
prompt.

Prompt processing dominates the time to first token on a CPU, and it differs threefold between
machines (about 53 tokens/s with AVX2 only, about 160 with AVX-512 on two cores), so a fixed evidence
budget is either slow on one or wasteful on the other.

>>> budget_for(53.0, 3.0), budget_for(160.0, 3.0), budget_for(None, 3.0)
(120, 340, 120)
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import platform
import time
from pathlib import Path

log = logging.getLogger(__name__)

FALLBACK = 120  # tokens, when the prompt speed cannot be measured (remote or extractive backends)
# The floor: less evidence than this loses answers faster than it saves time. Chosen on the seed set (the
# tuning set): the gold answer is in the evidence for 0.75 of answerable questions at 80 tokens and 0.78
# at 120, and answers went 0.62 -> 0.64 right for about 0.3 s more to the first token on the AVX2 machine
# (eval/RESULTS.md, eighth session).
MIN_BUDGET, MAX_BUDGET = 120, 600
FIXED_SECONDS = 0.5  # query embedding, search and the first decoded token
MEASURE_METHOD = 2  # part of the cache key: figures measured the older way (one cold run) are measured again
FIXED_TOKENS = 60  # question, labels and chat template around the evidence
SPEED_TEXT = ("人工智能是引领新一轮科技革命和产业变革的战略性技术。Artificial intelligence is a strategic "
              "technology leading a new round of scientific and industrial change. ") * 6  # about 250 tokens


def budget_for(tokens_per_s: float | None, target_ttft: float) -> int:
    """Evidence tokens that keep the time to first token near `target_ttft` seconds."""
    if not tokens_per_s:
        return FALLBACK
    tokens = int(tokens_per_s * max(target_ttft - FIXED_SECONDS, 0.5)) - FIXED_TOKENS
    return max(MIN_BUDGET, min(MAX_BUDGET, tokens // 10 * 10))


def machine_key(model_path: Path, threads: int) -> str:
    """What the measured speed depends on: the CPU's flags, the thread count, the model file, llama.cpp."""
    try:
        flags = next((line for line in Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("flags")), "")
    except OSError:
        flags = platform.processor()
    try:
        from llama_cpp import __version__ as llama_version
    except ImportError:
        llama_version = ""
    stat = model_path.stat() if model_path.exists() else None
    raw = (f"{flags}|{threads or os.cpu_count()}|{model_path.name}|{stat.st_size if stat else ''}|{llama_version}"
           f"|{MEASURE_METHOD}")
    return hashlib.sha256(raw.encode()).hexdigest()[:16]


def cached_speed(cache: Path, key: str) -> float | None:
    try:
        data = json.loads(cache.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    value = data.get(key)
    return float(value) if isinstance(value, (int, float)) and value > 0 else None


def store_speed(cache: Path, key: str, tokens_per_s: float) -> None:
    try:
        data = json.loads(cache.read_text(encoding="utf-8")) if cache.exists() else {}
    except (OSError, ValueError):
        data = {}
    data[key] = round(tokens_per_s, 1)
    try:
        tmp = cache.with_suffix(".tmp")
        tmp.write_text(json.dumps(data, indent=1), encoding="utf-8")
        tmp.replace(cache)
    except OSError as e:  # a read-only model folder: measured again next time
        log.info("cannot cache the prompt speed in %s: %s", cache, e)


def measure_llama(llm) -> float:
    """Prompt tokens per second of a llama-cpp-python model: the best of three evaluations of SPEED_TEXT
    after a warm-up one. The figure is cached for good, so a single run slowed by the first touch of the
    weights or by another busy process must not set it (one such run cached 39.6 tokens/s on the
    AVX2 machine; see docs/performance.md)."""
    tokens = llm.tokenize(SPEED_TEXT.encode("utf-8"), add_bos=True, special=False)
    best = 0.0
    for _ in range(4):
        llm.reset()
        t = time.perf_counter()
        llm.eval(tokens)
        best = max(best, len(tokens) / (time.perf_counter() - t))
    llm.reset()  # the next prompt starts fresh
    return best
