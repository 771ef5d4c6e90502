"""Cost of metrics engines: the same training with and without them, in one run.

Each configuration trains the same seeds for a fixed number of steps (no early
stop), each run in a fresh process on one thread, the configurations interleaved
seed by seed. Two figures per run:

- the trial's training time (``seconds`` in its result), with the engines' background
  threads working beside it;
- the whole process's wall time, from start to exit: TensorFlow's import, the group's
  open step (MLflow's parent run), training, the engines' close (flushing queues, the
  MLflow upload of the model), the group's close step (Visdom's summary, the MLflow
  registry) and the exit.

Every trial writes its own events file in all configurations. The Visdom and MLflow
servers are real local processes started for the run. Writes
benchmarks/results/metrics.json.
"""

from __future__ import annotations

import argparse
import json
import shlex
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

from benchmarks.harness import (
    Run,
    add_run_options,
    free_port,
    installed_versions,
    last_json_line,
    start_server,
    stop_group,
)

BASELINE = "no engine"
CONFIGS: dict[str, list[str]] = {
    BASELINE: ["--metrics-engine", "console"],
    "log (to a file)": ["--metrics-engine", "log", "--metrics-config",
                        '{"path": "events-log.jsonl"}'],
    "tensorboard": ["--metrics-engine", "tensorboard"],
}
PACKAGES = ("cartpole", "tensorflow-cpu", "keras", "gymnasium", "tensorboard", "visdom",
            "mlflow", "mlflow-skinny")
# The metrics issue's targets: overhead of the median training time, per configuration.
TARGETS = {"log (to a file)": 0.05, "visdom + mlflow": 0.10}


def with_servers(visdom_port: int, mlflow_url: str) -> dict[str, list[str]]:
    config = json.dumps({"visdom": {"port": visdom_port}, "mlflow": {"tracking_uri": mlflow_url}})
    return {**CONFIGS, "visdom + mlflow": ["--metrics-engine", "visdom", "--metrics-engine",
                                           "mlflow", "--metrics-config", config]}


def run_one(config: list[str], seed: int, steps: int, work: Path) -> dict[str, float]:
    exe = str(Path(sys.executable).with_name("cartpole"))
    cmd = [exe, *config, "train", "--seed", str(seed), "--steps", str(steps),
           "--no-stop-on-solve", "--threads", "1", "-f", "models/m"]
    started = time.perf_counter()
    proc = subprocess.run(cmd, cwd=work, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - started
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{proc.stderr[-3000:]}")
    trial = last_json_line(proc.stdout)["trials"][0]
    return {"seed": seed, "train_seconds": float(trial["seconds"]),
            "process_wall": round(wall, 3), "steps": trial["steps"]}


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2):
            return True
    except OSError:
        return False


def mlflow_server(work: Path) -> tuple[subprocess.Popen, str]:
    """``mlflow server`` on a SQLite store with served artifacts, one worker, loopback."""
    port = free_port()
    work.mkdir(parents=True, exist_ok=True)
    cmd = [str(Path(sys.executable).with_name("mlflow")), "server", "--host", "127.0.0.1",
           "--port", str(port), "--backend-store-uri", f"sqlite:///{work / 'mlflow.db'}",
           "--artifacts-destination", str(work / "artifacts"), "--workers", "1"]
    url = f"http://127.0.0.1:{port}"
    proc, _ = start_server(cmd, work / "mlflow.log", lambda: _answers(url + "/health"))
    return proc, url


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--steps", type=int, default=20_000)
    add_run_options(parser)
    args = parser.parse_args()
    run = Run("metrics", "benchmarks.metrics_overhead", args,
              {"seeds": args.seeds, "steps": args.steps, "baseline": BASELINE,
               "targets": TARGETS, "threads_per_run": 1,
               "servers": "Visdom (cartpole.metrics.visdom.server) and mlflow server "
                          "(SQLite store, 1 worker), on loopback"})
    run.versions.update(installed_versions(PACKAGES))
    from cartpole.metrics.visdom.assets import ensure_static_assets
    from cartpole.metrics.visdom.server import start_background, stop

    with tempfile.TemporaryDirectory(prefix="cartpole-metrics-bench-") as tmp:
        work = Path(tmp)
        ensure_static_assets()
        visdom_port = free_port()
        visdom_pid, _ = start_background(visdom_port, work / "visdom", work / "visdom.log")
        mlflow, mlflow_url = None, None
        try:
            mlflow, mlflow_url = mlflow_server(work / "mlflow")
            configs = with_servers(visdom_port, mlflow_url)
            runs: dict[str, list[dict[str, Any]]] = run.results.setdefault(
                "runs", {name: [] for name in configs})
            shown = with_servers(0, "http://127.0.0.1:MLFLOW_PORT")
            run.data["settings"]["configs"] = {
                name: shlex.join(c).replace('"port": 0', '"port": VISDOM_PORT')
                for name, c in shown.items()}
            for seed in range(args.seeds):
                for name, config in configs.items():
                    runs[name].append(run_one(config, seed, args.steps, work))
                    print(json.dumps({"engines": name, **runs[name][-1]}), flush=True)
                run.save()
        finally:
            stop(visdom_pid)
            if mlflow is not None:
                stop_group(mlflow)
    run.finish()


if __name__ == "__main__":
    main()
