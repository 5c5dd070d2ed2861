"""Typed records passed between the stages of the pipeline.

A document flows load -> clean -> chunk -> embed -> index; a question flows
rewrite -> retrieve -> prompt -> generate -> verify -> Answer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Document:
    """One source file after reading and cleaning. `id` is the file stem."""

    id: str
    path: str
    text: str
    lang: str
    content_hash: str
    title: str = ""
    date: str = ""
    url: str = ""
    author: str = ""
    fields: dict[str, str] = field(default_factory=dict)  # labelled header fields (关键词, …)


@dataclass(frozen=True)
class Chunk:
    """A span of a document's cleaned text: `text == document.text[start:end]`."""

    id: str
    doc_id: str
    text: str
    start: int
    end: int
    lang: str

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "doc_id": self.doc_id, "text": self.text,
                "start": self.start, "end": self.end, "lang": self.lang}

    @staticmethod
    def from_json(d: dict[str, Any]) -> Chunk:
        return Chunk(d["id"], d["doc_id"], d["text"], int(d["start"]), int(d["end"]), d["lang"])


@dataclass(frozen=True)
class DocInfo:
    """What the index keeps about a document (shown beside citations)."""

    id: str
    title: str = ""
    date: str = ""
    url: str = ""
    lang: str = ""


@dataclass(frozen=True)
class Hit:
    """A retrieved chunk with its fused score and per-leg ranks."""

    chunk: Chunk
    score: float
    dense_score: float = 0.0
    dense_rank: int | None = None
    keyword_rank: int | None = None


@dataclass(frozen=True)
class Citation:
    """A `[n]` marker in the answer; `n` is the 1-based passage number."""

    n: int
    doc_id: str
    chunk_id: str
    supported: bool
    sentence: str = ""
    evidence: str = ""  # the passage sentence that best supports the answer sentence


@dataclass(frozen=True)
class Timings:
    retrieve: float = 0.0
    first_token: float = 0.0
    generate: float = 0.0
    total: float = 0.0


@dataclass(frozen=True)
class Answer:
    question: str
    lang: str
    text: str
    abstained: bool
    citations: tuple[Citation, ...]
    hits: tuple[Hit, ...]
    rewritten_question: str
    timings: Timings
    unsupported: tuple[str, ...] = ()  # answer sentences no passage supports
    raw_text: str = ""  # the model's text before verification
    citation_scores: dict[str, float] = field(default_factory=dict)  # ALCE recall/precision, raw and final
    traditional: bool = False  # a Chinese question in Traditional characters: the answer is shown in them

    def to_json(self) -> dict[str, Any]:
        """The record `rag ask --json` prints and `rag eval` writes."""
        return {
            "question": self.question,
            "lang": self.lang,
            "script": ("hant" if self.traditional else "hans") if self.lang == "zh" else "latn",
            "answer": self.text,
            "abstained": self.abstained,
            "citations": [{"n": c.n, "doc_id": c.doc_id, "chunk_id": c.chunk_id, "supported": c.supported}
                          for c in self.citations],
            "hits": [{"rank": i + 1, "doc_id": h.chunk.doc_id, "chunk_id": h.chunk.id,
                      "score": round(h.score, 5), "text": h.chunk.text} for i, h in enumerate(self.hits)],
            "rewritten_question": self.rewritten_question,
            "timings_ms": {k: round(v * 1000, 1) for k, v in vars(self.timings).items()},
            "unsupported": list(self.unsupported),
            "raw_answer": self.raw_text,
            "citation_scores": {k: round(v, 4) for k, v in self.citation_scores.items()},
        }
