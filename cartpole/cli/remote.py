"""``cartpole run`` and ``cartpole router-demo``: the remote agent's command line."""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from cartpole.cli.common import CONTEXT, GlobalOptions, echo_json_line
from cartpole.envs.make import DEFAULT_ENV
from cartpole.errors import ConfigError

DEFAULT_EPISODES = 20


def target_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """Where the served model is, and how to reach it (shared by run and router-demo)."""
    options = [
        click.option("--host", default="127.0.0.1", show_default=True,
                     help="Server: NAME, NAME:PORT or http[s]://NAME[:PORT][/PREFIX]."),
        click.option("--port", type=click.IntRange(1, 65535), default=None,
                     help="Server port.  [default: 9000 for REST, 5000 with --grpc-client]"),
        click.option("--grpc-client", "grpc", is_flag=True,
                     help="Speak gRPC instead of REST."),
        click.option("--protocol", type=click.Choice(["seldon", "v2"]), default="seldon",
                     show_default=True,
                     help="Seldon's protocol, or the Open Inference Protocol (V2: "
                          "/v2/models/NAME/infer; KServe, MLServer, Triton, cartpole serve)."),
        click.option("--model-name", default="cartpole", show_default=True,
                     help="The model's name, with --protocol v2."),
        click.option("--deployment", default=None,
                     help="Seldon deployment behind the cluster's gateway: requests go to "
                          "/seldon/<namespace>/<deployment>/... (gRPC: metadata).  "
                          "[default: none]"),
        click.option("--namespace", default=None,
                     help="Its Kubernetes namespace.  [default: default]"),
        click.option("--path-prefix", default=None,
                     help="Any other path prefix before /api/v1.0/...  [default: none]"),
        click.option("--tls", is_flag=True, help="Use https (or TLS for gRPC)."),
        click.option("--token", envvar="CARTPOLE_TOKEN", default=None,
                     help="Bearer token (cartpole serve's --api-key).  [env: CARTPOLE_TOKEN]"),
        click.option("--oauth-url", default=None,
                     help="OAuth2 token endpoint: fetch a bearer token with the "
                          "client-credentials grant.  [default: none]"),
        click.option("--oauth-key", default=None, help="OAuth2 client id."),
        click.option("--oauth-secret", envvar="CARTPOLE_OAUTH_SECRET", default=None,
                     help="OAuth2 client secret.  [env: CARTPOLE_OAUTH_SECRET]"),
        click.option("--timeout", type=click.FloatRange(min=0.01), default=10.0,
                     show_default=True, help="Seconds to wait for each answer."),
        click.option("--retries", type=click.IntRange(min=0), default=3, show_default=True,
                     help="Retries of a request after a connection error, a timeout or "
                          "HTTP 502/503/504; the wait doubles from 0.2 s."),
    ]
    return functools.reduce(lambda f, option: option(f), reversed(options), func)


def _target(o: dict[str, Any]) -> tuple[Any, Any, tuple[str, str, str] | None]:
    from cartpole.remote.client import RetryPolicy
    from cartpole.remote.target import parse_target

    if not o["model_name"] or "/" in o["model_name"] or o["model_name"] in (".", ".."):
        raise ConfigError(f"--model-name {o['model_name']!r} must be a model's name, "
                          "without /")
    if o["token"] and o["oauth_url"]:
        raise ConfigError("give --token or --oauth-url, not both")
    oauth = None
    if o["oauth_url"] or o["oauth_key"] or o["oauth_secret"]:
        if not (o["oauth_url"] and o["oauth_key"] and o["oauth_secret"]):
            raise ConfigError("OAuth needs --oauth-url, --oauth-key and --oauth-secret")
        oauth = (o["oauth_url"], o["oauth_key"], o["oauth_secret"])
    target = parse_target(o["host"], o["port"], o["grpc"], o["path_prefix"], o["deployment"],
                          o["namespace"], o["token"], o["tls"])
    return target, RetryPolicy(o["retries"], 0.2, o["timeout"]), oauth


