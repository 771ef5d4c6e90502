"""An Optuna study on a real PostgreSQL server (Debian's, ``make system-deps``), as two
`cartpole train` commands sharing one study with ``--storage`` use it: two processes
popping enqueued trials with ``study.ask()`` at the same time never get the same one."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import optuna
import pytest

from tests.servers import postgres_server
from tests.waiting import wait_until

pytestmark = pytest.mark.slow  # a PostgreSQL server and two Python processes

TRIALS = 40

# One popper: loads the study, says it is ready, waits for the go file, then asks until
# the queue is empty (an ask that finds no waiting trial makes a fresh trial with no
# "trial" attribute: that one is failed, and the popper stops). Prints the trial ids.
POPPER = """
import json, sys, time
from pathlib import Path
import optuna
optuna.logging.set_verbosity(optuna.logging.WARNING)
url, name, ready, go, mine, other = sys.argv[1:7]
study = optuna.load_study(study_name=name, storage=url)
Path(ready).touch()


def wait_for(path):
    deadline = time.monotonic() + 60
    while not Path(path).exists():
        assert time.monotonic() < deadline, f"no {path}"
        time.sleep(0.005)


wait_for(go)
popped = []
while True:
    trial = study.ask()
    cartpole_id = trial.user_attrs.get("trial")
    if cartpole_id is None:
        study.tell(trial, state=optuna.trial.TrialState.FAIL)
        break
    popped.append(cartpole_id)
    if len(popped) == 1:  # hold the first trial until the other popper holds one too:
        Path(mine).touch()  # both are then popping side by side, whatever the load
        wait_for(other)
    study.tell(trial, 1.0)
print(json.dumps(popped))
"""


@pytest.fixture
def postgres(tmp_path):
    # A long folder, as pytest's can be: the server's socket must not live under it.
    server = postgres_server(tmp_path / ("a-long-folder-name-" * 8))
    yield server
    home = server.home
    server.stop()
    assert server.proc.returncode is not None and not home.exists()


def _loaded(paths: list[Path], procs: list[subprocess.Popen]) -> bool:
    for proc in procs:
        assert proc.poll() is None, proc.communicate()
    return all(path.exists() for path in paths)


def test_two_processes_never_pop_the_same_trial(postgres, tmp_path):
    assert postgres.url.startswith("postgresql+psycopg://postgres@127.0.0.1:")
    assert ":5432/" not in postgres.url
    # The server is not root's: PostgreSQL refuses that.
    status = Path(f"/proc/{postgres.proc.pid}/status").read_text()
    uid = next(line.split()[1] for line in status.splitlines() if line.startswith("Uid:"))
    assert os.geteuid() != 0 or uid != "0"

    name = "20261203-101500-ab12"
    study = optuna.create_study(storage=postgres.url, study_name=name,
                                direction="maximize")
    expected = [f"t{i:03d}" for i in range(TRIALS)]
    for trial_id in expected:
        study.enqueue_trial({}, user_attrs={"trial": trial_id})

    go = tmp_path / "go"
    ready = [tmp_path / f"ready-{n}" for n in range(2)]
    holding = [tmp_path / f"holding-{n}" for n in range(2)]
    procs = [subprocess.Popen([sys.executable, "-c", POPPER, postgres.url, name,
                               str(ready[n]), str(go), str(holding[n]), str(holding[1 - n])],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for n in range(2)]
    try:
        wait_until(lambda: _loaded(ready, procs), "both poppers to load the study")
        go.touch()
        outputs = [proc.communicate(timeout=120) for proc in procs]
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    for proc, (_, err) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, err
    popped = [json.loads(out) for out, _ in outputs]

    together = popped[0] + popped[1]
    assert sorted(together) == expected, popped  # each trial once: none twice, none lost
    assert popped[0] and popped[1], popped  # both took part: they really ran side by side

    trials = optuna.load_study(study_name=name, storage=postgres.url).get_trials()
    done = [t for t in trials if t.state == optuna.trial.TrialState.COMPLETE]
    assert sorted(t.user_attrs["trial"] for t in done) == expected
    assert not [t for t in trials if t.state == optuna.trial.TrialState.WAITING]
