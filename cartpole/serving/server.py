"""Build and run ``cartpole serve``: load the models, make the graph, serve HTTP (and gRPC)."""

from __future__ import annotations

import socket
from collections.abc import Callable, Sequence
from pathlib import Path

from cartpole.serving.app import MAX_BODY, ServeApp
from cartpole.serving.graph import Graph
from cartpole.serving.policy import ServedPolicy


def build_app(models: Sequence[str | Path], router: str | None = None, epsilon: float = 0.1,
              ratio_a: float = 0.5, seed: int | None = None, api_key: str | None = None,
              max_body: int = MAX_BODY, path_prefix: str = "",
              model_name: str = "cartpole") -> ServeApp:
    """Load every model now (errors before the port opens) and wrap them in the app."""
    policies = [ServedPolicy.load(m) for m in models]
    return ServeApp(Graph(policies, router, epsilon, ratio_a, seed), api_key, max_body,
                    path_prefix, model_name)


def bind(host: str, port: int) -> socket.socket:
    """The REST listening socket, bound now: a busy port is an OSError before anything
    is said to be served."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    return sock


HTTP_SERVERS = ("builtin", "uvicorn")


def run(app: ServeApp, sock: socket.socket, grpc_port: int | None = None,
        on_ready: Callable[[], None] | None = None, http_server: str = "builtin") -> None:
    """Serve REST on the bound ``sock`` and, with ``grpc_port``, gRPC beside it (Seldon's
    services and the Open Inference Protocol's); ``on_ready`` once both listen.
    ``http_server``: ``builtin`` (``http_server.py``) or ``uvicorn`` (the app as ASGI)."""
    grpc_server = None
    if grpc_port is not None:
        from cartpole.serving.grpc_server import start_grpc

        grpc_server = start_grpc(app, sock.getsockname()[0], grpc_port)
    try:
        if http_server == "uvicorn":
            import uvicorn

            if on_ready is not None:
                on_ready()
            config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on")
            uvicorn.Server(config).run(sockets=[sock])
        else:
            from cartpole.serving.http_server import serve

            serve(app, sock, on_ready)
    finally:
        if grpc_server is not None:
            grpc_server.stop(grace=1.0)
