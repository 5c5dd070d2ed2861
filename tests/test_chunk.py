from rag.chunk import chunk_document
from rag.embed import HashEmbedder
from rag.records import Document
from rag.text import split_sentences

COUNT = HashEmbedder().count_tokens


def _doc(text: str, lang: str = "en") -> Document:
    return Document(id="d", path="d.txt", text=text, lang=lang, content_hash="h")


def test_chinese_sentence_boundaries():
    text = "上海有1,149家企业。规模达224.6亿元！增长约50%？“人工智能是电力。”下一句；最后"
    assert [text[a:b] for a, b in split_sentences(text)] == [
        "上海有1,149家企业。", "规模达224.6亿元！", "增长约50%？", "“人工智能是电力。”", "下一句；", "最后"]


def test_english_boundaries_do_not_split_numbers_or_abbreviations():
    text = "Scale reached 224.6 billion yuan. Mr. Li works at No. 9 Road in the U.S. today. Done!"
    assert [text[a:b] for a, b in split_sentences(text)] == [
        "Scale reached 224.6 billion yuan.", "Mr. Li works at No. 9 Road in the U.S. today.", "Done!"]


def test_chunks_respect_budget_offsets_and_overlap():
    sentences = [f"Sentence number {i} talks about artificial intelligence in Shanghai." for i in range(40)]
    doc = _doc(" ".join(sentences))
    chunks = chunk_document(doc, COUNT, max_tokens=40, overlap=10)
    assert len(chunks) > 5
    for c in chunks:
        assert doc.text[c.start:c.end] == c.text
        assert COUNT([c.text])[0] <= 40
        assert c.text[0].isupper() and c.text.endswith(".")  # whole sentences
    assert chunks[1].start < chunks[0].end  # overlap
    covered = set()
    for c in chunks:
        covered.update(range(c.start, c.end))
    assert all(i in covered for i, ch in enumerate(doc.text) if not ch.isspace())


def test_long_chinese_sentence_is_split_at_commas_not_inside_numbers():
    text = "，".join(f"第{i}项指标为1,149.5亿元" for i in range(60)) + "。"
    chunks = chunk_document(_doc(text, "zh"), COUNT, max_tokens=50, overlap=0)
    assert len(chunks) > 3
    for c in chunks:
        assert COUNT([c.text])[0] <= 50
        assert not c.text[0].isdigit() or c.start == 0
    assert all("1,149.5" in c.text for c in chunks)


def test_chunk_ids_are_stable_and_position_dependent():
    doc = _doc("Alpha beta gamma. Delta epsilon. " * 30)
    a = chunk_document(doc, COUNT, 20, 5)
    b = chunk_document(doc, COUNT, 20, 5)
    assert [c.id for c in a] == [c.id for c in b]
    assert len({c.id for c in a}) == len(a)  # same text at another position gets another id
