"""Talking to model servers over HTTP: request headers, and a JSON POST that retries what a busy or
restarting server answers (connection errors, time-outs, 429, 5xx) with exponential back-off.

>>> headers("sk-1")["Authorization"]
'Bearer sk-1'
"""

from __future__ import annotations

from time import sleep
from typing import Any

from .errors import RagError


class ServerError(RagError, RuntimeError):
    """A model server could not be reached or refused a request; the message names the URL and the status."""


RETRIED = frozenset({408, 429, 500, 502, 503, 504})
MAX_WAIT = 30.0  # seconds: longest single back-off, even when the server asks for more (Retry-After)


def headers(api_key: str = "") -> dict[str, str]:
    out = {"Content-Type": "application/json"}
    if api_key:
        out["Authorization"] = f"Bearer {api_key}"
    return out


def _one_line(text: str, limit: int = 200) -> str:
    return " ".join(text.split())[:limit]


def post_json(client: Any, url: str, body: dict[str, Any], api_key: str = "", attempts: int = 5,
              wait: float = 0.5, what: str = "server") -> Any:
    """POST `body` to `url` with an `httpx.Client` and return the decoded JSON answer.

    Retried `attempts - 1` times, waiting `wait`, 2x`wait`, 4x`wait`… (or the server's Retry-After, up to
    MAX_WAIT); any other status fails at once. The error is one line: `what`, the URL and the last status."""
    import httpx

    last, asked = "", 0.0
    for attempt in range(attempts):
        if attempt:
            sleep(min(max(wait * 2 ** (attempt - 1), asked), MAX_WAIT))
        asked = 0.0
        try:
            resp = client.post(url, json=body, headers=headers(api_key))
        except httpx.TransportError as e:  # refused, reset, DNS, time-outs
            last = type(e).__name__
            continue
        if resp.status_code == 200:
            try:
                return resp.json()
            except ValueError:
                raise ServerError(f"{what} at {url} answered 200 with a body that is not JSON: "
                                  f"{_one_line(resp.text)!r}") from None
        last = f"HTTP {resp.status_code} {_one_line(resp.text)}".rstrip()
        if resp.status_code not in RETRIED:
            raise ServerError(f"{what} at {url} answered {last}")
        retry_after = resp.headers.get("Retry-After", "")
        asked = float(retry_after) if retry_after.isdigit() else 0.0
    raise ServerError(f"{what} at {url} failed {attempts} times, last: {last}")
