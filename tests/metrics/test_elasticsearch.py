"""The elasticsearch engine against a small real HTTP server that answers ``_bulk`` as
Elasticsearch 8 does (with the product header the official client checks)."""

import base64
import json
import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from cartpole.metrics.elasticsearch import (
    ElasticsearchSink,
    ElasticsearchSinkError,
    document_id,
    index_name,
)
from cartpole.metrics.engines import EngineContext, build_sinks
from cartpole.metrics.events import make_event
from cartpole.metrics.resilient import _WARNED, Resilient
from cartpole.metrics.secrets import CredentialsRefused
from tests.servers import free_port
from tests.waiting import wait_until


def sample_events(trial="t001", episodes=3):
    hparams = {"gamma": 0.99, "learning_rate": 2.3e-3, "hidden_sizes": [16, 16]}
    events = [make_event("trial_start", "g1", trial, hparams=hparams, env="CartPole-v1",
                         seed=0)]
    events += [make_event("episode", "g1", trial, episode=i, score=float(10 + i),
                          steps=10 + i, total_steps=11 * i, epsilon=0.9,
                          loss=None if i == 1 else -0.5) for i in range(1, episodes + 1)]
    events.append(make_event("eval", "g1", trial, step=33, episode=episodes, eval_mean=12.5,
                             eval_std=1.5, eval_episodes=2, best=12.5))
    events.append(make_event("trial_end", "g1", trial, score=12.5, eval_std=1.5, steps=33,
                             episodes=episodes, seconds=0.5, solved=False,
                             solved_at_step=None, interrupted=False))
    return events


class FakeElasticsearch:
    """``POST /_bulk`` keeps every request and answers per item; ``mode`` picks the answer:
    ``ok``, ``item_errors`` (the second document is rejected for good), ``item_429`` (the
    second document must wait), ``http_500`` or
    ``not_elasticsearch`` (no product header)."""

    def __init__(self, port=0):
        self.requests = []
        self.mode = "ok"
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_PUT(self):  # the 8.x client sends PUT /_bulk; Elasticsearch takes both
                self.do_POST()

            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                lines = [json.loads(line) for line in body.decode().splitlines() if line]
                headers = {k.lower(): v for k, v in self.headers.items()}
                fake.requests.append({"method": self.command, "path": self.path,
                                      "headers": headers, "lines": lines})
                if fake.mode == "http_401":  # security on, credentials wrong or missing
                    return self._answer(401, {"error": {
                        "type": "security_exception",
                        "reason": "unable to authenticate user [elastic]"}, "status": 401})
                if fake.mode == "http_500":
                    return self._answer(500, {"error": {"type": "internal_error",
                                                        "reason": "boom"}, "status": 500})
                items = []
                for n, action in enumerate(lines[0::2]):
                    [(op, meta)] = action.items()
                    item = {"_index": meta["_index"], "_id": meta["_id"], "status": 201,
                            "result": "created"}
                    if fake.mode == "item_errors" and n == 1:
                        item = {"_index": meta["_index"], "_id": meta["_id"], "status": 400,
                                "error": {"type": "document_parsing_exception",
                                          "reason": "failed to parse field [score]"}}
                    if fake.mode == "item_429" and n == 1:
                        item = {"_index": meta["_index"], "_id": meta["_id"], "status": 429,
                                "error": {"type": "es_rejected_execution_exception",
                                          "reason": "queue full"}}
                    items.append({op: item})
                errors = any("error" in next(iter(i.values())) for i in items)
                self._answer(200, {"took": 1, "errors": errors, "items": items})

            def _answer(self, status, payload):
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                if fake.mode != "not_elasticsearch":
                    self.send_header("X-Elastic-Product", "Elasticsearch")
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()

    def documents(self):
        """(action, source) pairs of every request, in order."""
        pairs = []
        for request in self.requests:
            lines = request["lines"]
            pairs += list(zip(lines[0::2], lines[1::2], strict=True))
        return pairs

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def es():
    server = FakeElasticsearch()
    yield server
    server.close()


def test_one_bulk_request_per_batch_carries_every_event(es):
    events = sample_events()
    sink = ElasticsearchSink(EngineContext("g1", "t001"), hosts=es.url)
    sink.write_batch(events[:4])
    sink.write_batch(events[4:])
    sink.write(events[0])  # a single event is a batch of one
    sink.close()
    assert [r["path"] for r in es.requests] == ["/_bulk"] * 3
    assert "x-ndjson" in es.requests[0]["headers"]["content-type"]
    pairs = es.documents()
    assert [source for _, source in pairs] == events + events[:1]
    for action, source in pairs:
        assert action == {"index": {"_index": index_name("cartpole", source["ts"]),
                                    "_id": document_id(source)}}
        assert action["index"]["_index"] == "cartpole-" + source["ts"][:10].replace("-", ".")
    # the same event always gets the same id: a resent batch overwrites, never duplicates
    assert pairs[0][0] == pairs[-1][0]
    assert len({a["index"]["_id"] for a, _ in pairs[:-1]}) == len(events)


