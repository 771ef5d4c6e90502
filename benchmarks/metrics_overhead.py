"""Cost of metrics engines: the same training with and without them, in one run.

Each configuration trains the same seeds for a fixed number of steps (no early
stop), each run in a fresh process on one thread, the configurations interleaved
seed by seed. The figure is the median training time with the engine over the
median without it. Every trial writes its own events file in all configurations.
The Visdom and MLflow servers are real local processes started for the run.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from benchmarks.report import machine_line, write_section
from cartpole.visdom_assets import ensure_static_assets
from cartpole.visdom_server import start_background, stop
from tests.servers import free_port, mlflow_server

CONFIGS: dict[str, list[str]] = {
    "no engine": ["--metrics-engine", "console"],
    "log (to a file)": ["--metrics-engine", "log", "--metrics-config",
                        '{"path": "events-log.jsonl"}'],
    "tensorboard": ["--metrics-engine", "tensorboard"],
}
PACKAGES = ("tensorflow-cpu", "keras", "gymnasium", "tensorboard", "visdom", "mlflow")


def with_servers(visdom_port: int, mlflow_url: str) -> dict[str, list[str]]:
    config = json.dumps({"visdom": {"port": visdom_port}, "mlflow": {"tracking_uri": mlflow_url}})
    return {**CONFIGS, "visdom + mlflow": ["--metrics-engine", "visdom", "--metrics-engine",
                                           "mlflow", "--metrics-config", config]}


def run(config: list[str], seed: int, steps: int, work: Path) -> float:
    exe = str(Path(sys.executable).with_name("cartpole"))
    cmd = [exe, *config, "train", "--seed", str(seed), "--steps", str(steps),
           "--no-stop-on-solve", "--threads", "1", "-f", "models/m"]
    proc = subprocess.run(cmd, cwd=work, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{proc.stderr[-3000:]}")
    return float(json.loads(proc.stdout.strip().splitlines()[-1])["trials"][0]["seconds"])


def markdown(times: dict[str, list[float]], steps: int, seeds: int, command: str) -> str:
    base = statistics.median(times["no engine"])
    rows = ["| engines | median training time (s) | min–max (s) | overhead of the median |",
            "|---|---|---|---|"]
    for name, values in times.items():
        med = statistics.median(values)
        rows.append(f"| {name} | {med:.2f} | {min(values):.2f}–{max(values):.2f} "
                    f"| {100 * (med / base - 1):+.1f}% |")
    return "\n".join([machine_line(PACKAGES), "", *rows, "",
                      f"{seeds} seeds × {steps:,} env steps per configuration.", "",
                      f"Reproduce with `{command}`."])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--steps", type=int, default=20_000)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="cartpole-metrics-bench-") as tmp:
        work = Path(tmp)
        ensure_static_assets()
        visdom_port = free_port()
        visdom_pid, _ = start_background(visdom_port, work / "visdom", work / "visdom.log")
        mlflow = mlflow_server(work / "mlflow")
        try:
            configs = with_servers(visdom_port, mlflow.url)
            times: dict[str, list[float]] = {name: [] for name in configs}
            for seed in range(args.seeds):
                for name, config in configs.items():
                    times[name].append(run(config, seed, args.steps, work))
                    print(json.dumps({"engines": name, "seed": seed,
                                      "seconds": times[name][-1]}), flush=True)
        finally:
            stop(visdom_pid)
            mlflow.stop()
    summary: dict[str, Any] = {n: statistics.median(v) for n, v in times.items()}
    print(json.dumps(summary))
    if args.out:
        command = ("make bench-metrics" if (args.seeds, args.steps) == (5, 20_000)
                   else " ".join(sys.argv))
        write_section(args.out, "metrics-overhead",
                      markdown(times, args.steps, args.seeds, command))


if __name__ == "__main__":
    main()
