"""`cartpole run` as a user runs it, against real `cartpole serve` processes."""

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cartpole.envs.make import make_env
from cartpole.serving.policy import ServedPolicy
from tests.servers import cartpole_serve, free_port
from tests.waiting import DEADLINE, wait_until

pytestmark = pytest.mark.slow  # every test here starts a process

EXE = str(Path(sys.executable).with_name("cartpole"))


def cartpole(*args, cwd=None, timeout=120):
    return subprocess.run([EXE, *args], capture_output=True, text=True, timeout=timeout,
                          cwd=cwd)


def summary(proc):
    return json.loads(proc.stdout.strip().splitlines()[-1])


def events(path, kind):
    lines = Path(path).read_text().splitlines()
    return [e for e in map(json.loads, lines) if e["event"] == kind]


def local_scores(model_file, seeds):
    """Greedy scores of the model played here, one per seed."""
    policy, env, out = ServedPolicy.load(model_file), make_env("CartPole-v1"), {}
    for seed in seeds:
        obs, _ = env.reset(seed=seed)
        score, done = 0.0, False
        while not done:
            obs, reward, term, trunc, _ = env.step(int(policy.act(obs)[0]))
            score, done = score + reward, term or trunc
        out[seed] = score
    return out


@pytest.fixture(scope="module")
def solver(tmp_path_factory, solver_file):
    server = cartpole_serve(tmp_path_factory.mktemp("serve"), str(solver_file))
    yield server
    server.stop()


@pytest.fixture(scope="module")
def random_model(tmp_path_factory, model_file):
    server = cartpole_serve(tmp_path_factory.mktemp("serve"), str(model_file))
    yield server
    server.stop()


def port(server):
    return server.url.rsplit(":", 1)[1]


def test_remote_scores_are_the_models_own(solver, tmp_path):
    proc = cartpole("-e", "4", "--metrics-engine", "log", "--metrics-config",
                    json.dumps({"path": str(tmp_path / "events.jsonl")}),
                    "run", "--port", port(solver), "--runners", "2")
    assert proc.returncode == 0, proc.stderr
    s = summary(proc)
    assert (s["state"], s["episodes"], s["score"], s["score_min"]) == ("completed", 4, 500, 500)
    assert s["steps"] == s["requests"] == 2000 and s["cut_short"] == 0
    assert s["latency_p50_ms"] > 0 and s["steps_per_second"] > 0
    assert "4 episodes against http://127.0.0.1:" in proc.stdout
    done = events(tmp_path / "events.jsonl", "run_episode")
    assert sorted(e["seed"] for e in done) == [0, 1, 2, 3]
    assert {e["trial"] for e in done} == {"r00", "r01"}
    end = events(tmp_path / "events.jsonl", "run_end")[0]
    assert end["episodes"] == 4 and end["error"] is None


def test_batched_and_single_requests_play_the_same_episodes(random_model, model_file,
                                                            tmp_path):
    """Greedy and seeded: every episode scores what the model scores locally."""
    expected = local_scores(model_file, range(10, 22))
    got = {}
    for name, extra in (("single", []), ("batch", ["--batch"])):
        log = tmp_path / f"{name}.jsonl"
        proc = cartpole("-e", "12", "--metrics-engine", "log", "--metrics-config",
                        json.dumps({"path": str(log)}), "run", "--port", port(random_model),
                        "--runners", "4", "--seed", "10", *extra)
        assert proc.returncode == 0, proc.stderr
        got[name] = summary(proc)
        assert {e["seed"]: e["score"] for e in events(log, "run_episode")} == expected
    assert got["single"]["requests"] == got["single"]["steps"]
    assert got["batch"]["requests"] < got["batch"]["steps"] / 2  # several rows per request
    assert got["batch"]["steps"] == got["single"]["steps"]


