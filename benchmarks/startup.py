"""Where one ``cartpole train --seed 0`` spends its time, from process start to exit.

The command runs ``--repeats`` times (3 by default), as a user runs it, each time in a
fresh empty folder. Every figure is the median over those runs, each measured on its own:

- the interpreter alone: ``python -c pass``, a process of its own each time;
- the imports of the command line: ``python -c "from cartpole.cli import main"`` (what the
  ``cartpole`` script runs first) minus the interpreter;
- the rest of the trial process's start (command line, plan, what the trial imports
  before it starts): ``phases.startup`` of the trial's result.json, which counts from
  the operating system's start of the process, minus the two above;
- the trial's own phases from result.json (``env``, ``build``, ``acting``, ``learning``,
  ``evaluation``, ``confirmation``, ``saving``, ``metrics_close``);
- the whole command's wall clock, and ``other`` = whole minus everything above
  (the group's own steps around the trial, printing, the interpreter's exit).

The command's peak memory is ``ru_maxrss`` from ``os.wait4`` on its process (the largest
of it and of any child it waited for). One extra, untimed run first, with
``PYTHONPROFILEIMPORTTIME=1``, lists every module the whole command imports, summed per
top-level package, and whether TensorFlow (or torch, scikit-learn, ...) is among them.

For reference, the same number of whole ``python -c`` processes time the imports a
trial could be paying instead: TensorFlow with Keras, torch, jax (each only where it is
installed), and numpy with gymnasium alone. The sets of measurements run in turn, one
of each per repeat, so that they see the same machine state.
Writes benchmarks/results/startup.json.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.harness import Run, add_run_options, installed_versions, last_json_line

PHASES = ("startup", "env", "build", "acting", "learning", "evaluation", "confirmation",
          "saving", "metrics_close")
TARGETS = {"whole_over_training": 1.5, "peak_rss_mb": 600}
PACKAGES = ("cartpole", "numpy", "gymnasium", "click", "h5py", "tensorflow-cpu", "tensorflow",
            "keras", "torch", "jax", "jaxlib")
CLI_IMPORT = "from cartpole.cli import main"
# (key, what it is, the code a whole `python -c` process runs, the module that must exist)
ALTERNATIVES = (
    ("tensorflow", "TensorFlow with Keras", "import tensorflow, keras", "tensorflow"),
    ("torch", "torch", "import torch", "torch"),
    ("jax", "jax", "import jax, jax.numpy", "jax"),
    ("numpy-gymnasium", "numpy and gymnasium only", "import numpy, gymnasium", "gymnasium"),
)
# Packages worth naming when the whole command imports them: none of them trains here.
HEAVY = ("tensorflow", "keras", "torch", "jax", "sklearn", "scipy", "pandas", "matplotlib",
         "mlflow")
IMPORT_LINE = re.compile(r"^import time:\s+(\d+)\s+\|\s+(\d+)\s+\|\s*(\S+)\s*$")


def python_seconds(code: str, cwd: Path) -> float:
    """Wall seconds of a whole ``python -c CODE`` process (which must succeed), run in
    ``cwd`` (an empty folder, as the command is: nothing there to import by mistake)."""
    started = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=cwd, check=False)
    seconds = time.perf_counter() - started
    if proc.returncode != 0:
        raise RuntimeError(f"python -c {code!r} failed:\n{proc.stderr[-2000:]}")
    return round(seconds, 4)


def installed(module: str) -> bool:
    code = f"import importlib.util, sys; sys.exit(importlib.util.find_spec({module!r}) is None)"
    return subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


def cartpole_command(args: list[str], folder: Path, env: dict[str, str] | None = None
                     ) -> dict[str, Any]:
    """Run ``cartpole ARGS`` in ``folder``: wall seconds, peak memory, stdout, stderr."""
    out, err = folder.with_suffix(".out"), folder.with_suffix(".err")
    cmd = [str(Path(sys.executable).with_name("cartpole")), *args]
    with out.open("wb") as stdout, err.open("wb") as stderr:
        started = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=folder, stdout=stdout, stderr=stderr,
                                env={**os.environ, **(env or {})})
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    text_err = err.read_text(errors="replace")
    if proc.returncode != 0:
        raise RuntimeError(f"cartpole {' '.join(args)} failed ({proc.returncode}):\n"
                           f"{text_err[-3000:]}")
    return {"wall": round(wall, 4), "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),
            "stdout": out.read_text(errors="replace"), "stderr": text_err}


def train_run(args: list[str], folder: Path) -> dict[str, Any]:
    """One timed run of the command, and what its trial's result.json says."""
    folder.mkdir()
    done = cartpole_command(args, folder)
    result = last_json_line(done["stdout"])
    trial = result["trials"][0]
    record = json.loads((folder / trial["dir"] / "result.json").read_text())
    phases = record.get("phases")  # None from a version that writes none
    if phases:  # the known phases in their order (None if missing), then any others
        phases = {**{k: phases.get(k) for k in PHASES}, **phases}
    return {"wall": done["wall"], "peak_rss_mb": done["peak_rss_mb"],
            "trial_peak_rss_mb": record.get("peak_rss_mb"),
            "seconds": record.get("seconds", trial.get("seconds")),
            "steps": trial.get("steps"), "solved_at_step": trial.get("solved_at_step"),
            "score": trial.get("score"),
            "phases": phases}


