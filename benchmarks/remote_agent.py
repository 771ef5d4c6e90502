"""How fast the remote agent plays against served models: env steps per second.

Servers, one at a time, each in its own process group on a free loopback port:
``cartpole serve``; seldon-core-microservice with our numpy MODEL class; and, with
``--keras-venv``, seldon-core-microservice with a Keras ``model.predict`` class (the
2018 original's serving style). Agents against each, every row labelled for what it is:

- process: ``cartpole run`` as a user runs it, a subprocess of its own, with its
  progress display and metric events; the figures are the ones its JSON result (its
  last stdout line) reports. Its episode count is set from the in-process rate of the
  same agent, so that it plays for about the same time (a cell that would take longer
  than ``--process-cap`` seconds is not run, and says so);
- in-process library: ``cartpole.remote.play``, the runners behind ``cartpole run``,
  called in this process for a fixed time after a one-second warm-up (cut episodes
  count their steps too: throughput is the point here, not scores);
- in-process, the 2018 agent's client pattern: one runner, a new HTTP session for every
  request, a feedback request after every step (``requests``, as the original used).

Also records the output of ``cartpole -e 20 run --runners 4`` against ``cartpole serve``
(on port 9000 when it is free), the README's example. Writes
benchmarks/results/remote.json.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.harness import (
    Run,
    add_run_options,
    free_port,
    installed_versions,
    port_is_free,
    relative,
    start_server,
    stop_group,
)
from benchmarks.serve_stacks import (
    KERAS_MODEL,
    SELDON_CONFIG,
    post_ok,
    seldon_cmd,
    seldon_env,
    serve_cmd,
    shown_command,
)

PROCESS = "process"
LIBRARY = "in-process library"
CLIENT_2018 = "in-process, 2018 client pattern"
PEER = ("seldon-keras", "2018 client, 1 runner")
EXAMPLE = ["-e", "20", "run", "--runners", "4"]
EXAMPLE_PORT = 9000
# The remote agent's issue: env steps/s of 16 runners against `cartpole serve`.
TARGETS = {"batched": 15_000, "unbatched": 2_500}


def library_cell(make_client: Callable[[], Any], n: int, batch: bool,
                 seconds: float) -> dict[str, Any]:
    """``cartpole run``'s runners (the library) for ``seconds``: env steps/s, latency."""
    from cartpole.remote.play import PlayConfig, Tally, play

    result: dict[str, Any] = {}
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
                  "p99_ms": float(np.percentile(lat, 99)), "steps": tally.steps,
                  "seconds": round(elapsed, 3)}
    return result


def client_2018_cell(url: str, seconds: float) -> dict[str, Any]:
    """The 2018 agent: a new session per request, JSON tensors, feedback after each step."""
    import requests

    from cartpole.envs.make import make_env

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
            "p99_ms": float(np.percentile(lat_ms, 99)), "steps": steps,
            "seconds": round(elapsed, 3)}


def cartpole_run(args: list[str], work: Path) -> tuple[dict[str, Any], list[str], float]:
    """``cartpole ARGS`` as a user runs it: its JSON result, its stdout lines, its wall."""
    cmd = [str(Path(sys.executable).with_name("cartpole")), *args]
    started = time.perf_counter()
    proc = subprocess.run(cmd, cwd=work, capture_output=True, text=True, check=False,
                          timeout=900)
    wall = time.perf_counter() - started
    lines = proc.stdout.strip().splitlines()
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"cartpole {' '.join(args)} exited {proc.returncode}:\n"
                           f"{proc.stdout[-1500:]}\n{proc.stderr[-1500:]}")
    return json.loads(lines[-1]), lines, wall


def process_cell(run_args: list[str], runners: int, rate: float, seconds: float, cap: float,
                 episode_steps: int, work: Path) -> dict[str, Any]:
    """``cartpole -e E run ...`` with E (a multiple of the runners) set so that, at the
    in-process rate of the same agent, it plays for about ``seconds``."""
    episodes = runners * max(1, math.ceil(rate * seconds / (episode_steps * runners)))
    args = ["-e", str(episodes), *run_args]
    cell: dict[str, Any] = {"command": "cartpole " + " ".join(args), "episodes": episodes}
    estimate = episodes * episode_steps / rate if rate > 0 else math.inf
    if estimate > cap:
        cell["not_run"] = (f"{episodes} episode{'s' if episodes != 1 else ''} would take "
                           f"about {estimate:.0f} s at the in-process rate (cap {cap:g} s)")
        return cell
    result, _, wall = cartpole_run(args, work)
    cell.update({"steps_s": result["steps_per_second"], "p50_ms": result["latency_p50_ms"],
                 "p99_ms": result["latency_p99_ms"], "steps": result["steps"],
                 "seconds": result["seconds"], "requests": result["requests"],
                 "state": result["state"], "process_wall": round(wall, 3)})
    return cell


def agents(port: int, grpc_port: int | None) -> list[dict[str, Any]]:
    """The agents to run against one server: (label, runners, batch, transport)."""
    plans = [{"agent": "16 runners, --batch", "runners": 16, "batch": True, "grpc": False},
             {"agent": "16 runners", "runners": 16, "batch": False, "grpc": False},
             {"agent": "1 runner", "runners": 1, "batch": False, "grpc": False}]
    if grpc_port is not None:
        plans += [{"agent": "--grpc-client, 16 runners, --batch", "runners": 16, "batch": True,
                   "grpc": True},
                  {"agent": "--grpc-client, 16 runners", "runners": 16, "batch": False,
                   "grpc": True}]
    for plan in plans:
        plan["run_args"] = ["run", *(["--grpc-client"] if plan["grpc"] else []), "--port",
                            str(grpc_port if plan["grpc"] else port), "--runners",
                            str(plan["runners"]), *(["--batch"] if plan["batch"] else [])]
    return plans


