"""Which HTTP stack can serve a numpy policy fast enough: measured, not assumed.

Each candidate is the same Seldon-style prediction endpoint (JSON in, one greedy
action per row out, the same numpy forward pass) on uvicorn with one worker:

- ``fastapi``: FastAPI with a pydantic request model (a common default);
- ``starlette``: a Starlette route, no validation layer;
- ``asgi``: a plain ASGI callable with orjson.

Also measured: seldon-core-microservice with our numpy MODEL class (the baseline of
the targets) and, with ``--keras-venv``, with a Keras ``model.predict`` class (the
original's style); a constant ASGI answer (the floor); ``cartpole serve`` on Seldon's v1
REST path and on the Open Inference Protocol's (V2) ``/v2/models/cartpole/infer``;
``mlserver start`` with our ``CartpoleRuntime`` on the same V2 path (the V2 peer, with
``"parallel_workers": 0``, and once with MLServer's default of one parallel worker); and
the HTTP server under ``cartpole serve``'s app: its built-in one (the default), uvicorn
(``--http-server uvicorn``: httptools, uvloop) and, when it is installed, granian
(running ``build_app``'s ASGI app), each beside a constant floor on uvicorn or granian.

Each runs in its own process on a free loopback port; ``wrk`` (Debian package) sends
one observation per request at 1 and 16 connections. Reported: requests per second,
p50 and p99 latency, the server's resident memory after the load, and the time from
process start to the first answer. A cell in which wrk saw a socket error or a non-2xx
answer is recorded as failed, with what went wrong, and is not used in any ratio. Then
the servers the targets compare are all started at once and measured in turn, round
after round, so that other work on a shared machine weighs on each side alike. The
apps are written to a temporary folder at run time. V2 gRPC is not load-tested: no
gRPC load generator comparable to wrk installs here (see ``V2_GRPC``). Writes
benchmarks/results/serve-stacks.json.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.harness import (
    ROOT,
    Run,
    add_run_options,
    free_port,
    installed_versions,
    relative,
    start_server,
    stop_group,
    tool_version,
)

BODY = '{"data": {"ndarray": [[0.01, -0.02, 0.03, 0.04]]}}'
PATH = "/api/v1.0/predictions"
# The same observation over the Open Inference Protocol (V2), as JSON: MLServer's REST does
# not take the binary tensor extension.
V2_BODY = ('{"inputs": [{"name": "obs", "datatype": "FP32", "shape": [1, 4], '
           '"data": [0.01, -0.02, 0.03, 0.04]}]}')
V2_PATH = "/v2/models/cartpole/infer"
PROTOCOLS = {"v1": (PATH, BODY), "v2": (V2_PATH, V2_BODY)}

COMMON = '''
import numpy as np
from cartpole.agent.h5 import load_policy

POLICY = load_policy({model!r})


def predict(rows):
    obs = np.asarray(rows, dtype=np.float32)
    if obs.ndim != 2 or obs.shape[1] != POLICY.obs_dim or not np.isfinite(obs).all():
        raise ValueError("observations must be finite rows of %d numbers" % POLICY.obs_dim)
    return np.argmax(POLICY.q_values(obs), axis=1).tolist()
'''

# The original's style: a Keras model and one model.predict call per request.
KERAS_MODEL = '''
import numpy as np

from cartpole.agent.h5 import read_dense_weights


class KerasStyle:
    def __init__(self, model_file):
        self.model_file = model_file

    def load(self):
        # The same network rebuilt in this environment's Keras (TensorFlow 2.15's
        # Keras 2 cannot read a Keras 3 file's config), then one predict per request.
        import keras

        weights = read_dense_weights(self.model_file)
        kernels = weights[0::2]
        self.model = keras.Sequential(
            [keras.Input((kernels[0].shape[0],))]
            + [keras.layers.Dense(k.shape[1], activation="relu") for k in kernels[:-1]]
            + [keras.layers.Dense(kernels[-1].shape[1])])
        self.model.set_weights(weights)

    def predict(self, X, feature_names=None):
        return np.argmax(self.model.predict(np.asarray(X, dtype=np.float32), verbose=0),
                         axis=1).reshape(-1, 1)
'''

# The floor: an ASGI app that reads nothing and answers a constant.
FLOOR = '''
BODY = b'{"data":{"names":["action"],"ndarray":[[0]]},"meta":{}}'


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            else:
                await send({"type": "lifespan.shutdown.complete"})
                return
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(BODY)).encode())]})
    await send({"type": "http.response.body", "body": BODY})
'''

# `cartpole serve`'s own ASGI app, built at import as the command builds it, for other
# HTTP cores to load by name.
CORE = '''
from cartpole.serving.server import build_app

app = build_app([{model!r}])
'''

APPS = {
    "fastapi": '''
from fastapi import FastAPI
from pydantic import BaseModel
from common import predict

class Data(BaseModel):
    ndarray: list[list[float]]

class Request(BaseModel):
    data: Data

app = FastAPI()

@app.post("/api/v1.0/predictions")
def predictions(request: Request):
    return {"data": {"names": ["action"], "ndarray": predict(request.data.ndarray)}, "meta": {}}
''',
    "starlette": '''
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route
from common import predict

async def predictions(request):
    data = await request.json()
    return JSONResponse({"data": {"names": ["action"],
                                  "ndarray": predict(data["data"]["ndarray"])}, "meta": {}})

app = Starlette(routes=[Route("/api/v1.0/predictions", predictions, methods=["POST"])])
''',
    "asgi": '''
import orjson
from common import predict

async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            else:
                await send({"type": "lifespan.shutdown.complete"})
                return
    body, more = b"", True
    while more:
        message = await receive()
        body += message.get("body", b"")
        more = message.get("more_body", False)
    try:
        rows = orjson.loads(body)["data"]["ndarray"]
        status, out = 200, {"data": {"names": ["action"], "ndarray": predict(rows)}, "meta": {}}
    except (ValueError, KeyError, TypeError) as exc:
        status, out = 400, {"status": {"code": 400, "info": str(exc), "status": "FAILURE"}}
    payload = orjson.dumps(out)
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(payload)).encode())]})
    await send({"type": "http.response.body", "body": payload})
''',
}



# How seldon-core-microservice runs in every row that uses it: one gunicorn worker with
# one thread (a sync worker); every other option is left at seldon-core's default, and
# the GUNICORN_* / FLASK_SINGLE_THREADED variables that would change them are unset.
SELDON_CONFIG = {"workers": 1, "threads": 1}
SELDON_ENV_OVERRIDES = ("GUNICORN_WORKERS", "GUNICORN_THREADS", "GUNICORN_MAX_REQUESTS",
                        "GUNICORN_MAX_REQUESTS_JITTER", "GUNICORN_KEEPALIVE",
                        "FLASK_SINGLE_THREADED", "GRPC_WORKERS", "GRPC_THREADS")
CONNECTIONS = (1, 16)
PEER = "seldon-numpy"
V2_PEER = "mlserver"
# MLServer as seldon/mlserver/ sets it up (settings.json, model-settings.json), on our
# ports. The V2 peer: "parallel_workers": 0, the model in the server's own process (the
# faster setting for a model this small). A second row runs MLServer's default (one
# parallel worker process), so that the run itself shows which setting is faster.
MLSERVER_EXAMPLE = ROOT / "seldon" / "mlserver"
MLSERVER_PEER_SETTINGS = {"parallel_workers": 0}
# The HTTP core `cartpole serve` runs on today (uvicorn.run picks these when installed),
# named on every uvicorn command line here; granian is the candidate beside it.
UVICORN_CORE = ["--loop", "uvloop", "--http", "httptools"]
GRANIAN_CORE = ["--interface", "asgi", "--workers", "1", "--loop", "uvloop"]
# The targets of `cartpole serve`: the first serving issue's ratio to seldon-core, and the
# V2 issue's (#19): v1 REST against the constant floor (req/s and p99), V2 REST against v1
# REST and against MLServer, memory and start-up.
TARGETS = {"connections": 16, "ratio": 10, "floor_ratio": 0.65, "p99_over_floor": 2,
           "v2_over_v1": 0.8, "over_mlserver": 5, "rss_mb": 100, "ready_s": 1}
# Every ratio the docs quote: row over row, of req/s or of p99 latency.
RATIOS = {
    "ratio": {"of": "cartpole-serve", "to": PEER, "field": "rps"},
    "floor_ratio": {"of": "cartpole-serve", "to": "floor", "field": "rps"},
    "p99_over_floor": {"of": "cartpole-serve", "to": "floor", "field": "p99_ms"},
    "v2_over_v1": {"of": "cartpole-serve-v2", "to": "cartpole-serve", "field": "rps"},
    "over_mlserver": {"of": "cartpole-serve-v2", "to": V2_PEER, "field": "rps"},
    "granian_floor_ratio": {"of": "core-granian", "to": "floor-granian", "field": "rps"},
    "granian_p99_over_floor": {"of": "core-granian", "to": "floor-granian",
                               "field": "p99_ms"},
    "builtin_over_uvicorn": {"of": "cartpole-serve", "to": "core-uvicorn", "field": "rps"},
    "uvicorn_floor_ratio": {"of": "core-uvicorn", "to": "floor", "field": "rps"},
    "granian_over_uvicorn": {"of": "core-granian", "to": "core-uvicorn", "field": "rps"},
}
# The servers measured in turn, round after round (those of the ratios above).
ALTERNATE = ("cartpole-serve", "cartpole-serve-v2", "floor", "core-uvicorn", "core-granian",
             "floor-granian", PEER, V2_PEER)
V2_GRPC = (
    "ghz, the usual gRPC load generator, is in neither Debian's packages nor PyPI "
    "(building it would add a Go toolchain and its module downloads to the benchmark's "
    "set-up); h2load (Debian's nghttp2-client) can replay one gRPC call over HTTP/2, but "
    "it judges an answer by its HTTP status, which is 200 even for a failed call (gRPC "
    "sends its status in trailers), so its cells could not be failed as wrk's are; and a "
    "Python gRPC client loop on these 2 cores measures the client as much as the server, "
    "so its figures would not compare with wrk's. The V2 gRPC service is exercised for "
    "correctness by the test suite (tritonclient against `cartpole serve` and MLServer), "
    "not timed here.")


@dataclass
class Server:
    """One row: how it starts on a given port, and which protocol wrk speaks to it."""

    key: str
    stack: str
    role: str
    environment: str
    command: Callable[[int], list[str]]
    env: dict[str, str] | None = None
    protocol: str = "v1"
    extra: dict[str, Any] | None = None  # recorded in the row as it is


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _rss_tree_mb(pid: int) -> float:
    """Resident memory of the process and its children (gunicorn or granian workers)."""
    total = _rss_mb(pid)
    children = Path(f"/proc/{pid}/task/{pid}/children")
    for child in children.read_text().split() if children.exists() else []:
        total += _rss_tree_mb(int(child))
    return total


def post_ok(url: str, body: str = BODY) -> bool:
    request = urllib.request.Request(url, data=body.encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=1) as reply:
            return reply.status == 200
    except OSError:
        return False


def _ms(value: str, unit: str) -> float:
    return float(value) * {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 6e4}[unit]


def parse_wrk(out: str) -> dict[str, Any]:
    """wrk's report as numbers; a cell with socket errors or non-2xx answers is failed."""
    cell: dict[str, Any] = {}
    found = re.search(r"Requests/sec:\s+([\d.]+)", out)
    cell["rps"] = float(found.group(1)) if found else None
    found = re.search(r"(\d+) requests in ([\d.]+)(ms|s|m)", out)
    cell["requests"] = int(found.group(1)) if found else None
    for pct in ("50", "99"):
        found = re.search(rf"\b{pct}%\s+([\d.]+)(us|ms|s|m)\b", out)
        cell[f"p{pct}_ms"] = _ms(*found.groups()) if found else None
    found = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)",
                      out)
    errors = dict(zip(("connect", "read", "write", "timeout"),
                      map(int, found.groups()), strict=True)) if found else {}
    cell["socket_errors"] = errors
    found = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    cell["non_2xx"] = int(found.group(1)) if found else 0
    reasons = [f"{n} socket {kind} errors" for kind, n in errors.items() if n]
    if cell["non_2xx"]:
        reasons.append(f"{cell['non_2xx']} non-2xx answers")
    if cell["rps"] is None or not cell["requests"]:
        reasons.append("no requests completed")
    cell["failed"] = bool(reasons)
    cell["reason"] = "; ".join(reasons) or None
    return cell


