"""How often the prompt's evidence holds the answer, for other ways of choosing its sentences.

Retrieval runs once per question; each variant then re-scores the sentences of the retrieved chunks
and fills the budget as `rag.prompt.select_passages` does. Prints evidence@80 / 120 / 160 on the
answerable questions of a set (the fifteenth session's sweep, eval/RESULTS.md).

    python eval/evidence_sweep.py eval/seed_qa.jsonl
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rag.answer_type import expected_kind, figure_kinds  # noqa: E402
from rag.evaluate import in_evidence, load_set  # noqa: E402
from rag.guard import is_instruction  # noqa: E402
from rag.pipeline import open_pipeline  # noqa: E402
from rag.prompt import is_fragment  # noqa: E402
from rag.retrieve import Retriever  # noqa: E402
from rag.settings import load_settings  # noqa: E402
from rag.text import has_han, is_han, search_tokens  # noqa: E402

IDF: dict[str, float] = {}  # keyword token -> log inverse chunk frequency over the index
BRIDGED: dict[str, np.ndarray] = {}  # question -> vector of the question with its names bridged


def bridge(question: str, latin: set[str], han_of: dict[str, str]) -> str:
    """The question with its names as the other language's articles write them: a Han word whose pinyin is
    a word of the English articles (壁仞 -> Biren, 马柯德 -> Ma Kede), or capitalised pinyin that reads as a
    word of the Chinese articles (Ma Kede -> 马柯德)."""
    from pypinyin import lazy_pinyin

    from rag.names import romanise
    from rag.text import _jieba

    if has_han(question):
        out = []
        for w in _jieba().lcut(question):
            if len(w) >= 2 and all(is_han(ch) for ch in w):
                joined = "".join(lazy_pinyin(w)).lower()
                if joined in latin:
                    out.append(" " + joined.capitalize() + " ")
                    continue
                parts = romanise(w).split()
                if len(parts) == 2 and all(x.lower() in latin for x in parts) and len(w) <= 4:
                    out.append(" " + " ".join(parts) + " ")
                    continue
            out.append(w)
        return re.sub(r"\s+", " ", "".join(out)).strip()
    words = list(re.finditer(r"[A-Z][a-z]+", question))
    text, shift = question, 0
    i = 0
    while i < len(words):
        for n in (3, 2, 1):
            run = words[i:i + n]
            if len(run) < n or any(b.start() - a.end() > 1 for a, b in zip(run, run[1:], strict=False)):
                continue
            key = "".join(m.group(0).lower() for m in run)
            if key in han_of and len(key) >= 4:
                a, b = run[0].start() + shift, run[-1].end() + shift
                text = text[:a] + han_of[key] + text[b:]
                shift += len(han_of[key]) - (b - a)
                i += n
                break
        else:
            i += 1
    return text

VARIANTS = {  # name: (kind bonus, neighbour weight, chunk-score weight, other-language bonus, round robin[, dup])
    "today": (0, 0, 0, 0, 0), "near-duplicates out 0.6": (0, 0, 0, 0, 0, 0.6), "near-duplicates out 0.7": (0, 0, 0, 0, 0, 0.7),
    "near-duplicates out 0.85": (0, 0, 0, 0, 0, 0.85), "near-duplicates out 0.9": (0, 0, 0, 0, 0, 0.9), "kind+0.1": (0.1, 0, 0, 0, 0), "kind+0.2": (0.2, 0, 0, 0, 0),
    "neighbour 0.3": (0, 0.3, 0, 0, 0), "chunk 0.5": (0, 0, 0.5, 0, 0), "other-lang+0.05": (0, 0, 0, 0.05, 0),
    "other-lang+0.1": (0, 0, 0, 0.1, 0), "chunk 0.5, other-lang+0.1": (0, 0, 0.5, 0.1, 0),
    "round robin 2": (0, 0, 0, 0, 2), "round robin 3": (0, 0, 0, 0, 3),
    # sentence vectors cut to their first D dimensions (EmbeddingGemma is Matryoshka-trained), from the
    # stored 4-bit vectors: what a smaller sentence store would choose (issue #16's disk lever)
    "matryoshka 512": (0, 0, 0, 0, 0, 0.0, 512), "matryoshka 256": (0, 0, 0, 0, 0, 0.0, 256),
    "matryoshka 128": (0, 0, 0, 0, 0, 0.0, 128),
    # the question's rare words found in the sentence (idf-weighted share of the question's keyword tokens)
    "words 0.05": (0, 0, 0, 0, 0, 0.0, 0, 0.05), "words 0.1": (0, 0, 0, 0, 0, 0.0, 0, 0.1),
    "words 0.2": (0, 0, 0, 0, 0, 0.0, 0, 0.2), "words 0.3": (0, 0, 0, 0, 0, 0.0, 0, 0.3),
    # names bridged across languages: the question once more with its names as the other language's
    # articles write them (壁仞 -> Biren, Ma Kede -> 马柯德), each sentence scored by the better of the two
    "bridged names": (0, 0, 0, 0, 0, 0.0, 0, 0.0, True),
}
BUDGETS = (80, 120, 160)


def _cut(v: np.ndarray, dim: int) -> np.ndarray:
    v = np.asarray(v, dtype=np.float32)[..., :dim]
    return v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), 1e-12)


def choose(index, question, hits, qv, budget, count, kind_bonus, neighbour, chunk, other_lang, round_robin,
           duplicate=0.0, dim=0, words=0.0, bridged=False):
    kind, q_zh = expected_kind(question), has_han(question)
    qv2 = BRIDGED.get(question) if bridged else None
    q_words = {w: IDF.get(w, 0.0) for w in set(search_tokens(question))} if words else {}
    q_mass = sum(q_words.values()) or 1.0
    if dim:
        qv = _cut(qv, dim)
    pool = []
    for h_i, hit in enumerate(hits):
        row = index.row_of(hit.chunk.id)
        spans, vecs = index.chunk_sentences(row)
        if dim and len(spans):
            vecs = _cut(vecs, dim)
        if len(spans) == 0:
            pool.append((hit.dense_score, h_i, hit.chunk.text, None))
            continue
        sims = np.asarray(vecs, dtype=np.float32) @ qv
        if qv2 is not None:
            sims = np.maximum(sims, np.asarray(vecs, dtype=np.float32) @ qv2)
        for s_i, (a, b) in enumerate(spans):
            text, score = hit.chunk.text[a:b], float(sims[s_i])
            if neighbour and s_i:
                score += neighbour * max(0.0, float(sims[s_i - 1]) - score)
            if kind_bonus and kind in figure_kinds(text)[0]:
                score += kind_bonus
            score += chunk * hit.dense_score + (other_lang if has_han(text) != q_zh else 0.0)
            if words:
                got = set(search_tokens(text))
                score += words * sum(v for w, v in q_words.items() if w in got) / q_mass
            pool.append((score, h_i, text, np.asarray(vecs[s_i], dtype=np.float32)))
    pool.sort(key=lambda x: -x[0])
    if round_robin:  # the best sentence of each of the first hits goes first
        firsts = [next(p for p in pool if p[1] == h) for h in range(min(round_robin, len(hits)))
                  if any(p[1] == h for p in pool)]
        pool = firsts + [p for p in pool if all(p is not f for f in firsts)]
    used, out, seen, kept = 0, [], set(), []
    for _, _, text, vec in pool:
        key = re.sub(r"\s+", "", text)
        if key in seen or is_instruction(text) or is_fragment(text):
            continue
        if duplicate and vec is not None and any(float(vec @ k) > duplicate for k in kept):
            continue  # says what a sentence already chosen says (often its translation in another article)
        cost = count(text)
        if used and used + cost > budget:
            continue
        seen.add(key)
        kept += [vec] if vec is not None else []
        out.append(text)
        used += cost
        if used >= budget:
            break
    return "\n".join(out)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("set", type=Path)
    ap.add_argument("--variants", default="", help="comma-separated variant names (default: all)")
    args = ap.parse_args()
    s = load_settings()
    pipe = open_pipeline(s, with_generator=False)
    retriever = Retriever(pipe.index, pipe.embedder, s)
    tokens: dict[str, int] = {}

    def count(text: str) -> int:
        if text not in tokens:
            tokens[text] = pipe.embedder.count_tokens([text])[0]
        return tokens[text]

    import math
    from collections import Counter
    df = Counter(w for c in pipe.index.chunks for w in set(search_tokens(c.text)))
    n = len(pipe.index.chunks)
    IDF.update({w: math.log((n + 1) / (d + 0.5)) for w, d in df.items()})
    latin = {w.lower() for c in pipe.index.chunks for w in re.findall(r"[A-Za-z]{3,}", c.text)}
    from pypinyin import lazy_pinyin

    from rag.text import _jieba
    han_of: dict[str, str] = {}
    for c in pipe.index.chunks:
        if has_han(c.text):
            for w in _jieba().lcut(c.text):
                if len(w) >= 2 and all(is_han(ch) for ch in w):
                    han_of.setdefault("".join(lazy_pinyin(w)).lower(), w)
    items = [i for i in load_set(args.set) if i["answerable"]]
    for i in items:
        b = bridge(i["question"], latin, han_of)
        if b != i["question"]:
            print("bridged:", i["question"], "->", b)
            BRIDGED[i["question"]] = pipe.embedder.embed([b], kind="query")[0]
    got = {i["id"]: retriever.search(i["question"]) for i in items}
    print(f"{len(items)} answerable questions of {args.set}")
    print("| variant | " + " | ".join(f"evidence@{b}" for b in BUDGETS) + " |")
    print("|---|" + "---|" * len(BUDGETS))
    only = [v for v in args.variants.split(",") if v] if args.variants else list(VARIANTS)
    for name, params in ((k, VARIANTS[k]) for k in only):
        row = [sum(in_evidence(i, choose(pipe.index, i["question"], got[i["id"]].hits, got[i["id"]].query_vector,
                                         b, count, *params)) for i in items) / len(items) for b in BUDGETS]
        print(f"| {name} | " + " | ".join(f"{x:.3f}" for x in row) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
