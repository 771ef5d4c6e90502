import json
from importlib.resources import files

import jsonschema
import pytest

from cartpole.metrics import Recorder, make_event
from cartpole.training.loop import TrialSpec, run_trial
from tests.metrics import remote_examples as ex

SCHEMA = json.loads(files("cartpole.metrics").joinpath("event.schema.json").read_text())
VALIDATOR = jsonschema.Draft202012Validator(
    SCHEMA, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)


class Collect:
    def __init__(self):
        self.events = []

    def write(self, event):
        self.events.append(json.loads(json.dumps(event)))  # as any sink would see it

    def close(self):
        pass


def test_schema_is_a_valid_json_schema():
    jsonschema.Draft202012Validator.check_schema(SCHEMA)


def test_events_of_a_real_trial_validate(quick):
    sink = Collect()
    hp = quick.hparams()
    run_trial(TrialSpec(hparams=hp, steps=700), Recorder([sink]), group="g", trial="t001")
    kinds = {e["event"] for e in sink.events}
    assert kinds == {"trial_start", "episode", "eval", "trial_end"}
    for event in sink.events:
        VALIDATOR.validate(event)
    # negative losses and scores survive as numbers (the 2018 regexes lost the sign)
    assert any(isinstance(e.get("loss"), float) for e in sink.events)


@pytest.mark.parametrize("bad", [
    {"event": "episode", "episode": 1},                       # missing required keys
    {"event": "eval", "step": 1, "eval_mean": "high"},        # a number as text
    {"event": "episode", "surprise": 1},                      # a field the schema lacks
])
def test_schema_rejects_bad_events(bad):
    event = {**make_event("trial_start", "g", "t"), "hparams": {}, "env": "x", "seed": 0}
    event.update(bad)
    with pytest.raises(jsonschema.ValidationError):
        VALIDATOR.validate(event)


# -- remote runs (`cartpole run`) and the router demo -----------------------------------
@pytest.mark.parametrize("event", [
    ex.run_start(), ex.run_start(transport="grpc", batch=True, runners=1, feedback="none"),
    ex.run_episode(), ex.run_episode(runner=3, episode=7, branch=1),
    ex.run_end(), ex.run_end(episodes=0, score=None, score_min=None, score_max=None,
                             latency_p50_ms=None, latency_p99_ms=None, requests=0,
                             cut_short=2, error="connection refused", interrupted=True),
    ex.route(), ex.route(request=9, branch=2, share=1.0, reward=0.0),
], ids=lambda e: e["event"])
def test_remote_events_validate(event):
    VALIDATOR.validate(json.loads(json.dumps(event)))


@pytest.mark.parametrize("event", [
    {k: v for k, v in ex.run_episode().items() if k != "runner"},   # a required key missing
    {k: v for k, v in ex.run_end().items() if k != "cut_short"},
    {k: v for k, v in ex.run_start().items() if k != "feedback"},
    ex.route(share=1.5),                                            # a share above 1
    ex.route(branch=None),                                          # a request has a branch
    ex.route(request=0),
    ex.run_start(transport="http"),
    ex.run_start(feedback="sometimes"),
    ex.run_start(episodes=0),
    ex.run_start(runners=0),
    ex.run_start(batch="yes"),
    ex.run_episode(episode=0),                                      # run-wide numbers from 1
    ex.run_episode(score=None),                                     # a completed episode scores
    ex.run_episode(runner=-1),
    ex.run_end(cut_short=-1),
    ex.run_end(requests=1.5),
    ex.run_end(latency_p99_ms="2 ms"),
    ex.run_end(surprise=1),                                         # a field the schema lacks
])
def test_schema_rejects_bad_remote_events(event):
    with pytest.raises(jsonschema.ValidationError):
        VALIDATOR.validate(event)
