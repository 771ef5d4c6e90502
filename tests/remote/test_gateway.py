"""A Seldon deployment behind its gateway, and tokens.

No Kubernetes gateway runs here: a small HTTP server in the test stands at its edge. It
takes only ``/seldon/<namespace>/<name>/...`` with the right bearer token, as the
gateway does, forwards to a real `cartpole serve`, and keeps every path it saw. It
also answers OAuth2's client-credentials grant.
"""

import base64
import json
import os
import subprocess
import sys
import threading
import urllib.error
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.servers import cartpole_serve

pytestmark = pytest.mark.slow  # every test here starts a process

EXE = str(Path(sys.executable).with_name("cartpole"))
TOKEN, KEY, SECRET = "tok-123", "cartpole-agent", "s3cret"
PREFIX = "/seldon/models/cartpole"


class Gateway(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, backend):
        super().__init__(("127.0.0.1", 0), Handler)
        self.backend, self.paths = backend, []


class Handler(BaseHTTPRequestHandler):
    server: Gateway

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.server.paths.append(self.path)
        if self.path == "/oauth/token":
            return self._token(body)
        if not self.path.startswith(PREFIX + "/"):
            return self._send(404, b'{"status": {"info": "no such deployment"}}')
        if self.headers.get("Authorization") != f"Bearer {TOKEN}":
            return self._send(401, b'{"status": {"info": "bad token"}}')
        request = urllib.request.Request(self.server.backend + self.path[len(PREFIX):],
                                         data=body, method="POST",
                                         headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=10) as reply:
                self._send(reply.status, reply.read())
        except urllib.error.HTTPError as exc:
            self._send(exc.code, exc.read())

    def _token(self, body):
        basic = base64.b64encode(f"{KEY}:{SECRET}".encode()).decode()
        form = urllib.parse.parse_qs(body.decode())
        if self.headers.get("Authorization") != f"Basic {basic}" or \
                form.get("grant_type") != ["client_credentials"]:
            return self._send(401, b'{"error": "invalid_client"}')
        self._send(200, json.dumps({"access_token": TOKEN, "token_type": "bearer"}).encode())

    def _send(self, status, payload):
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def gateway(tmp_path_factory, solver_file):
    server = cartpole_serve(tmp_path_factory.mktemp("serve"), str(solver_file))
    gw = Gateway(server.url)
    thread = threading.Thread(target=gw.serve_forever, daemon=True)
    thread.start()
    yield gw
    gw.shutdown()
    gw.server_close()
    server.stop()


def run(*args, env=None):
    return subprocess.run([EXE, "-e", "2", "run", *args], capture_output=True, text=True,
                          timeout=60, env={**os.environ, **(env or {})})


def test_deployment_behind_the_gateway_with_a_token(gateway):
    gateway.paths.clear()
    port = str(gateway.server_address[1])
    proc = run("--host", "127.0.0.1", "--port", port, "--deployment", "cartpole",
               "--namespace", "models", "--token", TOKEN)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout.splitlines()[-1])["score"] == 500
    assert set(gateway.paths) == {f"{PREFIX}/api/v1.0/predictions",
                                  f"{PREFIX}/api/v1.0/feedback"}
    assert gateway.paths.count(f"{PREFIX}/api/v1.0/feedback") == 2  # one per episode


def test_oauth_client_credentials(gateway):
    port = gateway.server_address[1]
    proc = run("--host", f"http://127.0.0.1:{port}{PREFIX}", "--oauth-url",
               f"http://127.0.0.1:{port}/oauth/token", "--oauth-key", KEY,
               env={"CARTPOLE_OAUTH_SECRET": SECRET})
    assert proc.returncode == 0, proc.stderr
    proc = run("--host", f"http://127.0.0.1:{port}{PREFIX}", "--oauth-url",
               f"http://127.0.0.1:{port}/oauth/token", "--oauth-key", KEY,
               "--oauth-secret", "wrong")
    assert proc.returncode == 1 and proc.stdout == ""
    assert "refused the client credentials (HTTP 401)" in proc.stderr


def test_wrong_token_and_wrong_deployment(gateway):
    port = str(gateway.server_address[1])
    proc = run("--port", port, "--deployment", "cartpole", "--namespace", "models",
               "--token", "nope")
    assert proc.returncode == 1
    assert "refused the request (HTTP 401): bad token; check --token" in proc.stderr
    proc = run("--port", port, "--deployment", "other", "--token", TOKEN)
    assert proc.returncode == 1
    assert "/seldon/default/other/api/v1.0/predictions answered HTTP 404: no such " \
           "deployment" in proc.stderr


def test_api_key_of_cartpole_serve(tmp_path, solver_file):
    server = cartpole_serve(tmp_path, str(solver_file), env={"CARTPOLE_API_KEY": "k1"})
    try:
        port = server.url.rsplit(":", 1)[1]
        refused = run("--port", port)
        accepted = run("--port", port, env={"CARTPOLE_TOKEN": "k1"})
    finally:
        server.stop()
    assert refused.returncode == 1 and "HTTP 401" in refused.stderr
    assert accepted.returncode == 0, accepted.stderr
