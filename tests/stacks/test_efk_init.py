"""scaffold/efk/init.sh, run with sh and curl against a local stand-in for Elasticsearch
and Kibana that answers the calls it makes as they document them."""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.servers import free_port

pytestmark = pytest.mark.slow  # every test here starts a process

EFK = Path(__file__).parents[2] / "scaffold" / "efk"
SCRIPT = EFK / "init.sh"


class Stack(ThreadingHTTPServer):
    """Elasticsearch and Kibana on one port: not ready for a while, then ready."""

    def __init__(self, es_not_ready: int = 1, kibana_not_ready: int = 1,
                 import_refusals: int = 1, import_ok: bool = True) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        # Kibana's saved objects may still answer 503 once its status says available.
        self.not_ready = {"es": es_not_ready, "kibana": kibana_not_ready,
                          "import": import_refusals}
        self.import_ok = import_ok
        self.calls: list[tuple[str, str, dict, bytes]] = []

    def ready(self, which: str) -> bool:
        self.not_ready[which] -= 1
        return self.not_ready[which] < 0


class Handler(BaseHTTPRequestHandler):
    server: Stack

    def log_message(self, *args) -> None:  # keep pytest's output clean
        pass

    def _reply(self, status: int, body: dict) -> None:
        data = json.dumps(body, separators=(",", ":")).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _record(self) -> bytes:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.server.calls.append((self.command, self.path, dict(self.headers), body))
        return body

    def do_GET(self) -> None:
        self._record()
        if self.path.startswith("/_cluster/health"):
            ok = self.server.ready("es")
            self._reply(200 if ok else 503, {"status": "yellow" if ok else "red"})
        elif self.path == "/api/status":
            ok = self.server.ready("kibana")
            level = "available" if ok else "unavailable"
            self._reply(200 if ok else 503, {"status": {"overall": {"level": level}}})
        else:
            self._reply(404, {})

    def do_PUT(self) -> None:
        self._record()
        ok = self.path == "/_index_template/cartpole" \
            and self.headers["Content-Type"] == "application/json"
        self._reply(200 if ok else 400, {"acknowledged": ok})

    def do_POST(self) -> None:
        self._record()
        if not self.path.startswith("/api/saved_objects/_import") \
                or self.headers.get("kbn-xsrf") != "true":
            self._reply(400, {"error": "Bad Request"})
        elif not self.server.ready("import"):
            self._reply(503, {"error": "Service Unavailable"})
        elif self.server.import_ok:
            self._reply(200, {"success": True, "successCount": 6})
        else:
            self._reply(200, {"success": False, "successCount": 0,
                              "errors": [{"id": "x", "error": {"type": "conflict"}}]})


@pytest.fixture
def stack(request):
    server = Stack(**getattr(request, "param", {}))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def _run(es: str, kibana: str, wait: int = 20) -> subprocess.CompletedProcess:
    assert shutil.which("curl"), "init.sh needs curl"
    env = {"PATH": "/usr/bin:/bin", "ELASTICSEARCH_URL": es, "KIBANA_URL": kibana,
           "WAIT_SECONDS": str(wait)}
    return subprocess.run(["sh", str(SCRIPT)], env=env, capture_output=True, text=True,
                          timeout=120)


def _url(server: Stack) -> str:
    return f"http://127.0.0.1:{server.server_address[1]}"


def _multipart_file(headers: dict, body: bytes) -> bytes:
    boundary = headers["Content-Type"].split("boundary=", 1)[1].encode()
    part = next(p for p in body.split(b"--" + boundary) if b'name="file"' in p)
    head, _, content = part.partition(b"\r\n\r\n")
    assert b'filename="kibana-dashboard.ndjson"' in head
    return content[:-2]  # the CRLF before the next boundary


def test_loads_the_template_and_the_dashboard_once_both_are_ready(stack):
    out = _run(_url(stack), _url(stack))
    assert out.returncode == 0, out.stderr
    assert "index template cartpole loaded" in out.stdout
    assert "imported" in out.stdout
    puts = [c for c in stack.calls if c[0] == "PUT"]
    assert [p[1] for p in puts] == ["/_index_template/cartpole"]
    assert puts[0][3] == (EFK / "index-template.json").read_bytes()
    posts = [c for c in stack.calls if c[0] == "POST"]
    assert [p[1] for p in posts] == ["/api/saved_objects/_import?overwrite=true"] * 2
    for post in posts:  # refused once (503), then sent again whole
        assert _multipart_file(post[2], post[3]) == \
            (EFK / "kibana-dashboard.ndjson").read_bytes()
    # It waited: Elasticsearch was asked again after its first refusal, and the
    # template went in only after it answered; the import came after Kibana was up.
    order = [(c[0], c[1].split("?")[0]) for c in stack.calls]
    assert order.count(("GET", "/_cluster/health")) == 2
    assert order.index(("PUT", "/_index_template/cartpole")) > 1
    assert order[-1] == ("POST", "/api/saved_objects/_import")
    assert order.count(("GET", "/api/status")) == 2


@pytest.mark.parametrize("stack", [{"es_not_ready": 0, "kibana_not_ready": 0,
                                    "import_refusals": 0, "import_ok": False}], indirect=True)
def test_a_refused_import_fails_with_one_line(stack):
    out = _run(_url(stack), _url(stack))
    assert out.returncode == 1
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("efk-init: Kibana import did not succeed")


@pytest.mark.parametrize("stack", [{"es_not_ready": 0, "kibana_not_ready": 0,
                                    "import_refusals": 99}], indirect=True)
def test_a_kibana_that_keeps_refusing_fails_with_one_line(stack):
    out = _run(_url(stack), _url(stack), wait=4)
    assert out.returncode == 1
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("efk-init: Kibana refused the saved objects")
    assert "503" in lines[0]


def test_an_elasticsearch_that_never_answers_fails_with_one_line(stack):
    dead = f"http://127.0.0.1:{free_port()}"
    out = _run(dead, _url(stack), wait=2)
    assert out.returncode == 1
    assert out.stderr.strip().splitlines()[-1] == \
        f"efk-init: Elasticsearch did not answer at {dead}/_cluster/health" \
        "?wait_for_status=yellow&timeout=5s within 2s"
    assert not [c for c in stack.calls if c[0] in ("PUT", "POST")]


def test_shellcheck_passes():
    exe = shutil.which("shellcheck") or str(Path(__import__("sys").executable).with_name(
        "shellcheck"))
    out = subprocess.run([exe, str(SCRIPT)], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout
