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
    for _, question, figure in FACTS.values():
        a = pipe.ask(question)
        assert not a.abstained and figure in a.text, (question, a.text)
        assert any(c.doc_id == "one_line" and c.supported for c in a.citations)


# ---------------------------------------------------------------- PDFs, images, tables

FONT = Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc")  # Debian's fonts-wqy-microhei (.ci/run installs it)


def _text_pdf(text: str) -> bytes:
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    with matplotlib.rc_context({"pdf.fonttype": 42}):
        fig = plt.figure(figsize=(6, 2))
        fig.text(0.05, 0.5, text)
        buf = io.BytesIO()
        fig.savefig(buf, format="pdf")
        plt.close(fig)
    return buf.getvalue()


def _encrypted(pdf: bytes, user: str) -> bytes:
    import io

    from pypdf import PdfReader, PdfWriter

    w = PdfWriter(clone_from=PdfReader(io.BytesIO(pdf)))
    w.encrypt(user_password=user, owner_password="owner-secret", algorithm="AES-256")
    out = io.BytesIO()
    w.write(out)
    return out.getvalue()


def _page_image(lines: list[str], fmt: str) -> bytes:
    import io

    from PIL import Image, ImageDraw, ImageFont

    font = ImageFont.truetype(str(FONT), 28)
    img = Image.new("RGB", (1240, 120 + 70 * len(lines)), "white")
    draw = ImageDraw.Draw(img)
    for i, line in enumerate(lines):
        draw.text((40, 60 + 70 * i), line, font=font, fill="black")
    buf = io.BytesIO()
    img.save(buf, format=fmt)
    return buf.getvalue()


def test_owner_password_pdf_opens_and_user_password_pdf_is_skipped_with_the_reason(fake_settings, tmp_path):
    from rag.ingest import read_document
    from rag.readers import IngestError

    pdf = _text_pdf("The Vexmoor foundry employs 4417 welders.")
    (tmp_path / "owner.pdf").write_bytes(_encrypted(pdf, user=""))
    (tmp_path / "locked.pdf").write_bytes(_encrypted(pdf, user="open-sesame"))
    assert "4417 welders" in read_document(tmp_path / "owner.pdf").text
    with pytest.raises(IngestError, match="^encrypted PDF: needs a password$"):
        read_document(tmp_path / "locked.pdf")


def test_scanned_pdf_without_ocr_says_so(tmp_path, monkeypatch):
    from rag import ocr
    from rag.ingest import read_document
    from rag.readers import IngestError

    pytest.importorskip("PIL")
    if not FONT.exists():
        pytest.skip("fonts-wqy-microhei not installed")
    (tmp_path / "scan.pdf").write_bytes(_page_image(["Ningbo has 327 robot companies."], "PDF"))
    monkeypatch.setattr(ocr, "available", lambda: False)
    with pytest.raises(IngestError, match=r"scanned PDF: no text layer \(install the ocr extra"):
        read_document(tmp_path / "scan.pdf")


def test_ocr_of_a_rendered_bilingual_page_is_answered_with_a_citation(fake_settings, tmp_path):
    pytest.importorskip("rapidocr_onnxruntime")
    if not FONT.exists():
        pytest.skip("fonts-wqy-microhei not installed")
    corpus = tmp_path / "scans"
    corpus.mkdir()
    lines = ["宁波市共有机器人企业327家，其中规模以上企业58家。",
             "Ningbo has 327 robot companies, 58 of them above designated size."]
    (corpus / "scan.pdf").write_bytes(_page_image(lines, "PDF"))
    (corpus / "photo.png").write_bytes(_page_image(["深圳市人工智能企业有1,920家。"], "PNG"))
    pipe = open_pipeline(fake_settings.replace(corpus_dir=str(corpus)))
    assert pipe.build_summary.docs_added == 2, pipe.build_summary.skipped
    a = pipe.ask("宁波市共有多少家机器人企业？")
    assert not a.abstained and "327" in a.text
    assert any(c.doc_id == "scan" and c.supported for c in a.citations)
    a = pipe.ask("深圳市人工智能企业有多少家？")
    assert "1,920" in a.text and any(c.doc_id == "photo" for c in a.citations)


