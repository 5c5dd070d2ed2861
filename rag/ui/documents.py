"""The documents behind the chat, managed from the UI: add (upload), list and delete, each allowed
to editors only and written to the audit log. Plain functions: the rights are checked here, on the
server, so a raw HTTP call gets the same refusal as the UI.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import time
import unicodedata
from collections.abc import Sequence
from pathlib import Path

from rag.errors import RagError
from rag.ingest import SUFFIXES
from rag.store import Index
from rag.text import HAN
from rag.users import AuditLog, User

UPLOAD_SUFFIXES = SUFFIXES
DELETED = ".deleted"  # deleted documents are moved here (hidden: never indexed), not destroyed


class UploadError(RagError, ValueError):
    pass


class RightsError(RagError):
    """The signed-in user may not do this."""


def require_editor(user: User | None, action: str) -> User:
    if user is None or not user.can_edit:
        who = user.name if user else "this session"
        raise RightsError(f"{who} may not {action}: sign in as an editor")
    return user


def safe_name(name: str) -> str:
    """A file name that cannot leave the corpus folder: base name only, no control or path characters."""
    base = Path(name.replace("\\", "/")).name
    base = unicodedata.normalize("NFC", base)
    if base.startswith("."):
        raise UploadError(f"invalid file name {name!r} (hidden or empty)")
    base = re.sub(rf"[^\w.\-{HAN} ]", "_", base).strip(" .")
    if not base or base.startswith("."):
        raise UploadError(f"invalid file name {name!r}")
    return base[:120]


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(1 << 20):
            h.update(block)
    return h.hexdigest()


def add_uploads(paths: Sequence[Path], names: Sequence[str], corpus: Path, max_mb: int, user: User | None,
                audit: AuditLog | None = None) -> tuple[list[str], list[str]]:
    """Copy uploaded files into the corpus. Returns (lines describing what happened, saved file names).

    Editors only. Refuses unsupported types and oversized files; never overwrites an existing
    document: a file with the same name and different content is saved under a new name."""
    try:
        user = require_editor(user, "add documents")
    except RightsError as e:
        if audit is not None:
            for name in names:
                audit.record(user.name if user else "?", "add-refused", Path(name).name)
        return [f"✗ {e}"], []
    corpus.mkdir(parents=True, exist_ok=True)
    lines, saved = [], []
    for src, name in zip(paths, names, strict=True):
        try:
            clean = safe_name(name)
            suffix = Path(clean).suffix.lower()
            if suffix not in UPLOAD_SUFFIXES:
                raise UploadError(f"{clean}: unsupported type {suffix or '(none)'} "
                                  f"(allowed: {', '.join(sorted(UPLOAD_SUFFIXES))})")
            size = Path(src).stat().st_size
            if size > max_mb * 1024 * 1024:
                raise UploadError(f"{clean}: {size / 1e6:.1f} MB is over the {max_mb} MB limit")
            dest = corpus / clean
            if dest.exists():
                if dest.read_bytes() == Path(src).read_bytes():
                    lines.append(f"{clean}: already in the corpus (unchanged)")
                    continue
                stem, i = dest.stem, 1
                while dest.exists():
                    dest = corpus / f"{stem}-{i}{suffix}"
                    i += 1
                lines.append(f"{clean}: a different document has this name; saved as {dest.name}")
            if dest.resolve().parent != corpus.resolve():
                raise UploadError(f"{clean}: refused (outside the corpus folder)")
            tmp = dest.with_name(f".{dest.name}.part")
            shutil.copyfile(src, tmp)
            tmp.replace(dest)
            saved.append(dest.name)
            if audit is not None:
                audit.record(user.name, "add", dest.name, _sha256(dest))
            if not lines or not lines[-1].startswith(clean):
                lines.append(f"{dest.name}: added")
        except UploadError as e:
            lines.append(f"✗ {e}")
        except OSError as e:
            lines.append(f"✗ {name}: {e.strerror or e}")
    return lines, saved


def document_rows(index: Index, audit: AuditLog | None) -> list[list[str | int]]:
    """One row per indexed document: id, title, date, chunks, who added it (— for documents that
    were in the corpus folder before, not uploaded)."""
    who = audit.added_by() if audit else {}
    rows = []
    for doc_id, d in sorted(index.manifest.docs.items()):
        name = Path(d.get("path", "")).name
        rows.append([doc_id, d.get("title", ""), d.get("date", ""), len(d.get("chunk_ids", [])), who.get(name, "—")])
    return rows


def delete_document(doc_id: str, index: Index, corpus: Path, user: User | None,
                    audit: AuditLog | None = None) -> str:
    """Move the document's file out of the corpus (into corpus/.deleted/, where it is never indexed)
    and say so; the caller re-indexes, which drops its chunks. Editors only."""
    try:
        user = require_editor(user, "delete documents")
    except RightsError:
        if audit is not None:
            audit.record(user.name if user else "?", "delete-refused", doc_id)
        raise
    entry = index.manifest.docs.get(doc_id)
    if entry is None:
        raise UploadError(f"no document {doc_id!r} in the index")
    path = Path(entry.get("path", ""))
    root = corpus.resolve()
    if not path.is_file() or root not in path.resolve().parents:
        raise UploadError(f"{doc_id}: its file is not in the corpus folder any more")
    digest = _sha256(path)
    trash = corpus / DELETED
    trash.mkdir(exist_ok=True)
    target = trash / f"{time.strftime('%Y%m%d-%H%M%S')}-{path.name}"
    path.replace(target)
    if audit is not None:
        audit.record(user.name, "delete", path.name, digest)
    return f"{path.name}: deleted (kept in {trash.name}/{target.name})"
