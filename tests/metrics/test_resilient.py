"""The queue in front of network engines, against a backend that is down, then up."""

import logging
import threading
import time

import pytest

from cartpole.metrics.resilient import _WARNED, Resilient


class Backend:
    """Stands for a server: refuses connections until `up` is set."""

    def __init__(self):
        self.up = threading.Event()
        self.received = []
        self.connects = 0

    def connect(self):
        self.connects += 1
        if not self.up.is_set():
            raise ConnectionRefusedError("connection refused")
        return self

    def write(self, event):
        if not self.up.is_set():
            raise ConnectionResetError("server went away")
        self.received.append(event)

    def close(self):
        pass


def test_buffers_while_down_and_replays_in_order(caplog):
    backend = Backend()
    sink = Resilient("fake", backend.connect, first_retry=0.01, max_retry=0.05)
    with caplog.at_level(logging.INFO, logger="cartpole.metrics.resilient"):
        started = time.perf_counter()
        for i in range(10_000):
            sink.write({"n": i})
        assert time.perf_counter() - started < 0.5  # never blocks the training loop
        time.sleep(0.3)
        assert backend.connects > 2  # it keeps retrying, with backoff
        backend.up.set()
        sink.close()
    assert [e["n"] for e in backend.received] == list(range(10_000))
    warnings = [r.getMessage() for r in caplog.records]
    assert len([w for w in warnings if "unreachable" in w]) == 1  # one warning, not a flood
    assert any("is back" in w for w in warnings)


def test_gives_up_at_close_without_hanging(caplog):
    backend = Backend()
    sink = Resilient("fake", backend.connect, first_retry=0.01, max_retry=0.05,
                     close_timeout=0.5)
    sink.write({"n": 1})
    started = time.perf_counter()
    with caplog.at_level(logging.WARNING, logger="cartpole.metrics.resilient"):
        sink.close()
    assert time.perf_counter() - started < 2.0
    assert "1 events could not be delivered" in caplog.text


class BatchBackend(Backend):
    """A bulk API: takes a list at once, and fails the first two batches it is sent."""

    def __init__(self):
        super().__init__()
        self.up.set()
        self.batches = []
        self.failures_left = 2
        self.artifacts = []

    def write(self, event):
        raise AssertionError("a batching sink gets batches only")

    def write_batch(self, events):
        if self.failures_left:
            self.failures_left -= 1
            raise ConnectionResetError("bulk request failed")
        self.batches.append(list(events))
        self.received.extend(events)

    def log_artifacts(self, files):
        self.artifacts.append((len(self.received), list(files)))


def test_batches_are_retried_whole_and_artifacts_keep_their_place(tmp_path):
    backend = BatchBackend()
    sink = Resilient("bulk", backend.connect, first_retry=0.01, max_retry=0.02,
                     flush_interval=0.05, max_batch=300)
    for i in range(1000):
        sink.write({"n": i})
    sink.log_artifacts([tmp_path / "model.h5"])
    sink.write({"n": 1000})
    sink.close()
    assert [e["n"] for e in backend.received] == list(range(1001))  # no loss, no duplicates
    assert max(len(b) for b in backend.batches) <= 300
    assert len(backend.batches) < 20  # batched, not one request per event
    assert backend.artifacts == [(1000, [tmp_path / "model.h5"])]


@pytest.fixture(autouse=True)
def _fresh_warnings():
    """Each test starts with no engine marked as already warned about."""
    _WARNED.clear()
    yield
    _WARNED.clear()