def wrk(url: str, connections: int, seconds: int, script: Path) -> dict[str, Any]:
    cmd = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", str(script),
           url]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    cell = {"connections": connections, **parse_wrk(proc.stdout)}
    if proc.returncode != 0:
        cell["failed"] = True
        cell["reason"] = f"wrk exited {proc.returncode}: {proc.stderr.strip()[-300:]}"
    return cell


def uvicorn_cmd(name: str, port: int) -> list[str]:
    return [str(Path(sys.executable).with_name("uvicorn")), f"app_{name}:app", "--port",
            str(port), *UVICORN_CORE, "--log-level", "warning", "--no-access-log"]


def granian_exe() -> Path:
    return Path(sys.executable).with_name("granian")


def granian_cmd(name: str, port: int) -> list[str]:
    return [str(granian_exe()), *GRANIAN_CORE, "--host", "127.0.0.1", "--port", str(port),
            "--log-level", "warning", "--no-access-log", f"app_{name}:app"]


def seldon_cmd(model: Path, port: int, venv: Path,
               interface: str = "cartpole.serving.seldon.CartpoleModel",
               grpc_port: int | None = None) -> list[str]:
    params = json.dumps([{"name": "model_file", "value": str(model), "type": "STRING"}])
    return [str(venv / "bin" / "seldon-core-microservice"), interface,
            "--service-type", "MODEL", "--http-port", str(port), "--grpc-port",
            str(grpc_port or free_port()), "--metrics-port", str(free_port()),
            "--workers", str(SELDON_CONFIG["workers"]),
            "--threads", str(SELDON_CONFIG["threads"]), "--parameters", params]


