"""What every benchmark shares: the machine it ran on, its results file, its servers.

Each benchmark writes one JSON file under ``benchmarks/results/`` through :class:`Run`:

```
{"benchmark": "solve", "format": 1,
 "date": "...Z", "command": "make bench-solve SEEDS=10 SB3_SEEDS=5",
 "argv": ".venv/bin/python -m benchmarks.time_to_solve --seeds 10 ...",
 "machine": {"cpu_model", "cores", "avx512", "memory_gib", "platform", "python",
             "tensorflow_import_seconds"},
 "load_average": {"start": [1, 5, 15 min], "end": [...], "max_1min": ..., "waited_seconds"},
 "duration_seconds": ..., "versions": {"<tool>": "<version>", ...},
 "settings": {...}, "results": {...}}
```

Versions are read from the installed metadata of the environment that ran each tool,
never typed in. ``benchmarks/render.py`` turns these files into the docs.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import re
import shlex
import signal
import socket
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
FORMAT = 1
# The fields every results file must have (checked by tests/test_benchmark_docs.py).
MACHINE_FIELDS = ("cpu_model", "cores", "avx512", "tensorflow_import_seconds")
TOP_FIELDS = ("benchmark", "date", "command", "machine", "load_average", "versions",
              "settings", "results", "duration_seconds")


def cpu_info() -> dict[str, Any]:
    """CPU model, core count and AVX-512 support, from /proc/cpuinfo."""
    model, flags = None, set()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "model name" and model is None:
                model = value.strip()
            elif key.strip() == "flags" and not flags:
                flags = set(value.split())
    model = model or platform.processor() or platform.machine()
    return {"cpu_model": model, "cores": os.cpu_count(),
            "avx512": any(f.startswith("avx512") for f in flags),
            "avx512_flags": sorted(f for f in flags if f.startswith("avx512"))}


def memory_gib() -> float | None:
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 2**20, 1)
    return None


def tensorflow_import_seconds(python: str = sys.executable) -> float | None:
    """Wall seconds of ``python -c "import tensorflow"``, measured now (None without it)."""
    started = time.perf_counter()
    proc = subprocess.run([python, "-c", "import tensorflow"], capture_output=True,
                          check=False)
    seconds = time.perf_counter() - started
    return round(seconds, 2) if proc.returncode == 0 else None


def installed_versions(names: tuple[str, ...], python: str | Path | None = None,
                       prefix: str = "") -> dict[str, str]:
    """Versions of the installed distributions ``names`` (those that are installed), read
    from the metadata of this interpreter's environment or of ``python``'s."""
    if python is None:
        found = {}
        for name in names:
            with contextlib.suppress(PackageNotFoundError):
                found[prefix + name] = version(name)
        return found
    code = ("import json, sys\nfrom importlib.metadata import version\nout = {}\n"
            "for n in sys.argv[1:]:\n    try: out[n] = version(n)\n"
            "    except Exception: pass\nprint(json.dumps(out))")
    proc = subprocess.run([str(python), "-c", code, *names], capture_output=True, text=True,
                          check=True)
    return {prefix + k: v for k, v in json.loads(proc.stdout).items()}


def tool_version(cmd: list[str], pattern: str = r"(\d+\.\d+(?:\.\d+)?)") -> str | None:
    """A command-line tool's version, from what it prints (``wrk --version``)."""
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    found = re.search(pattern, proc.stdout + proc.stderr)
    return found.group(1) if found else None


def relative(path: str | Path) -> str:
    """``path`` relative to the repository when it is inside it."""
    for candidate in (Path(os.path.abspath(path)), Path(path).resolve()):
        if candidate.is_relative_to(ROOT):
            return str(candidate.relative_to(ROOT))
    return str(path)


def wait_for_quiet(max_load: float, max_wait: float) -> float:
    """Wait (at most ``max_wait`` s) until the 1-minute load is at most ``max_load``."""
    started = time.monotonic()
    while os.getloadavg()[0] > max_load and time.monotonic() - started < max_wait:
        time.sleep(5)
    return round(time.monotonic() - started, 1)


