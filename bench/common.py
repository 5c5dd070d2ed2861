"""Shared output for the benchmark scripts: a Markdown table, then the machine-readable RESULT line."""

from __future__ import annotations

import json


def print_table(rows: list[dict], cols: list[str]) -> None:
    print("| " + " | ".join(cols) + " |")
    print("|" + "---|" * len(cols))
    for r in rows:
        print("| " + " | ".join(f"{r[c]:.3g}" if isinstance(r[c], float) else str(r[c]) for c in cols) + " |")


def print_result(payload) -> None:
    print("RESULT " + json.dumps(payload, ensure_ascii=False))
