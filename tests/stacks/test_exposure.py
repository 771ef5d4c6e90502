"""Contract 6 in the compose stacks: every published port on loopback unless .env opts
in, a credential wherever a port can be exposed, secrets in environments only.
Checked on docker-compose's own rendering of the file, with .env files that
scaffold/env.py wrote."""

from __future__ import annotations

import configparser
import json
import shutil
from pathlib import Path

import pytest

from tests.stacks.compose import (
    COMPOSE_FILE,
    PROFILES,
    ROOT,
    config,
    default_env_file,
    env_values,
    make_env,
    mounts,
    ports,
    resolve,
    services,
)

pytestmark = pytest.mark.slow  # every test here runs docker-compose

# What each stack publishes, by service: (container port, protocol).
PUBLISHED = {"visdom": {(8097, "tcp")}, "elasticsearch": {(9200, "tcp")},
             "kibana": {(5601, "tcp")}, "fluentd": {(24224, "tcp"), (24224, "udp")},
             "mlflow": {(5000, "tcp")}}
SECRETS = ("ELASTIC_PASSWORD", "KIBANA_SYSTEM_PASSWORD", "CARTPOLE_ES_PASSWORD",
           "MLFLOW_TRACKING_PASSWORD", "MLFLOW_FLASK_SERVER_SECRET_KEY", "VISDOM_PASSWORD")


def _every_service(env_file=None) -> dict[str, dict]:
    found = {}
    for profile in PROFILES:
        found |= services(profile) if env_file is None else resolve(profile, env_file)
    return found


@pytest.mark.parametrize("profile", sorted(PROFILES))
def test_by_default_every_published_port_binds_loopback(profile):
    svcs = services(profile)
    for name, svc in svcs.items():
        got = ports(svc)
        assert {(p["target"], p["protocol"]) for p in got} == PUBLISHED.get(name, set()), name
        for port in got:
            assert port["host_ip"] == "127.0.0.1", f"{name} publishes {port}"


