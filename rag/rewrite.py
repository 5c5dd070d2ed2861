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
from .text import detect_lang

log = logging.getLogger(__name__)

_ANAPHORA = re.compile(
    r"^(那|那么|还有|而|它|他|她|其|这|该|此)|呢[？?]?$|(它们|他们|她们|这个|那个|这些|那些|该|其)|"
    r"\b(it|its|they|them|their|this|that|these|those|there|he|she|his|her)\b|^(and|what about|how about|also)\b",
    re.IGNORECASE)

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


def needs_rewrite(question: str, history: Sequence[str], lang: str | None = None) -> bool:
    """A follow-up needs context when it is short or refers back ("那…呢", "it", "what about")."""
    if not history:
        return False
    q = question.strip()
    short = len(q) <= 8 if (lang or detect_lang(q)) == "zh" else len(q.split()) <= 4
    return short or bool(_ANAPHORA.search(q))


def condense(history: Sequence[str], question: str, generator: AnyGenerator | None = None,
             lang: str | None = None) -> str:
    """A standalone question for retrieval, given earlier (standalone) questions of the conversation.
    `lang` is the question's language when the caller has detected it already."""
    lang = lang or detect_lang(question)
    if not needs_rewrite(question, history, lang):
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
        out = "".join(generator.stream(messages, max_tokens=60)).strip().splitlines()
    except GenerationError as e:  # the answer step will report a dead server; retrieval still works
        log.warning("follow-up rewrite failed, joining the questions instead: %s", e)
        out = []
    rewritten = out[0].strip().strip("\"'“”") if out else ""
    if not rewritten or len(rewritten) > 3 * len(previous) + 40 or detect_lang(rewritten) != lang:
        return f"{previous} {question}"
    return rewritten