class _LoadWatch(threading.Thread):
    """Samples the 1-minute load average while the benchmark runs."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.peak = os.getloadavg()[0]
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.wait(5):
            self.peak = max(self.peak, os.getloadavg()[0])


def add_run_options(parser: Any) -> None:
    """Options every benchmark takes: how it was invoked, where its JSON goes, load."""
    parser.add_argument("--via", default=None,
                        help="the command that ran this (make passes its target)")
    parser.add_argument("--json", type=Path, default=None, help="results file to write")
    parser.add_argument("--max-load", type=float, default=0.75 * (os.cpu_count() or 1),
                        help="wait for the 1-minute load average to fall to this first")
    parser.add_argument("--max-wait", type=float, default=120,
                        help="seconds to wait for that at most (then run anyway)")


class Run:
    """One benchmark run: its machine, load, versions, settings and results, as JSON."""

    def __init__(self, name: str, module: str, args: Any, settings: dict[str, Any]) -> None:
        self.name = name
        self.path = args.json or RESULTS / f"{name}.json"
        argv = shlex.join([relative(sys.executable), "-m", module, *sys.argv[1:]])
        self.data: dict[str, Any] = {
            "benchmark": name, "format": FORMAT,
            "date": None, "command": args.via or argv, "argv": argv,
            "machine": {}, "load_average": {}, "duration_seconds": None,
            "versions": {}, "settings": settings, "results": {},
        }
        waited = wait_for_quiet(args.max_load, args.max_wait)
        self.data["date"] = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        self.data["load_average"] = {"start": [round(v, 2) for v in os.getloadavg()],
                                     "waited_seconds": waited, "max_load": args.max_load}
        self.data["machine"] = {
            **cpu_info(), "memory_gib": memory_gib(), "platform": platform.machine(),
            "python": platform.python_version(),
            "tensorflow_import_seconds": tensorflow_import_seconds(),
        }
        self._started = time.perf_counter()
        self._watch = _LoadWatch()
        self._watch.peak = max(self._watch.peak, self.data["load_average"]["start"][0])
        self._watch.start()
        print(f"[{name}] load {self.data['load_average']['start']} (waited {waited} s); "
              f"import tensorflow {self.data['machine']['tensorflow_import_seconds']} s",
              file=sys.stderr, flush=True)

    @property
    def results(self) -> dict[str, Any]:
        return self.data["results"]

    @property
    def versions(self) -> dict[str, str]:
        return self.data["versions"]

    def save(self) -> Path:
        """Write the results file (also midway, so a crash leaves what was measured)."""
        self.data["duration_seconds"] = round(time.perf_counter() - self._started, 1)
        self.data["load_average"]["end"] = [round(v, 2) for v in os.getloadavg()]
        self.data["load_average"]["max_1min"] = round(
            max(self._watch.peak, os.getloadavg()[0]), 2)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(self.data, indent=1, ensure_ascii=False) + "\n")
        tmp.replace(self.path)
        return self.path

    def finish(self) -> Path:
        self._watch.done.set()
        path = self.save()
        print(f"[{self.name}] {self.data['duration_seconds']} s; wrote {relative(path)}",
              file=sys.stderr, flush=True)
        return path


# --- processes and servers ---------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def port_is_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def stop_group(proc: subprocess.Popen) -> None:
    """Stop the process group we started and wait until none of it is left: a server
    still shutting down (with a backlog of requests) would slow the next row."""
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


def start_server(cmd: list[str], log: Path, ready: Any, timeout: float = 120,
                 env: dict[str, str] | None = None) -> tuple[subprocess.Popen, float]:
    """Start ``cmd`` in a process group of its own, its output in ``log``; wait until
    ``ready()`` is true. Returns the process and the seconds from start to ready."""
    started = time.perf_counter()
    with log.open("wb") as handle:  # a file, not a pipe: a chatty server never blocks
        proc = subprocess.Popen(cmd, cwd=log.parent, stdout=handle, stderr=subprocess.STDOUT,
                                start_new_session=True, env=env)
    while not ready():
        if proc.poll() is not None:
            raise RuntimeError(f"{cmd[0]} exited ({proc.returncode}): "
                               f"{log.read_text(errors='replace')[-2000:]}")
        if time.perf_counter() - started > timeout:
            stop_group(proc)
            raise RuntimeError(f"{cmd[0]} not ready within {timeout:.0f} s: "
                               f"{log.read_text(errors='replace')[-2000:]}")
        time.sleep(0.02)
    return proc, time.perf_counter() - started


def last_json_line(stdout: str) -> dict[str, Any]:
    """The JSON object a cartpole command prints as its last stdout line."""
    return json.loads(stdout.strip().splitlines()[-1])
