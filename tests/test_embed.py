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


def test_repeated_texts_are_embedded_once_and_progress_counts_every_text(tiny_st_model, monkeypatch):
    e = SentenceTransformerEmbedder(tiny_st_model, "tiny", dtype="float32", batch_size=4)
    seen: list[str] = []
    encode = e.model.encode
    monkeypatch.setattr(e.model, "encode", lambda texts, **kw: (seen.extend(texts), encode(texts, **kw))[1])
    texts = [SENTENCES[0], SENTENCES[1], SENTENCES[0], SENTENCES[2], SENTENCES[1]]
    done: list[int] = []
    out = e.embed(texts, kind="document", progress=done.append)
    assert len(seen) == 3 and sum(done) == 5
    assert np.array_equal(out[0], out[2]) and np.array_equal(out[1], out[4])
    assert np.allclose(out[3], e.embed([SENTENCES[2]], kind="document")[0], atol=1e-5)


def test_late_chunking_gives_the_chunk_vector_and_one_vector_per_sentence(tiny_st_model):
    e = SentenceTransformerEmbedder(tiny_st_model, "tiny", dtype="float32", batch_size=2)
    texts = [SENTENCES[0] + " " + SENTENCES[1], SENTENCES[2], SENTENCES[3] + " " + SENTENCES[4]]
    spans = [[(0, len(SENTENCES[0])), (len(SENTENCES[0]) + 1, len(texts[0]))], [(0, len(SENTENCES[2]))],
             [(0, len(SENTENCES[3]))]]
    chunk_vecs, span_vecs = e.embed_chunks(texts, ["t1", "t2", "t3"], spans)
    # the chunk vectors are exactly what embed() gives; one unit vector per span, in order
    assert np.allclose(chunk_vecs, e.embed(texts, kind="document", titles=["t1", "t2", "t3"]), atol=1e-5)
    assert [len(v) for v in span_vecs] == [2, 1, 1]
    assert all(np.allclose(np.linalg.norm(v, axis=1), 1, atol=1e-4) for v in span_vecs)
    # a sentence's vector depends on its own tokens: the two sentences of chunk 0 differ,
    # and the first sentence of chunk 2 is closer to itself embedded alone than to another sentence
    assert not np.allclose(span_vecs[0][0], span_vecs[0][1], atol=1e-3)
    alone = e.embed([SENTENCES[3], SENTENCES[0]], kind="document")
    assert span_vecs[2][0] @ alone[0] > span_vecs[2][0] @ alone[1]


def test_batches_hold_texts_of_about_the_same_number_of_tokens(tiny_st_model, monkeypatch):
    """Sorted by characters, a short Chinese sentence and a long English one of the same token count land
    in different batches, and every batch is padded to its longest text; sorted by tokens they do not."""
    e = SentenceTransformerEmbedder(tiny_st_model, "tiny", dtype="float32", batch_size=2)
    batches: list[list[str]] = []
    encode = e.model.encode
    monkeypatch.setattr(e.model, "encode", lambda texts, **kw: (batches.append(list(texts)), encode(texts, **kw))[1])
    texts = SENTENCES[:6]
    e.embed(texts, kind="document")
    tokens = [e.count_tokens(b) for b in batches]
    assert [n for b in tokens for n in b] == sorted((n for b in tokens for n in b), reverse=True)
