"""Engine credentials: moved from the settings to the environment, shown masked."""

import inspect
import json
import os

import pytest
from click.testing import CliRunner

from cartpole.cli import cli
from cartpole.cli.train_request import parse_metrics_config
from cartpole.errors import ConfigError
from cartpole.grid.session import TrainRequest
from cartpole.hosts import is_loopback
from cartpole.metrics.base import Engine, engine_class
from cartpole.metrics.engines import ENGINE_NAMES, export_secrets, load_engine, shown_settings
from cartpole.metrics.secrets import MASK, credential, mask_url, masked, secret_settings

SECRET = "hunter2-abcdefghijkl"
VARIABLES = ("MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD", "MLFLOW_TRACKING_TOKEN",
             "ELASTICSEARCH_USERNAME", "ELASTICSEARCH_PASSWORD", "ELASTICSEARCH_API_KEY",
             "VISDOM_USERNAME", "VISDOM_PASSWORD")


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    for name in VARIABLES:
        # set first, so that whatever the test exports is removed afterwards too
        monkeypatch.setenv(name, "")
        monkeypatch.delenv(name)


def test_every_credential_setting_is_a_parameter_of_its_engine():
    for name in ENGINE_NAMES:
        engine = load_engine(name)
        params = inspect.signature(engine).parameters
        for key in secret_settings(engine):
            assert key in params, (name, key)


def test_credentials_move_to_the_environment_and_leave_the_settings(monkeypatch):
    config = {"mlflow": {"tracking_uri": "http://m:5000", "username": "admin",
                         "password": SECRET},
              "elasticsearch": {"hosts": "http://es:9200", "api_key": SECRET},
              "console": {}}
    public = export_secrets(config)
    assert public == {"mlflow": {"tracking_uri": "http://m:5000"},
                      "elasticsearch": {"hosts": "http://es:9200"}, "console": {}}
    assert SECRET not in json.dumps(public)
    assert os.environ["MLFLOW_TRACKING_PASSWORD"] == SECRET
    assert os.environ["MLFLOW_TRACKING_USERNAME"] == "admin"
    assert os.environ["ELASTICSEARCH_API_KEY"] == SECRET
    assert export_secrets(public) == public  # idempotent
    assert config["mlflow"]["password"] == SECRET  # the caller's dict is left alone


def test_the_cli_edge_and_a_train_request_hold_no_credential():
    flat = parse_metrics_config(json.dumps({"password": SECRET}), ("mlflow",))
    assert flat == {"mlflow": {}}
    request = TrainRequest(metrics_engines=("elasticsearch",),
                           metrics_config={"elasticsearch": {"password": SECRET}})
    assert SECRET not in repr(request) and request.metrics_config == {"elasticsearch": {}}


def test_a_password_inside_a_url_is_refused_with_where_to_put_it():
    with pytest.raises(ConfigError, match="MLFLOW_TRACKING_PASSWORD") as err:
        export_secrets({"mlflow": {"tracking_uri": f"http://admin:{SECRET}@m:5000"}})
    assert SECRET not in str(err.value)
    # A user name alone is no secret.
    assert export_secrets({"mlflow": {"tracking_uri": "http://admin@m:5000"}})


def test_credential_prefers_the_setting_then_the_environment(monkeypatch):
    assert credential(None, "VISDOM_PASSWORD") is None
    monkeypatch.setenv("VISDOM_PASSWORD", "from-env")
    assert credential(None, "VISDOM_PASSWORD") == "from-env"
    assert credential("given", "VISDOM_PASSWORD") == "given"
    monkeypatch.setenv("VISDOM_PASSWORD", "")
    assert credential(None, "VISDOM_PASSWORD") is None


def test_masking_settings_and_urls(monkeypatch):
    assert masked({"password": SECRET, "port": 1, "hosts": f"https://u:{SECRET}@es:9200"}) == \
        {"password": MASK, "port": 1, "hosts": "https://***@es:9200"}
    assert mask_url(f"cannot reach http://u:{SECRET}@h:1/x and ftp://a@b") == \
        "cannot reach http://***@h:1/x and ftp://***@b"
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", SECRET)
    shown = shown_settings(("mlflow", "console"), {"mlflow": {"tracking_uri": "http://m"}})
    assert shown == {"mlflow": {"tracking_uri": "http://m", "password": MASK}, "console": {}}


def test_dry_run_shows_the_engines_with_credentials_masked(tmp_path):
    config = json.dumps({"mlflow": {"password": SECRET},
                         "elasticsearch": {"hosts": "http://es:9200", "api_key": SECRET}})
    result = CliRunner().invoke(cli, ["--metrics-engine", "mlflow", "--metrics-engine",
                                      "elasticsearch", "--metrics-config", config, "train",
                                      "--dry-run", "--runs-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert SECRET not in result.output
    assert "metrics engines: mlflow (password=***); elasticsearch (hosts=http://es:9200, " \
           "api_key=***)" in result.output
    planned = json.loads(result.output.strip().splitlines()[-1])
    assert planned["metrics"]["mlflow"] == {"password": MASK}


def test_an_engine_written_without_the_base_class_has_no_secrets():
    class Plain:
        def __init__(self, context=None):
            pass

    assert engine_class(Plain).secrets == {} == Engine.secrets


@pytest.mark.parametrize(("host", "loopback"), [
    ("127.0.0.1", True), ("localhost", True), ("::1", True), ("[::1]", True),
    ("127.0.0.2", True), ("0.0.0.0", False), ("::", False), ("", False),
    ("192.168.1.5", False), ("example.org", False)])
def test_is_loopback(host, loopback):
    assert is_loopback(host) is loopback


def test_serve_on_an_open_host_without_a_key_warns_first(tmp_path):
    missing = str(tmp_path / "none.h5")
    open_host = CliRunner().invoke(cli, ["serve", "--host", "0.0.0.0", missing])
    warning, *rest = open_host.output.splitlines()
    assert warning.startswith("warning: --host 0.0.0.0 accepts requests from other machines "
                              "and no --api-key is set")
    assert rest and rest[-1].startswith("Error:")
    for args in (["--host", "127.0.0.1"], ["--host", "0.0.0.0", "--api-key", SECRET]):
        quiet = CliRunner().invoke(cli, ["serve", *args, missing])
        assert "warning" not in quiet.output and SECRET not in quiet.output
