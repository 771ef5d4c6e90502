import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from cartpole.errors import ConfigError
from cartpole.metrics import engines
from cartpole.metrics.engines import ENGINE_NAMES, build_sinks, check_engines, load_engine

EXE = str(Path(sys.executable).with_name("cartpole"))


def test_engines_come_from_entry_points():
    assert {"console", "log", "tensorboard"} <= set(ENGINE_NAMES)
    assert engines._targets()["log"] == "cartpole.metrics.log:LogSink"


def test_missing_dependency_gives_an_install_hint(monkeypatch):
    monkeypatch.setattr(engines, "_targets",
                        lambda: {"tensorboard": "no_such_module_here:Sink"})
    with pytest.raises(ConfigError, match=r"pip install 'cartpole\[tensorboard\]'"):
        load_engine("tensorboard")


def test_settings_are_checked_without_creating_anything(tmp_path):
    with pytest.raises(ConfigError, match="has no setting 'nope'"):
        check_engines(("log",), {"log": {"nope": 1}})
    check_engines(("tensorboard",), {"tensorboard": {"logdir": str(tmp_path / "tb")}})
    assert list(tmp_path.iterdir()) == []


def test_log_engine_to_a_file(tmp_path):
    [sink] = build_sinks(("log",), {"log": {"path": str(tmp_path / "e.jsonl")}})
    sink.write({"event": "x", "n": -1.5})
    sink.close()
    assert json.loads((tmp_path / "e.jsonl").read_text()) == {"event": "x", "n": -1.5}


@pytest.mark.slow
def test_bad_metrics_config_is_one_line(tmp_path):
    proc = subprocess.run([EXE, "--metrics-config", '{"console": {"nope": 1}}', "train"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=60,
                          env={**os.environ})
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        "Error: metrics engine 'console' has no setting 'nope' (its settings: level)"]


@pytest.mark.parametrize(("engines", "config", "message"), [
    (("visdom",), {"visdom": {"port": "abc"}}, "'port' of metrics engine 'visdom' must be int"),
    (("visdom",), {"visdom": {"port": True}}, "must be int, got true"),
    (("mlflow",), {"mlflow": {"tracking_uri": 5}}, "must be str, got 5"),
    (("tensorboard",), {"tensorboard": {"logdir": 5}}, "must be str, got 5"),
    (("log",), {"log": {"path": "/proc/nope/x.jsonl"}}, "cannot be written"),
])
def test_setting_values_are_checked_before_training(engines, config, message):
    with pytest.raises(ConfigError, match=message):
        check_engines(engines, config)


def test_union_typed_settings_pass():
    check_engines(("elasticsearch", "fluentd"), {"elasticsearch": {"hosts": ["http://a:9200"]},
                                                 "fluentd": {"timeout": 2}})