RUN_EPILOG = """\b
Examples:
  cartpole serve .models/cartpole-rl-remote.h5 &           serve the best model, then:
  cartpole -e 20 run                                        20 episodes against it
  cartpole -e 200 run --runners 16 --batch                  16 runners, one request per step
  cartpole --metrics-engine visdom run --runners 4          scores per runner in Visdom
                                                            (a Visdom server must run:
                                                            `make visdom` starts one)
  cartpole run --grpc-client --port 5000                    a seldon-core microservice over gRPC
  cartpole run --protocol v2 --port 8080                    MLServer, KServe, Triton (V2 REST)
  cartpole run --protocol v2 --grpc-client --port 5000      cartpole serve --grpc-port 5000
  cartpole run --host https://gw.example --deployment cartpole --namespace seldon --token T
  cartpole -e 3 run --record gifs/                          GIFs of the first runner's episodes

\b
Each runner plays its own CartPole env and asks the server for every action. An episode
counts once the env ends it; an episode stopped by an error or Ctrl-C is cut short and
never scored. --feedback episode (the default) sends, after each episode, its score over
the env's step limit (a number in [0, 1]) with the last answer's routing, so a router
graph learns which branch plays best; --feedback step sends the env's reward after every
request, as the 2018 agent did (0 on the failing step).

\b
The last line on stdout is a JSON summary: run, state, requested, episodes, score,
score_min, score_max, steps, seconds, steps_per_second, latency_p50_ms, latency_p99_ms,
requests, cut_short, branches, error, interrupted.
Exit codes: 0 every episode played, 1 the server failed or refused (the partial summary
is printed), 2 bad input, 130 interrupted (partial summary).
"""


@click.command("run", context_settings=CONTEXT, epilog=RUN_EPILOG)
@target_options
@click.option("--runners", type=click.IntRange(1, 256), default=1, show_default=True,
              help="Episodes played at the same time, each on its own env.")
@click.option("--batch", is_flag=True,
              help="Send the observations of all runners in one request (if the server "
                   "takes several rows; otherwise a warning and one row per request).")
@click.option("--feedback", type=click.Choice(["episode", "step", "none"]), default="episode",
              show_default=True, help="When to send rewards back (see below).")
@click.option("--env", "env_id", default=DEFAULT_ENV, show_default=True,
              help="Gymnasium env the runners play.")
@click.option("--max-episode-steps", type=click.IntRange(min=1), default=None,
              help="Override the env's time limit.  [default: the env's own]")
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True,
              help="Seed of the first episode; episode k plays seed+k.")
@click.option("--record", "record_dir", type=click.Path(file_okay=False), default=None,
              help="Save each episode of the first runner as DIR/episode-NNNN.gif.  "
                   "[default: none]")
@click.option("--run-id", default=None,
              help="Name of the run in the metrics engines.  [default: run-<time>-<hex>]")
@click.pass_context
def run(ctx: click.Context, **o: Any) -> None:
    """Play episodes locally against a served model, and feed the rewards back.

    Works against `cartpole serve` (one model or a router graph), a bare
    seldon-core-microservice (REST or --grpc-client) and a Seldon deployment behind its
    gateway (--deployment, --token or OAuth). Episode scores go to the metrics engines
    (--metrics-engine before `run`); a summary closes the run.
    """
    from cartpole.remote.play import PlayConfig
    from cartpole.remote.progress import RunProgress
    from cartpole.remote.session import RunRequest, run_remote, transport_name
    from cartpole.remote.stats import summary_lines

    g: GlobalOptions = ctx.obj
    episodes = g.episodes or DEFAULT_EPISODES
    target, retry, oauth = _target(o)
    cfg = PlayConfig(episodes, o["runners"], o["batch"], o["env_id"],
                     o["max_episode_steps"], o["seed"], o["feedback"],
                     Path(o["record_dir"]) if o["record_dir"] else None)
    request = RunRequest(target, cfg, o["grpc"], retry, oauth, g.metrics_engines,
                         g.metrics_config, o["run_id"], o["protocol"], o["model_name"])
    progress = RunProgress(episodes)
    try:
        outcome = run_remote(request, progress)
    finally:
        progress.close()
    s = outcome.summary
    for line in summary_lines(s, target.url(grpc=o["grpc"]), transport_name(request),
                              cfg.runners, outcome.batch):
        click.echo(line)
    echo_json_line({"run": outcome.run_id, **s})
    if s["error"]:
        click.echo(f"Error: {s['error']}", err=True)
    ctx.exit(outcome.exit_code)


