import numpy as np

from rag.embed import HashEmbedder, SentenceTransformerEmbedder
from tests.conftest import SENTENCES


def test_bfloat16_agrees_with_float32(tiny_st_model):
    f32 = SentenceTransformerEmbedder(tiny_st_model, "tiny", dtype="float32")
    bf16 = SentenceTransformerEmbedder(tiny_st_model, "tiny", dtype="bfloat16")
    a = f32.embed(SENTENCES, kind="document")
    b = bf16.embed(SENTENCES, kind="document")
    cos = (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)
    assert cos.min() >= 0.99, cos


def test_embeddings_are_normalised_in_input_order(tiny_st_model):
    e = SentenceTransformerEmbedder(tiny_st_model, "tiny", dtype="float32", batch_size=3)
    out = e.embed(SENTENCES, kind="document")
    assert out.shape == (len(SENTENCES), e.dim)
    assert np.allclose(np.linalg.norm(out, axis=1), 1, atol=1e-4)
    one = e.embed([SENTENCES[5]], kind="document")[0]
    assert np.allclose(out[5], one, atol=1e-4)  # length-sorted batching keeps the order
    assert e.count_tokens(["上海 有", "Shanghai has 1,149"]) == [len(e.tokenizer("上海 有", add_special_tokens=False)["input_ids"]),
                                                              len(e.tokenizer("Shanghai has 1,149", add_special_tokens=False)["input_ids"])]


def test_query_cache_returns_the_same_vector(tiny_st_model):
    e = SentenceTransformerEmbedder(tiny_st_model, "tiny", dtype="float32")
    a = e.embed(["上海有多少家企业？"], kind="query")
    b = e.embed(["上海有多少家企业？"], kind="query")
    assert np.array_equal(a, b)


def test_hash_embedder_ranks_shared_words_together():
    e = HashEmbedder(256)
    q, near, far = e.embed(["Shanghai AI companies", "AI companies in Shanghai grew", "北京的天气"], kind="document")
    assert q @ near > q @ far
