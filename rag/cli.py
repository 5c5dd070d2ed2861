"""The `rag` command: index | ask | chat | eval | models.

Library errors become one line on stderr and exit code 1; nothing prints a traceback.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

from .settings import Settings, SettingsError, load_settings


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", help="settings file (default rag.toml)")
    p.add_argument("--corpus", dest="corpus_dir", help="corpus directory")
    p.add_argument("--index", dest="index_dir", help="index directory")
    p.add_argument("--embed-model", dest="embed_model")
    p.add_argument("--threads", type=int)


def _generation(p: argparse.ArgumentParser) -> None:
    p.add_argument("--k", type=int, help="passages given to the generator")
    p.add_argument("--backend", choices=["llama-cpp", "transformers", "openai", "extractive"])
    p.add_argument("--generator-model", dest="generator_model")
    p.add_argument("--no-verify", dest="verify", action="store_false", default=None,
                   help="skip citation verification")


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="rag", description="Bilingual retrieval-augmented Q&A with cited answers.")
    sub = ap.add_subparsers(dest="cmd", required=True)

    p = sub.add_parser("index", help="build or update the index from the corpus")
    _common(p)
    p.add_argument("--rebuild", action="store_true", help="re-embed everything")
    p.add_argument("--json", action="store_true", help="print the summary as one JSON object")

    p = sub.add_parser("ask", help="answer one question with citations")
    _common(p)
    _generation(p)
    p.add_argument("question")
    p.add_argument("--json", action="store_true", help="print the answer record as one JSON object")

    p = sub.add_parser("chat", help="start the chat UI")
    _common(p)
    _generation(p)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=7860)

    p = sub.add_parser("eval", help="run an evaluation set and report metrics")
    _common(p)
    _generation(p)
    p.add_argument("--set", dest="eval_set", default="eval/seed_qa.jsonl")
    p.add_argument("--out", default="eval/results/seed_results.jsonl")
    p.add_argument("--report", default="eval/results/report")
    p.add_argument("--limit", type=int, help="only the first N questions")
    p.add_argument("--sample", type=int, help="N questions spread evenly over the set (deterministic)")
    p.add_argument("--type", dest="types", action="append", metavar="TYPE",
                   help="only questions of this type (repeatable): fact, cross-lingual, multi-doc, ...")
    p.add_argument("--retrieval-only", action="store_true", help="score retrieval only (no generation)")
    p.add_argument("--prompt-lang", dest="prompt_lang", choices=["auto", "en", "zh"],
                   help="ablation: instructions in one language")
    p.add_argument("--naive", action="store_true", help="the deliberately naive baseline pipeline")
    p.add_argument("--no-keyword", dest="keyword_weight", action="store_const", const=0.0,
                   help="ablation: dense retrieval only")

    p = sub.add_parser("models", help="download, verify and list the models")
    msub = p.add_subparsers(dest="models_cmd", required=True)
    for name in ("pull", "list"):
        mp = msub.add_parser(name)
        mp.add_argument("--config")
        mp.add_argument("--model-dir", dest="model_dir", help="a local folder holding the model files")
        mp.add_argument("--cache", dest="model_cache", help="model cache directory")
    msub.choices["list"].add_argument("--verify", action="store_true", help="re-hash every file")
    return ap


SETTING_KEYS = {"corpus_dir", "index_dir", "embed_model", "threads", "k", "backend", "generator_model", "verify",
                "model_dir", "model_cache", "keyword_weight", "prompt_lang"}


def settings_from_args(args: argparse.Namespace) -> Settings:
    overrides: dict[str, Any] = {k: v for k, v in vars(args).items() if k in SETTING_KEYS and v is not None}
    return load_settings(getattr(args, "config", None), overrides=overrides)


def cmd_models(args: argparse.Namespace, s: Settings) -> int:
    from . import models

    if args.models_cmd == "pull":
        for spec in models.SPECS.values():
            st = models.pull(spec, s)
            print(f"{st.name}: {st.state} ({st.size / 1e9:.2f} GB) in {st.path}")
        return 0
    rows = [models.status(spec, s, deep=args.verify) for spec in models.SPECS.values()]
    print(f"{'model':38} {'kind':10} {'state':9} {'size':>9}  source")
    for r in rows:
        print(f"{r.name:38} {r.kind:10} {r.state:9} {r.size / 1e9:8.2f}G  {r.source}")
    return 0 if all(r.state == "verified" for r in rows) else 1


def cmd_index(args: argparse.Namespace, s: Settings) -> int:
    from .embed import load_embedder
    from .indexer import build_index

    summary = build_index(s, load_embedder(s), rebuild=args.rebuild, quiet=args.json)
    if args.json:
        print(json.dumps(summary.to_json(), ensure_ascii=False))
    else:
        j = summary.to_json()
        print(f"index {s.index_path}: {j['docs_added']} added, {j['docs_changed']} changed, "
              f"{j['docs_removed']} removed, {j['docs_unchanged']} unchanged, {j['docs_skipped']} skipped; "
              f"{j['chunks_total']} chunks ({j['chunks_embedded']} embedded) in {j['seconds']:.1f} s"
              + (f", {j['chunks_per_second']:.1f} chunks/s" if j["chunks_embedded"] else ""))
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    from .models import ModelError
    from .store import IndexError_, LockedError

    try:
        s = settings_from_args(args)
        if args.cmd == "models":
            return cmd_models(args, s)
        if args.cmd == "index":
            return cmd_index(args, s)
        if args.cmd == "ask":
            from .cli_ask import cmd_ask

            return cmd_ask(args, s)
        if args.cmd == "chat":
            from ui.app import launch

            launch(s, host=args.host, port=args.port)
            return 0
        if args.cmd == "eval":
            from .evaluate import cmd_eval

            return cmd_eval(args, s)
    except (SettingsError, ModelError, IndexError_, LockedError, FileNotFoundError) as e:
        print(f"rag: error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("rag: interrupted", file=sys.stderr)
        return 130
    return 2
