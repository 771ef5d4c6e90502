"""The queue in front of network engines, against a backend that is down, then up."""

import logging
import threading
import time

import pytest

from cartpole.metrics.resilient import _WARNED, Resilient
from tests.waiting import DEADLINE, wait_until


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
    # close() may take as long as it needs to deliver: this test is about order, not time.
    sink = Resilient("fake", backend.connect, first_retry=0.01, max_retry=0.05,
                     close_timeout=DEADLINE)
    with caplog.at_level(logging.INFO, logger="cartpole.metrics.resilient"):
        for i in range(10_000):
            sink.write({"n": i})
        # it keeps retrying, with backoff
        wait_until(lambda: backend.connects > 2, "a third connection attempt")
        backend.up.set()
        sink.close()
    assert [e["n"] for e in backend.received] == list(range(10_000))
    warnings = [r.getMessage() for r in caplog.records]
    assert len([w for w in warnings if "unreachable" in w]) == 1  # one warning, not a flood
    assert any("is back" in w for w in warnings)


def test_writes_never_wait_for_a_hung_backend():
    """Never blocks the training loop: with the queue's thread stuck in a backend that
    does not answer, every write still returns."""
    inside, release = threading.Event(), threading.Event()

    def hung_connect():
        inside.set()
        release.wait(DEADLINE)
        raise TimeoutError("timed out")

    sink = Resilient("hung", hung_connect, close_timeout=0.1)
    sink.write({"n": 0})
    wait_until(inside.is_set, "the queue's thread inside the hung backend")
    writer = threading.Thread(target=lambda: [sink.write({"n": i}) for i in range(1, 10_000)])
    writer.start()
    writer.join(DEADLINE)  # about 10 ms of work: only a writer held by the backend is late
    held = writer.is_alive()
    release.set()
    sink.close()
    assert not held, "writes waited for the hung backend"


def test_gives_up_at_close_without_hanging(caplog):
    backend = Backend()
    sink = Resilient("fake", backend.connect, first_retry=0.01, max_retry=0.05,
                     close_timeout=0.5)
    sink.write({"n": 1})
    started = time.perf_counter()
    with caplog.at_level(logging.WARNING, logger="cartpole.metrics.resilient"):
        sink.close()
    # close() waits close_timeout (0.5 s) plus at most half a second for the thread: a
    # bound 30 times that is missed only by a close() that hangs, however loaded the host.
    assert time.perf_counter() - started < 30
    assert "1 events could not be delivered" in caplog.text
    # It gave up: the queue's thread ends instead of retrying a dead backend for ever.
    wait_until(lambda: not sink._thread.is_alive(), "the queue's thread to end")


class BatchBackend(Backend):
    """A bulk API: takes a list at once, and fails the first two batches it is sent."""

    def __init__(self):
        super().__init__()
        self.up.set()
        self.batches = []
        self.failures_left = 2
        self.artifacts = []
        self.all_queued = threading.Event()

    def connect(self):
        # The first send waits until the test has queued every event: the batches then
        # depend on the queue's rules only, not on how fast this machine ran the writes.
        self.all_queued.wait(DEADLINE)
        return super().connect()

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
                     flush_interval=0.05, max_batch=300, close_timeout=DEADLINE)
    for i in range(1000):
        sink.write({"n": i})
    sink.log_artifacts([tmp_path / "model.h5"])
    sink.write({"n": 1000})
    backend.all_queued.set()
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
