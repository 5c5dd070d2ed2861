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
_LETTERS = re.compile(rb"^[A-Za-z]+$")
_RUN = re.compile(rb"[A-Za-z]+$")  # the letters a token ends with
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
    letters: np.ndarray  # ASCII letters only, no space: a piece inside a word
    run_lower: np.ndarray  # the letters it ends with begin with a lower-case one (" s", "，s"; not " Y")
    lower_piece: np.ndarray  # lower-case letters only, however few ("il", "vo"): a word begun in lower case goes on
    short_start: np.ndarray  # one or two lower-case letters, after a space or not (" s", "sp"): a word begins
    ends_digit: np.ndarray  # ends with a digit: a unit may follow ("7 nm", "40 km")


def script_masks(pieces: Sequence[bytes]) -> ScriptMasks:
    """The masks for a vocabulary given as each token's bytes."""
    cjk = np.array([any(b in _CJK_LEAD for b in p) for p in pieces])
    scale = np.array([p.strip() in _SCALE for p in pieces])
    word = np.array([bool(_WORD.match(p)) for p in pieces]) & ~scale
    bare = np.array([bool(_BARE.match(p)) for p in pieces]) & ~scale
    ends = np.array([bool(p) and chr(p[-1]).isascii() and chr(p[-1]).isalpha() for p in pieces])
    letters = np.array([bool(_LETTERS.match(p)) for p in pieces])
    run_lower = np.array([bool(m) and m.group(0)[:1].islower() for m in (_RUN.search(p) for p in pieces)])
    lower = np.array([bool(re.match(rb"^[a-z]+$", p)) for p in pieces]) & ~scale
    short = np.array([bool(re.match(rb"^\s*[a-z]{1,2}$", p)) for p in pieces])
    digit = np.array([bool(p) and chr(p[-1]).isdigit() for p in pieces])
    return ScriptMasks(cjk, word, word | bare, ends, letters, run_lower, lower, short, digit)


class ScriptGuard:
    """A logits processor (llama-cpp-python's `(input_ids, scores) -> scores`) for an answer in `lang`."""

    def __init__(self, masks: ScriptMasks, lang: str):
        self.masks, self.lang = masks, lang

    def banned(self, tokens: Sequence[int]) -> np.ndarray:
        """What may not come after `tokens` (the answer so far; only the last few are read)."""
        m = self.masks
        if self.lang == "en":
            return m.cjk
        last = tokens[-1] if len(tokens) else None
        continues = last is not None and 0 <= last < len(m.ends_letter) and m.ends_letter[last]
        if continues and not self._word_starts_lower(tokens):
            return m.word  # inside a name begun in capitals (Y|angshan): its lower-case pieces may follow
        if continues:
            return m.word_or_bare | m.lower_piece  # a word begun in lower case may not go on ("强 s|pill|over")
        if last is not None and 0 <= last < len(m.ends_digit) and m.ends_digit[last]:
            return m.word_or_bare  # a short unit may follow a figure ("7 nm")
        return m.word_or_bare | m.short_start  # nor begin in one or two letters to get round the rule above

    def _word_starts_lower(self, tokens: Sequence[int]) -> bool:
        """The English word the last token ends inside began with a lower-case letter."""
        m = self.masks
        i = len(tokens) - 1
        while i > 0 and len(tokens) - i < 8 and m.letters[tokens[i]] and m.ends_letter[tokens[i - 1]]:
            i -= 1  # back over the pieces inside the word
        return bool(m.run_lower[tokens[i]])

    def __call__(self, input_ids: np.ndarray, scores: np.ndarray) -> np.ndarray:
        ban = self.banned([int(t) for t in input_ids[-8:]])
        n = min(len(scores), len(ban))
        scores[:n][ban[:n]] = -np.inf
        return scores
