"""Sign-in and rights: users and roles, password hashes, refusal to serve other machines without
users, documents added and deleted by editors only, the audit log."""

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from rag.cli import main
from rag.errors import RagError
from rag.pipeline import open_pipeline
from rag.ui.documents import RightsError, add_uploads, delete_document, document_rows
from rag.users import (
    AuditLog,
    User,
    UsersError,
    UserStore,
    hash_password,
    is_loopback,
    save_user,
    verify_password,
)

ROOT = Path(__file__).resolve().parent.parent
EDITOR, READER = User("ed", "editor"), User("rita", "reader")


def test_passwords_are_stored_as_salted_scrypt_hashes(tmp_path):
    f = tmp_path / "users.toml"
    save_user(f, "ed", "editor", "correct horse")
    text = f.read_text()
    assert "correct horse" not in text and "scrypt$" in text
    assert oct(f.stat().st_mode & 0o777) == "0o600"
    store = UserStore.load(str(f))
    assert store.authenticate("ed", "correct horse") and not store.authenticate("ed", "wrong")
    assert not store.authenticate("nobody", "correct horse")
    assert store.user("ed").can_edit and store.user("nobody") is None
    assert hash_password("x" * 8) != hash_password("x" * 8) and verify_password("x" * 8, hash_password("x" * 8))


def test_plain_text_passwords_and_unknown_roles_are_refused(tmp_path):
    f = tmp_path / "users.toml"
    f.write_text('[users.eve]\nrole = "editor"\npassword = "hunter2"\n')
    with pytest.raises(UsersError, match="needs a password hash"):
        UserStore.load(str(f))
    with pytest.raises(UsersError, match="roles are: reader, editor"):
        UserStore.load("", env=f"eve:admin:{hash_password('password1')}")
    with pytest.raises(UsersError, match="not found"):
        UserStore.load(str(tmp_path / "missing.toml"), required=True)
    assert not UserStore.load(str(tmp_path / "missing.toml"))  # the default file may be absent: no users


def test_no_users_means_local_editor_only():
    store = UserStore()
    assert store.user(None).can_edit
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.5") and not is_loopback("")


