"""The Gradio chat app over rag's public API. Start it with `rag chat` (or `python ui/app.py`).

Heavy things (models, index) load once in `launch`; each browser session keeps its own
conversation in a gr.State. Handlers live in rag/ui/handlers.py as plain functions. Errors,
uploads and index rebuilds are logged (stdlib logging, to stderr).
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable
from pathlib import Path

import gradio as gr

from rag.answer import Pipeline
from rag.errors import RagError
from rag.indexer import build_index
from rag.pipeline import open_pipeline
from rag.settings import Settings
from rag.store import index_exists
from rag.ui.documents import UPLOAD_SUFFIXES, add_uploads, delete_document, document_rows
from rag.ui.handlers import Session, chat_turn, render_sources
from rag.users import AuditLog, User, UsersError, UserStore, is_loopback

log = logging.getLogger("rag.ui")

CSS = """
.source { border: 1px solid #ddd; border-radius: 6px; padding: 6px 8px; margin: 6px 0; font-size: 0.9em; }
.source.cited { border-color: #3b82f6; }
.source:target { box-shadow: 0 0 0 3px #93c5fd; }
.src-meta, .score { color: #666; font-size: 0.85em; }
.src-body mark { background: #fde68a; }
.unsupported { text-decoration: underline wavy #dc2626; }
.abstain { color: #92400e; }
.rewritten { color: #666; font-size: 0.8em; }
a.cite { font-weight: 600; text-decoration: none; }
#sources { max-height: 70vh; overflow-y: auto; }
"""

EXAMPLES = [
    "上海有多少家重点人工智能企业？",
    "What is the number of AI core enterprises in China?",
    "我国智能算力规模有多大？",
    "What did Tao Qing say about large models?",
]


def describe(pipe: Pipeline, settings: Settings) -> str:
    ix = pipe.index
    built = time.strftime("%Y-%m-%d %H:%M", time.localtime(ix.manifest.created))
    gen = getattr(pipe.generator, "model_id", "none")
    served = "" if ix.manifest.embed_backend == "local" else f" ({ix.manifest.embed_backend})"
    return (f"**Backend** {settings.backend} · **generator** {gen}  \n"
            f"**Embeddings** {ix.manifest.embed_model}{served} · **index** {len(ix.manifest.docs)} documents, "
            f"{ix.manifest.n_chunks} chunks, built {built}")


def reindex(pipe: Pipeline, settings: Settings, lines: list[str],
            progress: Callable[..., object] = lambda *a, **k: None) -> None:
    """Bring the index up to date after an upload or delete and load it; the outcome is appended to `lines`.
    A refinement of the server's new index holds the index lock for a minute or two: waited for, not refused."""
    if pipe.refining is not None and pipe.refining.is_alive():
        progress(0.3, desc="waiting for the new index's sentence vectors to be refined")
        pipe.refining.join()
    progress(0.5, desc="indexing")
    summary = build_index(settings, pipe.embedder, quiet=True, warn=lines.append)
    pipe.reload_index()
    lines.append(f"indexed: {summary.docs_added} added, {summary.docs_changed} changed, "
                 f"{summary.docs_removed} removed, {summary.chunks_embedded} chunks embedded in "
                 f"{summary.seconds:.1f} s")
    log.info("index rebuilt: %s", lines[-1])


def build_app(pipe: Pipeline, settings: Settings, users: UserStore | None = None) -> gr.Blocks:
    users = users or UserStore()
    def respond(question: str, session: Session | None, k: int):
        session = session or Session()
        for turn in chat_turn(pipe, session, question, k=int(k)):
            yield "", turn.messages, turn.sources or gr.skip(), session

    def api_chat(question: str, session: Session | None) -> tuple[dict, Session]:
        """One question through the same path; returns the `rag ask --json` record."""
        session = session or Session()
        last = None
        for turn in chat_turn(pipe, session, question):
            last = turn
        if last is None or last.answer is None:
            message = last.messages[-1]["content"] if last else "no answer"
            return {"question": question, "error": message}, session
        return last.answer.to_json(), session

    audit = AuditLog(settings.index_path / "audit.jsonl")

    def who(request: gr.Request | None) -> User | None:
        """The signed-in user (Gradio's sign-in sets request.username); the local editor when off."""
        return users.user(getattr(request, "username", None) if request is not None else None)

    def documents_view():
        rows = document_rows(pipe.index, audit)
        return rows, gr.update(choices=[r[0] for r in rows], value=None)

    def upload(files, request: gr.Request, progress=gr.Progress()):
        user = who(request)
        if not files:
            return "Choose files first. / 请先选择文件。", gr.skip(), gr.skip(), gr.skip()
        paths = [Path(f) for f in files]
        lines, saved = add_uploads(paths, [p.name for p in paths], settings.corpus_path, settings.upload_max_mb,
                                   user, audit)
        log.info("upload by %s: %s", user.name if user else "?", "; ".join(lines))
        if saved:
            try:
                reindex(pipe, settings, lines, progress)
            except RagError as e:
                log.warning("upload: index rebuild refused: %s", e)
                return "\n".join(lines + [f"✗ {e}"]), gr.skip(), gr.skip(), gr.skip()
        return ("\n".join(lines), describe(pipe, settings), *documents_view())

    def delete(doc_id: str | None, request: gr.Request, progress=gr.Progress()):
        user = who(request)
        if not doc_id:
            return "Choose a document first. / 请先选择文档。", gr.skip(), gr.skip(), gr.skip()
        try:
            lines = [delete_document(doc_id, pipe.index, settings.corpus_path, user, audit)]
            reindex(pipe, settings, lines, progress)
        except RagError as e:
            log.info("delete of %s by %s refused: %s", doc_id, user.name if user else "?", e)
            return f"✗ {e}", gr.skip(), gr.skip(), gr.skip()
        log.info("delete by %s: %s", user.name if user else "?", lines[0])
        return ("\n".join(lines), describe(pipe, settings), *documents_view())

    def on_load(request: gr.Request):
        user = who(request)
        editor = bool(user and user.can_edit)
        badge = (f"Signed in as **{user.name}** ({user.role}) · [sign out](/logout)" if users and user
                 else "Local session (no sign-in) · editor")
        return badge, gr.update(visible=editor), gr.update(visible=editor), *documents_view()

    with gr.Blocks(title="Bilingual document Q&A") as app:
        session = gr.State(None)
        gr.Markdown("## 文档问答 · Document Q&A\nAsk in Chinese or English; every sentence cites its passages.")
        with gr.Row():
            with gr.Column(scale=3):
                chatbot = gr.Chatbot(label="Chat", height=520, elem_id="chat", render_markdown=True,
                                     sanitize_html=True)
                with gr.Row():
                    box = gr.Textbox(placeholder="Ask a question… / 输入问题…", show_label=False, scale=5,
                                     elem_id="question", max_length=10000)
                    send = gr.Button("Ask / 提问", variant="primary", scale=1, elem_id="send")
                gr.Examples(EXAMPLES, inputs=box, label="Examples / 示例")
            with gr.Column(scale=2):
                sources = gr.HTML(render_sources(None, pipe.index), elem_id="sources", label="Sources")
        with gr.Accordion("Settings and documents / 设置与文档", open=False):
            badge = gr.Markdown(elem_id="user")
            info = gr.Markdown(describe(pipe, settings), elem_id="info")
            k = gr.Slider(1, 10, value=settings.k, step=1, label="Passages retrieved / 检索段落数")
            docs = gr.Dataframe(headers=["id", "title", "date", "chunks", "added by"], interactive=False,
                                label="Documents / 文档", elem_id="documents", max_height=320)
            with gr.Group(visible=False) as add_group:
                files = gr.File(file_count="multiple", file_types=sorted(UPLOAD_SUFFIXES),
                                label=f"Add documents (≤ {settings.upload_max_mb} MB each)", elem_id="upload")
                add = gr.Button("Add to corpus / 加入文档库", elem_id="add")
            with gr.Row(visible=False) as delete_row:
                doomed = gr.Dropdown(label="Delete a document / 删除文档", choices=[], elem_id="delete-choice")
                remove = gr.Button("Delete / 删除", variant="stop", elem_id="delete")
            status = gr.Textbox(label="Status", interactive=False, lines=3, elem_id="upload-status")
        api_in = gr.Textbox(visible=False)
        api_out = gr.JSON(visible=False)
        api_btn = gr.Button(visible=False)

        outs = [box, chatbot, sources, session]
        for trigger in (box.submit, send.click):
            trigger(respond, [box, session, k], outs, concurrency_id="model", concurrency_limit=1,
                    api_visibility="private")
        api_btn.click(api_chat, [api_in, session], [api_out, session], api_name="chat", concurrency_id="model",
                      concurrency_limit=1)
        add.click(upload, [files], [status, info, docs, doomed], concurrency_id="index", concurrency_limit=1,
                  api_visibility="private")
        remove.click(delete, [doomed], [status, info, docs, doomed], concurrency_id="index", concurrency_limit=1,
                     api_visibility="private")
        app.load(on_load, None, [badge, add_group, delete_row, docs, doomed], api_visibility="private")
    return app


def launch(settings: Settings, host: str = "127.0.0.1", port: int = 7860, insecure: bool = False) -> None:
    """Serve the chat. Sign-in is on whenever users are configured; a server reachable from other
    machines refuses to start without users unless `insecure` says so."""
    users = UserStore.load(settings.users_file, settings.users, 
                           required=settings.users_file != Settings.users_file)  # an explicit file must exist
    if not users and not is_loopback(host) and not insecure:
        raise UsersError(f"refusing to serve on {host} without sign-in: set users_file (RAG_USERS_FILE; "
                         "`rag users add NAME --role editor` creates it), or pass --insecure")
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("rag").setLevel(logging.INFO)  # our own events (uploads, deletes, rebuilds); libraries: warnings
    if not index_exists(settings):
        log.info("no index in %s: building it from %s", settings.index_path, settings.corpus_path)
    # incremental index update (cheap when nothing changed); a large first build serves as soon as its index
    # is usable and refines its sentence vectors in the background
    pipe = open_pipeline(settings, quiet=False, refine_in_background=True, warn=lambda m: log.info("%s", m))
    if pipe.build_summary and pipe.build_summary.chunks_embedded:
        s = pipe.build_summary
        log.info("index updated: %d added, %d changed, %d removed; %d chunks embedded in %.1f s",
                 s.docs_added, s.docs_changed, s.docs_removed, s.chunks_embedded, s.seconds)
    app = build_app(pipe, settings, users)
    app.queue(default_concurrency_limit=1, max_size=64)
    log.info("chat on http://%s:%s (%s)", host, port,
             f"sign-in on, {len(users.users)} users" if users else "no sign-in" + (", INSECURE" if insecure else ""))
    print(f"chat on http://{host}:{port}", file=sys.stderr, flush=True)
    app.launch(server_name=host, server_port=port, show_error=False, css=CSS, quiet=True,
               max_file_size=f"{settings.upload_max_mb}mb",
               auth=users.authenticate if users else None,
               auth_message="Sign in to ask questions about the documents. / 请登录后提问。")
