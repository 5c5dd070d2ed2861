"""Turn a follow-up question into a standalone one for retrieval.

"那上海呢？" after "中国有多少家人工智能企业？" becomes "上海有多少家人工智能企业？". The generator does
the rewrite with a short instruction; when its output is unusable (or there is no language
model) the previous question and the follow-up are joined, which still retrieves well.

>>> needs_rewrite("那上海呢？", ["中国有多少家人工智能企业？"]), needs_rewrite("What is SenseTime?", [])
(True, False)
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence

from .generate import AnyGenerator, ExtractiveGenerator, GenerationError
from .text import content_words, detect_lang

log = logging.getLogger(__name__)

_CONTINUATION = re.compile(  # the turn continues the previous one: "那上海呢？", "And in 2023?", "What about…"
    r"^(那|那么|还有|而|其中|另外)|呢\s*[？?]?$|^(and|what about|how about|also|but|or)\b", re.IGNORECASE)
_REFERENCE = re.compile(  # words that point back at the conversation
    r"(它们|他们|她们|它|(?<!其)他(?!人)|她|(?<![尤极])其(?![他实余次])|该|此|这个|那个|这些|那些|这家|那家|上述)|"
    r"\b(it|its|they|them|their|these|those|he|she|his|her|him)\b|"
    r"\b(this|that)\b(?=\s*(?:[?.!,]|$|with\b|to\b|one\b|number\b|figure\b|year\b))", re.IGNORECASE)
_BARE_COUNT = re.compile(r"\bhow (many|much) (are|were|is|was|do|does|did|has|have)\b", re.IGNORECASE)  # many what?
_EXISTENTIAL = re.compile(r"\b(there (is|are|was|were|be)|(is|are|was|were) there)\b", re.IGNORECASE)
_DEFINITION = re.compile(r"^(what|who) (is|are|was|were)\b|是什么|是谁|是哪|介绍一下", re.IGNORECASE)
_QUESTION_WORDS = frozenset("what how why who whom when where which many much about also tell me please "
                            "什么 多少 怎么 怎么样 为什么 如何 哪 哪里 哪些 谁 几 吗 呢 样 请问 有 是".split())

_INSTRUCTION = {
    "zh": "把最后的追问改写成一个完整、独立的问题，补全省略的主语和内容。只输出改写后的问题。",
    "en": "Rewrite the follow-up as one complete, standalone question, filling in what it leaves out. "
          "Output only the rewritten question.",
}
_EXAMPLE = {
    "zh": ("之前的问题：中国有多少家人工智能企业？\n追问：那上海呢？", "上海有多少家人工智能企业？"),
    "en": ("Earlier question: How many AI companies does China have?\nFollow-up: And Shanghai?",
           "How many AI companies does Shanghai have?"),
}


def few_words(question: str) -> bool:
    """Two content words or fewer: "一共开设了多少个？" names too little to be searched alone."""
    return len(content_words(question) - _QUESTION_WORDS) <= 2


def needs_rewrite(question: str, history: Sequence[str], lang: str | None = None) -> bool:
    """A turn depends on the conversation when it continues the previous question ("那…呢", "and in
    2023?", "what about…"), points back at it ("it", "他们", "compare that"), or is too bare to stand
    alone ("Why?", "有多少家？", "深圳怎么样？"). A complete question stays as it is, however short
    ("What is SenseTime?"), so two unrelated questions are never glued together."""
    if not history:
        return False
    q = question.strip()
    if _CONTINUATION.search(q) or _BARE_COUNT.search(q) or _REFERENCE.search(_EXISTENTIAL.sub(" ", q)):
        return True
    content = content_words(q) - _QUESTION_WORDS
    short = len(q) <= 8 if (lang or detect_lang(q)) == "zh" else len(q.split()) <= 4
    return not content or (short and len(content) <= 1 and not _DEFINITION.search(q))


def condense(history: Sequence[str], question: str, generator: AnyGenerator | None = None,
             lang: str | None = None, force: bool = False) -> str:
    """A standalone question for retrieval, given earlier (standalone) questions of the conversation.
    `lang` is the question's language when the caller has detected it already; `force` rewrites a
    question that `needs_rewrite` would leave as it is."""
    lang = lang or detect_lang(question)
    if not history or not (force or needs_rewrite(question, history, lang)):
        return question
    previous = history[-1]
    if generator is None or isinstance(generator, ExtractiveGenerator):
        return f"{previous} {question}"
    ex_q, ex_a = _EXAMPLE[lang]
    label = ("之前的问题：", "追问：") if lang == "zh" else ("Earlier question: ", "Follow-up: ")
    messages = [
        {"role": "system", "content": _INSTRUCTION[lang]},
        {"role": "user", "content": ex_q},
        {"role": "assistant", "content": ex_a},
        {"role": "user", "content": f"{label[0]}{previous}\n{label[1]}{question}"},
    ]
    try:
        out = "".join(generator.stream(messages, max_tokens=60, lang=lang)).strip().splitlines()
    except GenerationError as e:  # the answer step will report a dead server; retrieval still works
        log.warning("follow-up rewrite failed, joining the questions instead: %s", e)
        out = []
    rewritten = out[0].strip().strip("\"'“”") if out else ""
    if not rewritten or len(rewritten) > 3 * len(previous) + 40 or detect_lang(rewritten) != lang:
        return f"{previous} {question}"
    return rewritten
