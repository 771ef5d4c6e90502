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
p99 latency, the server's resident memory after the load, and the time from process
start to the first answer. The apps are written to a temporary folder at run time.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from benchmarks.report import machine_line, write_section
from tests.servers import free_port

BODY = '{"data": {"ndarray": [[0.01, -0.02, 0.03, 0.04]]}}'
PATH = "/api/v1.0/predictions"

COMMON = '''
import numpy as np
from cartpole.agent.h5weights import load_policy

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

from cartpole.agent.h5weights import read_dense_weights


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


def _post_ok(url: str) -> bool:
    request = urllib.request.Request(url, data=BODY.encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=1) as reply:
            return reply.status == 200
    except OSError:
        return False


def _wrk(url: str, connections: int, seconds: int, script: Path) -> tuple[float, float]:
    out = subprocess.run(["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency",
                          "-s", str(script), url], capture_output=True, text=True,
                         check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    value, unit = re.search(r"99%\s+([\d.]+)(us|ms|s)", out).groups()
    p99_ms = float(value) * {"us": 1e-3, "ms": 1.0, "s": 1e3}[unit]
    if "Non-2xx" in out:
        raise RuntimeError(f"errors under load:\n{out}")
    return rps, p99_ms


def uvicorn_cmd(name: str, port: int) -> list[str]:
    return [str(Path(sys.executable).with_name("uvicorn")), f"app_{name}:app", "--port",
            str(port), "--log-level", "warning", "--no-access-log"]


def seldon_cmd(model: Path, port: int, venv: Path,
               interface: str = "cartpole.serving.seldon.CartpoleModel") -> list[str]:
    params = json.dumps([{"name": "model_file", "value": str(model), "type": "STRING"}])
    return [str(venv / "bin" / "seldon-core-microservice"), interface,
            "--service-type", "MODEL", "--http-port", str(port), "--grpc-port",
            str(free_port()), "--metrics-port", str(free_port()), "--workers", "1",
            "--parameters", params]


def serve_cmd(model: Path, port: int) -> list[str]:
    return [str(Path(sys.executable).with_name("cartpole")), "serve", str(model), "--port",
            str(port)]


def measure(name: str, cmd: list[str], port: int, work: Path, seconds: int,
            script: Path) -> dict[str, float]:
    url = f"http://127.0.0.1:{port}{PATH}"
    started = time.perf_counter()
    log = work / f"{re.sub(r'[^a-z]+', '-', name.lower())}.log"
    with log.open("wb") as handle:  # a file, not a pipe: a chatty server never blocks
        proc = subprocess.Popen(cmd, cwd=work, stdout=handle, stderr=subprocess.STDOUT,
                                start_new_session=True)
    try:
        while not _post_ok(url):
            if proc.poll() is not None:
                raise RuntimeError(f"{name} exited: {log.read_text()[-2000:]}")
            time.sleep(0.02)
        ready = time.perf_counter() - started
        row = {"ready_s": ready}
        for connections in (1, 16):
            row[f"rps_{connections}"], row[f"p99_ms_{connections}"] = _wrk(
                url, connections, seconds, script)
        row["rss_mb"] = _rss_tree_mb(proc.pid)
        return row
    finally:
        _stop_group(proc)


def _stop_group(proc: subprocess.Popen) -> None:
    """Stop the whole process group and wait until none of it is left: a server still
    shutting down (with a backlog of requests) would slow the next row."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    deadline = time.monotonic() + 15
    while True:
        proc.poll()
        try:
            os.killpg(proc.pid, 0)
        except ProcessLookupError:
            return
        if time.monotonic() > deadline:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
        time.sleep(0.1)


def markdown(rows: dict[str, dict[str, float]], seconds: int, command: str) -> str:
    base = next(iter(rows.values()))["rps_16"]
    lines = ["| stack | req/s, 1 conn | p99, 1 conn | req/s, 16 conn | p99, 16 conn "
             "| × seldon, 16 conn | RSS (MB) | start to first answer |",
             "|---|---|---|---|---|---|---|---|"]
    for name, r in rows.items():
        lines.append(f"| {name} | {r['rps_1']:,.0f} | {r['p99_ms_1']:.2f} ms "
                     f"| {r['rps_16']:,.0f} | {r['p99_ms_16']:.2f} ms "
                     f"| {r['rps_16'] / base:.1f} | {r['rss_mb']:.0f} "
                     f"| {r['ready_s']:.2f} s |")
    return "\n".join([machine_line(("uvicorn", "fastapi", "starlette", "orjson", "numpy")),
                      "", *lines, "",
                      f"One worker each (uvicorn; seldon-core 1.18.2: gunicorn, in .venv-seldon); "
                      f"wrk, one thread, {seconds} s per cell; one observation per request.",
                      "", f"Reproduce with `{command}`."])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, required=True, help="a trained .h5")
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--seldon-venv", type=Path, default=Path(".venv-seldon"))
    parser.add_argument("--keras-venv", type=Path, default=None,
                        help="a venv with seldon-core and TensorFlow, for the original's row")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is needed: apt-get install wrk")
    rows: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory(prefix="cartpole-serve-bench-") as tmp:
        work = Path(tmp)
        (work / "common.py").write_text(COMMON.format(model=str(args.model.resolve())))
        (work / "post.lua").write_text(
            f"wrk.method = 'POST'\nwrk.body = '{BODY}'\n"
            "wrk.headers['Content-Type'] = 'application/json'\n")
        for name, source in {**APPS, "floor": FLOOR}.items():
            (work / f"app_{name}.py").write_text(source)  # not named like the package
        (work / "KerasStyle.py").write_text(KERAS_MODEL)
        model = args.model.resolve()
        commands = {"seldon-core-microservice (our numpy MODEL class)":
                    lambda port: seldon_cmd(model, port, args.seldon_venv.resolve())}
        commands.update({name: lambda port, n=name: uvicorn_cmd(n, port) for name in APPS})
        commands["asgi constant (the floor)"] = lambda port: uvicorn_cmd("floor", port)
        commands["cartpole serve"] = lambda port: serve_cmd(model, port)
        if args.keras_venv:  # last: its TensorFlow threads must not weigh on other rows
            commands["seldon-core-microservice (Keras model.predict, the original style)"] = \
                lambda port: seldon_cmd(model, port, args.keras_venv.resolve(), "KerasStyle")
        for name, make in commands.items():
            port = free_port()
            rows[name] = measure(name, make(port), port, work, args.seconds,
                                 work / "post.lua")
            print(json.dumps({"stack": name, **rows[name]}), flush=True)
    if args.out:
        command = ("make bench-serve-stacks" if args.seconds == 8
                   else " ".join(["python -m benchmarks.serve_stacks", *sys.argv[1:]]))
        write_section(args.out, "serve-stacks", markdown(rows, args.seconds, command))


if __name__ == "__main__":
    main()