def import_profile(stderr: str) -> dict[str, Any]:
    """``-X importtime`` lines summed per top-level package (self time, seconds)."""
    stdlib = set(sys.stdlib_module_names)
    per: dict[str, float] = {}
    modules: dict[str, int] = {}
    total = 0.0
    for line in stderr.splitlines():
        found = IMPORT_LINE.match(line)
        if not found:
            continue
        seconds = int(found.group(1)) / 1e6
        top = found.group(3).split(".")[0]
        name = "(standard library)" if top in stdlib or top.startswith("_") else top
        per[name] = per.get(name, 0.0) + seconds
        modules[name] = modules.get(name, 0) + 1
        total += seconds
    order = sorted(per, key=per.get, reverse=True)
    return {"total_seconds": round(total, 4), "modules": sum(modules.values()),
            "packages": {k: {"seconds": round(per[k], 4), "modules": modules[k]} for k in order},
            "heavy_imported": [h for h in HEAVY if h in per]}


def median(values: list[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return round(statistics.median(known), 4) if known else None


def summarise(res: dict[str, Any]) -> dict[str, Any]:
    runs = res["runs"]
    interp = median(res["processes"]["interpreter"])
    cli = median(res["processes"]["cli_import"])
    imports = round(cli - interp, 4) if cli is not None and interp is not None else None
    rows: dict[str, float | None] = {"interpreter": interp, "imports": imports}
    per_run_rest, per_run_other, ratios = [], [], []
    for r in runs:
        ph = r["phases"] or {}
        startup = ph.get("startup")
        if startup is not None and interp is not None and imports is not None:
            per_run_rest.append(startup - interp - imports)
        before = startup if startup is not None else (
            interp + imports if interp is not None and imports is not None else None)
        inside = [ph.get(k) for k in PHASES[1:] if ph.get(k) is not None]
        during = sum(inside) if inside else r["seconds"]
        if before is not None and during is not None:
            per_run_other.append(r["wall"] - before - during)
        if r["seconds"]:
            ratios.append(r["wall"] / r["seconds"])
    rows["startup_rest"] = median(per_run_rest)
    for key in PHASES[1:]:
        rows[key] = median([(r["phases"] or {}).get(key) for r in runs])
    rows["other"] = median(per_run_other)
    return {
        "rows": rows,
        "startup": median([(r["phases"] or {}).get("startup") for r in runs]),
        "phases_measured": any(r["phases"] for r in runs),
        "whole": median([r["wall"] for r in runs]),
        "training_seconds": median([r["seconds"] for r in runs]),
        "whole_over_training": median(ratios),
        "whole_over_training_max": round(max(ratios), 4) if ratios else None,
        "peak_rss_mb": median([r["peak_rss_mb"] for r in runs]),
        "peak_rss_mb_max": max((r["peak_rss_mb"] for r in runs), default=None),
        "alternatives": {a["key"]: a["median"] for a in res["alternatives"]},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="runs of each measurement")
    parser.add_argument("--steps", type=int, default=None,
                        help="pass --steps N to the command (only for a quick check of the "
                             "benchmark itself: the figures are for the default command)")
    add_run_options(parser)
    args = parser.parse_args()
    command = ["train", "--seed", "0"] + (["--steps", str(args.steps)] if args.steps else [])
    run = Run("startup", "benchmarks.startup", args,
              {"repeats": args.repeats, "command": "cartpole " + " ".join(command),
               "cli_import": CLI_IMPORT, "peak_memory": "ru_maxrss from os.wait4",
               "phases": list(PHASES), "heavy": list(HEAVY), "targets": TARGETS})
    run.versions.update(installed_versions(PACKAGES))
    res = run.results
    res["runs"] = []
    res["processes"] = {"interpreter": [], "cli_import": []}
    res["alternatives"] = [
        {"key": key, "label": label, "code": code, "installed": installed(module),
         "seconds": []} for key, label, code, module in ALTERNATIVES]
    with tempfile.TemporaryDirectory(prefix="cartpole-startup-bench-") as tmp:
        work = Path(tmp)
        # Untimed: every import of the whole command (and a warm-up of the disk cache).
        profile_dir = work / "profile"
        profile_dir.mkdir()
        profiled = cartpole_command(command, profile_dir, {"PYTHONPROFILEIMPORTTIME": "1"})
        cli = subprocess.run([sys.executable, "-X", "importtime", "-c", CLI_IMPORT],
                             capture_output=True, text=True, cwd=profile_dir, check=True)
        res["import_profile"] = {"cli": import_profile(cli.stderr),
                                 "command": import_profile(profiled["stderr"])}
        print(json.dumps({k: {"total_seconds": v["total_seconds"],
                              "heavy_imported": v["heavy_imported"]}
                          for k, v in res["import_profile"].items()}), flush=True)
        for i in range(args.repeats):
            res["processes"]["interpreter"].append(python_seconds("pass", work))
            res["processes"]["cli_import"].append(python_seconds(CLI_IMPORT, work))
            for alt in res["alternatives"]:
                if alt["installed"]:
                    alt["seconds"].append(python_seconds(alt["code"], work))
            res["runs"].append(train_run(command, work / f"run-{i}"))
            print(json.dumps({"repeat": i, **res["runs"][-1],
                              "interpreter": res["processes"]["interpreter"][-1],
                              "cli_import": res["processes"]["cli_import"][-1]}), flush=True)
            run.save()
    for alt in res["alternatives"]:
        alt["median"] = median(alt["seconds"])
    res["summary"] = summarise(res)
    print(json.dumps(res["summary"]), flush=True)
    run.finish()


if __name__ == "__main__":
    main()
