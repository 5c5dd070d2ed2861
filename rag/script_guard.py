"""Keeps a generated answer in the question's language, token by token.

The small generator copies pieces of a passage in the other language into its answer ("…is Single忠德",
"个人隐私、 morality和 ethics"). While an answer is generated, the tokens that would start such a piece
are taken out of the model's choice:
- English answer: any token holding (the start of) a CJK character or full-width form;
- Chinese answer: a lower-case English word of 3+ letters (" morality", "ethics") unless it continues a
  word already begun (Y|angshan), so names and abbreviations in capitals (OpenAI, AI, 5G) stay possible;
  so do the scale words (million, billion), which code converts to 万/亿 after generation.

An answer the model would write in one language anyway comes out the same: the masked tokens were not
its choice, so greedy output changes only where it would have mixed languages.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

# UTF-8 lead bytes of U+3000-U+9FFF (CJK punctuation, kana, Han) and U+F000-U+FFFF (full-width forms);
# continuation bytes are 0x80-0xBF, so one of these in a token means such a character starts there.
_CJK_LEAD = frozenset(range(0xE3, 0xEA)) | {0xEF}
_WORD = re.compile(rb"^\s+[a-z]{3,}")  # " morality": an English word starts
_BARE = re.compile(rb"^[a-z]{3,}")  # "morality": starts a word, or continues one (Y|angshan)
# Scale words stay possible in Chinese answers: code rewrites "300 million yuan" as "3亿元" (text.in_notation),
# which the model, made to convert by itself, got wrong ("300多亿元", seed zh-031).
_SCALE = frozenset({b"thousand", b"million", b"billion", b"trillion"})


@dataclass(frozen=True)
class ScriptMasks:
    """One flag per vocabulary token."""

    cjk: np.ndarray  # holds (the start of) a CJK character
    word: np.ndarray  # a lower-case English word after white space
    word_or_bare: np.ndarray  # ... or without it
    ends_letter: np.ndarray  # ends with an ASCII letter: a bare lower-case token after it continues a word


def script_masks(pieces: Sequence[bytes]) -> ScriptMasks:
    """The masks for a vocabulary given as each token's bytes."""
    cjk = np.array([any(b in _CJK_LEAD for b in p) for p in pieces])
    scale = np.array([p.strip() in _SCALE for p in pieces])
    word = np.array([bool(_WORD.match(p)) for p in pieces]) & ~scale
    bare = np.array([bool(_BARE.match(p)) for p in pieces]) & ~scale
    ends = np.array([bool(p) and chr(p[-1]).isascii() and chr(p[-1]).isalpha() for p in pieces])
    return ScriptMasks(cjk, word, word | bare, ends)


class ScriptGuard:
    """A logits processor (llama-cpp-python's `(input_ids, scores) -> scores`) for an answer in `lang`."""

    def __init__(self, masks: ScriptMasks, lang: str):
        self.masks, self.lang = masks, lang

    def banned(self, last_token: int | None) -> np.ndarray:
        m = self.masks
        if self.lang == "en":
            return m.cjk
        continues = last_token is not None and 0 <= last_token < len(m.ends_letter) and m.ends_letter[last_token]
        return m.word if continues else m.word_or_bare

    def __call__(self, input_ids: np.ndarray, scores: np.ndarray) -> np.ndarray:
        ban = self.banned(int(input_ids[-1]) if len(input_ids) else None)
        n = min(len(scores), len(ban))
        scores[:n][ban[:n]] = -np.inf
        return scores
