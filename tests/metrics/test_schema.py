import json
from importlib.resources import files

import jsonschema
import pytest

from cartpole.config import HParams
from cartpole.metrics import Recorder, make_event
from cartpole.train import TrialSpec, run_trial

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


def test_events_of_a_real_trial_validate():
    sink = Collect()
    hp = HParams(hidden_sizes=(8,), learning_starts=100, train_freq=100, gradient_steps=5,
                 eval_every=300, eval_episodes=2)
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