def test_chat_on_another_address_without_users_refuses_with_one_line(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)  # no users.toml here
    monkeypatch.setenv("RAG_CONFIG", "/nonexistent.toml")
    assert main(["chat", "--host", "0.0.0.0", "--port", "1"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("rag: error: refusing to serve on 0.0.0.0 without sign-in")
    assert "users_file" in err[0] and "--insecure" in err[0]


def test_readers_cannot_add_or_delete_and_editors_can_with_an_audit_trail(fake_settings, tmp_path):
    pipe = open_pipeline(fake_settings)
    audit = AuditLog(fake_settings.index_path / "audit.jsonl")
    upload = tmp_path / "upload.txt"
    upload.write_text("上海只有3家重点人工智能企业。", encoding="utf-8")
    lines, saved = add_uploads([upload], ["fake.txt"], fake_settings.corpus_path, 5, READER, audit)
    assert saved == [] and lines[0].startswith("✗ rita may not add documents")
    lines, saved = add_uploads([upload], ["notes.txt"], fake_settings.corpus_path, 5, EDITOR, audit)
    assert saved == ["notes.txt"]
    with pytest.raises(RightsError):
        delete_document("notes", pipe.index, fake_settings.corpus_path, READER, audit)
    pipe = open_pipeline(fake_settings, embedder=pipe.embedder, generator=pipe.generator)
    rows = {r[0]: r for r in document_rows(pipe.index, audit)}
    assert rows["notes"][4] == "ed" and rows["001_53cdb50f1de54eeb"][4] == "—" and rows["notes"][3] >= 1
    msg = delete_document("notes", pipe.index, fake_settings.corpus_path, EDITOR, audit)
    assert msg.startswith("notes.txt: deleted") and not (fake_settings.corpus_path / "notes.txt").exists()
    pipe = open_pipeline(fake_settings, embedder=pipe.embedder, generator=pipe.generator)
    assert "notes" not in pipe.index.manifest.docs and pipe.build_summary.docs_removed == 1
    assert all(h.chunk.doc_id != "notes" for h in pipe.ask("上海有多少家重点人工智能企业？").hits)
    log = [json.loads(line) for line in (fake_settings.index_path / "audit.jsonl").read_text().splitlines()]
    assert [(e["user"], e["action"], e["file"]) for e in log] == [
        ("rita", "add-refused", "fake.txt"), ("ed", "add", "notes.txt"), ("rita", "delete-refused", "notes"),
        ("ed", "delete", "notes.txt")]
    assert all(e["time"] and (e["sha256"] or "refused" in e["action"]) for e in log)
    assert log[1]["sha256"] == log[3]["sha256"]


# ---------------------------------------------------------------- the real server, over raw HTTP

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def signed_server(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("auth")
    corpus = tmp / "corpus"
    shutil.copytree(ROOT / "seeds", corpus)
    users = tmp / "users.toml"
    save_user(users, "ed", "editor", "editor-pass")
    save_user(users, "rita", "reader", "reader-pass")
    port = _free_port()
    env = {**os.environ, "RAG_EMBED_MODEL": "hash-256", "RAG_BACKEND": "extractive", "RAG_ABSTAIN_SCORE": "0.05",
           "RAG_SUPPORT_THRESHOLD": "0.5", "RAG_USERS_FILE": str(users), "RAG_CONFIG": "/nonexistent.toml"}
    log = open(tmp / "server.log", "w")
    proc = subprocess.Popen([sys.executable, "-m", "rag", "chat", "--corpus", str(corpus), "--index",
                             str(tmp / "index"), "--port", str(port)], env=env, cwd=ROOT, stdout=log,
                            stderr=subprocess.STDOUT)
    deadline = time.time() + 120
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            if proc.poll() is not None:
                pytest.fail("rag chat exited: " + (tmp / "server.log").read_text()[-2000:])
            time.sleep(0.5)
    yield f"http://127.0.0.1:{port}", tmp
    proc.terminate()
    proc.wait(timeout=20)


def _upload_fn_index(client: httpx.Client) -> int:
    config = client.get("/config").json()
    add = next(c["id"] for c in config["components"] if c.get("props", {}).get("elem_id") == "add")
    return next(i for i, d in enumerate(config["dependencies"]) if add in [t[0] for t in d["targets"]])


def _raw_upload(client: httpx.Client, name: str, text: str) -> str:
    """What an attacker does: the upload route, then the hidden upload event by its fn_index."""
    up = client.post("/gradio_api/upload", files={"files": (name, text.encode(), "text/plain")})
    if up.status_code != 200:
        return f"HTTP {up.status_code}"
    path = up.json()[0]
    fn = _upload_fn_index(client)
    session = f"s{time.time_ns()}"
    body = {"fn_index": fn, "session_hash": session, "trigger_id": None,
            "data": [[{"path": path, "orig_name": name, "meta": {"_type": "gradio.FileData"}}]]}
    join = client.post("/gradio_api/queue/join", json=body)
    if join.status_code != 200:
        return f"HTTP {join.status_code}"
    with client.stream("GET", f"/gradio_api/queue/data?session_hash={session}", timeout=60) as resp:
        for line in resp.iter_lines():
            if line.startswith("data:"):
                msg = json.loads(line[5:])
                if msg.get("msg") == "process_completed":
                    out = msg.get("output", {})
                    return str((out.get("data") or [out.get("error")])[0])
    return "no answer"


def test_raw_http_upload_needs_sign_in_and_editor_rights(signed_server):
    url, tmp = signed_server
    with httpx.Client(base_url=url, timeout=30) as anonymous:
        assert anonymous.post("/gradio_api/upload", files={"files": ("x.txt", b"x", "text/plain")}).status_code in (
            401, 403)
        assert anonymous.get("/config").status_code in (401, 403) or "components" not in anonymous.get("/config").text
    with httpx.Client(base_url=url, timeout=30) as reader:
        assert reader.post("/login", data={"username": "rita", "password": "wrong"}).status_code in (400, 401)
        assert reader.post("/login", data={"username": "rita", "password": "reader-pass"}).status_code == 200
        status = _raw_upload(reader, "shanghai.txt", "上海只有3家重点人工智能企业。")
        assert "rita may not add documents" in status, status
        assert not (tmp / "corpus" / "shanghai.txt").exists()
    with httpx.Client(base_url=url, timeout=30) as editor:
        assert editor.post("/login", data={"username": "ed", "password": "editor-pass"}).status_code == 200
        status = _raw_upload(editor, "lanterns.txt", "The city of Quanzhou made 8,765 paper lanterns in 2023.")
        assert "lanterns.txt: added" in status and "indexed" in status, status
    log = (tmp / "index" / "audit.jsonl").read_text()
    assert '"rita", "action": "add-refused"' in log and '"ed", "action": "add"' in log


def test_models_are_not_needed_to_refuse(tmp_path):
    """The refusal comes before any model or index is loaded (fast, one line)."""
    out = subprocess.run([sys.executable, "-m", "rag", "chat", "--host", "0.0.0.0", "--index", str(tmp_path / "i")],
                         capture_output=True, text=True, cwd=tmp_path, env={**os.environ, "RAG_CONFIG": "/x.toml"},
                         timeout=60)
    assert out.returncode == 1 and out.stderr.strip().count("\n") == 0 and "refusing to serve" in out.stderr
    assert not (tmp_path / "i").exists()
    assert issubclass(UsersError, RagError)
