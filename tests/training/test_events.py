"""events.jsonl read back: bad or cut lines are skipped, never fatal."""

import json

from cartpole.training.events import read_events


def _write(path, events, tail=""):
    path.write_text("".join(json.dumps(e) + "\n" for e in events) + tail)


def test_every_object_in_order_and_nothing_else(tmp_path):
    path = tmp_path / "events.jsonl"
    _write(path, [{"event": "trial_start"}, [1, 2], {"event": "eval", "step": 5}],
           tail='not json\n{"event": "episode", "sco')
    assert read_events(path) == [{"event": "trial_start"}, {"event": "eval", "step": 5}]


def test_a_missing_file_has_no_events(tmp_path):
    assert read_events(tmp_path / "events.jsonl") == []
    assert read_events(tmp_path, tail_bytes=100) == []  # a folder: unreadable


def test_the_tail_leaves_out_the_line_it_cuts(tmp_path):
    path = tmp_path / "events.jsonl"
    events = [{"event": "episode", "n": i} for i in range(100)]
    _write(path, events)
    tail = read_events(path, tail_bytes=100)
    assert tail and tail == events[-len(tail):]
    assert len(tail) < 100
    assert read_events(path, tail_bytes=10**6) == events