def seldon_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in SELDON_ENV_OVERRIDES}


def serve_cmd(model: Path, port: int, *options: str) -> list[str]:
    return [str(Path(sys.executable).with_name("cartpole")), "serve", str(model), "--port",
            str(port), *options]


def mlserver_settings(overrides: dict[str, Any]) -> dict[str, Any]:
    """seldon/mlserver/settings.json without its host and ports, with ``overrides``; a
    key set to None is left out (MLServer's default then)."""
    base = json.loads((MLSERVER_EXAMPLE / "settings.json").read_text())
    out = {k: v for k, v in base.items()
           if k not in ("host", "http_port", "grpc_port", "metrics_port")}
    out.update(overrides)
    return {k: v for k, v in out.items() if v is not None}


def mlserver_folder(work: Path, name: str, model: Path) -> Path:
    """A model folder as seldon/mlserver/ lays it out: its model-settings.json beside the
    model and its metadata (not named ``cartpole``: ``mlserver start`` puts the folder on
    sys.path)."""
    folder = work / name
    folder.mkdir()
    shutil.copy(MLSERVER_EXAMPLE / "model-settings.json", folder)
    uri = json.loads((MLSERVER_EXAMPLE / "model-settings.json").read_text())["parameters"]["uri"]
    shutil.copy(model, folder / uri)
    if model.with_suffix(".json").exists():
        shutil.copy(model.with_suffix(".json"), (folder / uri).with_suffix(".json"))
    return folder


