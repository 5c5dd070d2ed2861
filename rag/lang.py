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


_EN_FUNCTION = re.compile(r"\b(the|a|an|of|in|on|is|are|was|were|what|how|which|who|when|where|why|does|do|did|"
                          r"has|have|and|to|for|with|many|much)\b", re.IGNORECASE)
_ZH_FUNCTION = re.compile(r"[的是吗呢了和在有哪么谁几]|什么|多少|怎么|为什么|如何")


def detect_lang(text: str, default: str = "en") -> str:
    """'zh' or 'en'. Mixed text is decided by its grammar words (的/什么/吗 vs the/what/does), so
    "What does 人工智能 mean?" is English and "OpenAI 的 GPT-4 是什么？" is Chinese; otherwise by the
    share of Han characters."""
    if not _CJK.search(text):
        return default if not _LATIN.search(text) else "en"
    if not _LATIN.search(text):
        return "zh"
    en, zh = len(_EN_FUNCTION.findall(text)), len(_ZH_FUNCTION.findall(text))
    if en != zh:
        return "zh" if zh > en else "en"
    return "zh" if cjk_ratio(text) >= 0.3 else "en"
