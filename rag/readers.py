"""Format readers: bytes of one file -> (text, metadata). Each raises IngestError with a one-line
reason a user can act on.

Tables and data files become one line per row holding its header names ("城市: 上海, 企业: 1149"),
rows separated by blank lines, so a row is a sentence the retriever can find and cite.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import re
import sys
from collections.abc import Callable, Iterable, Sequence

from . import ocr
from .errors import RagError

Reader = Callable[[bytes], tuple[str, dict[str, str]]]
MAX_ROWS = 200_000  # rows read from one table


class IngestError(RagError, ValueError):
    """A file that cannot be read; the message is one line for the user."""


# ---------------------------------------------------------------- bytes -> text

_BOMS = [(codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"), (codecs.BOM_UTF8, "utf-8-sig"),
         (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16")]


def decode_bytes(data: bytes) -> str:
    """Decode text in UTF-8, GB18030/GBK, UTF-16/32 (BOM) or whatever charset-normalizer finds."""
    for bom, enc in _BOMS:
        if data.startswith(bom):
            return data.decode(enc, errors="replace")
    if b"\x00" in data[:4096]:
        even, odd = data[0:4096:2].count(0), data[1:4096:2].count(0)
        if max(even, odd) > 0.3 * len(data[:4096]) / 2 and min(even, odd) < 0.05 * len(data[:4096]) / 2:
            return data.decode("utf-16-be" if even > odd else "utf-16-le", errors="replace")
        raise IngestError("binary file (contains NUL bytes)")
    for enc in ("utf-8", "gb18030"):
        try:
            return data.decode(enc)
        except UnicodeDecodeError:
            pass
    from charset_normalizer import from_bytes

    best = from_bytes(data).best()
    if best is None:
        raise IngestError("binary file or unknown text encoding")
    return str(best)


# ---------------------------------------------------------------- documents

def read_html(data: bytes) -> tuple[str, dict[str, str]]:
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(decode_bytes(data), "html.parser")
    meta: dict[str, str] = {}

    def content(**attrs: str) -> str:
        tag = soup.find("meta", attrs=attrs)
        return str(tag.get("content", "")).strip() if tag else ""

    meta["title"] = content(property="og:title") or (soup.title.get_text(strip=True) if soup.title else "")
    meta["date"] = content(property="article:published_time") or content(name="date") or content(name="pubdate")
    meta["author"] = content(name="author")
    canon = soup.find("link", rel="canonical")
    meta["url"] = content(property="og:url") or (str(canon.get("href", "")) if canon else "")
    for tag in soup(["script", "style", "noscript", "nav", "footer", "header", "aside", "form", "template"]):
        tag.decompose()
    body = soup.body or soup
    blocks = [el.get_text(" ", strip=True) for el in body.find_all(["p", "h1", "h2", "h3", "h4", "li", "pre",
                                                                      "blockquote", "td", "div"])
              if not el.find(["p", "div", "li", "h1", "h2", "h3", "table"])]
    text = "\n\n".join(b for b in blocks if b) or body.get_text("\n", strip=True)
    return text, meta


def read_pdf(data: bytes) -> tuple[str, dict[str, str]]:
    """Text layer of every page. An owner password alone (the file opens in any viewer) is no
    obstacle; a user password is reported. Pages without a text layer are read by OCR when it is
    installed, with a page-level progress bar."""
    from pypdf import PdfReader
    from pypdf.errors import DependencyError, FileNotDecryptedError, PyPdfError

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            raise IngestError("encrypted PDF: needs a password")
        pages = [p.extract_text() or "" for p in reader.pages]
        info = reader.metadata or {}
    except IngestError:
        raise
    except FileNotDecryptedError:
        raise IngestError("encrypted PDF: needs a password") from None
    except DependencyError as e:  # cryptography is a declared dependency; say so if it went missing
        raise IngestError(f"encrypted PDF: {e}") from None
    except (PyPdfError, ValueError, KeyError, TypeError, OSError) as e:
        raise IngestError(f"malformed PDF ({type(e).__name__})") from None
    meta = {"title": str(info.get("/Title", "") or ""), "author": str(info.get("/Author", "") or "")}
    blank = [i for i, text in enumerate(pages) if not text.strip()]
    if blank:
        if not ocr.available():
            if len(blank) == len(pages):
                raise IngestError(f"scanned PDF: no text layer ({ocr.INSTALL_HINT})")
        else:
            from tqdm import tqdm

            for i in tqdm(blank, desc="OCR", unit="page", file=sys.stderr, disable=len(blank) < 2, leave=False):
                images = reader.pages[i].images
                pages[i] = "\n".join(ocr.read_image(img.data) for img in images)
    return "\n\n".join(pages), meta


def read_docx(data: bytes) -> tuple[str, dict[str, str]]:
    import zipfile

    import docx

    try:
        d = docx.Document(io.BytesIO(data))
    except (zipfile.BadZipFile, KeyError, ValueError, OSError) as e:
        raise IngestError(f"malformed DOCX ({type(e).__name__})") from None
    cp = d.core_properties
    meta = {"title": cp.title or "", "author": cp.author or "",
            "date": cp.created.date().isoformat() if cp.created else ""}
    return "\n\n".join(p.text for p in d.paragraphs), meta


def read_image(data: bytes) -> tuple[str, dict[str, str]]:
    if not ocr.available():
        raise IngestError(f"image: needs OCR ({ocr.INSTALL_HINT})")
    try:
        return ocr.read_image(data), {}
    except OSError as e:  # PIL cannot open it
        raise IngestError(f"unreadable image ({type(e).__name__})") from None


# ---------------------------------------------------------------- tables and data files

def rows_as_text(header: Sequence[str], rows: Iterable[Sequence[object]], prefix: str = "") -> str:
    """One paragraph per row: "name: value, name: value" (empty cells left out)."""
    names = [str(h).strip() or f"column {i + 1}" for i, h in enumerate(header)]
    out = []
    for n, row in enumerate(rows):
        if n >= MAX_ROWS:
            break
        cells = [f"{names[i] if i < len(names) else f'column {i + 1}'}: {_cell(v)}"
                 for i, v in enumerate(row) if _cell(v)]
        if cells:
            out.append(prefix + ", ".join(cells))
    return "\n\n".join(out)


def _cell(v: object) -> str:
    if v is None:
        return ""
    if isinstance(v, float) and v.is_integer():
        v = int(v)
    return re.sub(r"\s+", " ", str(v)).strip()


def read_csv(data: bytes) -> tuple[str, dict[str, str]]:
    text = decode_bytes(data)
    try:
        dialect = csv.Sniffer().sniff(text[:8192], delimiters=",;\t|")
    except csv.Error:
        dialect = csv.excel
    rows = list(csv.reader(io.StringIO(text), dialect))
    rows = [r for r in rows if any(c.strip() for c in r)]
    if not rows:
        raise IngestError("empty table")
    return rows_as_text(rows[0], rows[1:]) if len(rows) > 1 else ", ".join(rows[0]), {}


def read_xlsx(data: bytes) -> tuple[str, dict[str, str]]:
    import zipfile

    from openpyxl import load_workbook

    try:
        wb = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError) as e:
        raise IngestError(f"malformed XLSX ({type(e).__name__})") from None
    parts = []
    for ws in wb.worksheets:
        rows = [r for r in ws.iter_rows(values_only=True) if any(_cell(c) for c in r)]
        if len(rows) > 1:
            prefix = f"{ws.title}: " if len(wb.worksheets) > 1 else ""
            parts.append(rows_as_text([_cell(c) for c in rows[0]], rows[1:], prefix))
    wb.close()
    title = str(wb.properties.title or "") if wb.properties else ""
    return "\n\n".join(p for p in parts if p), {"title": title}


def read_json(data: bytes) -> tuple[str, dict[str, str]]:
    try:
        obj = json.loads(decode_bytes(data))
    except ValueError as e:
        raise IngestError(f"malformed JSON ({str(e)[:60]})") from None
    if isinstance(obj, dict):  # {"title": …, "items": [...]}: scalars are fields, the longest list is the table
        lists = [v for v in obj.values() if isinstance(v, list)]
        scalars = {k: v for k, v in obj.items() if not isinstance(v, (list, dict))}
        head = rows_as_text(list(scalars), [list(scalars.values())]) if scalars else ""
        body = _records(max(lists, key=len)) if lists else ""
        return "\n\n".join(p for p in (head, body) if p), {"title": str(obj.get("title", ""))}
    if isinstance(obj, list):
        return _records(obj), {}
    return _cell(obj), {}


def _records(items: list) -> str:
    """A list of objects as rows (header = the union of their keys); other items one per line."""
    if items and all(isinstance(i, dict) for i in items):
        keys = list(dict.fromkeys(k for i in items for k in i))
        return rows_as_text(keys, [[_flat(i.get(k)) for k in keys] for i in items])
    return "\n\n".join(_flat(i) for i in items if _flat(i))


def _flat(v: object) -> str:
    return json.dumps(v, ensure_ascii=False) if isinstance(v, (list, dict)) else _cell(v)


# ---------------------------------------------------------------- Markdown front matter

_FRONT = re.compile(r"\A---[ \t]*\n(.*?)\n(?:---|\.\.\.)[ \t]*(?:\n|\Z)", re.S)


def split_front_matter(text: str) -> tuple[str, dict[str, str]]:
    """YAML front matter of a Markdown file is metadata (title, date, author, url), not text."""
    m = _FRONT.match(text.lstrip("\ufeff"))
    if not m:
        return text, {}
    import yaml

    try:
        data = yaml.safe_load(m.group(1))
    except yaml.YAMLError:
        return text, {}
    if not isinstance(data, dict):
        return text, {}
    meta = {k: str(data[k]) for k in ("title", "date", "author", "url") if data.get(k) is not None}
    return text[m.end():], meta


READERS: dict[str, Reader] = {
    ".html": read_html, ".htm": read_html, ".pdf": read_pdf, ".docx": read_docx,
    ".csv": read_csv, ".tsv": read_csv, ".xlsx": read_xlsx, ".json": read_json,
    ".png": read_image, ".jpg": read_image, ".jpeg": read_image,
}
SUFFIXES = {".txt", ".md", ".markdown", *READERS}
TABLE_SUFFIXES = {".csv", ".tsv", ".xlsx", ".json"}