def mlserver_cmd(venv: Path, folder: Path, port: int, settings: dict[str, Any]) -> list[str]:
    """``mlserver start folder`` on ``port`` (REST); its settings.json is written now, with
    loopback, free gRPC and metrics ports and working folders beside the model folder."""
    (folder / "settings.json").write_text(json.dumps({
        **settings, "host": "127.0.0.1", "http_port": port, "grpc_port": free_port(),
        "metrics_port": free_port(), "metrics_dir": str(folder.parent / f"{folder.name}-metrics"),
        "environments_dir": str(folder.parent / f"{folder.name}-envs")}, indent=1))
    return [str(venv / "bin" / "mlserver"), "start", str(folder)]


def shown_command(cmd: list[str], work: Path) -> str:
    """A command as it ran, with the temporary folder and free ports made generic."""
    text = " ".join(relative(c) if c.startswith("/") else c for c in cmd)
    text = text.replace(str(work), "$WORK").replace(str(ROOT) + "/", "")
    return re.sub(r"(--(?:http-|grpc-|metrics-)?port) \d+", r"\1 PORT", text)


def _url(port: int, protocol: str) -> str:
    return f"http://127.0.0.1:{port}{PROTOCOLS[protocol][0]}"


def _start(server: Server, cmd: list[str], port: int,
           log: Path) -> tuple[subprocess.Popen, float]:
    url, body = _url(port, server.protocol), PROTOCOLS[server.protocol][1]
    return start_server(cmd, log, lambda: post_ok(url, body), env=server.env)


