"""`rag ask`: stream an answer to the terminal, then list its sources."""

from __future__ import annotations

import argparse
import json
import sys

from .answer import Delta, Done, Pipeline, QuestionError, Retrieved
from .records import Answer
from .settings import Settings


def print_sources(answer: Answer, pipe: Pipeline, out=sys.stdout) -> None:
    index = pipe.index
    if answer.abstained:
        print("\nClosest passages:" if answer.lang == "en" else "\n最接近的段落：", file=out)
        for i, h in enumerate(answer.hits[:3], 1):
            info = index.doc_info(h.chunk.doc_id)
            print(f"  {i}. {info.title or info.id} ({h.dense_score:.2f}): {h.chunk.text[:120]}…", file=out)
        return
    print("\nSources:" if answer.lang == "en" else "\n来源：", file=out)
    seen = set()
    for c in answer.citations:
        if (c.n, c.supported) in seen:
            continue
        seen.add((c.n, c.supported))
        info = index.doc_info(c.doc_id)
        date = f", {info.date}" if info.date else ""
        flag = "" if c.supported else "  [not supported]"
        print(f"  [{c.n}] {info.title or info.id}{date} ({c.doc_id}){flag}", file=out)
        if c.evidence:
            print(f"      “{c.evidence.strip()[:300]}”", file=out)
    for s in answer.unsupported:
        print(f"  ! not supported by the passages: {s}", file=out)


def cmd_ask(args: argparse.Namespace, s: Settings) -> int:
    pipe = Pipeline.load(s)
    try:
        events = pipe.stream(args.question)
        answer = None
        for ev in events:
            if isinstance(ev, Retrieved) and not args.json and ev.rewritten != args.question:
                print(f"(searching for: {ev.rewritten})")
            elif isinstance(ev, Delta) and not args.json:
                print(ev.text, end="", flush=True)
            elif isinstance(ev, Done):
                answer = ev.answer
    except QuestionError as e:
        print(f"rag: {e}", file=sys.stderr)
        return 1
    assert answer is not None
    if args.json:
        print(json.dumps(answer.to_json(), ensure_ascii=False))
        return 0
    print("\n\n" + ("Answer" if answer.lang == "en" else "答案") + " (verified):\n" + answer.text)
    print_sources(answer, pipe)
    return 0
