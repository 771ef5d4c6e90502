"""``cartpole serve``'s built-in HTTP server in this process, for the serving tests."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from cartpole.serving.http_server import KEEP_ALIVE, serve_until
from cartpole.serving.server import bind


@contextmanager
def running(app: Any, keep_alive: float = KEEP_ALIVE) -> Iterator[int]:
    """``app`` served by ``serve_until`` in a thread, on a free loopback port; yields the
    port, and stops the server (and its thread) after."""
    sock = bind("127.0.0.1", 0)
    loop = asyncio.new_event_loop()
    ready, holder = threading.Event(), {}

    async def main() -> None:
        holder["stop"] = asyncio.Event()
        await serve_until(app, sock, holder["stop"], ready.set, keep_alive)

    thread = threading.Thread(target=loop.run_until_complete, args=(main(),), daemon=True)
    thread.start()
    assert ready.wait(10), "the server did not start"
    try:
        yield sock.getsockname()[1]
    finally:
        loop.call_soon_threadsafe(holder["stop"].set)
        thread.join(10)
        assert not thread.is_alive(), "the server did not stop"
        loop.close()
