"""The local Visdom server: offline start, its page's files, stop by PID, a real render.

``ensure_static_assets()`` fetches the page's files with npm the first time (a few
seconds); later calls are idempotent and take a millisecond.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest

from cartpole.metrics.visdom import assets as va
from cartpole.metrics.visdom import server as vs
from tests.servers import free_port

# The visdom client warns through the deprecated Logger.warn when it has no socket.
pytestmark = pytest.mark.filterwarnings("ignore:The 'warn' method:DeprecationWarning")

BLUE, ORANGE = (0x1F, 0x77, 0xB4), (0xFF, 0x7F, 0x0E)  # plotly's first two trace colours


def _get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as reply:
            return reply.status, reply.read()
    except urllib.error.HTTPError as exc:
        return exc.code, b""


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return not vs._alive(pid)  # only a zombie left


@pytest.fixture(scope="module")
def assets() -> Path:
    va.ensure_static_assets()
    return va.visdom_static_dir()


@pytest.fixture(scope="module")
def server(assets, tmp_path_factory):
    port = free_port()
    workdir = tmp_path_factory.mktemp("visdom")
    pid, url = vs.start_background(port, workdir / "env", workdir / "visdom.log")
    yield {"pid": pid, "url": url, "port": port, "log": workdir / "visdom.log"}
    vs.stop(pid)


@pytest.mark.slow  # the assets fixture fetches the page's files with npm
def test_static_assets_are_idempotent_and_quick(assets, tmp_path, monkeypatch):
    """Quick because, with everything in place, it fetches and writes nothing: checked by
    what it does (npm never runs, no file is replaced), not by a clock."""
    npm_ran = tmp_path / "npm-ran"
    fake = tmp_path / "npm"
    fake.write_text(f"#!/bin/sh\ntouch '{npm_ran}'\nexit 1\n")
    fake.chmod(0o755)
    monkeypatch.setenv("NPM", str(fake))
    files = [assets / name for name in va.ASSETS] + [assets / va.MARKER]
    before = {f: (f.stat().st_ino, f.stat().st_mtime_ns) for f in files}
    assert va.ensure_static_assets() == []
    assert not npm_ran.exists()
    assert {f: (f.stat().st_ino, f.stat().st_mtime_ns) for f in files} == before
    assert (assets / va.MARKER).read_text().strip() == va._visdom_version()


@pytest.mark.slow  # the assets fixture fetches the page's files with npm
def test_assets_cover_the_page_and_visdom_downloads_nothing(assets, monkeypatch):
    """Every file index.html names exists, and visdom's own download step finds all it wants."""
    names = re.findall(r"static_url\(['\"]([^'\"]+)['\"]\)", (assets / "index.html").read_text())
    assert len(names) > 10
    for name in names:
        if not name.startswith("../"):  # ../user/style.css is per-project and optional
            assert (assets / name).is_file(), name

    import requests
    from visdom.server import build

    def offline(*args, **kwargs):
        raise AssertionError(f"visdom tried the network: {args}")

    class Opener:
        open = staticmethod(offline)

    monkeypatch.setattr(build.request, "build_opener", lambda *a: Opener())
    monkeypatch.setattr(build.request, "install_opener", lambda opener: None)
    monkeypatch.setattr(requests, "get", offline)
    build.download_scripts(install_dir=str(assets.parent))