def test_server_stopped_mid_run_gives_a_partial_summary(tmp_path, solver_file):
    server = cartpole_serve(tmp_path, str(solver_file))
    try:
        run = subprocess.Popen([EXE, "-e", "400", "run", "--port", port(server), "--runners",
                                "2", "--retries", "1"], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
        # The solver's episodes last 500 steps: 1,200 answers (after the probe) mean an
        # episode is done and a runner is about 100 steps into its next one.
        wait_until(lambda: served(server, "predictions") > 1200,
                   "1,200 answers: a first episode over, the next ones under way")
    finally:
        server.stop()
    out, err = run.communicate(timeout=60)
    assert run.returncode == 1, err
    s = json.loads(out.strip().splitlines()[-1])
    assert s["state"] == "failed" and 0 < s["episodes"] < 400
    assert s["cut_short"] >= 1  # the runners' unfinished episodes
    assert s["score_min"] == 500  # a cut episode is never scored
    assert "PARTIAL:" in out and "cut short, not scored" in out
    assert err.strip().splitlines()[-1].startswith("Error: cannot reach http://127.0.0.1:")
    assert "Traceback" not in err


def test_ctrl_c_stops_with_a_partial_summary(solver):
    before = served(solver, "predictions")
    run = subprocess.Popen([EXE, "-e", "400", "run", "--port", port(solver)],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    # Playing, about 100 steps into its first episode of 500: far from an episode's end,
    # where no episode would be in progress to cut short.
    wait_until(lambda: served(solver, "predictions") > before + 100,
               "100 answers: the first episode under way")
    run.send_signal(signal.SIGINT)
    out, err = run.communicate(timeout=30)
    assert run.returncode == 130, err
    s = json.loads(out.strip().splitlines()[-1])
    assert s["state"] == "interrupted" and s["interrupted"] and s["cut_short"] == 1, s
    assert "Traceback" not in err


def test_nothing_listening_is_one_line_and_exit_1():
    # No clock: "connection refused (after 1 retries)" says it failed on the refusal, not
    # on a timeout, after exactly one retry (one 0.2 s backoff); cartpole()'s 120 s
    # timeout stops a hang.
    proc = cartpole("run", "--port", str(free_port()), "--retries", "1")
    assert proc.returncode == 1 and proc.stdout == ""
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: cannot reach http://127.0.0.1:")
    assert lines[0].endswith("/api/v1.0/predictions: connection refused (after 1 retries)")


@pytest.mark.parametrize(("args", "message"), [
    (["--host", "ftp://x"], "the scheme must be http or https"),
    (["--namespace", "ns"], "--namespace needs --deployment"),
    (["--host", "h:1", "--port", "2"], "--host says port 1 and --port says 2"),
    (["--token", "t", "--oauth-url", "http://x/token"], "not both"),
    (["--oauth-url", "http://x/token"], "OAuth needs --oauth-url, --oauth-key and"),
    (["--env", "NoSuchEnv-v0"], "unknown or unusable env"),
    (["--runners", "0"], "Invalid value for '--runners'"),
])
def test_bad_input_is_one_line_and_exit_2(args, message):
    proc = cartpole("run", *args)
    assert proc.returncode == 2, proc.stderr
    assert message in proc.stderr and len(proc.stderr.strip().splitlines()) == 1


def test_record_saves_a_gif_per_episode(random_model, tmp_path):
    from PIL import Image

    proc = cartpole("-e", "2", "run", "--port", port(random_model), "--record",
                    str(tmp_path / "gifs"))
    assert proc.returncode == 0, proc.stderr
    gifs = sorted((tmp_path / "gifs").iterdir())
    assert [g.name for g in gifs] == ["episode-0001.gif", "episode-0002.gif"]
    with Image.open(gifs[0]) as im:
        assert im.n_frames > 2


@pytest.mark.parametrize("router", ["epsilon-greedy", "thompson"])
def test_router_demo_converges_to_the_preferred_branch(tmp_path, model_file, router):
    m = str(model_file)
    server = cartpole_serve(tmp_path, m, m, m, "--router", router, "--seed", "3")
    try:
        proc = cartpole("router-demo", "--port", port(server), "--preferred-branch", "2",
                        "--requests", "300")
    finally:
        server.stop()
    assert proc.returncode == 0, proc.stderr + proc.stdout
    s = summary(proc)
    assert s["converged"] and s["share"] >= 0.8 and s["router"] == router
    assert s["per_branch"]["2"] > 200
    assert "converged" in proc.stdout and f"router {router}: branch" in proc.stderr


def test_router_demo_against_a_single_model_says_so(random_model):
    proc = cartpole("router-demo", "--port", port(random_model), "--requests", "5")
    assert proc.returncode == 1
    assert "no meta.routing: is the server a router graph?" in proc.stderr


def test_episode_feedback_teaches_a_router_graph(tmp_path, model_file, solver_file):
    """Branch 1 balances the pole, branch 0 drops it: feedback moves the episodes there.

    One runner, so that the router's seeded choices meet the requests in one order: with
    two, their interleaving changes from run to run, and so does what the router learns.
    """
    server = cartpole_serve(tmp_path, str(model_file), str(solver_file), "--router",
                            "epsilon-greedy", "--epsilon", "0.2", "--seed", "1")
    try:
        proc = cartpole("-e", "30", "run", "--port", port(server), "--runners", "1")
    finally:
        server.stop()
    assert proc.returncode == 0, proc.stderr
    s = summary(proc)
    assert s["branches"].get("1", 0) > s["branches"].get("0", 0)
    assert "episodes per branch:" in proc.stdout


def served(server, endpoint):
    """How many ``/api/v1.0/<endpoint>`` requests the server has answered with 200."""
    import re
    import urllib.request

    with urllib.request.urlopen(f"{server.url}/metrics", timeout=10) as reply:
        text = reply.read().decode()
    found = re.search(rf'cartpole_requests_total\{{endpoint="/api/v1.0/{endpoint}",'
                      r'status="200"\} ([\d.]+)', text)
    return int(float(found.group(1))) if found else 0


@pytest.mark.parametrize(("mode", "extra"), [("episode", []), ("step", []),
                                             ("step", ["--batch"]), ("none", [])])
def test_feedback_modes_send_what_they_say(tmp_path, model_file, mode, extra):
    server = cartpole_serve(tmp_path, str(model_file))
    try:
        proc = cartpole("-e", "6", "run", "--port", port(server), "--runners", "3",
                        "--feedback", mode, *extra)
        sent = served(server, "feedback")
    finally:
        server.stop()
    assert proc.returncode == 0, proc.stderr
    s = summary(proc)
    assert sent == {"episode": s["episodes"], "step": s["requests"], "none": 0}[mode]


def test_a_server_that_never_answers_times_out():
    import socket

    with socket.socket() as silent:  # accepts connections, never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        silent.settimeout(DEADLINE)
        proc = subprocess.Popen([EXE, "run", "--port", str(silent.getsockname()[1]),
                                 "--timeout", "0.3", "--retries", "1"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            first, _ = silent.accept()
            first_at = time.monotonic()
            second, _ = silent.accept()  # the retry, once the first request timed out
            gap = time.monotonic() - first_at
            _, err = proc.communicate(timeout=DEADLINE)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
        first.close()
        second.close()
    assert proc.returncode == 1
    assert err.strip().endswith("/api/v1.0/predictions: timed out (after 1 retries)")
    # --timeout 0.3 was used, not the 10 s default: the retry came about 0.5 s (0.3 s
    # timeout, 0.2 s backoff) after the first try; the default would make it 10.2 s.
    # Timed between the two connections, so the command's start-up does not count.
    assert gap < 10
