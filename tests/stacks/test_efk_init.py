"""scaffold/efk/init.sh and users.sh, run with sh and curl against a local stand-in for
Elasticsearch and Kibana that answers the calls they make as they document them.
A curl on PATH in front of the real one records every command line, to show that
no password is on any."""

from __future__ import annotations

import base64
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
USERS = EFK / "users.sh"
# Quotes, a backslash, a colon and a dollar: what a hand-written password may hold.
ODD_PASSWORD = 'pa"ss\\wo:rd $HOME'


class Stack(ThreadingHTTPServer):
    """Elasticsearch and Kibana on one port: not ready for a while, then ready."""

    def __init__(self, es_not_ready: int = 1, kibana_not_ready: int = 1,
                 import_refusals: int = 1, import_ok: bool = True,
                 password: str | None = None) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        # Kibana's saved objects may still answer 503 once its status says available.
        self.not_ready = {"es": es_not_ready, "kibana": kibana_not_ready,
                          "import": import_refusals}
        self.import_ok = import_ok
        # With a password, every call must come as elastic with it (security on).
        self.password = password
        self.calls: list[tuple[str, str, dict, bytes]] = []

    def authorized(self, headers) -> bool:
        if self.password is None:
            return True
        token = base64.b64encode(f"elastic:{self.password}".encode()).decode()
        return headers.get("Authorization") == f"Basic {token}"

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

    def _refused(self) -> bool:
        """Elasticsearch's and Kibana's answer to a missing or wrong user: 401."""
        if self.server.authorized(self.headers):
            return False
        self._reply(401, {"error": "security_exception", "status": 401})
        return True

    def do_GET(self) -> None:
        self._record()
        if self._refused():
            return
        if self.path.startswith("/_cluster/health"):
            ok = self.server.ready("es")
            self._reply(200 if ok else 503, {"status": "yellow" if ok else "red"})
        elif self.path == "/api/status":
            ok = self.server.ready("kibana")
            level = "available" if ok else "unavailable"
            self._reply(200 if ok else 503, {"status": {"overall": {"level": level}}})
        else:
            self._reply(404, {})

    def _json_body(self, body: bytes) -> bool:
        try:
            json.loads(body)
        except ValueError:
            return False
        return self.headers["Content-Type"] == "application/json"

    def do_PUT(self) -> None:
        body = self._record()
        if self._refused():
            return
        if self.path in ("/_security/role/cartpole_writer", "/_security/user/cartpole_writer"):
            ok = self._json_body(body)
            self._reply(200 if ok else 400, {"created": ok} if ok else {"error": "parse"})
            return
        ok = self.path == "/_index_template/cartpole" \
            and self.headers["Content-Type"] == "application/json"
        self._reply(200 if ok else 400, {"acknowledged": ok})

    def do_POST(self) -> None:
        body = self._record()
        if self._refused():
            return
        if self.path == "/_security/user/kibana_system/_password":
            ok = self._json_body(body)
            self._reply(200 if ok else 400, {} if ok else {"error": "parse"})
        elif not self.path.startswith("/api/saved_objects/_import") \
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


@pytest.fixture
def argv_log(tmp_path) -> Path:
    """A curl in front of the real one (in the folder beside this file, put first on
    PATH by _run), writing each command line it gets to this file."""
    real = shutil.which("curl")
    assert real, "the scripts need curl"
    folder = tmp_path / "bin"
    folder.mkdir()
    log = tmp_path / "argv.log"
    wrapper = folder / "curl"
    wrapper.write_text(f'#!/bin/sh\nprintf "%s\\n" "$*" >> "{log}"\nexec {real} "$@"\n')
    wrapper.chmod(0o755)
    log.write_text("")
    return log


def _env(front: Path | None, **variables: str) -> dict[str, str]:
    path = "/usr/bin:/bin" if front is None else f"{front.parent / 'bin'}:/usr/bin:/bin"
    return {"PATH": path, **variables}


def _run(es: str, kibana: str, wait: int = 20, argv: Path | None = None,
         **extra: str) -> subprocess.CompletedProcess:
    assert shutil.which("curl"), "init.sh needs curl"
    env = _env(argv, ELASTICSEARCH_URL=es, KIBANA_URL=kibana, WAIT_SECONDS=str(wait), **extra)
    return subprocess.run(["sh", str(SCRIPT)], env=env, capture_output=True, text=True,
                          timeout=120)


