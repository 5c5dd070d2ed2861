import random

import numpy as np
import pytest

from rag.keyword import KeywordIndex
from rag.text import search_tokens

WORDS = ["上海", "北京", "芯片", "算力", "model", "chip", "data", "policy", "robot", "企业"] + [f"w{i}" for i in range(300)]


@pytest.fixture(scope="module")
def index() -> KeywordIndex:
    r = random.Random(0)
    texts = [" ".join(r.choice(WORDS) for _ in range(r.randint(3, 30))) for _ in range(3000)]
    return KeywordIndex.build(texts + [f"rareword {r.choice(WORDS)}" for _ in range(12)])


# common words (postings > N/64), rare words (fewer), repeats, unknown words
@pytest.mark.parametrize("query", ["上海 芯片 企业 data", "w5 w77", "w150", "policy policy w3", "w9 unknownword",
                                   "rareword", "rareword rareword"])
def test_postings_search_scores_like_bm25s(index, query):
    rows, scores = index.search(query, 20)
    ids = index.bm25.get_tokens_ids(search_tokens(query))
    full = index.bm25.get_scores_from_ids(ids)  # the library's score of every row
    assert len(rows) == min(20, int((full > 0).sum()))
    np.testing.assert_allclose(scores, full[rows], rtol=1e-5)
    np.testing.assert_allclose(scores, np.sort(full)[::-1][:len(rows)], rtol=1e-5)  # the k best
    assert list(scores) == sorted(scores, reverse=True)


def test_no_match_returns_nothing(index):
    assert len(index.search("unknownword", 5)[0]) == 0
    assert len(index.search("", 5)[0]) == 0
    assert len(KeywordIndex.build([]).search("上海", 5)[0]) == 0


def test_saved_and_loaded_index_searches_the_same(index, tmp_path):
    """Scores are saved as float16: the same ranking up to near-ties (within float16's precision)."""
    index.save(tmp_path / "bm25")
    assert np.load(tmp_path / "bm25" / "data.csc.index.npy").dtype == np.float16
    loaded = KeywordIndex.load(tmp_path / "bm25", index.size)
    for query in ["上海 芯片 企业 data", "w5 w77", "policy policy w3", "rareword"]:
        (ra, sa), (rb, sb) = index.search(query, 20), loaded.search(query, 20)
        np.testing.assert_allclose(sb, [dict(zip(ra, sa, strict=True)).get(r, np.nan) for r in rb], rtol=2e-3)
        tie = 2e-3 * sa[-1]
        assert {r for r, x in zip(ra, sa, strict=True) if x > sa[-1] + tie} <= set(rb.tolist())  # clear winners all kept
        assert len(rb) == len(ra)


def test_bm25s_layout_the_postings_search_reads(index):
    """keyword.py reads bm25s's score matrix directly (pinned to bm25s 0.3.x in pyproject.toml). If a new
    bm25s changes that layout, this fails by name instead of returning wrong scores."""
    m = index.bm25.scores
    assert {"indptr", "indices", "data"} <= set(m), f"bm25s score matrix keys changed: {sorted(m)}"
    assert hasattr(index.bm25, "get_tokens_ids") and hasattr(index.bm25, "nonoccurrence_array")
    words = [i for w, i in index.bm25.vocab_dict.items() if w]  # bm25s adds an empty word without a column
    assert max(words) < len(m["indptr"]) - 1  # a CSC column per vocabulary id
    assert m["indices"].max() < index.size and len(m["indices"]) == len(m["data"])


def test_build_reports_tokenizing_progress():
    texts = [f"上海 企业 {i}" for i in range(2500)]
    seen: list[int] = []
    KeywordIndex.build(texts, seen.append)
    assert sum(seen) == 2500 and seen == [1000, 1000, 500]
