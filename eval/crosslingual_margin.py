"""How much lower is a claim's similarity to a passage sentence when the two are in different languages?
Measured on XQuAD's parallel questions (public data): for each question asked in both languages, the
similarity of the English and of the Chinese question to the English sentence that holds the answer
(and the other way round). The support checker's threshold for a claim and a sentence in different
languages is lowered by this gap (rag/cite.py CROSS_LINGUAL_MARGIN).

    python eval/crosslingual_margin.py ../shared/benchmarks [--n 400]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rag.embed import load_embedder  # noqa: E402
from rag.settings import load_settings  # noqa: E402
from rag.text import split_sentences  # noqa: E402


def gold_sentence(context: str, start: int) -> str:
    for a, b in split_sentences(context):
        if a <= start < b:
            return context[a:b]
    return ""


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("bench", type=Path)
    ap.add_argument("--n", type=int, default=400)
    args = ap.parse_args()
    data = {lang: json.loads((args.bench / "xquad" / f"xquad.{lang}.json").read_text(encoding="utf-8"))["data"]
            for lang in ("en", "zh")}
    rows = []  # (question en, question zh, gold sentence en, gold sentence zh)
    for art_en, art_zh in zip(data["en"], data["zh"], strict=True):
        for p_en, p_zh in zip(art_en["paragraphs"], art_zh["paragraphs"], strict=True):
            for q_en, q_zh in zip(p_en["qas"], p_zh["qas"], strict=True):
                s_en = gold_sentence(p_en["context"], q_en["answers"][0]["answer_start"])
                s_zh = gold_sentence(p_zh["context"], q_zh["answers"][0]["answer_start"])
                if s_en and s_zh:
                    rows.append((q_en["question"], q_zh["question"], s_en, s_zh))
    rows = random.Random(0).sample(rows, min(args.n, len(rows)))
    emb = load_embedder(load_settings())
    q_en, q_zh = (emb.embed([r[i] for r in rows], kind="query") for i in (0, 1))
    s_en, s_zh = (emb.embed([r[i] for r in rows], kind="document") for i in (2, 3))

    def sims(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return np.sum(a * b, axis=1)

    gap_en = sims(q_en, s_en) - sims(q_zh, s_en)  # English sentence: same-language minus cross-language
    gap_zh = sims(q_zh, s_zh) - sims(q_en, s_zh)
    print(f"{len(rows)} parallel XQuAD questions with their answer sentence in both languages")
    print("| sentence | same-language sim p50 | cross-language sim p50 | gap p25 / p50 / p75 |")
    print("|---|---|---|---|")
    for name, same, cross, gap in (("English", sims(q_en, s_en), sims(q_zh, s_en), gap_en),
                                   ("Chinese", sims(q_zh, s_zh), sims(q_en, s_zh), gap_zh)):
        p = np.percentile(gap, [25, 50, 75])
        print(f"| {name} | {np.median(same):.3f} | {np.median(cross):.3f} | {p[0]:.3f} / {p[1]:.3f} / {p[2]:.3f} |")
    both = np.concatenate([gap_en, gap_zh])
    print(f"RESULT {json.dumps({'n': len(rows), 'gap_p50': round(float(np.median(both)), 3)})}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
