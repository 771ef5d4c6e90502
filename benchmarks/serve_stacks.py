"""Which HTTP stack can serve a numpy policy fast enough: measured, not assumed.

Each candidate is the same Seldon-style prediction endpoint (JSON in, one greedy
action per row out, the same numpy forward pass) on uvicorn with one worker:

- ``fastapi``: FastAPI with a pydantic request model (a common default);
- ``starlette``: a Starlette route, no validation layer;
- ``asgi``: a plain ASGI callable with orjson.

Also measured: seldon-core-microservice with our numpy MODEL class (the baseline of
the targets) and, with ``--keras-venv``, with a Keras ``model.predict`` class (the
original's style); a constant ASGI answer (the floor); and ``cartpole serve``.
Each runs in its own process on a free loopback port; ``wrk`` (Debian package) sends
one observation per request at 1 and 16 connections. Reported: requests per second,
p50 and p99 latency, the server's resident memory after the load, and the time from
process start to the first answer. A cell in which wrk saw a socket error or a non-2xx
answer is recorded as failed, with what went wrong, and is not used in any ratio. The
apps are written to a temporary folder at run time. Writes
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
# The serving issue's targets for `cartpole serve`.
TARGETS = {"ratio": 10, "connections": 16, "p99_ms": 5, "rss_mb": 200, "ready_s": 2}


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _rss_tree_mb(pid: int) -> float:
    """Resident memory of the process and its children (gunicorn workers)."""
    total = _rss_mb(pid)
    children = Path(f"/proc/{pid}/task/{pid}/children")
    for child in children.read_text().split() if children.exists() else []:
        total += _rss_tree_mb(int(child))
    return total


def post_ok(url: str) -> bool:
    request = urllib.request.Request(url, data=BODY.encode(), method="POST",
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
            str(port), "--log-level", "warning", "--no-access-log"]


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


def serve_cmd(model: Path, port: int) -> list[str]:
    return [str(Path(sys.executable).with_name("cartpole")), "serve", str(model), "--port",
            str(port)]


def shown_command(cmd: list[str], work: Path) -> str:
    """A command as it ran, with the temporary folder and free ports made generic."""
    text = " ".join(relative(c) if c.startswith("/") else c for c in cmd)
    text = text.replace(str(work), "$WORK").replace(str(ROOT) + "/", "")
    return re.sub(r"(--(?:http-|grpc-|metrics-)?port) \d+", r"\1 PORT", text)


def measure(row: dict[str, Any], cmd: list[str], port: int, work: Path, seconds: int,
            script: Path, env: dict[str, str] | None) -> dict[str, Any]:
    url = f"http://127.0.0.1:{port}{PATH}"
    log = work / f"{row['key']}.log"
    row["command"] = shown_command(cmd, work)
    row["load_1min"] = round(os.getloadavg()[0], 2)  # other work on the machine, if any
    proc, ready = start_server(cmd, log, lambda: post_ok(url), env=env)
    try:
        row["ready_s"] = round(ready, 3)
        row["cells"] = [wrk(url, c, seconds, script) for c in CONNECTIONS]
        row["rss_mb"] = round(_rss_tree_mb(proc.pid), 1)
        return row
    finally:
        stop_group(proc)


def alternate(pair: list[tuple[str, list[str], int, dict[str, str] | None]], work: Path,
              rounds: int, seconds: int, script: Path) -> dict[str, Any]:
    """Both servers of ``pair`` up at once, wrk on each in turn, ``rounds`` times per
    connection count: a ratio per round, so that load from other work on a shared machine
    falls on both sides alike. The idle server waits, using nothing."""
    procs = []
    try:
        for key, cmd, port, env in pair:
            url = f"http://127.0.0.1:{port}{PATH}"
            procs.append(start_server(cmd, work / f"alternate-{key}.log",
                                      lambda u=url: post_ok(u), env=env)[0])
        out: dict[str, Any] = {"keys": [k for k, *_ in pair], "rounds": []}
        for i in range(rounds):
            for c in CONNECTIONS:
                cells = {key: wrk(f"http://127.0.0.1:{port}{PATH}", c, seconds, script)
                         for key, _, port, _ in pair}
                ok = all(not cell["failed"] for cell in cells.values())
                a, b = (cells[k] for k in out["keys"])
                out["rounds"].append({
                    "round": i, "connections": c, "load_1min": round(os.getloadavg()[0], 2),
                    "cells": cells, "ratio": a["rps"] / b["rps"] if ok and b["rps"] else None})
                print(json.dumps({"alternate": i, "connections": c,
                                  "ratio": out["rounds"][-1]["ratio"]}), flush=True)
        return out
    finally:
        for proc in procs:
            stop_group(proc)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, required=True, help="a trained .h5")
    parser.add_argument("--seconds", type=int, default=8, help="wrk's duration per cell")
    parser.add_argument("--rounds", type=int, default=3,
                        help="rounds of `cartpole serve` and the peer measured in turn")
    parser.add_argument("--round-seconds", type=int, default=4,
                        help="wrk's duration per cell of those rounds")
    parser.add_argument("--seldon-venv", type=Path, default=Path(".venv-seldon"))
    parser.add_argument("--keras-venv", type=Path, default=None,
                        help="a venv with seldon-core and TensorFlow, for the original's row")
    add_run_options(parser)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is needed: apt-get install wrk")
    model = args.model.resolve()
    seldon_venv = args.seldon_venv.resolve()
    run = Run("serve-stacks", "benchmarks.serve_stacks", args,
              {"seconds_per_cell": args.seconds, "connections": list(CONNECTIONS),
               "wrk_threads": 1, "body": BODY, "path": PATH, "model": relative(model),
               "seldon_config": SELDON_CONFIG, "peer": PEER, "targets": TARGETS,
               "rounds": args.rounds, "round_seconds": args.round_seconds})
    run.versions.update(installed_versions(("cartpole", "uvicorn", "fastapi", "starlette",
                                            "pydantic", "orjson", "numpy")))
    run.versions.update(installed_versions(("seldon-core", "gunicorn", "Flask", "numpy"),
                                           seldon_venv / "bin" / "python", "seldon-venv:"))
    if args.keras_venv:
        run.versions.update(installed_versions(
            ("seldon-core", "tensorflow-cpu", "tensorflow", "keras"),
            args.keras_venv.resolve() / "bin" / "python", "seldon-keras-venv:"))
    run.versions["wrk"] = tool_version(["wrk", "--version"]) or "unknown"
    rows: list[dict[str, Any]] = run.results.setdefault("rows", [])
    with tempfile.TemporaryDirectory(prefix="cartpole-serve-bench-") as tmp:
        work = Path(tmp)
        (work / "common.py").write_text(COMMON.format(model=str(model)))
        (work / "post.lua").write_text(
            f"wrk.method = 'POST'\nwrk.body = '{BODY}'\n"
            "wrk.headers['Content-Type'] = 'application/json'\n")
        for name, source in {**APPS, "floor": FLOOR}.items():
            (work / f"app_{name}.py").write_text(source)  # not named like the package
        (work / "KerasStyle.py").write_text(KERAS_MODEL)
        # key, label, role, environment, command
        plan: list[tuple[str, str, str, str, Any, dict[str, str] | None]] = [
            (PEER, "seldon-core-microservice, our numpy MODEL class", "peer", "seldon-venv",
             lambda port: seldon_cmd(model, port, seldon_venv), seldon_env()),
            *((name, name, "candidate stack", "venv",
               lambda port, n=name: uvicorn_cmd(n, port), None) for name in APPS),
            ("floor", "asgi constant (the floor)", "floor", "venv",
             lambda port: uvicorn_cmd("floor", port), None),
            ("cartpole-serve", "cartpole serve", "ours", "venv",
             lambda port: serve_cmd(model, port), None),
        ]
        if args.keras_venv:  # last: its TensorFlow threads must not weigh on other rows
            plan.append(("seldon-keras", "seldon-core-microservice, Keras model.predict "
                         "(the original's style)", "original style", "seldon-keras-venv",
                         lambda port: seldon_cmd(model, port, args.keras_venv.resolve(),
                                                 "KerasStyle"), seldon_env()))
        for key, label, role, venv, make, env in plan:
            port = free_port()
            row = {"key": key, "stack": label, "role": role, "environment": venv}
            rows.append(measure(row, make(port), port, work, args.seconds, work / "post.lua",
                                env))
            print(json.dumps(row), flush=True)
            run.save()
        if args.rounds:
            ports = free_port(), free_port()
            run.results["alternate"] = alternate(
                [("cartpole-serve", serve_cmd(model, ports[0]), ports[0], None),
                 (PEER, seldon_cmd(model, ports[1], seldon_venv), ports[1], seldon_env())],
                work, args.rounds, args.round_seconds, work / "post.lua")
    run.finish()


if __name__ == "__main__":
    main()
