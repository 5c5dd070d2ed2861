"""`rag ask`: stream an answer to the terminal, then list its sources."""

from __future__ import annotations

import argparse
import json
import sys

from .answer import Delta, Done, Pipeline, Retrieved, clean_question
from .cite import model_refused
from .pipeline import open_pipeline
from .records import Answer
from .settings import Settings
from .text import in_script


def print_sources(answer: Answer, pipe: Pipeline, out=None) -> None:
    out = out or sys.stdout
    index = pipe.index
    if answer.abstained:
        print("\nClosest passages:" if answer.lang == "en" else in_script("\n最接近的段落：", answer.traditional), file=out)
        for i, h in enumerate(answer.hits[:3], 1):
            info = index.doc_info(h.chunk.doc_id)
            print(f"  {i}. {info.title or info.id} ({h.dense_score:.2f}): {' '.join(h.chunk.text.split())[:120]}…", file=out)
        return
    print("\nSources:" if answer.lang == "en" else in_script("\n来源：", answer.traditional), file=out)
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


def print_changes(answer: Answer, streamed: str, out=None) -> None:
    """After the streamed draft, only what verification changed: an abstention, or the verified answer
    (markers repaired, figures in the reader's notation; unsupported sentences are listed with the sources)."""
    out = out or sys.stdout
    zh = answer.lang == "zh"
    if answer.abstained:
        if streamed.strip() and not model_refused(streamed):
            print((in_script("⚠ 上面的回答没有资料支持，已撤回。", answer.traditional) if zh else "⚠ The draft above is not supported by the passages: withdrawn."),
                  file=out)
        if not streamed.strip() or not model_refused(streamed):
            print(answer.text, file=out)
        return
    if "".join(answer.text.split()) != "".join(streamed.split()):
        # markers repaired, unsupported sentences marked, figures put in the reader's notation
        print((in_script("核实后：", answer.traditional) if zh else "Verified: ") + answer.text, file=out)


def cmd_ask(args: argparse.Namespace, s: Settings) -> int:
    clean_question(args.question)  # an empty question fails before any model loads
    pipe = open_pipeline(s, quiet=args.json)
    answer, streamed = None, ""
    for ev in pipe.stream(args.question):
        if isinstance(ev, Retrieved) and not args.json and ev.rewritten != args.question:
            print(f"(searching for: {ev.rewritten})")
        elif isinstance(ev, Delta):
            streamed += ev.text
            if not args.json:
                print(ev.text, end="", flush=True)
        elif isinstance(ev, Done):
            answer = ev.answer
    assert answer is not None
    if args.json:
        print(json.dumps(answer.to_json(), ensure_ascii=False))
        return 0
    if streamed:
        print()
    print_changes(answer, streamed)
    print_sources(answer, pipe)
    return 0
