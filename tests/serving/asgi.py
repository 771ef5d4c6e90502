"""One HTTP request through an ASGI app in this process, for the serving tests."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any


def asgi_request(app: Any, method: str, path: str, body: bytes = b"",
                 headers: Sequence[tuple[bytes, bytes]] = (),
                 query: bytes = b"") -> tuple[int, dict[bytes, bytes], bytes]:
    """(status, response headers, response body) of one request to ``app``."""
    scope = {"type": "http", "method": method, "path": path, "query_string": query,
             "headers": list(headers)}
    sent, replies = [{"type": "http.request", "body": body, "more_body": False}], []

    async def receive() -> dict[str, Any]:
        return sent.pop(0)

    async def send(message: dict[str, Any]) -> None:
        replies.append(message)

    asyncio.run(app(scope, receive, send))
    return replies[0]["status"], dict(replies[0]["headers"]), replies[1]["body"]
