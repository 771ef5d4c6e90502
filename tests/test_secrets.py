"""No credential reaches a file the run writes or a line it prints (issue: secure by default).

One distinctive secret is given to every credential option there is: the Visdom and
MLflow passwords and the Elasticsearch password in ``--metrics-config``, ``cartpole
serve --api-key``, ``cartpole run --token`` and ``--oauth-secret``. The servers are
real (Visdom with its login, MLflow with its basic-auth app, ``cartpole serve``); an
OAuth2 token endpoint stands in for an identity provider. The secret must be needed
(the servers take the events) and must be found nowhere afterwards.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.servers import Server, cartpole_serve, free_port, mlflow_server, start

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("secrets")]

ROOT = Path(__file__).parents[1]
EXE = str(Path(sys.executable).with_name("cartpole"))
SECRET = f"canary-{secrets.token_hex(10)}"  # at least 12 characters, as MLflow asks
ADMIN, VISDOM_USER, OAUTH_KEY = "admin", "cartpole", "agent"
# Variables that would hand the secret over behind the test's back.
CREDENTIAL_VARIABLES = ("VISDOM_USERNAME", "VISDOM_PASSWORD", "MLFLOW_TRACKING_USERNAME",
                        "MLFLOW_TRACKING_PASSWORD", "MLFLOW_TRACKING_TOKEN",
                        "ELASTICSEARCH_USERNAME", "ELASTICSEARCH_PASSWORD",
                        "ELASTICSEARCH_API_KEY", "CARTPOLE_API_KEY", "CARTPOLE_TOKEN",
                        "CARTPOLE_OAUTH_SECRET")


def _forms(secret: str) -> list[str]:
    """The secret as it could appear: plain, and inside a Basic authorization header."""
    basic = [base64.b64encode(f"{user}:{secret}".encode()).decode()
             for user in (ADMIN, VISDOM_USER, OAUTH_KEY, "elastic")]
    return [secret, *basic]


class OAuth(ThreadingHTTPServer):
    """A client-credentials token endpoint: the key and the secret in, a token out."""

    daemon_threads = True

    def __init__(self, token: str) -> None:
        super().__init__(("127.0.0.1", 0), _OAuthHandler)
        self.token = token


class _OAuthHandler(BaseHTTPRequestHandler):
    server: OAuth

    def log_message(self, *args: object) -> None:
        pass

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        expected = "Basic " + base64.b64encode(f"{OAUTH_KEY}:{SECRET}".encode()).decode()
        ok = self.headers.get("Authorization") == expected
        body = json.dumps({"access_token": self.server.token, "token_type": "bearer"}
                          if ok else {"error": "invalid_client"}).encode()
        self.send_response(200 if ok else 401)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def _visdom(workdir: Path) -> Server:
    port = free_port()
    workdir.mkdir(parents=True)
    cmd = [sys.executable, "-m", "cartpole.metrics.visdom.server", "--port", str(port),
           "--env-path", str(workdir / "env"), "--enable-login"]
    return start(cmd, f"http://127.0.0.1:{port}", workdir / "visdom.log", timeout=60,
                 env={"VISDOM_USERNAME": VISDOM_USER, "VISDOM_PASSWORD": SECRET})


@pytest.fixture
def clean_env(monkeypatch):
    for name in CREDENTIAL_VARIABLES:
        # set first, so that whatever the test exports is removed afterwards too
        monkeypatch.setenv(name, "")
        monkeypatch.delenv(name)
    return {k: v for k, v in os.environ.items() if k not in CREDENTIAL_VARIABLES}


def _cartpole(cwd: Path, env: dict[str, str], *args: str,
              timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([EXE, *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=timeout)


def test_a_secret_in_every_credential_option_is_found_nowhere(tmp_path, quick, clean_env):
    servers, work = tmp_path / "servers", tmp_path / "work"
    work.mkdir()
    ini = ROOT / "scaffold" / "mlflow" / "basic_auth.ini"
    mlflow = mlflow_server(servers / "mlflow", auth=(ADMIN, SECRET),
                           auth_ini=ini if ini.exists() else None)
    visdom = _visdom(servers / "visdom")
    oauth = OAuth(token=SECRET)
    threading.Thread(target=oauth.serve_forever, daemon=True).start()
    outputs: list[subprocess.CompletedProcess] = []
    try:
        dead_es = f"http://127.0.0.1:{free_port()}"
        config = {"mlflow": {"tracking_uri": mlflow.url, "experiment": "leak",
                             "username": ADMIN, "password": SECRET},
                  "visdom": {"server": "http://127.0.0.1",
                             "port": int(visdom.url.rsplit(":", 1)[1]),
                             "username": VISDOM_USER, "password": SECRET},
                  "elasticsearch": {"hosts": dead_es, "password": SECRET}}
        engines = [a for name in ("console", "mlflow", "visdom", "elasticsearch")
                   for a in ("--metrics-engine", name)]
        train = _cartpole(work, clean_env, *engines, "--metrics-config", json.dumps(config),
                          "train", *quick(steps=600), "--gamma", "0.9", "0.99",
                          "--workers", "2", "--group", "leak")
        outputs.append(train)
        assert train.returncode == 0, train.stderr[-3000:]
        # The servers that need the secret took the events: it was used, not dropped.
        assert "mlflow is unreachable" not in train.stderr, train.stderr[-3000:]
        assert "visdom is unreachable" not in train.stderr, train.stderr[-3000:]
        result = json.loads(train.stdout.strip().splitlines()[-1])
        assert all(t.get("undelivered", {}).get("elasticsearch") for t in result["trials"])
        dry = _cartpole(work, clean_env, *engines, "--metrics-config", json.dumps(config),
                        "train", "--dry-run")
        outputs.append(dry)
        assert dry.returncode == 0 and "password=***" in dry.stdout, dry.stderr
        report = _cartpole(work, clean_env, "report", "leak")
        outputs.append(report)
        assert report.returncode == 0, report.stderr
        model = json.loads(train.stdout.strip().splitlines()[-1])["model"]

        serve = cartpole_serve(work, str(work / model), "--api-key", SECRET)
        try:
            port = serve.url.rsplit(":", 1)[1]
            remote_config = {"mlflow": config["mlflow"], "visdom": config["visdom"],
                             "log": {"path": str(work / "remote-events.jsonl")}}
            remote = [a for name in ("mlflow", "visdom", "log")
                      for a in ("--metrics-engine", name)]
            played = _cartpole(work, clean_env, *remote, "--metrics-config",
                               json.dumps(remote_config), "-e", "4", "run", "--port", port,
                               "--runners", "2", "--token", SECRET, "--run-id", "leak-run")
            outputs.append(played)
            assert played.returncode == 0, played.stderr[-3000:]
            via_oauth = _cartpole(work, clean_env, "-e", "2", "run", "--port", port,
                                  "--oauth-url", f"http://127.0.0.1:{oauth.server_port}/token",
                                  "--oauth-key", OAUTH_KEY, "--oauth-secret", SECRET)
            outputs.append(via_oauth)
            assert via_oauth.returncode == 0, via_oauth.stderr[-3000:]
        finally:
            serve.stop()

        forms = _forms(SECRET)
        # No output line of any command.
        for proc in outputs:
            for form in forms:
                assert form not in proc.stdout and form not in proc.stderr, proc.args
        # No file the run wrote: events, results, job.json, worker.log, report, serve log.
        written = [p for p in work.rglob("*") if p.is_file()]
        names = {p.name for p in written}
        assert {"events.jsonl", "result.json", "job.json", "worker.log", "report.html",
                "remote-events.jsonl"} <= names, names
        for path in written:
            data = path.read_bytes()
            for form in forms:
                assert form.encode() not in data, path
        # Nothing in MLflow's params or tags (read as the admin).
        os.environ["MLFLOW_TRACKING_USERNAME"], os.environ["MLFLOW_TRACKING_PASSWORD"] = \
            ADMIN, SECRET
        from mlflow.tracking import MlflowClient

        client = MlflowClient(mlflow.url)
        runs = client.search_runs([client.get_experiment_by_name("leak").experiment_id])
        roles = {r.data.tags.get("cartpole.role") for r in runs}
        assert {"group", "trial", "remote"} <= roles
        for run in runs:
            values = [*run.data.params.values(), *run.data.tags.values()]
            assert not any(SECRET in str(v) for v in values), run.info.run_name
    finally:
        for name in ("MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD"):
            os.environ.pop(name, None)
        oauth.shutdown()
        oauth.server_close()
        visdom.stop()
        mlflow.stop()


def test_mlflow_basic_auth_refuses_the_unauthenticated_and_takes_the_engine(tmp_path, quick,
                                                                           clean_env):
    ini = ROOT / "scaffold" / "mlflow" / "basic_auth.ini"
    mlflow = mlflow_server(tmp_path / "mlflow", auth=(ADMIN, SECRET),
                           auth_ini=ini if ini.exists() else None)
    try:
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(f"{mlflow.url}/api/2.0/mlflow/experiments/search"
                                   "?max_results=1", timeout=10)
        assert refused.value.code == 401
        # Credentials from the environment only, as MLflow's client reads them.
        env = {**clean_env, "MLFLOW_TRACKING_USERNAME": ADMIN,
               "MLFLOW_TRACKING_PASSWORD": SECRET}
        config = {"mlflow": {"tracking_uri": mlflow.url, "experiment": "auth"}}
        proc = _cartpole(tmp_path, env, "--metrics-engine", "mlflow", "--metrics-config",
                         json.dumps(config), "train", *quick(steps=600), "--group", "auth")
        assert proc.returncode == 0, proc.stderr[-3000:]
        assert "unreachable" not in proc.stderr, proc.stderr[-3000:]
        os.environ["MLFLOW_TRACKING_USERNAME"], os.environ["MLFLOW_TRACKING_PASSWORD"] = \
            ADMIN, SECRET
        from mlflow.tracking import MlflowClient

        client = MlflowClient(mlflow.url)
        runs = client.search_runs([client.get_experiment_by_name("auth").experiment_id])
        trials = [r for r in runs if r.data.tags.get("cartpole.role") == "trial"]
        assert len(trials) == 1 and trials[0].info.status == "FINISHED"
        assert client.get_metric_history(trials[0].info.run_id, "score")
        # A wrong password: one warning naming the engine, training still completes.
        env["MLFLOW_TRACKING_PASSWORD"] = "not-the-password"
        wrong = _cartpole(tmp_path, env, "--metrics-engine", "mlflow", "--metrics-config",
                          json.dumps(config), "train", *quick(steps=600), "--group", "wrong")
        assert wrong.returncode == 0, wrong.stderr[-3000:]
        assert "metrics engine mlflow: its server refused the credentials (MLflow at " \
               f"{mlflow.url} answered 401: set MLFLOW_TRACKING_USERNAME" in wrong.stderr
        assert "not-the-password" not in wrong.stderr + wrong.stdout
    finally:
        for name in ("MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD"):
            os.environ.pop(name, None)
        mlflow.stop()
