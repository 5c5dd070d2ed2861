"""Language detection for Chinese/English text.

>>> detect_lang("上海有多少家重点人工智能企业？"), detect_lang("How many AI firms?")
('zh', 'en')
"""

from __future__ import annotations

import re

_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_LATIN = re.compile(r"[A-Za-z]")


def cjk_ratio(text: str) -> float:
    cjk = len(_CJK.findall(text))
    latin_words = len(re.findall(r"[A-Za-z]+", text))
    total = cjk + latin_words
    return cjk / total if total else 0.0


def detect_lang(text: str, default: str = "en") -> str:
    """'zh' when Chinese characters dominate (each Han character vs each Latin word), else 'en'."""
    if not _CJK.search(text) and not _LATIN.search(text):
        return default
    return "zh" if cjk_ratio(text) >= 0.3 else "en"