def test_tables_and_data_files_are_rows_with_their_header_names(fake_settings, corpus):
    from openpyxl import Workbook

    (corpus / "cities.csv").write_text("城市,人工智能企业,年份\n上海,1149,2020\n北京,1500,2021\n", encoding="utf-8")
    wb = Workbook()
    wb.active.append(["company", "employees"])
    wb.active.append(["Vexmoor Foundry", 4417])
    wb.save(corpus / "staff.xlsx")
    (corpus / "parks.json").write_text('[{"park": "Zhangjiang", "firms": 612}, {"park": "Lingang", "firms": 288}]',
                                       encoding="utf-8")
    (corpus / "notes.md").write_text("---\ntitle: Field notes\ndate: 2024-03-01\nauthor: Li\n---\n"
                                     "The Plovik observatory recorded 6353 comets.\n", encoding="utf-8")
    (corpus / "archive.zip").write_bytes(b"PK\x05\x06" + bytes(18))
    (corpus / "README").write_text("no extension")
    pipe = open_pipeline(fake_settings)
    s = pipe.build_summary
    assert s.files_seen == 11 and s.docs_added == 9 and s.docs_skipped == 2  # every file counted
    assert any("archive.zip: unsupported type .zip" in line for line in s.skipped)
    assert any("README: unsupported type (no extension)" in line for line in s.skipped)
    texts = {c.doc_id: c.text for c in pipe.index.chunks}
    assert "城市: 上海, 人工智能企业: 1149, 年份: 2020" in texts["cities"]
    assert "company: Vexmoor Foundry, employees: 4417" in texts["staff"]
    assert "park: Lingang, firms: 288" in texts["parks"]
    assert texts["notes"].startswith("The Plovik") and "---" not in texts["notes"]
    info = pipe.index.doc_info("notes")
    assert (info.title, info.date) == ("Field notes", "2024-03-01")
    a = pipe.ask("上海人工智能企业有多少家？")
    assert "1149" in a.text and any(c.doc_id == "cities" for c in a.citations)


# ---------------------------------------------------------------- questions and scripts

def test_too_long_question_is_refused_in_its_own_language_and_script(fake_settings):
    from rag.answer import MAX_QUESTION_CHARS, QuestionError, clean_question

    with pytest.raises(QuestionError, match=r"^The question is too long \(9,999 characters; the limit is 1,000\)"):
        clean_question("How many companies? " * 500)
    with pytest.raises(QuestionError, match="^问题太长（9,995 个字符，上限 1,000 个）"):
        clean_question("上海有多少家重点人工智能企业？" * 666 + "上海有多少")
    with pytest.raises(QuestionError, match="^問題太長"):
        clean_question("臺灣有多少家人工智慧企業？" * 800)
    assert clean_question("x" * MAX_QUESTION_CHARS) == "x" * MAX_QUESTION_CHARS  # at the limit: kept whole


TRADITIONAL = ("臺灣積體電路製造公司（TSMC）2023年的營收為2兆1617億新臺幣。"
               "該公司在全球晶圓代工市場的佔有率約為六成，總部設於新竹科學園區。")


@pytest.mark.parametrize("question,traditional", [
    ("臺灣積體電路製造公司2023年的營收是多少？", True),
    ("台湾积体电路制造公司2023年的营收是多少？", False),
    ("What was the TSMC revenue in 2023?", False),
])
def test_traditional_document_answered_in_traditional_simplified_and_english(fake_settings, tmp_path, question,
                                                                             traditional):
    corpus = tmp_path / "tw"
    corpus.mkdir()
    (corpus / "tsmc.txt").write_text(TRADITIONAL, encoding="utf-8")
    (corpus / "other.txt").write_text("上海有1,149家重点人工智能企业。北京是中国的首都。", encoding="utf-8")
    pipe = open_pipeline(fake_settings.replace(corpus_dir=str(corpus), abstain_score=0.0))  # the hash fake is not
    a = pipe.ask(question)  # cross-lingual: the English question is found by its Latin words and number
    assert not a.abstained, a.raw_text
    assert "1617" in a.text and any(c.doc_id == "tsmc" and c.supported for c in a.citations)
    assert a.traditional is traditional and a.to_json()["script"] == ("hant" if traditional else
                                                                      "hans" if a.lang == "zh" else "latn")


def test_abstention_follows_the_question_script(fake_settings, tmp_path):
    corpus = tmp_path / "tw"
    corpus.mkdir()
    (corpus / "tsmc.txt").write_text(TRADITIONAL, encoding="utf-8")
    pipe = open_pipeline(fake_settings.replace(corpus_dir=str(corpus), abstain_score=0.99))
    a = pipe.ask("高雄有多少家機器人企業？")
    assert a.abstained and a.text == "資料中沒有找到這個問題的答案。"
    assert pipe.ask("高雄有多少家机器人企业？").text == "资料中没有找到这个问题的答案。"