def measure(server: Server, work: Path, seconds: int,
            scripts: dict[str, Path]) -> dict[str, Any]:
    """One row: the server alone, wrk at each connection count, then its memory. A server
    that does not start is a row whose cells failed, with why."""
    port = free_port()
    row: dict[str, Any] = {"key": server.key, "stack": server.stack, "role": server.role,
                           "environment": server.environment, "protocol": server.protocol,
                           "path": PROTOCOLS[server.protocol][0], **(server.extra or {})}
    cmd = server.command(port)
    row["command"] = shown_command(cmd, work)
    row["load_1min"] = round(os.getloadavg()[0], 2)  # other work on the machine, if any
    try:
        proc, ready = _start(server, cmd, port, work / f"{server.key}.log")
    except RuntimeError as exc:
        reason = f"did not start: {str(exc)[-300:]}"
        row.update(ready_s=None, rss_mb=None, cells=[
            {"connections": c, "rps": None, "failed": True, "reason": reason}
            for c in CONNECTIONS])
        return row
    try:
        row["ready_s"] = round(ready, 3)
        row["cells"] = [wrk(_url(port, server.protocol), c, seconds, scripts[server.protocol])
                        for c in CONNECTIONS]
        row["rss_mb"] = round(_rss_tree_mb(proc.pid), 1)
        return row
    finally:
        stop_group(proc)


def round_ratios(cells: dict[str, dict[str, Any]]) -> dict[str, float]:
    """The ratios of RATIOS whose two cells this round has, both without failure."""
    out = {}
    for name, spec in RATIOS.items():
        a, b = cells.get(spec["of"]), cells.get(spec["to"])
        if a and b and not a["failed"] and not b["failed"] and b.get(spec["field"]):
            out[name] = a[spec["field"]] / b[spec["field"]]
    return out