def test_missing_npm_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.delenv("NPM", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(va.StaticAssetsError, match=r"npm not found.*jquery@3\.1\.1"):
        va.ensure_static_assets(tmp_path / "static")


@pytest.mark.slow
def test_a_package_npm_cannot_fetch_is_named(tmp_path, monkeypatch):
    fake = tmp_path / "npm"
    fake.write_text('#!/bin/sh\necho \'{"error": {"summary": "No matching version found '
                    'for react@16.2.0."}}\'\nexit 1\n')
    fake.chmod(0o755)
    monkeypatch.setenv("NPM", str(fake))
    with pytest.raises(va.StaticAssetsError, match=r"No matching version found for react@16"):
        va.ensure_static_assets(tmp_path / "static")
    assert not (tmp_path / "static" / va.MARKER).exists()


@pytest.mark.slow
def test_server_serves_the_page_and_its_scripts(server):
    status, page = _get(server["url"])
    assert status == 200
    html = page.decode()
    scripts = re.findall(r"<script[^>]*\ssrc=['\"]?([^'\" >]+)", html)
    styles = [h for h in re.findall(r"<link[^>]*\shref=['\"]?([^'\" >]+)", html)
              if "/static/" in h and "user/" not in h]
    assert len(scripts) >= 10 and any("plotly" in s for s in scripts)
    for src in scripts + styles:
        status, body = _get(server["url"] + src)
        assert status == 200, src
        assert len(body) > (1000 if src in scripts else 100), src


@pytest.mark.slow
def test_stop_ends_the_server_process(assets, tmp_path):
    port = free_port()
    pid, url = vs.start_background(port, tmp_path / "env", tmp_path / "visdom.log")
    try:
        assert _get(url)[0] == 200
        assert (tmp_path / "env" / vs.PID_NAME).read_text().strip() == str(pid)
    finally:
        assert vs.stop(pid)
    assert _gone(pid)
    assert not (tmp_path / "env" / vs.PID_NAME).exists()
    assert not vs._answers("127.0.0.1", port)
    assert vs.stop(pid) is False


@pytest.mark.slow
def test_command_line_detach_and_stop(assets, tmp_path):
    port, env = free_port(), tmp_path / "env"
    cli = [sys.executable, "-m", "cartpole.metrics.visdom.server", "--env-path", str(env)]
    started = subprocess.run([*cli, "--detach", "--port", str(port)], capture_output=True,
                             text=True, timeout=60, check=False)
    pid_file = env / vs.PID_NAME
    pid = int(pid_file.read_text()) if pid_file.exists() else None
    try:
        assert started.returncode == 0, started.stderr
        assert f"http://localhost:{port}" in started.stdout
        assert _get(f"http://127.0.0.1:{port}/")[0] == 200
        again = subprocess.run([*cli, "--detach", "--port", str(port)], capture_output=True,
                               text=True, timeout=60, check=False)
        assert again.returncode == 0 and f"already running at http://localhost:{port}" \
            in again.stdout
        stopped = subprocess.run([*cli, "--stop"], capture_output=True, text=True, timeout=60,
                                 check=False)
        assert stopped.returncode == 0 and f"stopped Visdom server {pid}" in stopped.stdout
        assert _gone(pid)
        assert not pid_file.exists()
    finally:
        if pid is not None and not _gone(pid):
            vs.stop(pid)


@pytest.mark.slow
def test_a_second_server_on_a_busy_port_fails_clearly(server, tmp_path):
    with pytest.raises(vs.VisdomServerError, match="already answers"):
        vs.start_background(server["port"], tmp_path / "env", tmp_path / "visdom.log")


@pytest.mark.slow
def test_a_server_that_cannot_listen_reports_its_log(assets, tmp_path):
    with socket.socket() as holder:  # holds the port without speaking HTTP
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        with pytest.raises(vs.VisdomServerError, match=r"exited(.|\n)*Address already in use"):
            vs.start_background(port, tmp_path / "env", tmp_path / "visdom.log", timeout=30)
    assert not (tmp_path / "env" / vs.PID_NAME).exists()


@pytest.mark.slow
def test_screenshot_shows_the_plotted_curves(server, tmp_path):
    """The page's libraries load: plotly draws both traces in its default colours."""
    import visdom
    from PIL import Image

    from cartpole.report.browser import find_chromium, screenshot

    find_chromium()  # make test installs it (make system-deps); missing is a failure
    env = "cartpole_screenshot_test"
    client = visdom.Visdom(server="http://localhost", port=server["port"], env=env,
                           use_incoming_socket=False, raise_exceptions=True)
    steps = np.arange(200)
    client.line(X=steps, Y=100 + 50 * np.sin(steps / 20), win="scores", name="trial-a",
                opts={"title": "score per episode", "width": 900, "height": 500})
    client.line(X=steps, Y=100 + 50 * np.cos(steps / 20), win="scores", name="trial-b",
                update="append")
    png = screenshot(f"{server['url']}/env/{env}", tmp_path / "visdom.png", 1280, 800, 3000)
    pixels = np.asarray(Image.open(png).convert("RGB")).astype(int)

    def near(rgb: tuple[int, int, int]) -> int:
        return int((np.abs(pixels - np.array(rgb)).sum(axis=2) < 40).sum())

    # Measured: about 1,700 pixels of each colour; 0 when the scripts are missing.
    assert near(BLUE) > 500, f"no blue trace in {png}"
    assert near(ORANGE) > 500, f"no orange trace in {png}"
