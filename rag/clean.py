"""Strip web boilerplate from extracted text, keeping character-level structure simple.

>>> clean_text("Real text.\\nThe Links:   3BSE008518R1 3HAC16831-1 DISPLAY\\nPowered by:facecloud")
'Real text.'
"""

from __future__ import annotations

import re
import unicodedata

# Whole lines that are boilerplate. Matched against the stripped line.
_LINE_PATTERNS = [
    r"^the links\s*:.*$",  # link spam: "The Links: 3BSE008518R1 …"
    r"^location\s*:\s*home\b.*$",  # breadcrumbs "Location: Home >Posts> …"
    r"^(home|首页)\s*[>›»/].*$",
    r"^当前位置\s*[:：].*$",
    r"^[•·\-\*]?\s*(中文|english|简体中文|繁體中文|繁体中文|日本語)\s*$",  # language switchers
    r"^address\s*[:：].*$",
    r"^地址\s*[:：].*$",
    r"^(copyright|©|\(c\)).*$",
    r"^版权所有.*$",
    r"^.*\bcopyright\s*©.*$",
    r"^powered\s+by\b.*$",
    r"^.*ICP\s*[:：]?\s*[备证]?.*\d{6,}.*$",
    r"^.*[京沪浙粤苏]ICP[备证].*$",
    r"^.*公网安备.*$",
    r"^long by picture save/share$",
    r"^(share|分享)\s*(to|到)?\s*[:：]?\s*$",
    r"^(举报/反馈|举报|反馈)$",
    r"^(beilun district|zhejiang province)\b.*$",  # tail lines of a wrapped address block
]
_LINE_RE = re.compile("|".join(f"(?:{p})" for p in _LINE_PATTERNS), re.IGNORECASE)
_TRAILING_SPAM = re.compile(r"\s*(举报/反馈|The Links:.*)$")
_ZERO_WIDTH = dict.fromkeys(map(ord, "\u200b\u200c\u200d\ufeff\u2060"), None)


def clean_text(text: str) -> str:
    """Normalise whitespace and drop boilerplate lines; paragraphs stay separated by blank lines."""
    text = unicodedata.normalize("NFC", text).translate(_ZERO_WIDTH)
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "")
    text = "".join(ch for ch in text if ch in "\n\t" or unicodedata.category(ch)[0] != "C")
    out: list[str] = []
    for raw in text.split("\n"):
        line = re.sub(r"[ \t\u3000\xa0]+", " ", raw).strip()
        if line and _LINE_RE.match(line):
            continue
        line = _TRAILING_SPAM.sub("", line).strip()
        out.append(line)
    joined = "\n".join(out)
    joined = re.sub(r"\n{3,}", "\n\n", joined).strip()
    return _drop_repeated_title(joined)


def _drop_repeated_title(text: str) -> str:
    """Sites repeat the headline as the last line ("… Scenarios\\nLong by picture"): drop a final
    line identical to an earlier one."""
    paras = text.split("\n\n")
    if len(paras) > 2 and paras[-1] in paras[:-1] and len(paras[-1]) < 300:
        paras = paras[:-1]
    return "\n\n".join(paras)


def dedupe_paragraphs(text: str) -> str:
    """Remove exact repeated paragraphs (scraped pages often repeat a block)."""
    seen: set[str] = set()
    kept = []
    for p in text.split("\n\n"):
        key = re.sub(r"\s+", "", p)
        if len(key) > 40 and key in seen:
            continue
        seen.add(key)
        kept.append(p)
    return "\n\n".join(kept)
