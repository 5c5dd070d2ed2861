"""Every input handled (issue: long unpunctuated text, encrypted and scanned PDFs, tables and data
files, over-long questions, Traditional Chinese), with the offline fakes."""

import random
from pathlib import Path

import pytest

from rag.chunk import chunk_document
from rag.embed import HashEmbedder
from rag.pipeline import open_pipeline
from rag.records import Document

FACTS = {  # position in the document -> (fact, question, the figure the answer must carry)
    0.1: ("the quokka foundry of vexmoor employs 4417 welders", "How many welders does the quokka foundry of vexmoor employ?", "4417"),
    0.5: ("the zanthor bridge over the mirel river is 8821 metres long", "How long is the zanthor bridge over the mirel river?", "8821"),
    0.9: ("the plovik observatory recorded 6353 comets", "How many comets did the plovik observatory record?", "6353"),
}


def _single_line(size: int) -> str:
    """About `size` bytes on one line: filler words with no sentence punctuation, and three facts."""
    r = random.Random(0)
    vocab = ["".join(r.choice("bcdfghjklmnpqrstvwxz") + r.choice("aeiou") for _ in range(3)) for _ in range(5000)]
    words, length, placed = [], 0, set()
    while length < size:
        for pos, (fact, _, _) in FACTS.items():
            if pos not in placed and length >= pos * size:
                words.append(fact)
                placed.add(pos)
        words.append(r.choice(vocab))
        length += len(words[-1]) + 1
    return " ".join(words)


def test_every_chunk_fits_the_budget_whatever_the_input():
    emb = HashEmbedder(64)
    for text in ("字" * 50_000, "x" * 50_000, "a b c " * 20_000, "，".join(["上海人工智能"] * 5_000)):
        doc = Document("d", "d.txt", text, "zh", "h")
        chunks = chunk_document(doc, emb.count_tokens, max_tokens=200, overlap=40)
        assert max(emb.count_tokens([c.text for c in chunks])) <= 200
        assert chunks[0].start == 0 and chunks[-1].end == len(text.rstrip())


def test_two_megabyte_single_line_document_answers_facts_at_10_50_90_percent(fake_settings, tmp_path):
    text = _single_line(2 * 1024 * 1024)
    assert "\n" not in text and len(text.encode()) >= 2 * 1024 * 1024
    corpus = tmp_path / "one"
    corpus.mkdir()
    (corpus / "one_line.txt").write_text(text, encoding="utf-8")
    # the hash fake needs room for 5,000 filler words (4,096 dimensions); the extractive generator quotes
    # a whole passage, which here is one unpunctuated chunk
    s = fake_settings.replace(corpus_dir=str(corpus), embed_model="hash-4096", evidence="chunks", abstain_score=0.0)
    pipe = open_pipeline(s)
    lengths = pipe.embedder.count_tokens([c.text for c in pipe.index.chunks])
    assert max(lengths) <= fake_settings.chunk_tokens  # nothing reaches the embedder beyond the budget
    for fact, question, figure in FACTS.values():
        a = pipe.ask(question)
        assert not a.abstained and figure in a.text, (question, a.text)
        assert any(c.doc_id == "one_line" and c.supported for c in a.citations)
