"""How fast the remote agent plays against served models: env steps per second.

Servers, one at a time, each in its own process group on a free loopback port:
``cartpole serve``; seldon-core-microservice 1.18.2 with our numpy MODEL class; and,
with ``--keras-venv``, seldon-core-microservice with a Keras ``model.predict`` class
(the 2018 original's serving style). Agents against each:

- ``cartpole run`` runners (the library's ``play``), 16 with ``--batch``, 16 without,
  and 1, over REST; with the seldon numpy server also over gRPC;
- the 2018 agent's client pattern: one runner, a new HTTP session for every request,
  and a feedback request after every step (``requests``, as the original used).

Each cell plays for a fixed time after a one-second warm-up and counts env steps; cut
episodes count their steps too (throughput is the point here, not scores).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from benchmarks.report import machine_line, write_section
from benchmarks.serve_stacks import KERAS_MODEL, _post_ok, _stop_group, seldon_cmd, serve_cmd
from cartpole.envs import make_env
from cartpole.remote.client import Client, RetryPolicy
from cartpole.remote.play import PlayConfig, Tally, play
from cartpole.remote.rest_client import RestClient
from cartpole.remote.target import parse_target
from tests.servers import free_port

PEER = ("seldon-core, Keras model.predict (original style)", "2018 client, 1 runner")


def runners(make_client: Callable[[], Client], n: int, batch: bool,
            seconds: float) -> dict[str, float]:
    """``cartpole run``'s runners for ``seconds``: env steps/s and request latency."""
    result = {}
    for phase, length in (("warmup", 1.0), ("measure", seconds)):
        tally = Tally(10**9, lambda e: None)
        timer = threading.Timer(length, tally.stop.set)
        started = time.perf_counter()
        timer.start()
        play(PlayConfig(episodes=10**9, runners=n, batch=batch), make_client, tally)
        elapsed = time.perf_counter() - started
        if tally.error:
            raise RuntimeError(f"{phase}: {tally.error}")
        lat = np.array(tally.latencies) * 1000
        result = {"steps_s": tally.steps / elapsed, "p50_ms": float(np.percentile(lat, 50)),
                  "p99_ms": float(np.percentile(lat, 99))}
    return result


def original_client(url: str, seconds: float) -> dict[str, float]:
    """The 2018 agent: a new session per request, JSON tensors, feedback after each step."""
    import requests

    env, steps, lat = make_env("CartPole-v1"), 0, []
    obs, _ = env.reset(seed=0)
    started = time.perf_counter()
    while time.perf_counter() - started < seconds:
        payload = {"data": {"names": ["a"], "tensor": {"shape": [1, 4],
                                                        "values": obs.tolist()}}}
        t0 = time.perf_counter()
        with requests.Session() as session:
            response = session.post(f"{url}/api/v1.0/predictions", json=payload,
                                    timeout=30).json()
        lat.append(time.perf_counter() - t0)
        values = response["data"].get("ndarray") or response["data"]["tensor"]["values"]
        action = int(np.asarray(values).ravel()[0])
        obs, reward, term, trunc, _ = env.step(action)
        with requests.Session() as session:
            session.post(f"{url}/api/v1.0/feedback", json={
                "request": payload, "response": response,
                "reward": 0.0 if term or trunc else float(reward)}, timeout=30)
        steps += 1
        if term or trunc:
            obs, _ = env.reset(seed=steps)
    elapsed = time.perf_counter() - started
    lat_ms = np.array(lat) * 1000
    return {"steps_s": steps / elapsed, "p50_ms": float(np.percentile(lat_ms, 50)),
            "p99_ms": float(np.percentile(lat_ms, 99))}


def agents(port: int, grpc_port: int | None, seconds: float) -> dict[str, Callable[[], dict]]:
    rest = parse_target("127.0.0.1", port)
    retry = RetryPolicy(retries=0, timeout=60)

    def rest_client() -> Client:
        return RestClient(rest, retry)

    cells: dict[str, Callable[[], dict]] = {
        "cartpole run, 16 runners, --batch": lambda: runners(rest_client, 16, True, seconds),
        "cartpole run, 16 runners": lambda: runners(rest_client, 16, False, seconds),
        "cartpole run, 1 runner": lambda: runners(rest_client, 1, False, seconds),
    }
    if grpc_port is not None:
        from cartpole.remote.grpc_client import GrpcClient

        def grpc_client() -> Client:
            return GrpcClient("127.0.0.1", grpc_port, retry=retry)

        cells["cartpole run --grpc-client, 16 runners, --batch"] = \
            lambda: runners(grpc_client, 16, True, seconds)
        cells["cartpole run --grpc-client, 16 runners"] = \
            lambda: runners(grpc_client, 16, False, seconds)
    cells["2018 client, 1 runner"] = lambda: original_client(rest.url(), seconds)
    return cells


