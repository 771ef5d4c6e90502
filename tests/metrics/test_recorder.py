"""The Recorder: the events file is critical, other sinks are not; lost events are counted."""

import logging

import pytest

from cartpole.errors import EventsFileError
from cartpole.metrics import Recorder, make_event
from cartpole.metrics.jsonl import JsonLinesSink
from cartpole.metrics.resilient import _WARNED, Resilient


class Broken:
    def __init__(self):
        self.closed = False

    def write(self, event):
        raise ConnectionError("down")

    def close(self):
        self.closed = True


class Collect:
    def __init__(self):
        self.events = []

    def write(self, event):
        self.events.append(event)

    def close(self):
        pass


def _down():
    raise ConnectionRefusedError("connection refused")


@pytest.fixture(autouse=True)
def _fresh_warnings():
    _WARNED.clear()
    yield
    _WARNED.clear()


def test_a_failing_events_file_stops_the_trial_loudly(tmp_path):
    (tmp_path / "events.jsonl").symlink_to("/dev/full")
    other = Collect()
    recorder = Recorder([JsonLinesSink(tmp_path / "events.jsonl"), other])
    with pytest.raises(EventsFileError, match=r"cannot write the events file .*events\.jsonl: "
                                              r"No space left on device"):
        recorder.write(make_event("episode", "g", "t000", score=1.0))
    recorder.close()  # the error was raised once; closing does not raise it again


def test_an_events_file_that_cannot_be_opened_is_a_typed_error(tmp_path):
    (tmp_path / "events.jsonl").mkdir()
    with pytest.raises(EventsFileError, match="cannot open the events file"):
        JsonLinesSink(tmp_path / "events.jsonl")


def test_other_sinks_still_fail_quietly(tmp_path, caplog):
    broken, other = Broken(), Collect()
    recorder = Recorder([JsonLinesSink(tmp_path / "events.jsonl"), broken, other])
    with caplog.at_level(logging.ERROR, logger="cartpole.metrics.recorder"):
        recorder.write(make_event("episode", "g", "t000"))
    assert len(other.events) == 1
    assert "metrics sink Broken failed" in caplog.text
    assert recorder.close() == {}
    assert broken.closed
    assert (tmp_path / "events.jsonl").read_text().count("\n") == 1


def test_resilient_close_returns_what_it_could_not_deliver():
    sink = Resilient("fake", _down, first_retry=0.01, max_retry=0.02, close_timeout=0.3)
    for i in range(7):
        sink.write({"n": i})
    assert sink.close() == 7
    assert sink.undelivered == 7


def test_the_recorder_counts_undelivered_events_per_engine(tmp_path, caplog):
    visdom = Resilient("visdom", _down, first_retry=0.01, max_retry=0.02, close_timeout=0.3)
    mlflow = Resilient("mlflow", _down, first_retry=0.01, max_retry=0.02, close_timeout=0.3)
    recorder = Recorder([JsonLinesSink(tmp_path / "events.jsonl"), visdom, mlflow])
    for i in range(5):
        recorder.write(make_event("episode", "g", "t000", episode=i))
    recorder.write(make_event("eval", "g", "t000"))
    with caplog.at_level(logging.WARNING, logger="cartpole.metrics.resilient"):
        assert recorder.close() == {"visdom": 6, "mlflow": 6}
    assert recorder.undelivered == {"visdom": 6, "mlflow": 6}
    assert "visdom: 6 events could not be delivered" in caplog.text