def alternate(servers: list[Server], work: Path, rounds: int, seconds: int,
              scripts: dict[str, Path]) -> dict[str, Any]:
    """All of ``servers`` up at once, wrk on each in turn, ``rounds`` times per connection
    count: a ratio per round, so that load from other work on a shared machine falls on
    every side alike. The idle servers wait, using nothing. A server that does not start
    is left out of the rounds, with why."""
    procs, ports = [], {}
    out: dict[str, Any] = {"keys": [], "not_started": {}, "rounds": []}
    try:
        for server in servers:
            port = free_port()
            try:
                procs.append(_start(server, server.command(port), port,
                                    work / f"alternate-{server.key}.log")[0])
            except RuntimeError as exc:
                out["not_started"][server.key] = str(exc)[-300:]
                continue
            ports[server.key] = (port, server.protocol)
            out["keys"].append(server.key)
        for i in range(rounds):
            for c in CONNECTIONS:
                cells = {key: wrk(_url(port, proto), c, seconds, scripts[proto])
                         for key, (port, proto) in ports.items()}
                ratios = round_ratios(cells)
                out["rounds"].append({
                    "round": i, "connections": c, "load_1min": round(os.getloadavg()[0], 2),
                    "cells": cells, "ratio": ratios.get("ratio"), "ratios": ratios})
                print(json.dumps({"alternate": i, "connections": c,
                                  "ratios": {k: round(v, 3) for k, v in ratios.items()}}),
                      flush=True)
        return out
    finally:
        for proc in procs:
            stop_group(proc)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, required=True, help="a trained .h5")
    parser.add_argument("--seconds", type=int, default=8, help="wrk's duration per cell")
    parser.add_argument("--rounds", type=int, default=3,
                        help="rounds of the compared servers measured in turn")
    parser.add_argument("--round-seconds", type=int, default=4,
                        help="wrk's duration per cell of those rounds")
    parser.add_argument("--seldon-venv", type=Path, default=Path(".venv-seldon"))
    parser.add_argument("--mlserver-venv", type=Path, default=Path(".venv-mlserver"),
                        help="MLServer 1.7 with our runtime (make mlserver-venv)")
    parser.add_argument("--no-mlserver-default", action="store_true",
                        help="skip the row of MLServer with its default parallel workers")
    parser.add_argument("--keras-venv", type=Path, default=None,
                        help="a venv with seldon-core and TensorFlow, for the original's row")
    add_run_options(parser)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is needed: apt-get install wrk")
    model = args.model.resolve()
    seldon_venv = args.seldon_venv.resolve()
    mlserver_venv = args.mlserver_venv.resolve()
    has_mlserver = (mlserver_venv / "bin" / "mlserver").exists()
    has_granian = granian_exe().exists()
    peer_settings = mlserver_settings(MLSERVER_PEER_SETTINGS)
    default_settings = mlserver_settings({"parallel_workers": None})
    run = Run("serve-stacks", "benchmarks.serve_stacks", args,
              {"seconds_per_cell": args.seconds, "connections": list(CONNECTIONS),
               "wrk_threads": 1, "body": BODY, "path": PATH, "v2_body": V2_BODY,
               "v2_path": V2_PATH, "model": relative(model),
               "seldon_config": SELDON_CONFIG, "peer": PEER, "v2_peer": V2_PEER,
               "mlserver": {"venv": relative(mlserver_venv), "settings": peer_settings,
                            "default_row_settings": (None if args.no_mlserver_default
                                                     else default_settings),
                            "model_settings": json.loads(
                                (MLSERVER_EXAMPLE / "model-settings.json").read_text())},
               "http_cores": {"uvicorn": UVICORN_CORE, "granian": GRANIAN_CORE},
               "targets": TARGETS, "ratios": RATIOS, "v2_grpc": {"load_tested": False,
                                                                "why": V2_GRPC},
               "rounds": args.rounds, "round_seconds": args.round_seconds})
    run.versions.update(installed_versions(("cartpole", "uvicorn", "uvloop", "httptools",
                                            "granian", "fastapi", "starlette", "pydantic",
                                            "orjson", "numpy")))
    run.versions.update(installed_versions(("seldon-core", "gunicorn", "Flask", "numpy"),
                                           seldon_venv / "bin" / "python", "seldon-venv:"))
    if has_mlserver:
        run.versions.update(installed_versions(
            ("mlserver", "uvicorn", "uvloop", "fastapi", "numpy"),
            mlserver_venv / "bin" / "python", "mlserver-venv:"))
    if args.keras_venv:
        run.versions.update(installed_versions(
            ("seldon-core", "tensorflow-cpu", "tensorflow", "keras"),
            args.keras_venv.resolve() / "bin" / "python", "seldon-keras-venv:"))
    run.versions["wrk"] = tool_version(["wrk", "--version"]) or "unknown"
    rows: list[dict[str, Any]] = run.results.setdefault("rows", [])
    skipped: list[dict[str, str]] = run.results.setdefault("skipped", [])
    with tempfile.TemporaryDirectory(prefix="cartpole-serve-bench-") as tmp:
        work = Path(tmp)
        (work / "common.py").write_text(COMMON.format(model=str(model)))
        scripts = {}
        for protocol, (_, body) in PROTOCOLS.items():
            scripts[protocol] = work / f"post-{protocol}.lua"
            scripts[protocol].write_text(
                f"wrk.method = 'POST'\nwrk.body = '{body}'\n"
                "wrk.headers['Content-Type'] = 'application/json'\n")
        for name, source in {**APPS, "floor": FLOOR,
                             "core": CORE.format(model=str(model))}.items():
            (work / f"app_{name}.py").write_text(source)  # not named like the package
        (work / "KerasStyle.py").write_text(KERAS_MODEL)
        peer_folder = mlserver_folder(work, "mlserver-peer", model) if has_mlserver else None
        default_folder = (mlserver_folder(work, "mlserver-default", model)
                          if has_mlserver and not args.no_mlserver_default else None)
        plan = [
            Server(PEER, "seldon-core-microservice, our numpy MODEL class", "peer",
                   "seldon-venv", lambda port: seldon_cmd(model, port, seldon_venv),
                   seldon_env()),
            *(Server(name, name, "candidate stack", "venv",
                     lambda port, n=name: uvicorn_cmd(n, port)) for name in APPS),
            Server("floor", "asgi constant (the floor), uvicorn", "floor", "venv",
                   lambda port: uvicorn_cmd("floor", port)),
            Server("floor-granian", "asgi constant (the floor), granian", "floor", "venv",
                   lambda port: granian_cmd("floor", port)),
            Server("cartpole-serve", "cartpole serve (its built-in HTTP server), v1 REST",
                   "ours", "venv", lambda port: serve_cmd(model, port)),
            Server("cartpole-serve-v2", "cartpole serve (its built-in HTTP server), V2 REST",
                   "ours", "venv", lambda port: serve_cmd(model, port), protocol="v2"),
            Server("core-uvicorn", "cartpole serve --http-server uvicorn (its app as ASGI; "
                   "httptools, uvloop), v1 REST", "HTTP core candidate", "venv",
                   lambda port: serve_cmd(model, port, "--http-server", "uvicorn")),
            Server("core-granian", "cartpole serve's app, granian", "HTTP core candidate",
                   "venv", lambda port: granian_cmd("core", port)),
            Server(V2_PEER, "mlserver start, our CartpoleRuntime, parallel_workers 0",
                   "V2 peer", "mlserver-venv",
                   lambda port: mlserver_cmd(mlserver_venv, peer_folder, port, peer_settings),
                   protocol="v2", extra={"mlserver_settings": peer_settings}),
            Server("mlserver-default", "mlserver start, our CartpoleRuntime, its default "
                   "parallel workers", "V2 peer, other setting", "mlserver-venv",
                   lambda port: mlserver_cmd(mlserver_venv, default_folder, port,
                                             default_settings),
                   protocol="v2", extra={"mlserver_settings": default_settings}),
        ]
        if args.keras_venv:  # last: its TensorFlow threads must not weigh on other rows
            plan.append(Server(
                "seldon-keras", "seldon-core-microservice, Keras model.predict (the "
                "original's style)", "original style", "seldon-keras-venv",
                lambda port: seldon_cmd(model, port, args.keras_venv.resolve(), "KerasStyle"),
                seldon_env()))
        missing = {}
        if not has_granian:
            missing.update(dict.fromkeys(("floor-granian", "core-granian"),
                                         "granian is not installed in .venv"))
        if not has_mlserver:
            missing.update(dict.fromkeys((V2_PEER, "mlserver-default"),
                                         f"no {relative(mlserver_venv)}/bin/mlserver "
                                         "(make mlserver-venv)"))
        if args.no_mlserver_default:
            missing["mlserver-default"] = "--no-mlserver-default"
        for server in plan:
            if server.key in missing:
                skipped.append({"key": server.key, "stack": server.stack,
                                "why": missing[server.key]})
                continue
            rows.append(measure(server, work, args.seconds, scripts))
            print(json.dumps(rows[-1]), flush=True)
            run.save()
        if args.rounds:
            by_key = {s.key: s for s in plan if s.key not in missing}
            run.results["alternate"] = alternate(
                [by_key[k] for k in ALTERNATE if k in by_key], work, args.rounds,
                args.round_seconds, scripts)
    run.finish()


if __name__ == "__main__":
    main()