def measure_server(name: str, cmd: list[str], port: int, grpc_port: int | None, work: Path,
                   seconds: float, rows: list[dict]) -> None:
    import subprocess

    log = work / f"server-{port}.log"
    with log.open("wb") as handle:
        proc = subprocess.Popen(cmd, cwd=work, stdout=handle, stderr=subprocess.STDOUT,
                                start_new_session=True)
    try:
        url = f"http://127.0.0.1:{port}/api/v1.0/predictions"
        while not _post_ok(url):
            if proc.poll() is not None:
                raise RuntimeError(f"{name} exited: {log.read_text()[-2000:]}")
            time.sleep(0.05)
        for agent, run in agents(port, grpc_port, seconds).items():
            row = {"server": name, "agent": agent, **run()}
            rows.append(row)
            print(json.dumps(row), flush=True)
    finally:
        _stop_group(proc)


def markdown(rows: list[dict], seconds: float, command: str) -> str:
    peer = next((r for r in rows if (r["server"], r["agent"]) == PEER), None)
    lines = ["| server | agent | env steps/s | request p50 | request p99 | × peer |",
             "|---|---|---|---|---|---|"]
    for r in rows:
        ratio = f"{r['steps_s'] / peer['steps_s']:,.0f}" if peer else "-"
        lines.append(f"| {r['server']} | {r['agent']} | {r['steps_s']:,.0f} "
                     f"| {r['p50_ms']:.2f} ms | {r['p99_ms']:.2f} ms | {ratio} |")
    peer_text = (f"Peer: {PEER[1]} against {PEER[0]}, the 2018 project's journey."
                 if peer else "No peer row (run with --keras-venv).")
    return "\n".join([machine_line(("numpy", "gymnasium", "grpcio", "requests")), "",
                      *lines, "", f"{seconds:g} s per cell after a 1 s warm-up; one server "
                      "process (one worker) on loopback, the agent in this process. "
                      + peer_text, "", f"Reproduce with `{command}`."])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, required=True, help="a trained .h5")
    parser.add_argument("--seconds", type=float, default=8)
    parser.add_argument("--seldon-venv", type=Path, default=Path(".venv-seldon"))
    parser.add_argument("--keras-venv", type=Path, default=None)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    model, rows = args.model.resolve(), []
    with tempfile.TemporaryDirectory(prefix="cartpole-remote-bench-") as tmp:
        work = Path(tmp)
        (work / "KerasStyle.py").write_text(KERAS_MODEL)
        servers: list[tuple[str, Callable[[int, int], list[str]], bool]] = [
            ("cartpole serve", lambda port, grpc: serve_cmd(model, port), False),
            ("seldon-core, our numpy MODEL",
             lambda port, grpc: _with_grpc(seldon_cmd(model, port,
                                                      args.seldon_venv.resolve()), grpc), True),
        ]
        if args.keras_venv:
            servers.append((PEER[0], lambda port, grpc: seldon_cmd(
                model, port, args.keras_venv.resolve(), "KerasStyle"), False))
        for name, make, grpc in servers:
            port, grpc_port = free_port(), free_port()
            measure_server(name, make(port, grpc_port), port, grpc_port if grpc else None,
                           work, args.seconds, rows)
    if args.out:
        command = ("make bench-remote" if args.seconds == 8
                   else " ".join(["python -m benchmarks.remote_agent", *sys.argv[1:]]))
        write_section(args.out, "remote-agent", markdown(rows, args.seconds, command))


def _with_grpc(cmd: list[str], grpc_port: int) -> list[str]:
    """seldon_cmd with our gRPC port instead of a random one."""
    i = cmd.index("--grpc-port")
    return [*cmd[: i + 1], str(grpc_port), *cmd[i + 2:]]


if __name__ == "__main__":
    main()
