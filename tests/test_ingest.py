import re
from pathlib import Path

import pytest

from rag.clean import clean_text
from rag.ingest import IngestError, decode_bytes, read_document

SEEDS = Path(__file__).resolve().parent.parent / "seeds"
BOILERPLATE = ["The Links", "3BSE008518R1", "Powered by", "Copyright", "ICP", "公网安备", "举报/反馈", "Address:",
               "Location: Home", "Long by picture", "Canglongshan"]


@pytest.mark.parametrize("path", sorted(SEEDS.glob("*.txt")), ids=lambda p: p.stem)
def test_seed_text_has_no_boilerplate(path):
    doc = read_document(path)
    for junk in BOILERPLATE:
        assert junk not in doc.text, f"{junk!r} left in {path.name}"
    assert not re.search(r"^\s*[•·]?\s*(中文|English)\s*$", doc.text, re.M)


def test_seed_metadata():
    shanghai = read_document(SEEDS / "003_aea3d6d152eb6b7f.txt")
    assert shanghai.title.startswith("Shanghai Artificial Intelligence Hard Technology")
    assert (shanghai.date, shanghai.author, shanghai.lang) == ("2021-07-07", "华朔", "en")
    assert "Time:" not in shanghai.text
    policy = read_document(SEEDS / "001_53cdb50f1de54eeb.txt")
    assert policy.date == "2022-08-27" and "Published on" not in policy.text


def test_chinese_labelled_fields_are_kept_apart_from_the_article():
    doc = read_document(SEEDS / "002_d00c9e7fcb0ba4b0.txt")
    assert doc.lang == "zh" and doc.title == "人工智能加速赋能千行百业"
    assert doc.url.startswith("https://baijiahao.baidu.com/")
    assert doc.text.startswith("工业和信息化部日前公布数据显示")
    assert "关键词" in doc.fields and "重大事件摘要" in doc.fields
    assert "重大事件摘要" not in doc.text and "链接:" not in doc.text and "标题:" not in doc.text


def test_a_header_value_ends_at_the_blank_line_before_the_article(tmp_path):
    path = tmp_path / "report.txt"
    path.write_text("标题：经济日报报道\n\n我国人工智能企业数量超过4500家。\n\n大模型不断涌现。", encoding="utf-8")
    doc = read_document(path)
    assert doc.title == "经济日报报道" and doc.date == ""
    assert doc.text.startswith("我国人工智能企业数量超过4500家。") and "大模型不断涌现。" in doc.text


@pytest.mark.parametrize("encoding", ["utf-8", "gb18030", "gbk", "utf-16", "utf-8-sig"])
def test_encodings(tmp_path, encoding):
    text = "人工智能企业数量超过4500家。AI companies exceed 4,500."
    f = tmp_path / "doc.txt"
    f.write_bytes(text.encode(encoding))
    assert read_document(f).text == text


def test_bad_files_raise_one_line_errors(tmp_path):
    cases = {"empty.txt": b"", "blank.txt": b"  \n\n", "bin.txt": bytes(range(256)) * 20,
             "bad.pdf": b"%PDF-1.4 not really", "bad.docx": b"PK\x03\x04garbage", "x.exe": b"MZ"}
    for name, data in cases.items():
        (tmp_path / name).write_bytes(data)
        with pytest.raises(IngestError) as e:
            read_document(tmp_path / name)
        assert "\n" not in str(e.value)


def test_html_drops_scripts_and_navigation(tmp_path):
    f = tmp_path / "page.html"
    f.write_text("<html><head><title>AI news</title><meta name='date' content='2024-05-06'>"
                 "<script>alert(1)</script></head><body><nav>Home > News</nav><p>Shanghai has 1,149 firms.</p>"
                 "<footer>Copyright 2024</footer></body></html>")
    doc = read_document(f)
    assert doc.title == "AI news" and doc.date == "2024-05-06"
    assert doc.text == "Shanghai has 1,149 firms."


def test_docx_and_pdf(tmp_path):
    import docx

    d = docx.Document()
    d.core_properties.title = "Report"
    d.add_paragraph("上海有1149家重点人工智能企业。")
    d.save(tmp_path / "r.docx")
    doc = read_document(tmp_path / "r.docx")
    assert doc.title == "Report" and "1149" in doc.text
    (tmp_path / "p.pdf").write_bytes(_minimal_pdf("Shanghai has 1149 AI companies"))
    assert "1149 AI companies" in read_document(tmp_path / "p.pdf").text


def test_clean_text_keeps_content_lines():
    assert clean_text("Real text about copyright law in China.\nPowered by:facecloud") == \
        "Real text about copyright law in China."


def test_decode_prefers_utf8_then_gb18030():
    assert decode_bytes("中文".encode("gb18030")) == "中文"
    assert decode_bytes("中文".encode()) == "中文"


def _minimal_pdf(text: str) -> bytes:
    objs = [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
            b"/Resources << /Font << /F1 5 0 R >> >> >>", None,
            b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"]
    stream = f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode()
    objs[3] = b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream"
    out, offsets = b"%PDF-1.4\n", []
    for i, o in enumerate(objs, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + o + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objs) + 1)
    out += b"".join(b"%010d 00000 n \n" % off for off in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objs) + 1, xref)
    return out
