"""One remote run: check the inputs, reach the server, play, report."""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from cartpole.envs.make import describe
from cartpole.fileio import check_writable_dir
from cartpole.metrics import Recorder, make_event
from cartpole.metrics.engines import EngineContext, build_sinks, check_engines, export_secrets
from cartpole.remote.client import Client, RetryPolicy
from cartpole.remote.errors import RemoteError
from cartpole.remote.play import Episode, PlayConfig, Tally, play, probe
from cartpole.remote.stats import run_summary
from cartpole.remote.target import Target

log = logging.getLogger(__name__)


@dataclass
class RunRequest:
    target: Target
    play: PlayConfig = field(default_factory=PlayConfig)
    grpc: bool = False
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    oauth: tuple[str, str, str] | None = field(default=None, repr=False)  # URL, key, secret
    metrics_engines: tuple[str, ...] = ()
    metrics_config: dict[str, Any] = field(default_factory=dict)
    run_id: str | None = None
    protocol: str = "seldon"  # or "v2", the Open Inference Protocol
    model_name: str = "cartpole"  # the model's name in V2 paths

    def __post_init__(self) -> None:
        # Credentials go to the environment: nothing the run writes may hold one.
        self.metrics_config = export_secrets(self.metrics_config)


@dataclass
class RunOutcome:
    run_id: str
    summary: dict[str, Any]
    batch: bool  # as played: False when the server took one observation at a time

    @property
    def exit_code(self) -> int:
        return {"completed": 0, "failed": 1, "interrupted": 130}[self.summary["state"]]


def new_run_id() -> str:
    return f"run-{datetime.now(UTC):%Y%m%d-%H%M%S}-{secrets.token_hex(2)}"


def transport_name(request: RunRequest) -> str:
    transport = "grpc" if request.grpc else "rest"
    return f"v2 {transport}" if request.protocol == "v2" else transport


def client_factory(request: RunRequest, target: Target,
                   stop: Callable[[], bool] | None = None) -> Callable[[], Client]:
    if request.protocol == "v2":
        from cartpole.remote.v2_client import GrpcV2Client, RestV2Client

        if request.grpc:
            return lambda: GrpcV2Client(target.host, target.port, request.model_name,
                                        metadata=target.grpc_metadata(),
                                        retry=request.retry, tls=target.tls)
        return lambda: RestV2Client(target, request.model_name, request.retry, stop)
    if request.grpc:
        from cartpole.remote.grpc_client import GrpcClient

        return lambda: GrpcClient(target.host, target.port, metadata=target.grpc_metadata(),
                                  retry=request.retry, tls=target.tls)
    from cartpole.remote.rest_client import RestClient

    return lambda: RestClient(target, request.retry, stop)


def prepare(request: RunRequest) -> tuple[Target, Callable[[], Client]]:
    """Everything that can fail before the first episode: inputs, token, server."""
    check_engines(request.metrics_engines, request.metrics_config)
    describe(request.play.env_id, request.play.max_episode_steps)
    if request.play.record_dir is not None:
        check_writable_dir(request.play.record_dir, "--record folder")
        request.play.record_dir.mkdir(parents=True, exist_ok=True)
    target = request.target
    if request.oauth is not None:
        from cartpole.remote.auth import fetch_oauth_token

        target = replace(target, token=fetch_oauth_token(*request.oauth,
                                                         timeout=request.retry.timeout))
    return target, client_factory(request, target)


def run_remote(request: RunRequest,
               on_episode: Callable[[Episode], None] | None = None) -> RunOutcome:
    target, make_client = prepare(request)
    cfg = request.play
    first = make_client()
    try:
        probe(first, cfg, 1)  # unreachable, refused or incompatible: stop here
        if cfg.batch and cfg.runners > 1 and not probe(first, cfg, 2):
            log.warning("the server takes one observation per request: --batch is off")
            cfg = replace(cfg, batch=False)
    finally:
        first.close()
    run_id = request.run_id or new_run_id()
    recorder = Recorder(build_sinks(request.metrics_engines, request.metrics_config,
                                    EngineContext(group=run_id, trial="agent")))
    url = target.url(grpc=request.grpc)
    recorder.write(make_event("run_start", run_id, "agent", target=url,
                              transport=transport_name(request), runners=cfg.runners,
                              batch=cfg.batch, env=cfg.env_id, episodes=cfg.episodes,
                              feedback=cfg.feedback))

    def episode_done(e: Episode) -> None:
        recorder.write(make_event("run_episode", run_id, f"r{e.runner:02d}", runner=e.runner,
                                  episode=e.number, seed=e.seed, score=e.score, steps=e.steps,
                                  seconds=round(e.seconds, 4), branch=e.branch))
        if on_episode is not None:
            on_episode(e)

    tally = Tally(cfg.episodes, episode_done)
    interrupted, started = False, time.perf_counter()
    try:
        play(cfg, make_client, tally)
    except KeyboardInterrupt:
        interrupted = True
    summary = run_summary(tally, time.perf_counter() - started, interrupted)
    try:
        recorder.write(make_event("run_end", run_id, "agent", **{
            k: summary[k] for k in ("episodes", "score", "score_min", "score_max", "steps",
                                    "seconds", "steps_per_second", "latency_p50_ms",
                                    "latency_p99_ms", "requests", "cut_short", "error",
                                    "interrupted")}))
    finally:
        recorder.close()
    return RunOutcome(run_id, summary, cfg.batch)


__all__ = ["RemoteError", "RunOutcome", "RunRequest", "new_run_id", "run_remote"]
