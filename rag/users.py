"""Who may do what in the chat server: users with roles, password hashes, and the audit log.

Users come from a TOML file (`users_file`, default `users.toml`, `RAG_USERS_FILE`) written by
`rag users add`, and/or from
`RAG_USERS` ("name:role:hash,name:role:hash"). Passwords are stored only as scrypt hashes. Roles:
`reader` asks questions; `editor` also adds and deletes documents. With no users configured the
server only serves the loopback address, where the one local user is an editor.

    [users.alice]
    role = "editor"
    password = "scrypt$16384$8$1$<salt>$<hash>"

>>> h = hash_password("s3cret")
>>> verify_password("s3cret", h), verify_password("guess", h)
(True, False)
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import ipaddress
import json
import os
import secrets
import threading
import time
import tomllib
from dataclasses import dataclass
from pathlib import Path

from .errors import RagError

ROLES = ("reader", "editor")
LOCAL = "local"  # the user of a server on the loopback address without sign-in
_N, _R, _P = 2**14, 8, 1  # scrypt cost: ~50 ms per check on one core


class UsersError(RagError):
    """The users file or a user entry is unusable; the message names it."""


@dataclass(frozen=True)
class User:
    name: str
    role: str
    password_hash: str = ""

    @property
    def can_edit(self) -> bool:
        return self.role == "editor"


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=_N, r=_R, p=_P, dklen=32)
    return "$".join(["scrypt", str(_N), str(_R), str(_P), base64.b64encode(salt).decode(),
                     base64.b64encode(digest).decode()])


def verify_password(password: str, stored: str) -> bool:
    try:
        kind, n, r, p, salt, digest = stored.split("$")
        if kind != "scrypt":
            return False
        got = hashlib.scrypt(password.encode(), salt=base64.b64decode(salt), n=int(n), r=int(r), p=int(p),
                             dklen=len(base64.b64decode(digest)))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got, base64.b64decode(digest))


def _check(name: str, role: str, password_hash: str, where: str) -> User:
    if not name or any(c in name for c in ":, \t\n"):
        raise UsersError(f"{where}: invalid user name {name!r}")
    if role not in ROLES:
        raise UsersError(f"{where}: user {name!r} has role {role!r}; roles are: {', '.join(ROLES)}")
    if not password_hash.startswith("scrypt$"):
        raise UsersError(f"{where}: user {name!r} needs a password hash made by `rag users add` (never plain text)")
    return User(name, role, password_hash)


class UserStore:
    """The configured users; empty when none are."""

    def __init__(self, users: dict[str, User] | None = None):
        self.users = users or {}

    @classmethod
    def load(cls, users_file: str = "", env: str = "", required: bool = False) -> UserStore:
        """Users from `users_file` (a missing file means none, unless `required`) and `env`."""
        users: dict[str, User] = {}
        path = Path(users_file).expanduser() if users_file else None
        if path is not None and (required or path.exists()):
            try:
                data = tomllib.loads(path.read_text(encoding="utf-8"))
            except FileNotFoundError:
                raise UsersError(f"users file {path} not found (create it with `rag users add NAME`)") from None
            except tomllib.TOMLDecodeError as e:
                raise UsersError(f"users file {path}: invalid TOML ({e})") from None
            for name, entry in (data.get("users") or {}).items():
                users[name] = _check(name, str(entry.get("role", "")), str(entry.get("password", "")), str(path))
        for item in filter(None, (x.strip() for x in env.split(","))):
            parts = item.split(":")
            if len(parts) != 3:
                raise UsersError("RAG_USERS: each entry is name:role:hash")
            users[parts[0]] = _check(parts[0], parts[1], parts[2], "RAG_USERS")
        return cls(users)

    def __bool__(self) -> bool:
        return bool(self.users)

    def authenticate(self, name: str, password: str) -> bool:
        """Gradio's sign-in check. Unknown names cost the same time as wrong passwords."""
        user = self.users.get(name)
        ok = verify_password(password, user.password_hash if user else _dummy_hash())
        return bool(user) and ok

    def user(self, name: str | None) -> User | None:
        """The signed-in user, the local editor when sign-in is off, None for an unknown name."""
        if not self.users:
            return User(name or LOCAL, "editor")
        return self.users.get(name or "")


@functools.cache
def _dummy_hash() -> str:
    """A hash to check unknown names against (made on first use, not at import: scrypt costs ~50 ms)."""
    return hash_password(secrets.token_hex(8))


def _read_entries(users_file: Path) -> dict[str, dict]:
    if not users_file.exists():
        return {}
    return dict(tomllib.loads(users_file.read_text(encoding="utf-8")).get("users") or {})


def _write_entries(users_file: Path, entries: dict[str, dict]) -> None:
    """Write the users file atomically, readable by its owner only."""
    lines = ["# Chat users (rag users add NAME). Passwords are scrypt hashes, never plain text.", ""]
    for n, e in sorted(entries.items()):
        lines += [f"[users.{json.dumps(n)}]", f'role = "{e["role"]}"', f'password = "{e["password"]}"', ""]
    users_file.parent.mkdir(parents=True, exist_ok=True)
    tmp = users_file.with_name(users_file.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write("\n".join(lines))
    tmp.replace(users_file)


def save_user(users_file: Path, name: str, role: str, password: str) -> None:
    """Add or replace one user in the TOML file."""
    _check(name, role, "scrypt$", str(users_file))
    if len(password) < 8:
        raise UsersError("the password needs at least 8 characters")
    entries = _read_entries(users_file)
    entries[name] = {"role": role, "password": hash_password(password)}
    _write_entries(users_file, entries)


def remove_user(users_file: Path, name: str) -> bool:
    entries = _read_entries(users_file)
    if entries.pop(name, None) is None:
        return False
    _write_entries(users_file, entries)
    return True


def is_loopback(host: str) -> bool:
    """Only this machine can connect (127.0.0.0/8, ::1, localhost)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


# ---------------------------------------------------------------- audit log

class AuditLog:
    """Append-only JSON lines in the index folder: time, user, action, file name, content hash."""

    def __init__(self, path: Path):
        self.path = path
        self._lock = threading.Lock()

    def record(self, user: str, action: str, file: str, sha256: str = "", detail: str = "") -> None:
        entry = {"time": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "user": user, "action": action, "file": file,
                 "sha256": sha256}
        if detail:
            entry["detail"] = detail
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with open(self.path, "a", encoding="utf-8") as f:
                f.write(json.dumps(entry, ensure_ascii=False) + "\n")
                f.flush()
                os.fsync(f.fileno())

    def entries(self) -> list[dict]:
        try:
            lines = self.path.read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            return []
        out = []
        for line in lines:
            try:
                out.append(json.loads(line))
            except ValueError:
                continue  # a torn last line after a crash
        return out

    def added_by(self) -> dict[str, str]:
        """File name -> the user who last added it."""
        who: dict[str, str] = {}
        for e in self.entries():
            if e.get("action") == "add":
                who[e["file"]] = e["user"]
            elif e.get("action") == "delete":
                who.pop(e["file"], None)
        return who
