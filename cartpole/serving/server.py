"""Build and run ``cartpole serve``: load the models, make the graph, start uvicorn."""

from __future__ import annotations

from collections.abc import Sequence
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


def run(app: ServeApp, host: str, port: int, grpc_port: int | None = None) -> None:
    """Serve REST on ``port`` and, with ``grpc_port``, gRPC beside it (Seldon's services
    and the Open Inference Protocol's)."""
    import uvicorn

    grpc_server = None
    if grpc_port is not None:
        from cartpole.serving.grpc_server import start_grpc

        grpc_server = start_grpc(app, host, grpc_port)
    try:
        uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False,
                    lifespan="on")
    finally:
        if grpc_server is not None:
            grpc_server.stop(grace=1.0)
