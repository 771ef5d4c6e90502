"""Debian's real Prometheus scrapes a real `cartpole serve`, and PromQL through its HTTP
API reads the request counter back (`tests.servers.prometheus_server`: its own port and
data directory, never the system service's)."""

import json
import secrets
import urllib.error
import urllib.parse
import urllib.request

import pytest

from tests.servers import Server, cartpole_serve, prometheus_server
from tests.waiting import wait_until

pytestmark = pytest.mark.slow  # starts cartpole serve and prometheus

PREDICT = "/api/v1.0/predictions"  # the endpoint label of every alias of it
OBS = {"data": {"ndarray": [[0.01, 0.02, 0.03, 0.04]]}}


def _post(server: Server, path: str, body: bytes, key: str | None = None) -> int:
    headers = {"Content-Type": "application/json"}
    if key:
        headers["Authorization"] = f"Bearer {key}"
    request = urllib.request.Request(server.url + path, data=body, headers=headers,
                                     method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as reply:
            return reply.status
    except urllib.error.HTTPError as exc:
        return exc.code


def _predict(server: Server, paths: list[str], key: str | None = None) -> None:
    for path in paths:
        assert _post(server, path, json.dumps(OBS).encode(), key) == 200


def _value(prometheus: Server, promql: str) -> float | None:
    """The one sample ``promql`` returns now, or None while it returns none."""
    url = f"{prometheus.url}/api/v1/query?{urllib.parse.urlencode({'query': promql})}"
    with urllib.request.urlopen(url, timeout=10) as reply:
        answer = json.loads(reply.read())
    assert answer["status"] == "success", answer
    result = answer["data"]["result"]
    assert len(result) <= 1, f"{promql} matches several series: {result}"
    return float(result[0]["value"][1]) if result else None


def _wait_for(prometheus: Server, promql: str, expected: float) -> None:
    seen: list[float | None] = []

    def check() -> bool:
        seen.append(_value(prometheus, promql))
        return seen[-1] == expected

    try:
        wait_until(check, f"{promql} == {expected}", interval=0.25)
    except AssertionError as exc:
        raise AssertionError(f"{exc}; last value {seen[-1] if seen else None}; "
                             f"prometheus log:\n{prometheus.log.read_text()[-2000:]}") from None


def _target(server: Server) -> str:
    return server.url.split("//", 1)[1]


def test_prometheus_scrapes_the_request_counter(tmp_path, model_file):
    server = cartpole_serve(tmp_path, str(model_file))
    prometheus = None
    try:
        # Five predictions through three aliases of one endpoint, and one bad request.
        _predict(server, [PREDICT, PREDICT, PREDICT, "/api/v0.1/predictions", "/predict"])
        assert _post(server, PREDICT, b"") == 400
        prometheus = prometheus_server(tmp_path / "prometheus", {"cartpole": _target(server)})

        _wait_for(prometheus, 'up{job="cartpole"}', 1)
        ok = f'cartpole_requests_total{{job="cartpole",endpoint="{PREDICT}",status="200"}}'
        _wait_for(prometheus, ok, 5)
        _wait_for(prometheus, ok.replace('"200"', '"400"'), 1)
        _wait_for(prometheus, 'sum(cartpole_actions_total{job="cartpole"})', 5)

        # It keeps scraping: later predictions show up too.
        _predict(server, [PREDICT] * 3)
        _wait_for(prometheus, ok, 8)
        _wait_for(prometheus, 'sum(cartpole_actions_total{job="cartpole"})', 8)
    finally:
        if prometheus:
            prometheus.stop()
        server.stop()


def test_prometheus_scrapes_with_a_bearer_token(tmp_path, model_file):
    """With --api-key, Prometheus scrapes with `authorization` in its scrape config."""
    key = secrets.token_hex(16)
    server = cartpole_serve(tmp_path, str(model_file), env={"CARTPOLE_API_KEY": key})
    prometheus = None
    try:
        _predict(server, [PREDICT, PREDICT], key)
        assert _post(server, PREDICT, json.dumps(OBS).encode()) == 401  # no key
        prometheus = prometheus_server(tmp_path / "prometheus", {"guarded": _target(server)},
                                       tokens={"guarded": key})

        _wait_for(prometheus, 'up{job="guarded"}', 1)
        counter = f'cartpole_requests_total{{job="guarded",endpoint="{PREDICT}",status="%s"}}'
        _wait_for(prometheus, counter % 200, 2)
        _wait_for(prometheus, counter % 401, 1)
        assert key not in (tmp_path / "prometheus" / "prometheus.yml").read_text()
    finally:
        if prometheus:
            prometheus.stop()
        server.stop()


def test_metrics_needs_the_key(tmp_path, model_file):
    """--api-key guards every route but the health checks, /metrics included."""
    server = cartpole_serve(tmp_path, str(model_file),
                            env={"CARTPOLE_API_KEY": secrets.token_hex(16)})
    try:
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(server.url + "/metrics", timeout=10).close()
        assert refused.value.code == 401
    finally:
        server.stop()
