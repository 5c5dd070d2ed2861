"""Read source files into cleaned Documents with metadata: text and Markdown here, the other
formats (.html .pdf .docx .csv .xlsx .json, images) through `readers.py`.

>>> doc = read_document(Path("seeds/003_aea3d6d152eb6b7f.txt"))  # doctest: +SKIP
>>> doc.title, doc.date  # doctest: +SKIP
('Shanghai Artificial Intelligence Hard Technology and Soft Power: …', '2021-07-07')
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

from . import ocr
from .clean import clean_text, dedupe_paragraphs
from .readers import READERS, SUFFIXES, TABLE_SUFFIXES, IngestError, decode_bytes, split_front_matter
from .records import Document
from .text import detect_lang

MAX_BYTES = 200 * 1024 * 1024


def _looks_binary(text: str) -> bool:
    if not text:
        return False
    bad = sum(1 for ch in text[:20000] if ch == "\ufffd" or (ord(ch) < 32 and ch not in "\n\r\t\f"))
    return bad > 0.1 * min(len(text), 20000)


# ---------------------------------------------------------------- labelled headers and dates

# Labelled header lines ("标题: …", "Time: …"); the value of a body label is the article itself.
_LABELS = {
    "title": ("标题", "题目", "title"),
    "url": ("链接", "网址", "来源链接", "url", "link", "source url"),
    "date": ("时间", "日期", "发布时间", "发布日期", "time", "date", "published", "published on"),
    "author": ("作者", "记者", "author", "by"),
}
_BODY_LABELS = ("正文", "内容", "全文", "总结", "content", "body", "text", "summary")
_LABEL_LINE = re.compile(r"^\s*([^\s:：]{1,12}|[A-Za-z][A-Za-z ]{0,20})\s*[:：]\s*(.*)$")
_PUBLISHED = re.compile(r"^\s*published on\s+(.+?)\s*$", re.IGNORECASE)


def normalise_date(raw: str) -> str:
    raw = raw.strip()
    for pat, fmt in ((r"\d{4}-\d{1,2}-\d{1,2}", "%Y-%m-%d"), (r"\d{1,2}/\d{1,2}/\d{4}", "%m/%d/%Y"),
                     (r"\d{4}/\d{1,2}/\d{1,2}", "%Y/%m/%d"), (r"\d{4}年\d{1,2}月\d{1,2}日", "%Y年%m月%d日")):
        m = re.search(pat, raw)
        if m:
            try:
                return datetime.strptime(m.group(0), fmt).date().isoformat()
            except ValueError:
                continue
    return raw[:40]


def _split_labelled(text: str) -> tuple[str, dict[str, str], dict[str, str]]:
    """Separate labelled header fields from the article text.

    Returns (body, standard metadata, other labelled fields). A file whose first line is labelled is
    treated as a labelled record: each label runs until the next labelled line.
    """
    lines = text.split("\n")
    meta: dict[str, str] = {}
    fields: dict[str, str] = {}
    first = next((ln for ln in lines if ln.strip()), "")
    m = _LABEL_LINE.match(first)
    if m and len(first) < 4000 and m.group(1).lower() in _all_labels() | set(_BODY_LABELS):
        current, buf = None, []
        record: list[tuple[str, str]] = []
        for ln in lines:
            lm = _LABEL_LINE.match(ln)
            if lm and (current is None or len(lm.group(1)) <= 8) and not ln.startswith((" ", "\t")):
                if current is not None:
                    record.append((current, "\n".join(buf).strip()))
                current, buf = lm.group(1), [lm.group(2)]
            else:
                buf.append(ln)
        if current is not None:
            record.append((current, "\n".join(buf).strip()))
        body_candidates = [(k, v) for k, v in record if k.lower() in _BODY_LABELS]
        body_key, body = max(body_candidates, key=lambda kv: len(kv[1]), default=("", ""))
        for k, v in record:
            std = _standard(k)
            if std:  # a header value ends at its first blank line ("标题：X\n\n正文…" is titled X)
                meta.setdefault(std, v.split("\n\n")[0].strip())
            elif k != body_key:
                fields[k] = v
        if not body:  # no body label: the unlabelled remainder is the article
            body = "\n".join(ln for ln in lines if not _LABEL_LINE.match(ln))
        return body, meta, fields
    # Free text: pick labelled lines (Time:, Author:, Published on …) out of the first and last lines.
    kept = []
    for i, ln in enumerate(lines):
        near_edge = i < 12 or i >= len(lines) - 4
        lm = _LABEL_LINE.match(ln) if near_edge else None
        pm = _PUBLISHED.match(ln) if near_edge else None
        if lm and _standard(lm.group(1)) and len(ln) < 300:
            meta.setdefault(_standard(lm.group(1)), lm.group(2).strip())
            continue
        if pm:
            meta.setdefault("date", pm.group(1))
            continue
        kept.append(ln)
    return "\n".join(kept), meta, fields


def _all_labels() -> set[str]:
    return {lab for labs in _LABELS.values() for lab in labs}


def _standard(label: str) -> str:
    low = label.lower().strip()
    return next((key for key, labs in _LABELS.items() if low in labs), "")


def _guess_title(body: str) -> str:
    first = next((ln.strip() for ln in body.split("\n") if ln.strip()), "")
    if 0 < len(first) <= 200 and not first.endswith((".", "。", "!", "！", "?", "？")):
        return first
    sentence = re.split(r"(?<=[.。!！?？])\s", first, maxsplit=1)[0]
    return sentence if len(sentence) <= 90 else sentence[:88].rstrip() + "…"


# ---------------------------------------------------------------- public API

def read_document(path: Path, doc_id: str | None = None) -> Document:
    """Read, clean and describe one file. Raises IngestError with a one-line reason."""
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise IngestError(f"unsupported type {suffix or '(no extension)'}")
    try:
        size = path.stat().st_size
        if size > MAX_BYTES:
            raise IngestError(f"file too large ({size / 1e6:.0f} MB > {MAX_BYTES / 1e6:.0f} MB)")
        data = path.read_bytes()
    except PermissionError:
        raise IngestError("permission denied") from None
    except OSError as e:
        raise IngestError(f"cannot read ({e.strerror or type(e).__name__})") from None
    if not data.strip():
        raise IngestError("empty file")
    reader = READERS.get(suffix)
    if reader is not None:
        text, meta = reader(data)
    else:  # plain text and Markdown
        text = decode_bytes(data)
        if _looks_binary(text):
            raise IngestError("binary file (not text)")
        text, meta = split_front_matter(text) if suffix in (".md", ".markdown") else (text, {})
    if suffix in TABLE_SUFFIXES:  # rows are data: no labelled-header parsing, no guessed title
        body, label_meta, fields = clean_text(text), {}, {}
        meta["title"] = meta.get("title") or path.stem
    else:
        body, label_meta, fields = _split_labelled(clean_text(text))
    body = dedupe_paragraphs(clean_text(body))
    if not body.strip():
        raise IngestError(f"scanned PDF or image: no text found{'' if ocr.available() else f' ({ocr.INSTALL_HINT})'}"
                          if suffix in (".pdf", ".png", ".jpg", ".jpeg") else "no text after cleaning")
    for k, v in label_meta.items():
        if v and not meta.get(k):
            meta[k] = v
    title = meta.get("title") or _guess_title(body) or path.stem
    return Document(
        id=doc_id or path.stem,
        path=str(path),
        text=body,
        lang=detect_lang(body),
        content_hash=hashlib.sha256(data).hexdigest(),
        title=title.strip()[:300],
        date=normalise_date(meta["date"]) if meta.get("date") else "",
        url=meta.get("url", "").strip(),
        author=meta.get("author", "").strip(),
        fields=fields,
    )


def iter_corpus(root: Path) -> Iterator[Path]:
    """Every file under `root` (unsupported types too, so that the summary can list them), sorted,
    following no symlink loops and skipping hidden files."""
    seen: set[tuple[int, int]] = set()
    for path in sorted(root.rglob("*")):
        if any(part.startswith(".") for part in path.relative_to(root).parts):
            continue
        try:
            if path.is_symlink() and not path.exists():  # dangling link: reported as unreadable
                yield path
                continue
            if not path.is_file():
                continue
            st = path.stat()
        except OSError:  # broken link, symlink loop
            yield path
            continue
        if (st.st_dev, st.st_ino) not in seen:
            seen.add((st.st_dev, st.st_ino))
            yield path


def doc_id_for(path: Path, root: Path) -> str:
    """The file stem; files in sub-folders are prefixed with their folder path."""
    rel = path.relative_to(root).with_suffix("")
    return "/".join(rel.parts)
