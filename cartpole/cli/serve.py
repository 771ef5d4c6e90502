"""``cartpole serve``: one model, or a router or A/B graph of several, over HTTP."""

from __future__ import annotations

import click

from cartpole.cli.common import CONTEXT
from cartpole.errors import ConfigError
from cartpole.hosts import is_loopback
from cartpole.paths import DEFAULT_MODEL


@click.command("serve", context_settings=CONTEXT)
@click.argument("models", nargs=-1, type=click.Path(dir_okay=False))
@click.option("--router", type=click.Choice(["epsilon-greedy", "thompson", "abtest"]),
              default=None, help="How to choose between several models.  [default: none]")
@click.option("--epsilon", type=click.FloatRange(0, 1), default=0.1, show_default=True,
              help="Exploration rate of the epsilon-greedy router.")
@click.option("--ratio-a", type=click.FloatRange(0, 1), default=0.5, show_default=True,
              help="Share of requests for the first model of an abtest.")
@click.option("--seed", type=int, default=None, help="Seed of the router.  [default: none]")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=click.IntRange(0, 65535), default=9000, show_default=True)
@click.option("--api-key", envvar="CARTPOLE_API_KEY", default=None,
              help="Require this key (Authorization: Bearer KEY, or X-API-Key: KEY; "
                   "gRPC: authorization metadata) on every route but the health checks; "
                   "also from $CARTPOLE_API_KEY.  [default: none]")
@click.option("--grpc-port", type=click.IntRange(0, 65535), default=None,
              help="Also serve gRPC on this port: Seldon's services (Seldon, Model, "
                   "Generic: Predict and SendFeedback) and the Open Inference Protocol's "
                   "GRPCInferenceService.  [default: no gRPC]")
@click.option("--model-name", default="cartpole", show_default=True,
              help="The model's name in Open Inference Protocol (V2) paths: "
                   "/v2/models/NAME/infer.")
@click.option("--path-prefix", default="", metavar="PREFIX",
              help="Also answer every route under PREFIX (e.g. /seldon/ns/name, as a "
                   "gateway forwards it); /seldon/<ns>/<name>/... is always answered.")
@click.option("--http-server", type=click.Choice(["builtin", "uvicorn"]), default="builtin",
              show_default=True,
              help="The HTTP server: the built-in one (the fastest measured), or uvicorn "
                   "running the same app as ASGI.")
def serve(models: tuple[str, ...], router: str | None, epsilon: float, ratio_a: float,
          seed: int | None, host: str, port: int, api_key: str | None,
          grpc_port: int | None, model_name: str, path_prefix: str, http_server: str) -> None:
    """Serve trained models over Seldon's protocol and the Open Inference Protocol (V2).

    MODELS are .h5 files (default: .models/cartpole-rl-remote.h5). Several models need
    --router. Every route of seldon-core's microservice: /api/v1.0/predictions (and
    /api/v0.1/..., /predict), /api/v1.0/feedback (and /send-feedback), /route,
    /metadata, /health/ping, /health/status; a message may be a JSON body, the form
    field json= or the query's ?json=, as Seldon's own client sends it. Also /metrics
    (Prometheus), /openapi.json, /docs. Beside it, the Open Inference Protocol (V2):
    /v2, /v2/health/live|ready, /v2/models/NAME[/versions/V] (metadata), .../ready,
    .../infer, and .../feedback (an extension that teaches a router).

    \b
    Listens on loopback by default. With a --host other machines reach, also set
    --api-key (or CARTPOLE_API_KEY): clients then send it as a bearer token, and
    `cartpole run --token` does.

    \b
    Examples:
      cartpole serve
      CARTPOLE_API_KEY=$(cat key) cartpole serve --host 0.0.0.0
      cartpole serve --router epsilon-greedy a.h5 b.h5 c.h5
      cartpole serve --router abtest --ratio-a 0.8 a.h5 b.h5
      cartpole serve --path-prefix /models/cartpole   also under /models/cartpole/...
      cartpole serve --grpc-port 5000      then: cartpole run --grpc-client --port 5000
      curl -s localhost:9000/v2/models/cartpole/infer -d '{"inputs": [{"name": "obs",
        "datatype": "FP32", "shape": [1, 4], "data": [0.01, 0.02, 0.03, 0.04]}]}'
      curl -s localhost:9000/api/v1.0/predictions -H 'Content-Type: application/json' \\
        -d '{"data": {"ndarray": [[0.01, 0.02, 0.03, 0.04]]}}'
    """
    if not model_name or "/" in model_name:
        raise click.BadParameter("a name without /", param_hint="--model-name")
    if path_prefix and not path_prefix.startswith("/"):
        raise click.BadParameter("must start with /", param_hint="--path-prefix")
    if not api_key and not is_loopback(host):
        click.echo(f"warning: --host {host} accepts requests from other machines and no "
                   "--api-key is set: anyone who can reach this port can query the models "
                   "and send feedback that trains the routers", err=True)
    try:
        from cartpole.serving.server import bind, build_app, run
    except ImportError as exc:
        raise ConfigError(f"serve needs {exc.name}: pip install 'cartpole[serving]'") from None
    # Errors loading the models or making the graph are the user's input: exit code 2.
    app = build_app(models or (f"{DEFAULT_MODEL}.h5",), router, epsilon, ratio_a, seed,
                    api_key, path_prefix=path_prefix, model_name=model_name)
    try:
        sock = bind(host, port)
    except OSError as exc:
        raise ConfigError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    port = sock.getsockname()[1]
    grpc_text = f", gRPC at {host}:{grpc_port}" if grpc_port is not None else ""

    def ready() -> None:
        click.echo(f"serving {len(app.graph.policies)} model(s) at http://{host}:{port}"
                   f"{grpc_text} (docs: /docs; Ctrl-C stops)", err=True)

    try:
        run(app, sock, grpc_port, on_ready=ready, http_server=http_server)
    except OSError as exc:
        raise ConfigError(f"cannot serve: {exc}") from None
