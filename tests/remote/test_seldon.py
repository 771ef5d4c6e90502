"""`cartpole run` against the real seldon-core-microservice (1.18.2) serving our MODEL."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.servers import seldon_microservice

pytestmark = pytest.mark.slow  # every test here starts a process

EXE = str(Path(sys.executable).with_name("cartpole"))


@pytest.fixture(scope="module")
def microservice(tmp_path_factory, solver_file):
    server = seldon_microservice(tmp_path_factory.mktemp("seldon"),
                                 "cartpole.serving.seldon.CartpoleModel", "MODEL",
                                 [{"name": "model_file", "value": str(solver_file),
                                   "type": "STRING"}])
    yield server
    server.stop()


def run(*args):
    proc = subprocess.run([EXE, "-e", "4", "run", *args], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.splitlines()[-1])


@pytest.mark.parametrize("extra", [[], ["--batch"]])
def test_rest(microservice, extra):
    s = run("--port", microservice.url.rsplit(":", 1)[1], "--runners", "2", *extra)
    assert (s["episodes"], s["score"], s["score_min"]) == (4, 500, 500)
    if extra:
        assert s["requests"] == s["steps"] // 2