@pytest.fixture(scope="module")
def exposed_env(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("exposed") / ".env"
    make_env(path, {"BIND_ADDRESS": "0.0.0.0"})
    return path


def _env(svc: dict) -> dict[str, str]:
    return {k: "" if v is None else str(v) for k, v in (svc.get("environment") or {}).items()}


def _filled(value: str | None) -> bool:
    return bool(value) and len(value) >= 24


def _check_visdom(svcs, env):
    svc = svcs["visdom"]
    assert "--enable-login" in svc["command"]
    assert _env(svc)["VISDOM_USERNAME"] == env["VISDOM_USERNAME"] != ""
    assert _env(svc)["VISDOM_PASSWORD"] == env["VISDOM_PASSWORD"]
    assert _filled(env["VISDOM_PASSWORD"])


def _check_elasticsearch(svcs, env):
    svc = _env(svcs["elasticsearch"])
    assert svc["xpack.security.enabled"] == "true"
    assert svc["ELASTIC_PASSWORD"] == env["ELASTIC_PASSWORD"] and _filled(svc["ELASTIC_PASSWORD"])


def _check_kibana(svcs, env):
    svc = _env(svcs["kibana"])
    assert svc["ELASTICSEARCH_USERNAME"] == "kibana_system"
    assert svc["ELASTICSEARCH_PASSWORD"] == env["KIBANA_SYSTEM_PASSWORD"]
    assert _filled(svc["ELASTICSEARCH_PASSWORD"])


def _check_mlflow(svcs, env):
    svc = svcs["mlflow"]
    cmd = svc["command"]
    assert cmd[cmd.index("--app-name") + 1] == "basic-auth"
    variables = _env(svc)
    assert variables["MLFLOW_AUTH_ADMIN_USERNAME"] == env["MLFLOW_TRACKING_USERNAME"] != ""
    assert variables["MLFLOW_AUTH_ADMIN_PASSWORD"] == env["MLFLOW_TRACKING_PASSWORD"]
    assert _filled(variables["MLFLOW_AUTH_ADMIN_PASSWORD"])
    assert _filled(variables["MLFLOW_FLASK_SERVER_SECRET_KEY"])
    # The auth config is the shipped file, read-only, keeping its users in the volume.
    ini_path = variables["MLFLOW_AUTH_CONFIG_PATH"]
    mount = mounts(svc)[ini_path]
    assert Path(mount["source"]) == ROOT / "scaffold/mlflow/basic_auth.ini"
    assert mount["read_only"]
    ini = configparser.ConfigParser()
    ini.read(mount["source"])
    volume = next(t for t, m in mounts(svc).items() if m["type"] == "volume")
    assert ini["mlflow"]["database_uri"] == f"sqlite:///{volume}/basic_auth.db"
    assert ini["mlflow"]["default_permission"] == "NO_PERMISSIONS"
    assert "admin_password" not in ini["mlflow"]


GUARDS = {"visdom": _check_visdom, "elasticsearch": _check_elasticsearch,
          "kibana": _check_kibana, "mlflow": _check_mlflow}


def test_opting_in_exposes_only_servers_that_ask_for_a_credential(exposed_env):
    env = env_values(exposed_env)
    assert env["BIND_ADDRESS"] == "0.0.0.0"
    svcs = _every_service(exposed_env)
    exposed = set()
    for name, svc in svcs.items():
        for port in ports(svc):
            if port["host_ip"] != "127.0.0.1":
                assert port["host_ip"] == "0.0.0.0", f"{name}: {port}"
                exposed.add(name)
    assert exposed == set(GUARDS)
    for name in sorted(exposed):
        GUARDS[name](svcs, env)
    # Fluentd's forward input stays on loopback whatever BIND_ADDRESS says.
    assert {p["host_ip"] for p in ports(svcs["fluentd"])} == {"127.0.0.1"}


def test_the_credentials_are_on_by_default_too():
    env = env_values(default_env_file())
    assert "BIND_ADDRESS" not in env
    svcs = _every_service()
    for guard in GUARDS.values():
        guard(svcs, env)


def test_bind_address_from_the_shell_opts_in_as_well():
    """What `BIND_ADDRESS=0.0.0.0 make ...` does: compose takes the shell's value."""
    svcs = resolve("mlflow", environ={"BIND_ADDRESS": "0.0.0.0"})
    assert [p["host_ip"] for p in ports(svcs["mlflow"])] == ["0.0.0.0"]


@pytest.mark.parametrize("profile", sorted(PROFILES))
def test_without_a_dot_env_compose_says_to_run_make_env(profile, tmp_path):
    shutil.copy(COMPOSE_FILE, tmp_path / "docker-compose.yml")
    out = config(profile, tmp_path / "docker-compose.yml", env_file=None)
    assert out.returncode != 0
    assert "run make env" in out.stderr


def test_secrets_reach_containers_through_their_environment_only():
    env = env_values(default_env_file())
    values = {key: env[key] for key in SECRETS}
    assert all(_filled(v) for v in values.values())
    for name, svc in _every_service().items():
        rest = {k: v for k, v in svc.items() if k != "environment"}
        text = json.dumps(rest)
        for key, value in values.items():
            assert value not in text, f"{name} carries {key} outside its environment"
        # A healthcheck that needs one expands it inside the container ($$ in the file).
        test = json.dumps(svc.get("healthcheck", {}).get("test", []))
        for key in SECRETS:
            if key in test:
                assert f"$${key}" in test and key in _env(svc), name


def _setting_names(svc: dict) -> set[str]:
    """Every key in a trainer's --metrics-config, at any depth."""
    args = [*svc["entrypoint"], *svc["command"]]
    if "--metrics-config" not in args:
        return set()
    names, todo = set(), [json.loads(args[args.index("--metrics-config") + 1])]
    while todo:
        node = todo.pop()
        if isinstance(node, dict):
            names |= set(node)
            todo.extend(node.values())
    return names


def test_trainers_get_the_credentials_of_the_servers_they_talk_to():
    svcs = _every_service()
    pairs = [  # (trainer variable, server, server variable)
        ("trainer-mlflow", "MLFLOW_TRACKING_USERNAME", "mlflow", "MLFLOW_AUTH_ADMIN_USERNAME"),
        ("trainer-mlflow", "MLFLOW_TRACKING_PASSWORD", "mlflow", "MLFLOW_AUTH_ADMIN_PASSWORD"),
        ("trainer-visdom", "VISDOM_USERNAME", "visdom", "VISDOM_USERNAME"),
        ("trainer-visdom", "VISDOM_PASSWORD", "visdom", "VISDOM_PASSWORD"),
        # and the users the one-shot efk-users sets are the ones Kibana and Fluentd use
        ("kibana", "ELASTICSEARCH_PASSWORD", "efk-users", "KIBANA_SYSTEM_PASSWORD"),
        ("fluentd", "ELASTICSEARCH_PASSWORD", "efk-users", "CARTPOLE_ES_PASSWORD"),
        ("efk-init", "ELASTIC_PASSWORD", "elasticsearch", "ELASTIC_PASSWORD"),
        ("efk-users", "ELASTIC_PASSWORD", "elasticsearch", "ELASTIC_PASSWORD"),
        ("kibana", "ELASTIC_PASSWORD", "elasticsearch", "ELASTIC_PASSWORD"),
    ]
    for client, variable, server, server_variable in pairs:
        got = _env(svcs[client]).get(variable)
        assert got and got == _env(svcs[server]).get(server_variable), (client, variable)
    for name in ("trainer", "trainer-visdom", "trainer-efk", "trainer-mlflow"):
        assert _env(svcs[name])["HOME"] == "/tmp", name  # the anchor's environment kept
        secret_keys = {"username", "password", "api_key", "token"} & _setting_names(svcs[name])
        assert not secret_keys, f"{name}: credentials in --metrics-config"


def test_the_mlflow_image_has_the_auth_app():
    """`--app-name basic-auth` needs MLflow's `auth` extra (Flask-WTF) in the image."""
    svc = services("mlflow")["mlflow"]
    dockerfile = (ROOT / "Dockerfile").read_text()
    stage = dockerfile.split(f"AS {svc['build']['target']}\n", 1)[1].split("\nFROM ", 1)[0]
    assert 'pip install "mlflow[auth]==${MLFLOW_VERSION}"' in stage
