"""The `rag` command: index | ask | chat | eval | models.

Errors a user can cause (`RagError`) become one line on stderr, `rag: error: …`, and exit status 1;
nothing prints a traceback. Every option's help shows its default and the setting it overrides.
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import fields
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from .errors import RagError
from .settings import CHOICES, Settings, load_settings

DEFAULTS = {f.name: f.default for f in fields(Settings)}

EXAMPLES = {
    "index": "examples:\n  rag index\n  rag index --corpus my_docs --index my_index\n  rag index --rebuild --json",
    "ask": 'examples:\n  rag ask "上海有多少家重点人工智能企业？"\n'
           '  rag ask "How many key AI companies does Shanghai have?" --json\n'
           '  rag ask --backend openai "…"   # with RAG_OPENAI_BASE_URL and RAG_OPENAI_MODEL set',
    "chat": "examples:\n  rag chat\n  rag chat --port 8080\n  rag chat --corpus my_docs --index my_index",
    "eval": "examples:\n  rag eval --limit 2\n  rag eval --type cross-lingual --sample 20\n"
            "  rag eval --retrieval-only\n  rag eval --save            # keep the run under eval/results/ as evidence",
    "users": "examples:\n  rag users add alice --role editor\n  rag users add bob            # a reader\n"
             "  echo \"$PASSWORD\" | rag users add ci --role reader --password-stdin\n  rag users list\n"
             "  rag users remove bob\n  rag chat --host 0.0.0.0      # sign-in is then required",
    "models": "examples:\n  rag models pull\n  rag models list --verify\n  rag models pull --model-dir /media/usb/models",
}


def package_version() -> str:
    try:
        return version("rag-bilingual")
    except PackageNotFoundError:  # running from a checkout that is not installed
        return "0+unknown"


def _setting(p: argparse.ArgumentParser, flag: str, name: str, help: str, **kw: Any) -> None:
    """An option that overrides setting `name`; its help names the setting and its default."""
    default = DEFAULTS[name]
    shown = f"{default!r}" if isinstance(default, str) else default
    p.add_argument(flag, dest=name, help=f"{help} (setting {name}, default {shown})", **kw)


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", help="settings file (default rag.toml, or $RAG_CONFIG)")
    _setting(p, "--corpus", "corpus_dir", "corpus directory")
    _setting(p, "--index", "index_dir", "index directory")
    _setting(p, "--embed-model", "embed_model", "embedding model: pinned name or local folder")
    _setting(p, "--threads", "threads", "CPU threads, 0 = all cores", type=int)
    p.add_argument("--verbose", action="store_true", help="show model-loading progress and library logs")


def _generation(p: argparse.ArgumentParser) -> None:
    _setting(p, "--k", "k", "passages retrieved", type=int)
    _setting(p, "--backend", "backend", "generator backend", choices=CHOICES["backend"])
    _setting(p, "--generator-model", "generator_model", "generator: pinned name, .gguf file or HF folder")
    p.add_argument("--no-verify", dest="verify", action="store_false", default=None,
                   help="skip citation verification (setting verify, default True)")


def _sub(sub, name: str, help: str) -> argparse.ArgumentParser:
    return sub.add_parser(name, help=help, description=help, epilog=EXAMPLES[name],
                          formatter_class=argparse.RawDescriptionHelpFormatter)


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="rag", description="Bilingual (中文/English) document Q&A with cited answers.",
                                 epilog="run `rag COMMAND --help` for a command's options and examples",
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--version", action="version", version=f"%(prog)s {package_version()}")
    sub = ap.add_subparsers(dest="cmd", required=True, metavar="COMMAND")

    p = _sub(sub, "index", "build or update the index from the corpus (incremental by content hash)")
    _common(p)
    p.add_argument("--rebuild", action="store_true", help="re-embed everything (default: only what changed)")
    p.add_argument("--json", action="store_true", help="print the summary as one JSON object")

    p = _sub(sub, "ask", "answer one question with citations")
    _common(p)
    _generation(p)
    p.add_argument("question", help="the question, in Chinese or English")
    p.add_argument("--json", action="store_true", help="print the answer record as one JSON object")

    p = _sub(sub, "chat", "start the chat UI (builds or updates the index first)")
    _common(p)
    _generation(p)
    p.add_argument("--host", default="127.0.0.1", help="address to serve on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=7860, help="port (default 7860)")
    _setting(p, "--users-file", "users_file", "chat users with roles and password hashes (`rag users add`)")
    p.add_argument("--insecure", action="store_true",
                   help="serve a non-loopback address without sign-in (default: refuse)")

    p = _sub(sub, "eval", "run an evaluation set and report metrics")
    _common(p)
    _generation(p)
    p.add_argument("--set", dest="eval_set", default="eval/seed_qa.jsonl", help="question set (default %(default)s)")
    p.add_argument("--out", help="per-question records (default eval/runs/seed_results.jsonl; "
                                 "with --save eval/results/seed_results.jsonl)")
    p.add_argument("--report", help="report folder (default eval/runs/report; with --save eval/results/report)")
    p.add_argument("--save", action="store_true",
                   help="write under eval/results/ (tracked evidence) instead of the ignored eval/runs/")
    p.add_argument("--limit", type=int, help="only the first N questions (default: all)")
    p.add_argument("--sample", type=int, help="N questions spread evenly over the set (deterministic; default: all)")
    p.add_argument("--type", dest="types", action="append", metavar="TYPE",
                   help="only questions of this type (repeatable): fact, cross-lingual, multi-doc, ... (default: all)")
    p.add_argument("--retrieval-only", action="store_true", help="score retrieval only (no generation)")
    _setting(p, "--prompt-lang", "prompt_lang", "ablation: instructions in one language",
             choices=CHOICES["prompt_lang"])
    p.add_argument("--naive", action="store_true", help="the deliberately naive baseline pipeline")
    p.add_argument("--no-keyword", dest="keyword_weight", action="store_const", const=0.0,
                   help=f"ablation: dense retrieval only (setting keyword_weight, default {DEFAULTS['keyword_weight']})")

    p = _sub(sub, "users", "manage the chat's users: readers ask, editors also add and delete documents")
    usub = p.add_subparsers(dest="users_cmd", required=True, metavar="ACTION")
    for name, help in (("add", "add a user or change their role or password (asks for the password)"),
                       ("remove", "remove a user"), ("list", "list users and roles")):
        up = usub.add_parser(name, help=help, description=help, epilog=EXAMPLES["users"],
                             formatter_class=argparse.RawDescriptionHelpFormatter)
        up.add_argument("--config", help="settings file (default rag.toml, or $RAG_CONFIG)")
        _setting(up, "--file", "users_file", "the users file")
        if name != "list":
            up.add_argument("name", help="user name")
    usub.choices["add"].add_argument("--role", choices=("reader", "editor"), default="reader",
                                     help="reader (ask) or editor (ask, add and delete documents); default reader")
    usub.choices["add"].add_argument("--password-stdin", action="store_true",
                                     help="read the password from standard input instead of prompting")

    p = _sub(sub, "models", "download, verify and list the models")
    msub = p.add_subparsers(dest="models_cmd", required=True, metavar="ACTION")
    for name, help in (("pull", "fetch every pinned model file and verify its SHA-256"),
                       ("list", "show each model's state and source")):
        mp = msub.add_parser(name, help=help, description=help, epilog=EXAMPLES["models"],
                             formatter_class=argparse.RawDescriptionHelpFormatter)
        mp.add_argument("--config", help="settings file (default rag.toml, or $RAG_CONFIG)")
        _setting(mp, "--model-dir", "model_dir", "a local folder holding the model files (tried first)")
        _setting(mp, "--cache", "model_cache", "model cache directory")
        mp.add_argument("--verbose", action="store_true", help="show library logs")
    msub.choices["list"].add_argument("--verify", action="store_true", help="re-hash every file (default: trust the record)")
    return ap


SETTING_KEYS = {"corpus_dir", "index_dir", "embed_model", "threads", "k", "backend", "generator_model", "verify",
                "model_dir", "model_cache", "keyword_weight", "prompt_lang", "users_file"}


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


def cmd_users(args: argparse.Namespace, s: Settings) -> int:
    from pathlib import Path

    from .users import UsersError, UserStore, remove_user, save_user

    path = Path(s.users_file).expanduser()
    if args.users_cmd == "list":
        store = UserStore.load(str(path), s.users)
        for user in sorted(store.users.values(), key=lambda u: u.name):
            print(f"{user.name:20} {user.role}")
        if not store:
            print(f"no users in {path}: `rag chat` serves the loopback address without sign-in")
        return 0
    if args.users_cmd == "remove":
        if not remove_user(path, args.name):
            raise UsersError(f"no user {args.name!r} in {path}")
        print(f"removed {args.name} from {path}")
        return 0
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        import getpass

        password = getpass.getpass(f"password for {args.name}: ")
        if getpass.getpass("again: ") != password:
            raise UsersError("the passwords differ")
    save_user(path, args.name, args.role, password)
    print(f"{args.name} ({args.role}) saved in {path} (scrypt hash; the file is readable by you only)")
    return 0


def cmd_index(args: argparse.Namespace, s: Settings) -> int:
    import json

    from .embed import load_embedder
    from .indexer import build_index

    summary = build_index(s, load_embedder(s), rebuild=args.rebuild, quiet=args.json)
    j = summary.to_json()
    if args.json:
        print(json.dumps(j, ensure_ascii=False))
        return 0
    print(f"index {s.index_path}: {j['files_seen']} files: {j['docs_added']} added, {j['docs_changed']} changed, "
          f"{j['docs_removed']} removed, {j['docs_unchanged']} unchanged, {j['docs_skipped']} skipped; "
          f"{j['chunks_total']} chunks ({j['chunks_embedded']} embedded) in {j['seconds']:.1f} s"
          + (f", {j['chunks_per_second']:.1f} chunks/s" if j["chunks_embedded"] else "")
          + (f" (usable after {j['usable_seconds']:.1f} s)" if j["usable_seconds"] else ""))
    return 0


def quiet_libraries(verbose: bool) -> None:
    """Library chatter (model-loading bars after a model's first load, advisory warnings) only with
    --verbose."""
    from . import embed

    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    embed.SHOW_LOAD_PROGRESS = verbose
    if not verbose:
        os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
        os.environ.setdefault("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    quiet_libraries(getattr(args, "verbose", False))
    try:
        s = settings_from_args(args)
        if args.cmd == "models":
            return cmd_models(args, s)
        if args.cmd == "index":
            return cmd_index(args, s)
        if args.cmd == "users":
            return cmd_users(args, s)
        if args.cmd == "ask":
            from .cli_ask import cmd_ask

            return cmd_ask(args, s)
        if args.cmd == "chat":
            from .ui.app import launch

            launch(s, host=args.host, port=args.port, insecure=args.insecure)
            return 0
        if args.cmd == "eval":
            from .evaluate import cmd_eval

            return cmd_eval(args, s)
    except (RagError, FileNotFoundError) as e:
        print(f"rag: error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("rag: interrupted", file=sys.stderr)
        return 130
    return 2
