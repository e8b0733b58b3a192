"""The middleware of ``medkg serve``: request id, body size limit, fault barrier, access log.

Pure ASGI. :class:`RequestIdMiddleware` wraps everything (CORS included), so even preflights,
404s and refusals carry an ``X-Request-ID``; :class:`BodyLimitMiddleware` sits inside CORS, so
its 413 and 500 answers carry the CORS headers a browser needs to read them. Per request they

1. take the client's ``X-Request-ID`` when it is a short token (letters, digits, ``._:-``),
   otherwise make a UUID, and put it in ``scope["state"]["request_id"]`` and the response;
2. refuse a body larger than the limit for its path with 413 (from ``Content-Length`` before
   reading, or while reading a chunked body); the body is read once and replayed to the app;
3. turn any exception that escapes the app into a 500 with the request id and nothing else;
4. log one line: request id, method, path, status, duration. Never the query string, the body
   or a header value: these may hold patient data or query text. Paths other than the known
   routes are logged as ``(other)`` for the same reason.
"""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from collections.abc import Callable, Collection
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .errors import INTERNAL_ERROR, problem_body

__all__ = ["ACCESS_LOG", "ERROR_LOG", "BodyLimitMiddleware", "RequestIdMiddleware"]

ACCESS_LOG = logging.getLogger("medkg.server.access")
ERROR_LOG = logging.getLogger("medkg.server")

_TOKEN = re.compile(r"[A-Za-z0-9._:-]{1,128}")
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


class RequestIdMiddleware:
    """Outermost layer: request id in and out, access log, last-resort fault barrier.

    Args:
        app: the application inside (CORS, then :class:`BodyLimitMiddleware`, then the routes).
        known_paths: paths logged as they are (others are logged as ``(other)``).
    """

    def __init__(self, app: ASGIApp, *, known_paths: Collection[str]) -> None:
        self.app = app
        self.known_paths = frozenset(known_paths)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Handle one ASGI call (non-HTTP scopes pass through untouched)."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        rid = _incoming_id(scope) or str(uuid.uuid4())
        scope.setdefault("state", {})["request_id"] = rid
        outcome: dict[str, Any] = {"status": 0, "started": False}

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                outcome["status"] = message["status"]
                outcome["started"] = True
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"x-request-id"]
                message = {**message, "headers": [*headers, (b"x-request-id", rid.encode("ascii"))]}
            await send(message)

        try:
            await _guarded(self.app, scope, receive, send_with_id, outcome)
        finally:
            ACCESS_LOG.info(
                "%s %s %s %s %.1fms",
                rid,
                scope["method"] if scope["method"] in _METHODS else "OTHER",
                scope["path"] if scope["path"] in self.known_paths else "(other)",
                outcome["status"] or "-",
                (time.perf_counter() - started) * 1000,
            )


class BodyLimitMiddleware:
    """Inner layer: body size limit per path (413) and the fault barrier (500 with the request id).

    Args:
        app: the routes.
        limit_for: path -> largest accepted body in bytes.
    """

    def __init__(self, app: ASGIApp, *, limit_for: Callable[[str], int]) -> None:
        self.app = app
        self.limit_for = limit_for

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Read the body within the limit, then call the app with it replayed."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        outcome: dict[str, Any] = {"status": 0, "started": False}

        async def tracking(message: Message) -> None:
            if message["type"] == "http.response.start":
                outcome["started"] = True
            await send(message)

        body = await self._read_body(scope, receive, send)
        if body is not None:
            await _guarded(self.app, scope, _replay(body, receive), tracking, outcome)

    async def _read_body(self, scope: Scope, receive: Receive, send: Send) -> bytes | None:
        """Return the whole body, or None after answering 413/400 (too large, or a bad Content-Length)."""
        rid = _rid(scope)
        limit = self.limit_for(scope["path"])
        declared = _header(scope, b"content-length")
        if declared is not None:
            if not declared.isdigit():
                await _send_json(send, 400, problem_body(400, "Content-Length is not a number of bytes", rid))
                return None
            if int(declared) > limit:
                await _send_json(send, 413, _too_large(limit, rid))
                return None
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                await _send_json(send, 413, _too_large(limit, rid))
                return None
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        return b"".join(chunks)


async def _guarded(app: ASGIApp, scope: Scope, receive: Receive, send: Send, outcome: dict[str, Any]) -> None:
    """Run ``app``; an exception becomes a 500 with the request id (if no response has started)."""
    try:
        await app(scope, receive, send)
    except Exception as error:
        # the message may quote request content: log only the kind of fault and the id
        ERROR_LOG.error("request %s failed: %s", _rid(scope), type(error).__name__)
        if not outcome["started"]:
            outcome["started"] = True
            await _send_json(send, 500, problem_body(500, INTERNAL_ERROR, _rid(scope)))


def _rid(scope: Scope) -> str:
    return str(scope.get("state", {}).get("request_id", "-"))


def _too_large(limit: int, rid: str) -> dict[str, Any]:
    return problem_body(413, f"request body larger than the limit of {limit} bytes for this endpoint", rid)


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            return str(value.decode("latin-1")).strip()
    return None


def _incoming_id(scope: Scope) -> str | None:
    value = _header(scope, b"x-request-id")
    return value if value and _TOKEN.fullmatch(value) else None


def _replay(body: bytes, receive: Receive) -> Receive:
    """Return a receive callable that yields ``body`` once, then defers to the server (disconnects)."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


async def _send_json(send: Send, status: int, body: dict[str, Any]) -> None:
    data = json.dumps(body).encode("utf-8")
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode("ascii"))],
        }
    )
    await send({"type": "http.response.body", "body": data})