def measure_server(key: str, label: str, cmd: list[str], port: int, grpc_port: int | None,
                   work: Path, args: argparse.Namespace, env: dict[str, str] | None,
                   run: Run) -> None:
    from cartpole.remote.client import RetryPolicy
    from cartpole.remote.rest_client import RestClient
    from cartpole.remote.target import parse_target

    rows: list[dict[str, Any]] = run.results["rows"]
    url = f"http://127.0.0.1:{port}/api/v1.0/predictions"
    load = round(os.getloadavg()[0], 2)  # other work on the machine, if any
    proc, ready = start_server(cmd, work / f"server-{key}.log", lambda: post_ok(url), env=env)
    run.results["servers"].append({"key": key, "server": label, "ready_s": round(ready, 3),
                                    "load_1min": load, "command": shown_command(cmd, work)})
    try:
        rest = parse_target("127.0.0.1", port)
        retry = RetryPolicy(retries=0, timeout=60)

        def rest_client() -> Any:
            return RestClient(rest, retry)

        def grpc_client() -> Any:
            from cartpole.remote.grpc_client import GrpcClient

            return GrpcClient("127.0.0.1", grpc_port, retry=retry)

        for plan in agents(port, grpc_port):
            base = {"server_key": key, "server": label, "agent": plan["agent"]}
            lib = library_cell(grpc_client if plan["grpc"] else rest_client, plan["runners"],
                               plan["batch"], args.seconds)
            rows.append({**base, "kind": LIBRARY, **lib})
            print(json.dumps(rows[-1]), flush=True)
            cell = process_cell(plan["run_args"], plan["runners"], lib["steps_s"],
                                args.seconds, args.process_cap, args.episode_steps, work)
            rows.append({**base, "kind": PROCESS, **cell})
            print(json.dumps(rows[-1]), flush=True)
            run.save()
        rows.append({"server_key": key, "server": label, "agent": PEER[1], "kind": CLIENT_2018,
                     **client_2018_cell(rest.url(), args.seconds)})
        print(json.dumps(rows[-1]), flush=True)
        if key == "cartpole-serve":  # the README's example, on the default port if free
            example = EXAMPLE + ([] if port == EXAMPLE_PORT else ["--port", str(port)])
            _, lines, wall = cartpole_run(example, work)
            run.results["example"] = {"command": "cartpole " + " ".join(example),
                                      "stdout": lines, "process_wall": round(wall, 3)}
        run.save()
    finally:
        stop_group(proc)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, required=True, help="a trained .h5")
    parser.add_argument("--seconds", type=float, default=8, help="play time of each cell")
    parser.add_argument("--process-cap", type=float, default=60,
                        help="skip a `cartpole run` cell expected to take longer than this")
    parser.add_argument("--episode-steps", type=int, default=500,
                        help="steps of a full episode (CartPole-v1's limit), to size -e")
    parser.add_argument("--seldon-venv", type=Path, default=Path(".venv-seldon"))
    parser.add_argument("--keras-venv", type=Path, default=None)
    add_run_options(parser)
    args = parser.parse_args()
    model, seldon_venv = args.model.resolve(), args.seldon_venv.resolve()
    meta = model.with_suffix(".json")
    model_info = json.loads(meta.read_text()) if meta.exists() else {}
    run = Run("remote", "benchmarks.remote_agent", args,
              {"seconds_per_cell": args.seconds, "warmup_seconds": 1.0,
               "process_cap_seconds": args.process_cap, "episode_steps": args.episode_steps,
               "model": relative(model), "model_score": model_info.get("score"),
               "seldon_config": SELDON_CONFIG, "targets": TARGETS,
               "peer": {"server_key": PEER[0], "agent": PEER[1]}})
    run.versions.update(installed_versions(("cartpole", "numpy", "gymnasium", "grpcio",
                                            "httptools", "requests", "uvicorn")))
    run.versions.update(installed_versions(("seldon-core", "gunicorn", "numpy"),
                                           seldon_venv / "bin" / "python", "seldon-venv:"))
    if args.keras_venv:
        run.versions.update(installed_versions(
            ("seldon-core", "tensorflow-cpu", "tensorflow"),
            args.keras_venv.resolve() / "bin" / "python", "seldon-keras-venv:"))
    run.results.update({"servers": [], "rows": []})
    with tempfile.TemporaryDirectory(prefix="cartpole-remote-bench-") as tmp:
        work = Path(tmp)
        (work / "KerasStyle.py").write_text(KERAS_MODEL)
        servers: list[tuple[str, str, Callable[[int, int], list[str]], bool, Any]] = [
            ("cartpole-serve", "cartpole serve", lambda port, grpc: serve_cmd(model, port),
             False, None),
            ("seldon-numpy", "seldon-core, our numpy MODEL",
             lambda port, grpc: seldon_cmd(model, port, seldon_venv, grpc_port=grpc), True,
             seldon_env()),
        ]
        if args.keras_venv:
            servers.append((PEER[0], "seldon-core, Keras model.predict (the original's style)",
                            lambda port, grpc: seldon_cmd(model, port, args.keras_venv.resolve(),
                                                          "KerasStyle", grpc_port=grpc),
                            False, seldon_env()))
        for key, label, make, grpc, env in servers:
            port = (EXAMPLE_PORT if key == "cartpole-serve" and port_is_free(EXAMPLE_PORT)
                    else free_port())
            grpc_port = free_port()
            measure_server(key, label, make(port, grpc_port), port, grpc_port if grpc else None,
                           work, args, env, run)
    run.finish()


if __name__ == "__main__":
    main()
