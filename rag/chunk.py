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

CHUNKER_VERSION = "sentence-v4"  # bump when chunk boundaries change for the same text (v3: over-long runs always cut
# to fit; v4: a stop with no space after it, "emerge.The", ends a sentence)
TokenCounter = Callable[[Sequence[str]], list[int]]

_SOFT = re.compile(r"(?:[，、：]|(?<!\d)[,:]|[,:](?!\d))\s*")  # where an over-long sentence may be split
_SPACE = re.compile(r"\s+")


def _split_long(text: str, span: tuple[int, int], tokens: int, budget: int) -> list[tuple[int, int]]:
    """Split one sentence longer than the budget into pieces of about equal size: at clause
    punctuation (，、：, and : not inside numbers), else at spaces, else at even character steps."""
    start, end = span
    target = (end - start) / max(2, -(-tokens // budget))
    soft = [m.end() for m in _SOFT.finditer(text, start, end)] or [m.end() for m in _SPACE.finditer(text, start, end)]
    if not soft:  # one unbroken run (no punctuation, no spaces): cut every quarter piece
        step = max(1, int(target // 4))
        soft = list(range(start + step, end, step))
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
    for delta in range(0, min((b - a) // 2, 200)):  # a longer unbroken word is cut at the middle
        for pos in (mid + delta, mid - delta):
            if a < pos < b and not (text[pos - 1].isalnum() and text[pos].isalnum()
                                    and (text[pos - 1].isascii() or text[pos].isascii())):
                return pos
    return mid


def _fit(text: str, span: tuple[int, int], tokens: int, budget: int, count_tokens: TokenCounter
         ) -> list[tuple[tuple[int, int], int]]:
    """`span` as pieces within `budget` tokens each, with their token counts (halved until they fit)."""
    if tokens <= budget or span[1] - span[0] <= 1:
        return [(span, tokens)]
    mid = _safe_cut(text, *span)
    halves = [(span[0], mid), (mid, span[1])]
    counts = count_tokens([text[a:b] for a, b in halves])
    return [piece for half, n in zip(halves, counts, strict=True) for piece in _fit(text, half, n, budget, count_tokens)]


def chunk_document(doc: Document, count_tokens: TokenCounter, max_tokens: int = 200,
                   overlap: int = 40) -> list[Chunk]:
    """Cut a document into chunks of at most `max_tokens` tokens whatever the input (a 2 MB line
    without punctuation included); `chunk.text == doc.text[chunk.start:chunk.end]`."""
    text = doc.text
    spans = split_sentences(text)
    lengths = count_tokens([text[a:b] for a, b in spans]) if spans else []
    units: list[tuple[int, int]] = []
    unit_tokens: list[int] = []
    for span, n in zip(spans, lengths, strict=True):
        pieces = [(span, n)]
        if n > max_tokens:
            parts = _split_long(text, span, n, max_tokens)
            counts = count_tokens([text[a:b] for a, b in parts])
            pieces = [p for part, m in zip(parts, counts, strict=True)
                      for p in _fit(text, part, m, max_tokens, count_tokens)]
        for piece, m in pieces:
            units.append(piece)
            unit_tokens.append(m)
    chunks: list[Chunk] = []
    i = 0
    while i < len(units):
        j, total = i, 0
        while j < len(units) and (j == i or total + unit_tokens[j] <= max_tokens):
            total += unit_tokens[j]
            j += 1
        # token counts of pieces need not add up exactly (the tokenizer may merge across a cut): check
        while j - 1 > i and count_tokens([text[units[i][0]:units[j - 1][1]]])[0] > max_tokens:
            j -= 1
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
