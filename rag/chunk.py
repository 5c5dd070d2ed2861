"""Sentence-aware, token-budgeted chunks with character offsets.

Sentences (`text.split_sentences`) are packed greedily into chunks of at most `max_tokens` tokens
of the embedding tokenizer; neighbouring chunks share up to `overlap` tokens of whole sentences.
A sentence over the budget is split at clause punctuation, then halved.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Sequence

from .records import Chunk, Document
from .text import add_span, split_sentences

CHUNKER_VERSION = "sentence-v2"  # bump when chunk boundaries change for the same text
TokenCounter = Callable[[Sequence[str]], list[int]]

_SOFT = re.compile(r"(?:[，、：]|(?<!\d)[,:]|[,:](?!\d))\s*")  # where an over-long sentence may be split


def _split_long(text: str, span: tuple[int, int], tokens: int, budget: int) -> list[tuple[int, int]]:
    """Split one sentence longer than the budget at commas (or spaces), pieces of about equal size."""
    start, end = span
    target = (end - start) / max(2, -(-tokens // budget))
    soft = [m.end() for m in _SOFT.finditer(text, start, end)] or [m.end() for m in re.finditer(r"\s+", text[:end])
                                                                      if m.end() > start]
    cuts = [start]
    prev = None
    for pos in soft:
        if pos - cuts[-1] > target and prev is not None and prev > cuts[-1]:
            cuts.append(prev)
        prev = pos
    cuts.append(end)
    out: list[tuple[int, int]] = []
    for a, b in zip(cuts, cuts[1:], strict=False):
        add_span(text, a, b, out)
    return out


def _safe_cut(text: str, a: int, b: int) -> int:
    """A cut point near the middle of [a, b) that is not inside a number or a Latin word."""
    mid = (a + b) // 2
    for delta in range(0, (b - a) // 2):
        for pos in (mid + delta, mid - delta):
            if a < pos < b and not (text[pos - 1].isalnum() and text[pos].isalnum()
                                    and (text[pos - 1].isascii() or text[pos].isascii())):
                return pos
    return mid


def chunk_document(doc: Document, count_tokens: TokenCounter, max_tokens: int = 200,
                   overlap: int = 40) -> list[Chunk]:
    """Cut a document into chunks; `chunk.text == doc.text[chunk.start:chunk.end]`."""
    text = doc.text
    spans = split_sentences(text)
    lengths = count_tokens([text[a:b] for a, b in spans]) if spans else []
    units: list[tuple[int, int]] = []
    unit_tokens: list[int] = []
    for span, n in zip(spans, lengths, strict=True):
        if n <= max_tokens:
            units.append(span)
            unit_tokens.append(n)
            continue
        parts = _split_long(text, span, n, max_tokens)
        for part, m in zip(parts, count_tokens([text[a:b] for a, b in parts]), strict=True):
            while m > max_tokens and part[1] - part[0] > 1:  # still too long: halve it
                mid = _safe_cut(text, part[0], part[1])
                units.append((part[0], mid))
                unit_tokens.append(count_tokens([text[part[0]:mid]])[0])
                part = (mid, part[1])
                m = count_tokens([text[part[0]:part[1]]])[0]
            units.append(part)
            unit_tokens.append(m)
    chunks: list[Chunk] = []
    i = 0
    while i < len(units):
        j, total = i, 0
        while j < len(units) and (j == i or total + unit_tokens[j] <= max_tokens):
            total += unit_tokens[j]
            j += 1
        start, end = units[i][0], units[j - 1][1]
        chunks.append(make_chunk(doc, start, end))
        if j >= len(units):
            break
        # Next chunk starts with the trailing sentences of this one that fit in the overlap.
        k, back = j, 0
        while k - 1 > i and back + unit_tokens[k - 1] <= overlap:
            k -= 1
            back += unit_tokens[k]
        i = k
    return chunks


def make_chunk(doc: Document, start: int, end: int) -> Chunk:
    text = doc.text[start:end]
    digest = hashlib.sha1(f"{doc.id}\x00{start}\x00{end}\x00{text}".encode()).hexdigest()[:16]
    return Chunk(id=f"{doc.id}#{digest}", doc_id=doc.id, text=text, start=start, end=end, lang=doc.lang)
