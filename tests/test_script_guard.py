"""The script guard: which tokens an answer in each language may not choose."""

import numpy as np

from rag.script_guard import ScriptGuard, script_masks
from rag.text import mixed_fragment

VOCAB = [b" million", b"The", b" minister", b" is", b" Single", b"\xe5\xbf\xa0", b"\xe5\xbe\xb7", b"\xe5", b"\xef\xbc\x8c",
         b" morality", b"ethics", b"AI", b" Y", b"angshan", b"5", b"G", b" km", b"\xe5\x92\x8c", b"."]
IDS = {p: i for i, p in enumerate(VOCAB)}


def chosen(lang: str, last: bytes) -> list[bytes]:
    """Tokens still allowed after the token `last`."""
    scores = np.zeros(len(VOCAB), dtype=np.float32)
    out = ScriptGuard(script_masks(VOCAB), lang)(np.array([IDS[last]]), scores)
    return [p for p, s in zip(VOCAB, out, strict=True) if np.isfinite(s)]


def test_english_answer_cannot_start_a_cjk_character():
    allowed = chosen("en", b" Single")
    assert b"\xe5\xbf\xa0" not in allowed and b"\xe5" not in allowed  # a Han character, or its first byte
    assert b"\xef\xbc\x8c" not in allowed  # full-width comma
    assert {b" minister", b" morality", b"AI", b"5"} <= set(allowed)


def test_chinese_answer_cannot_start_a_lower_case_english_word():
    allowed = chosen("zh", b"\xe5\x92\x8c")  # after 和
    assert b" morality" not in allowed and b"ethics" not in allowed and b"angshan" not in allowed
    assert {b"AI", b" Y", b"5", b"G", b" km", b"\xe5\xbf\xa0"} <= set(allowed)  # capitals, short units, Han
    assert b" million" in allowed  # converted to 万/亿 by code after generation
    assert b"angshan" in chosen("zh", b" Y")  # continues a name begun in capitals: Yangshan
    assert b" morality" not in chosen("zh", b" Y")


def test_greedy_choice_is_unchanged_when_the_best_token_is_allowed():
    scores = np.linspace(0, 1, len(VOCAB)).astype(np.float32)  # "." (last) is best
    out = ScriptGuard(script_masks(VOCAB), "en")(np.array([0]), scores.copy())
    assert int(np.argmax(out)) == len(VOCAB) - 1 and out[-1] == scores[-1]


def test_mixed_fragment_names_the_other_language_piece():
    assert mixed_fragment("大数据带来个人隐私、 morality和 ethics的难题[1]。", "zh") == "morality"
    assert mixed_fragment("京东云采用了“smart terminal + flexible power”模式", "zh") == "smart terminal"
    assert mixed_fragment("The vice minister is Single忠德[1].", "en") == "忠德"
    assert mixed_fragment("OpenAI 的 GPT-4o 和 5G 基站", "zh") == ""
    assert mixed_fragment("玛丽·麦特琳（Marlee Matlin）获奖", "zh") == ""
    assert mixed_fragment("Shan Zhongde (单忠德) gave the figures.", "en") == ""
    assert mixed_fragment('"人工智能加速赋能千行百业" (2024-10-21) does not say.', "en") == ""  # per-source, by code
    assert mixed_fragment('"人工智能" does not say. It is 人工智能.', "en") == "人工智能"