def test_index_prefix_and_credentials_are_settings(es):
    sink = ElasticsearchSink(hosts=es.url, index_prefix="lab", username="elastic",
                             password="secret")
    sink.write(sample_events()[1])
    sink.close()
    [(action, _)] = es.documents()
    assert action["index"]["_index"].startswith("lab-")
    assert es.requests[0]["headers"]["authorization"].startswith("Basic ")

    sink = ElasticsearchSink(hosts=es.url, api_key="a2V5OnNlY3JldA==")
    sink.write(sample_events()[1])
    sink.close()
    assert es.requests[1]["headers"]["authorization"] == "ApiKey a2V5OnNlY3JldA=="


def test_credentials_come_from_the_environment_and_a_refusal_says_which(es, monkeypatch):
    monkeypatch.setenv("ELASTICSEARCH_USERNAME", "cartpole_writer")
    monkeypatch.setenv("ELASTICSEARCH_PASSWORD", "pw-from-env")
    sink = ElasticsearchSink(hosts=es.url)
    sink.write(sample_events()[1])
    basic = es.requests[0]["headers"]["authorization"].removeprefix("Basic ")
    assert base64.b64decode(basic).decode() == "cartpole_writer:pw-from-env"
    es.mode = "http_401"
    with pytest.raises(CredentialsRefused) as refused:
        sink.write_batch(sample_events())
    sink.close()
    assert str(refused.value) == (f"elasticsearch at {es.url} answered 401: set "
                                  "ELASTICSEARCH_USERNAME and ELASTICSEARCH_PASSWORD, or "
                                  "ELASTICSEARCH_API_KEY")


def test_index_day_is_the_events_utc_day():
    assert index_name("cartpole", "2026-01-01T23:30:00.000-02:00") == "cartpole-2026.01.02"
    assert index_name("cartpole", "2026-03-04T05:06:07.890Z") == "cartpole-2026.03.04"


def test_server_down_raises():
    sink = ElasticsearchSink(hosts=f"http://127.0.0.1:{free_port()}", timeout=2.0)
    with pytest.raises(ElasticsearchSinkError, match="ConnectionError"):
        sink.write_batch(sample_events())
    sink.close()


@pytest.mark.parametrize(("mode", "message"), [
    ("item_429", r"could not take 1 of 6 events .*429 es_rejected_execution_exception"),
    ("http_500", "internal_error"),
    ("not_elasticsearch", "not Elasticsearch"),
])
def test_failures_raise(es, mode, message):
    es.mode = mode
    sink = ElasticsearchSink(hosts=es.url)
    with pytest.raises(ElasticsearchSinkError, match=message):
        sink.write_batch(sample_events())
    sink.close()


def test_a_document_rejected_for_good_is_dropped_with_one_warning(es, caplog):
    es.mode = "item_errors"
    sink = ElasticsearchSink(hosts=es.url)
    with caplog.at_level(logging.WARNING, logger="cartpole.metrics.elasticsearch"):
        sink.write_batch(sample_events())  # does not raise: a retry could never succeed
        sink.write_batch(sample_events("t001"))
    sink.close()
    assert sink.rejected == 2
    warnings = [r.getMessage() for r in caplog.records]
    assert len(warnings) == 1 and "400 document_parsing_exception" in warnings[0]


def test_behind_resilient_batches_wait_for_the_server(caplog):
    """The engine as the CLI builds it: down at first, then up; every event arrives,
    in order, in bulk requests."""
    _WARNED.discard("elasticsearch")
    port = free_port()
    events = [e for t in range(8) for e in sample_events(f"t{t:03d}", episodes=100)]
    [sink] = build_sinks(("elasticsearch",),
                         {"elasticsearch": {"hosts": f"http://127.0.0.1:{port}",
                                            "timeout": 2.0}},
                         EngineContext("g1", "t000"))
    assert isinstance(sink, Resilient)
    with caplog.at_level(logging.WARNING):
        for event in events[:10]:
            sink.write(event)
        wait_until(lambda: sink.failures, "the engine to try the dead server")
        server = FakeElasticsearch(port)
        try:
            for event in events[10:]:
                sink.write(event)
            # delivered by the retries, whatever the time the close step would allow
            wait_until(lambda: len(server.documents()) == len(events), "every document")
            sink.close()
        finally:
            server.close()
    assert [source for _, source in server.documents()] == events
    assert 2 <= len(server.requests) < len(events) / 50  # batches, not one request per event
    # one warning for the outage, nothing from the client's transport
    assert [r.name for r in caplog.records] == ["cartpole.metrics.resilient"]
    assert "unreachable" in caplog.records[0].getMessage()