def _run_users(es: str, wait: int = 20, argv: Path | None = None,
               **extra: str) -> subprocess.CompletedProcess:
    env = _env(argv, ELASTICSEARCH_URL=es, WAIT_SECONDS=str(wait), **extra)
    return subprocess.run(["sh", str(USERS)], env=env, capture_output=True, text=True,
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
    # No password given: no credentials sent (a stack with security off).
    assert not [c for c in stack.calls if "Authorization" in c[2]]


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


def _basic(password: str, user: str = "elastic") -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def _nowhere_but_the_requests(password: str, out: subprocess.CompletedProcess,
                              argv: Path) -> None:
    assert password not in out.stdout and password not in out.stderr
    lines = argv.read_text().splitlines()
    assert lines, "curl was not called through the wrapper"
    assert not [line for line in lines if password in line]


@pytest.mark.parametrize("stack", [{"password": ODD_PASSWORD}], indirect=True)
def test_init_authenticates_as_elastic_and_shows_the_password_nowhere(stack, argv_log):
    out = _run(_url(stack), _url(stack), argv=argv_log, ELASTIC_PASSWORD=ODD_PASSWORD)
    assert out.returncode == 0, out.stderr
    assert "imported" in out.stdout
    assert stack.calls and all(c[2].get("Authorization") == _basic(ODD_PASSWORD)
                               for c in stack.calls)
    _nowhere_but_the_requests(ODD_PASSWORD, out, argv_log)


@pytest.mark.parametrize("stack", [{"password": "the-right-one-0123456789"}], indirect=True)
def test_init_with_a_wrong_password_fails_with_one_line(stack, argv_log):
    out = _run(_url(stack), _url(stack), wait=2, argv=argv_log,
               ELASTIC_PASSWORD="a-wrong-one-0123456789")
    assert out.returncode == 1
    assert out.stderr.strip().splitlines()[-1].startswith(
        "efk-init: Elasticsearch did not answer")
    assert "401" in out.stderr  # curl's own line says why
    _nowhere_but_the_requests("a-wrong-one-0123456789", out, argv_log)


USER_PASSWORDS = {"ELASTIC_PASSWORD": ODD_PASSWORD,
                  "KIBANA_SYSTEM_PASSWORD": 'kib"ana\\system-0123456789',
                  "CARTPOLE_ES_PASSWORD": "writer-0123456789-abcdefghij"}


@pytest.mark.parametrize("stack", [{"password": ODD_PASSWORD}], indirect=True)
def test_users_sets_kibana_system_and_a_writer_that_only_writes_cartpole(stack, argv_log):
    out = _run_users(_url(stack), argv=argv_log, **USER_PASSWORDS)
    assert out.returncode == 0, out.stderr
    assert all(c[2].get("Authorization") == _basic(ODD_PASSWORD) for c in stack.calls)
    calls = [(c[0], c[1].split("?")[0]) for c in stack.calls]
    assert calls == [("GET", "/_cluster/health"), ("GET", "/_cluster/health"),  # once refused
                     ("POST", "/_security/user/kibana_system/_password"),
                     ("PUT", "/_security/role/cartpole_writer"),
                     ("PUT", "/_security/user/cartpole_writer")]
    bodies = {c[1]: json.loads(c[3]) for c in stack.calls if c[0] != "GET"}
    assert bodies["/_security/user/kibana_system/_password"] == \
        {"password": USER_PASSWORDS["KIBANA_SYSTEM_PASSWORD"]}
    user = bodies["/_security/user/cartpole_writer"]
    assert user["password"] == USER_PASSWORDS["CARTPOLE_ES_PASSWORD"]
    assert user["roles"] == ["cartpole_writer"]
    role = bodies["/_security/role/cartpole_writer"]
    [indices] = role["indices"]
    assert indices["names"] == ["cartpole-*"]
    # Enough for a bulk `index` with ids into a new day's index; no read, no delete.
    assert {"index", "create_index"} <= set(indices["privileges"])
    assert not {"all", "write", "delete", "read", "manage"} & set(indices["privileges"])
    assert set(role["cluster"]) <= {"monitor"}
    for password in USER_PASSWORDS.values():
        _nowhere_but_the_requests(password, out, argv_log)


@pytest.mark.parametrize("stack", [{"password": ODD_PASSWORD, "es_not_ready": 0}],
                         indirect=True)
def test_users_can_run_again_with_the_same_result(stack):
    first = _run_users(_url(stack), **USER_PASSWORDS)
    calls = [(c[0], c[1], c[3]) for c in stack.calls]
    stack.calls.clear()
    second = _run_users(_url(stack), **USER_PASSWORDS)
    assert first.returncode == second.returncode == 0, first.stderr + second.stderr
    assert [(c[0], c[1], c[3]) for c in stack.calls] == calls


@pytest.mark.parametrize("stack", [{"password": "the-right-one-0123456789",
                                    "es_not_ready": 0}], indirect=True)
def test_users_refused_fails_with_one_line_and_no_password(stack, argv_log):
    out = _run_users(_url(stack), wait=2, argv=argv_log,
                     **{**USER_PASSWORDS, "ELASTIC_PASSWORD": "a-wrong-one-0123456789"})
    assert out.returncode == 1
    lines = out.stderr.strip().splitlines()
    assert lines == ["efk-users: Elasticsearch did not answer as elastic at "
                     f"{_url(stack)} within 2s"]
    for password in [*USER_PASSWORDS.values(), "a-wrong-one-0123456789"]:
        assert password not in out.stdout + out.stderr


@pytest.mark.parametrize("missing", sorted(USER_PASSWORDS))
def test_users_without_a_password_says_which(missing, stack):
    given = {k: v for k, v in USER_PASSWORDS.items() if k != missing}
    out = _run_users(_url(stack), **given)
    assert out.returncode == 1
    assert out.stderr.strip() == f"efk-users: {missing} is not set (run make env)"
    assert not stack.calls


@pytest.mark.parametrize("script", [SCRIPT, USERS], ids=lambda p: p.name)
def test_shellcheck_passes(script):
    exe = shutil.which("shellcheck") or str(Path(__import__("sys").executable).with_name(
        "shellcheck"))
    out = subprocess.run([exe, str(script)], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout
