"""Plain functions behind the chat UI: rendering answers and sources as safe HTML, and the chat
turn (documents are added and deleted in documents.py). No Gradio here, so they are unit-tested
without a browser.

Every piece of document or model text goes through `html.escape`; the only markup is ours.
"""

from __future__ import annotations

import html
import logging
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from rag.answer import Delta, Done, Pipeline, QuestionError, Retrieved
from rag.errors import RagError
from rag.records import Answer, Hit
from rag.store import Index
from rag.text import in_script

log = logging.getLogger(__name__)


@dataclass
class Session:
    """One browser session's conversation: what it asked (standalone) and the chat transcript."""

    questions: list[str] = field(default_factory=list)
    messages: list[dict[str, str]] = field(default_factory=list)


def _text(s: str) -> str:
    """Escape text for HTML and neutralise Markdown link syntax (no `[x](javascript:…)` can form)."""
    return html.escape(s).replace("[", "&#91;").replace("]", "&#93;").replace("\n", "<br>")


_MARK = re.compile(r"\[(\d{1,3})\]")


def render_answer(answer: Answer, index: Index) -> str:
    """The verified answer: `[n]` markers become links to the passage, unsupported sentences are marked."""
    if answer.abstained:
        head = in_script("资料中没有找到答案。", answer.traditional) if answer.lang == "zh" else "Not in the documents."
        return (f'<div class="abstain"><b>⚠ {_text(head)}</b> {_text(answer.text)}</div>'
                + _closest(answer.hits, index, answer.lang, answer.traditional))
    body = _text(answer.text)
    for sentence in answer.unsupported:
        esc = _text(sentence.rstrip("。.!?！？"))
        body = body.replace(esc, f'<span class="unsupported" title="not supported by the passages">⚠ {esc}</span>', 1)
    body = re.sub(r"&#91;(\d{1,3})&#93;", lambda m: f'<a class="cite" href="#src-{m.group(1)}">[{m.group(1)}]</a>', body)
    return body


def _closest(hits: Sequence[Hit], index: Index, lang: str, traditional: bool = False) -> str:
    title = in_script("最接近的段落：", traditional) if lang == "zh" else "Closest passages:"
    items = "".join(f"<li>{_text(_title(index, h))}: {_text(_clip(h.chunk.text, 160))}</li>" for h in hits[:3])
    return f'<div class="closest">{title}<ol>{items}</ol></div>'


def _clip(text: str, n: int) -> str:
    return text if len(text) <= n else text[:n].rstrip() + "…"


def _title(index: Index, hit: Hit) -> str:
    info = index.doc_info(hit.chunk.doc_id)
    return info.title or info.id


def render_sources(answer: Answer | None, index: Index, rewritten: str = "") -> str:
    """Cited passages (with the supporting sentence highlighted) first, then those only consulted."""
    if answer is None:
        return '<div class="sources-empty">Sources appear here. / 来源会显示在这里。</div>'
    cited = {c.n for c in answer.citations if c.supported}
    evidence: dict[int, list[str]] = {}
    for c in answer.citations:
        if c.supported and c.evidence:
            evidence.setdefault(c.n, []).append(c.evidence)
    parts = []
    if rewritten and rewritten != answer.question:
        parts.append(f'<div class="rewritten">searched for / 检索问题：{_text(rewritten)}</div>')
    cards_cited, cards_other = [], []
    for n, hit in enumerate(answer.hits, 1):
        card = _card(n, hit, index, evidence.get(n, []), n in cited)
        (cards_cited if n in cited else cards_other).append(card)
    if cards_cited:
        parts.append("<h4>Cited / 引用</h4>" + "".join(cards_cited))
    if cards_other:
        parts.append(f"<details><summary>Also consulted / 参考 ({len(cards_other)})</summary>"
                     + "".join(cards_other) + "</details>")
    return '<div class="sources-panel" style="max-height:72vh;overflow-y:auto">' + "".join(parts) + "</div>"


def _card(n: int, hit: Hit, index: Index, evidence: list[str], cited: bool) -> str:
    info = index.doc_info(hit.chunk.doc_id)
    text = hit.chunk.text
    spans = []
    for ev in evidence:
        i = text.find(ev.strip())
        if i >= 0:
            spans.append((i, i + len(ev.strip())))
    body, pos = [], 0
    for a, b in sorted(set(spans)):
        if a < pos:
            continue
        body.append(_text(text[pos:a]) + "<mark>" + _text(text[a:b]) + "</mark>")
        pos = b
    body.append(_text(text[pos:]))
    meta = " · ".join(_text(x) for x in (info.date, hit.chunk.doc_id) if x)
    link = (f' <a href="{html.escape(info.url, quote=True)}" target="_blank" rel="noopener noreferrer">link</a>'
            if info.url.startswith(("http://", "https://")) else "")
    cls = "source cited" if cited else "source"
    return (f'<div class="{cls}" id="src-{n}"><div class="src-head"><b>[{n}]</b> {_text(info.title or info.id)}'
            f'<span class="src-meta"> {meta}</span>{link} <span class="score">{hit.dense_score:.2f}</span></div>'
            f'<div class="src-body">{"".join(body)}</div></div>')


@dataclass(frozen=True)
class Turn:
    """What the UI shows after each step of a chat turn."""

    messages: list[dict[str, str]]
    sources: str
    done: bool
    answer: Answer | None = None


def chat_turn(pipe: Pipeline, session: Session, question: str, k: int | None = None) -> Iterator[Turn]:
    """One question: stream the raw answer, then show the verified one with its sources."""
    user = {"role": "user", "content": _text(question.strip()[:2000])}
    base = session.messages + [user]
    try:
        shown = ""
        for ev in pipe.stream(question, history=session.questions, k=k):
            if isinstance(ev, Retrieved):
                standalone = ev.rewritten
                note = f'<div class="rewritten">→ {_text(standalone)}</div>' if standalone != question.strip() else ""
                yield Turn(base + [{"role": "assistant", "content": note + "…"}], "", False)
            elif isinstance(ev, Delta):
                shown += ev.text
                yield Turn(base + [{"role": "assistant", "content": _text(shown) + " ▌"}], "", False)
            elif isinstance(ev, Done):
                a = ev.answer
                index = pipe.index
                note = (f'<div class="rewritten">→ {_text(a.rewritten_question)}</div>'
                        if a.rewritten_question != a.question else "")
                reply = {"role": "assistant", "content": note + render_answer(a, index)}
                session.questions.append(a.rewritten_question)
                session.messages = base + [reply]
                yield Turn(list(session.messages), render_sources(a, index, a.rewritten_question), True, a)
    except RagError as e:  # the user can act on it (empty question, generation server down, …)
        log.info("chat turn refused: %s", e)
        session.messages = base + [{"role": "assistant", "content": _text(f"⚠ {e}" if not isinstance(e, QuestionError)
                                                                            else str(e))}]
        yield Turn(list(session.messages), "", True)
    except Exception as e:  # a bug: logged with its traceback; the user sees one short line
        log.exception("chat turn failed for question %r", question[:200])
        msg = f"⚠ Something went wrong: {type(e).__name__}: {str(e)[:200]}"
        session.messages = base + [{"role": "assistant", "content": _text(msg)}]
        yield Turn(list(session.messages), "", True)