DEMO_EPILOG = """\b
Examples:
  cartpole serve m.h5 m.h5 m.h5 --router epsilon-greedy &
  cartpole router-demo --preferred-branch 1
  cartpole --metrics-engine visdom router-demo --requests 500 --preferred-branch 2
  cartpole router-demo --host gw.example --deployment cartpole-router --router-name eg-router

\b
Each request carries one CartPole observation; the feedback's reward is 1 when the
router chose the preferred branch and 0 otherwise. The router has converged when at
least --min-share of the last --window requests went to the preferred branch.
The last line on stdout is a JSON summary. Exit codes: 0 converged, 1 did not converge
or the server failed, 2 bad input.
"""


@click.command("router-demo", context_settings=CONTEXT, epilog=DEMO_EPILOG)
@target_options
@click.option("--requests", type=click.IntRange(1, 1_000_000), default=200, show_default=True,
              help="Predictions to send, each followed by its feedback.")
@click.option("--preferred-branch", type=click.IntRange(min=0), default=1, show_default=True,
              help="The only branch whose answers earn reward 1.")
@click.option("--router-name", default=None,
              help="Key of the router in meta.routing.  [default: the only one]")
@click.option("--window", type=click.IntRange(min=1), default=50, show_default=True,
              help="Requests over which the share to the preferred branch is measured.")
@click.option("--min-share", type=click.FloatRange(0, 1), default=0.8, show_default=True,
              help="Share of the last --window requests that counts as converged.")
@click.option("--run-id", default=None,
              help="Name of the demo in the metrics engines.  [default: run-<time>-<hex>]")
@click.pass_context
def router_demo_cmd(ctx: click.Context, **o: Any) -> None:
    """Reward one branch of a router graph only, and show the router converging to it.

    Progress lines show the share of recent requests routed to the preferred branch;
    with --metrics-engine visdom, two windows plot the branch of every request and
    that share.
    """
    from cartpole.metrics import Recorder, make_event
    from cartpole.metrics.engines import EngineContext, build_sinks, check_engines
    from cartpole.remote.router_demo import DemoConfig, Route, router_demo
    from cartpole.remote.session import RunRequest, new_run_id, prepare

    g: GlobalOptions = ctx.obj
    target, retry, oauth = _target(o)
    check_engines(g.metrics_engines, g.metrics_config)
    cfg = DemoConfig(o["requests"], o["preferred_branch"], o["window"], o["min_share"],
                     o["router_name"])
    request = RunRequest(target, grpc=o["grpc"], retry=retry, oauth=oauth,
                         protocol=o["protocol"], model_name=o["model_name"])
    target, make_client = prepare(request)
    run_id = o["run_id"] or new_run_id()
    recorder = Recorder(build_sinks(g.metrics_engines, g.metrics_config,
                                    EngineContext(group=run_id, trial="router")))
    every = max(1, cfg.requests // 10)

    def show(route: Route, name: str) -> None:
        recorder.write(make_event("route", run_id, "router", request=route.request,
                                  branch=route.branch, reward=route.reward,
                                  preferred=cfg.preferred, share=round(route.share, 4)))
        if route.request % every == 0 or route.request == cfg.requests:
            recent = min(route.request, cfg.window)
            click.echo(f"request {route.request}/{cfg.requests}  router {name}: branch "
                       f"{route.branch}  preferred {cfg.preferred} in "
                       f"{round(route.share * recent)} of the last {recent} "
                       f"({route.share:.0%})", err=True)

    try:
        result = router_demo(make_client(), cfg, show)
    finally:
        recorder.close()
    converged = bool(result.routes) and len(result.routes) >= min(cfg.window, cfg.requests) \
        and result.share >= cfg.min_share
    counts = ", ".join(f"{b}: {n}" for b, n in result.per_branch().items())
    click.echo(f"{len(result.routes)} requests to router {result.router_name or '?'}; "
               f"per branch {counts or 'none'}; last {min(cfg.window, len(result.routes))} "
               f"to branch {cfg.preferred}: {result.share:.0%} "
               f"({'converged' if converged else 'not converged'}, needs "
               f"{cfg.min_share:.0%})")
    echo_json_line({"run": run_id, "router": result.router_name,
                    "requests": len(result.routes), "preferred": cfg.preferred,
                    "share": round(result.share, 4), "converged": converged,
                    "per_branch": {str(b): n for b, n in result.per_branch().items()},
                    "error": str(result.error) if result.error else None})
    if result.error:
        click.echo(f"Error: {result.error}", err=True)
    ctx.exit(0 if converged and not result.error else 1)

