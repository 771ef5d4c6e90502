"""The sink contract: every engine is an Engine, whose optional hooks do nothing by default,
and an engine of someone else's with only write and close works end to end."""

from pathlib import Path

import pytest

from cartpole.errors import ConfigError
from cartpole.metrics import Engine, EngineContext, Recorder, make_event
from cartpole.metrics import engines as registry
from cartpole.metrics.base import as_engine, engine_class
from cartpole.metrics.engines import ENGINE_NAMES, build_sinks, check_engines, load_engine
from cartpole.metrics.group import GroupInfo, GroupMetrics
from cartpole.metrics.jsonl import JsonLinesSink
from cartpole.metrics.resilient import _WARNED, Resilient

HERE = "tests.metrics.test_base"
seen: list[dict] = []  # what Minimal engines were sent
closed: list[Engine] = []  # the Minimal engines closed
checked: list[dict] = []  # the settings Legacy.check was given


class Minimal(Engine):
    """What a third-party engine needs: write and close, nothing else."""

    def write(self, event):
        seen.append(event)

    def close(self):
        closed.append(self)


class MinimalRemote(Minimal):
    remote = True


class Legacy:
    """An engine written to the duck-typed contract from before Engine existed."""

    remote = True

    def __init__(self, context=None, level: int = 1):
        self.events = []

    @classmethod
    def check(cls, level: int = 1):
        checked.append({"level": level})

    @classmethod
    def open_group(cls, group, level: int = 1):
        return {"level": level + 1}

    def write(self, event):
        self.events.append(event)

    def close(self):
        pass


@pytest.fixture
def registered(monkeypatch):
    """The test's own engines, registered the way an installed package's would be."""
    monkeypatch.setattr(registry, "_targets", lambda: {
        "minimal": f"{HERE}:Minimal", "minimal-remote": f"{HERE}:MinimalRemote",
        "legacy": f"{HERE}:Legacy"})
    seen.clear()
    closed.clear()
    checked.clear()
    _WARNED.clear()
    yield
    _WARNED.clear()


@pytest.mark.parametrize("name", ENGINE_NAMES)
def test_every_registered_engine_is_an_engine(name):
    assert issubclass(load_engine(name), Engine)


def test_the_events_file_and_the_queue_are_engines_too():
    assert issubclass(JsonLinesSink, Engine)
    assert issubclass(Resilient, Engine)


def test_write_and_close_are_required():
    class NoClose(Engine):
        def write(self, event):
            pass

    with pytest.raises(TypeError, match="close"):
        NoClose()


def test_the_optional_hooks_do_nothing_by_default(registered, tmp_path):
    sink = Minimal(EngineContext("g", "t000"))
    assert (sink.remote, sink.critical, sink.name, sink.undelivered) == (False, False, "", 0)
    assert sink.log_artifacts([tmp_path / "model.h5"]) is None
    assert sink.begin_close() is None
    assert Minimal.check(path="/nowhere", anything=1) is None
    info = GroupInfo(group="g", group_dir=tmp_path)
    assert Minimal.open_group(info, port=1) is None
    assert Minimal.close_group(info, [], None, state="failed", port=1) is None
    assert list(tmp_path.iterdir()) == []
    sink.write_batch([{"n": 1}, {"n": 2}])  # the default: one write per event, in order
    assert seen == [{"n": 1}, {"n": 2}]
    assert not sink.takes_batches()


def test_which_engines_take_batches_and_run_group_steps():
    batching = {name for name in ENGINE_NAMES if load_engine(name).overrides("write_batch")}
    assert batching == {"visdom", "mlflow", "fluentd", "elasticsearch"}
    grouped = {name for name in ENGINE_NAMES if load_engine(name).overrides("open_group")}
    assert grouped == {"visdom", "mlflow"}
    remote = {name for name in ENGINE_NAMES if load_engine(name).remote}
    assert remote == {"visdom", "mlflow", "fluentd", "elasticsearch"}


def test_a_minimal_engine_works_through_build_sinks_and_the_recorder(registered, tmp_path):
    check_engines(("minimal",), {})
    with pytest.raises(ConfigError, match=r"has no setting 'port' \(its settings: none\)"):
        check_engines(("minimal",), {"minimal": {"port": 1}})
    [sink] = build_sinks(("minimal",), {}, EngineContext("g", "t001"))
    assert isinstance(sink, Minimal)
    recorder = Recorder([JsonLinesSink(tmp_path / "events.jsonl"), sink])
    event = make_event("episode", "g", "t001", score=-1.5)
    recorder.write(event)
    recorder.log_artifacts([tmp_path / "model.h5"])
    assert recorder.close() == {}
    assert seen == [event]
    assert closed == [sink]


def test_a_minimal_remote_engine_runs_behind_the_queue(registered):
    [sink] = build_sinks(("minimal-remote",), {})
    assert isinstance(sink, Resilient)
    recorder = Recorder([sink])
    events = [make_event("episode", "g", "t000", episode=i) for i in range(3)]
    for event in events:
        recorder.write(event)
    assert recorder.close() == {}
    assert seen == events
    assert len(closed) == 1  # the one sink the queue built


def test_group_steps_leave_out_engines_without_them(registered, tmp_path):
    """An engine that keeps the default group steps is not called, so it is not marked
    reachable either: a warning about its server stays in force."""
    _WARNED.add("minimal-remote")
    metrics = GroupMetrics(("minimal-remote",), {}, GroupInfo("g", tmp_path))
    assert metrics.open() == {}
    metrics.close([], None)
    assert "minimal-remote" in _WARNED


def test_an_engine_from_before_engine_keeps_its_hooks(registered, tmp_path):
    hooks = engine_class(Legacy)
    assert hooks.remote and hooks.overrides("open_group") and not hooks.overrides("close_group")
    check_engines(("legacy",), {"legacy": {"level": 3}})
    assert checked == [{"level": 3}]
    assert GroupMetrics(("legacy",), {"legacy": {"level": 3}},
                        GroupInfo("g", tmp_path)).open() == {"legacy": {"level": 4}}
    [sink] = build_sinks(("legacy",), {})
    assert isinstance(sink, Resilient)  # remote = True, as before
    sink.close()


def test_a_plain_sink_is_seen_through_the_contract(tmp_path):
    class Plain:
        critical = True

        def __init__(self):
            self.batches, self.files = [], []

        def write(self, event):
            raise OSError("disk full")

        def write_batch(self, events):
            self.batches.append(events)

        def log_artifacts(self, files):
            self.files.append(files)

        def close(self):
            self.undelivered = 2

    plain = Plain()
    view = as_engine(plain)
    assert as_engine(view) is view
    assert view.critical and view.takes_batches() and view.name == "Plain"
    view.write_batch([{"n": 1}])
    view.log_artifacts([Path("m.h5")])
    view.begin_close()  # it has none: nothing happens
    view.close()
    assert (plain.batches, plain.files, view.undelivered) == ([[{"n": 1}]], [[Path("m.h5")]], 2)
    recorder = Recorder([plain])
    with pytest.raises(OSError, match="disk full"):  # critical: the Recorder lets it through
        recorder.write({"n": 2})
    assert recorder.close() == {"Plain": 2}
