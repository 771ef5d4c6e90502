"""The remote run's own events, as a real `cartpole run` and `router-demo` emit them,
validate against the event schema."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.metrics.test_schema import VALIDATOR
from tests.servers import cartpole_serve

pytestmark = pytest.mark.slow  # every test here starts a process

EXE = str(Path(sys.executable).with_name("cartpole"))


@pytest.fixture(scope="module")
def router(tmp_path_factory, model_file, solver_file):
    server = cartpole_serve(tmp_path_factory.mktemp("serve"), str(model_file),
                            str(solver_file), "--router", "epsilon-greedy", "--seed", "2")
    yield server
    server.stop()


def _logged(*args):
    """Run ``cartpole --metrics-engine log ...``; return its events (JSON lines on stdout)."""
    proc = subprocess.run([EXE, "--metrics-engine", "log", *args], capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.strip().splitlines()
    return [json.loads(line) for line in lines[:-1] if line.startswith('{"ts"')]


def _port(server):
    return server.url.rsplit(":", 1)[1]


def test_run_events_validate(router):
    events = _logged("-e", "4", "run", "--port", _port(router), "--runners", "2")
    kinds = [e["event"] for e in events]
    assert kinds[0] == "run_start" and kinds[-1] == "run_end"
    assert kinds.count("run_episode") == 4
    for event in events:
        VALIDATOR.validate(event)


def test_router_demo_events_validate(router):
    events = _logged("router-demo", "--port", _port(router), "--requests", "20")
    kinds = {e["event"] for e in events}
    assert "route" in kinds
    assert sum(e["event"] == "route" for e in events) == 20
    for event in events:
        VALIDATOR.validate(event)
