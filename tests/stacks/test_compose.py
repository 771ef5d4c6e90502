"""The compose stacks, checked by docker-compose's own validator and against our code."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from cartpole.cli import cli
from cartpole.cli.train_request import parse_metrics_config
from cartpole.metrics.engines import check_engines
from tests.stacks.compose import COMPOSE_FILE, PROFILES, ROOT, config, mounts, ports, services

EXTERNAL_TAG = re.compile(r":\d+(\.\d+)+(-[\w.]+)?$")  # e.g. :8.15.3, :v1.17-debian-1 not


@pytest.mark.slow
@pytest.mark.parametrize("profile", sorted(PROFILES))
def test_every_profile_passes_docker_compose_config(profile):
    assert set(services(profile)) == PROFILES[profile]


@pytest.mark.slow
def test_the_validator_rejects_a_broken_file(tmp_path):
    broken = COMPOSE_FILE.read_text().replace("condition: service_healthy",
                                              "condition: when_it_feels_like_it", 1)
    (tmp_path / "docker-compose.yml").write_text(broken)
    out = config("efk", tmp_path / "docker-compose.yml")
    assert out.returncode != 0 and "when_it_feels_like_it" in out.stderr


@pytest.mark.slow
@pytest.mark.parametrize("profile", sorted(PROFILES))
def test_dependencies_stay_inside_the_profile_and_can_be_awaited(profile):
    svcs = services(profile)
    for name, svc in svcs.items():
        for dep, how in svc.get("depends_on", {}).items():
            assert dep in svcs, f"{name} depends on {dep}, outside profile {profile}"
            if how["condition"] == "service_healthy":
                assert svcs[dep].get("healthcheck", {}).get("test"), f"{dep} has no healthcheck"
            if how["condition"] == "service_completed_successfully":
                assert "restart" not in svcs[dep] and not svcs[dep].get("ports")


def _trainer_args(svc: dict) -> list[str]:
    args = [*svc["entrypoint"], *svc["command"]]
    assert args[0] == "cartpole"
    return args[1:]


def _check_with_our_cli(args: list[str]) -> tuple[tuple[str, ...], dict]:
    """Parse as `cartpole` would and check the engines' settings, without training."""
    ctx = cli.make_context("cartpole", list(args))
    engines = ctx.params["metrics_engines"]
    conf = parse_metrics_config(ctx.params["metrics_config"], engines)
    check_engines(engines, conf)
    name, *rest = [*getattr(ctx, "_protected_args", []), *ctx.args]
    command = cli.get_command(ctx, name)
    assert command is not None, f"no command {name}"
    command.make_context(name, rest, parent=ctx)
    return engines, conf


TRAINERS = {"train": ("trainer", ("console",)), "visdom": ("trainer-visdom", ("visdom",)),
            "efk": ("trainer-efk", ("log",)), "mlflow": ("trainer-mlflow", ("mlflow",))}


@pytest.mark.slow
@pytest.mark.parametrize("profile", sorted(TRAINERS))
def test_trainer_commands_are_accepted_by_our_cli(profile):
    name, engines = TRAINERS[profile]
    svc = services(profile)[name]
    got, _ = _check_with_our_cli(_trainer_args(svc))
    assert got == engines
    assert svc["image"] == "acme/cartpole:v7" and svc["build"]["target"] == "trainer"
    assert svc["user"] == "1234:1234"
    vols = mounts(svc)
    assert Path(vols["/app/runs"]["source"]) == ROOT / "runs"
    assert Path(vols["/app/.models"]["source"]) == ROOT / ".models"


def test_a_typo_in_a_trainer_command_would_fail():
    with pytest.raises(Exception, match="srv"):
        _check_with_our_cli(["--metrics-engine", "visdom", "--metrics-config",
                             '{"srv": "http://visdom"}', "train"])


@pytest.mark.slow
def test_visdom_trainer_points_at_the_visdom_service():
    svcs = services("visdom")
    _, conf = _check_with_our_cli(_trainer_args(svcs["trainer-visdom"]))
    server = conf["visdom"]
    assert urlsplit(server["server"]).hostname == "visdom"
    cmd = svcs["visdom"]["command"]
    assert cmd[:3] == ["python", "-m", "cartpole.metrics.visdom.server"]
    assert cmd[cmd.index("--port") + 1] == str(server["port"])
    assert cmd[cmd.index("--host") + 1] == "0.0.0.0"
    assert {p["target"] for p in ports(svcs["visdom"])} == {server["port"]}


@pytest.mark.slow
def test_mlflow_trainer_points_at_the_mlflow_service_which_accepts_that_host():
    svcs = services("mlflow")
    _, conf = _check_with_our_cli(_trainer_args(svcs["trainer-mlflow"]))
    uri = urlsplit(conf["mlflow"]["tracking_uri"])
    cmd = svcs["mlflow"]["command"]
    assert uri.hostname == "mlflow" and cmd[cmd.index("--port") + 1] == str(uri.port)
    allowed = cmd[cmd.index("--allowed-hosts") + 1].split(",")
    assert uri.netloc in allowed and "localhost:*" in allowed
    assert svcs["mlflow"]["build"]["target"] == "mlflow"
    store = cmd[cmd.index("--backend-store-uri") + 1]
    volume = next(iter(mounts(svcs["mlflow"])))
    assert store.startswith(f"sqlite:///{volume}/")
    assert cmd[cmd.index("--artifacts-destination") + 1].startswith(volume + "/")


@pytest.mark.slow
def test_efk_trainer_logs_through_fluentd_on_a_route_fluent_conf_takes():
    svcs = services("efk")
    trainer = svcs["trainer-efk"]
    logging = trainer["logging"]
    assert logging["driver"] == "fluentd"
    opts = logging["options"]
    # The daemon connects from the host, to the address the fluentd service publishes.
    host, port = opts["fluentd-address"].rsplit(":", 1)
    published = {(p["host_ip"], p["published"], p["protocol"]) for p in ports(svcs["fluentd"])}
    assert (host, int(port), "tcp") in published
    assert host == "127.0.0.1"
    conf = (ROOT / "scaffold/efk/fluent.conf").read_text()
    assert f"port {port}" in conf
    assert opts["tag"].startswith("docker.") and "<filter docker.**>" in conf
    assert _trainer_args(trainer)[:2] == ["--metrics-engine", "log"]
    env = svcs["fluentd"]["environment"]
    assert env["ELASTICSEARCH_HOST"] == "elasticsearch"
    assert "ELASTICSEARCH_HOST" in conf and "ELASTICSEARCH_PORT" in conf
    build = Path(svcs["fluentd"]["build"]["context"])
    assert (build / "Dockerfile").exists() and (build / "fluent.conf").exists()


def _shipped_script(svc: dict) -> Path:
    """The scaffold/efk script a one-shot service runs, from its read-only mount."""
    mount = next(v for v in mounts(svc).values() if v["type"] == "bind")
    assert Path(mount["source"]) == ROOT / "scaffold/efk" and mount.get("read_only")
    script = svc["entrypoint"][-1]
    assert svc["entrypoint"][0] == "sh" and script.startswith(mount["target"] + "/")
    local = ROOT / "scaffold/efk" / Path(script).name
    assert local.exists()
    return local


@pytest.mark.slow
def test_efk_init_loads_the_shipped_files():
    init = services("efk")["efk-init"]
    local = _shipped_script(init)
    text = local.read_text()
    for name in ("index-template.json", "kibana-dashboard.ndjson"):
        assert (local.parent / name).exists() and name in text
    assert init["environment"]["ELASTICSEARCH_URL"] == "http://elasticsearch:9200"
    assert init["environment"]["KIBANA_URL"] == "http://kibana:5601"
    json.loads((ROOT / "scaffold/efk/index-template.json").read_text())


@pytest.mark.slow
def test_efk_users_runs_before_kibana_and_fluentd_which_use_its_users():
    svcs = services("efk")
    users = svcs["efk-users"]
    text = _shipped_script(users).read_text()
    assert users["environment"]["ELASTICSEARCH_URL"] == "http://elasticsearch:9200"
    assert users["depends_on"]["elasticsearch"]["condition"] == "service_healthy"
    for name in ("kibana", "fluentd"):
        assert svcs[name]["depends_on"]["efk-users"]["condition"] == \
            "service_completed_successfully"
    # The users it sets are the ones Kibana and Fluentd log in as.
    assert svcs["kibana"]["environment"]["ELASTICSEARCH_USERNAME"] == "kibana_system"
    assert "/_security/user/kibana_system/_password" in text
    assert svcs["fluentd"]["environment"]["ELASTICSEARCH_USERNAME"] == "cartpole_writer"
    assert "/_security/user/cartpole_writer" in text
    assert "/_security/role/cartpole_writer" in text


@pytest.mark.slow
def test_external_images_are_pinned_and_the_elastic_pair_matches():
    images = {}
    for profile in PROFILES:
        for name, svc in services(profile).items():
            if "build" not in svc:
                images[name] = svc["image"]
                assert EXTERNAL_TAG.search(svc["image"]), f"{name}: {svc['image']} is not pinned"
    es, kibana = images["elasticsearch"], images["kibana"]
    assert es.rsplit(":", 1)[1] == kibana.rsplit(":", 1)[1]
    assert es.rsplit(":", 1)[1].startswith("8.")


@pytest.mark.slow
def test_the_healthchecks_use_tools_their_images_have():
    svcs = {**services("visdom"), **services("mlflow")}
    # Our images: the trainer has wget (Dockerfile), the MLflow server has Python.
    assert svcs["visdom"]["healthcheck"]["test"][1] == "wget"
    assert svcs["mlflow"]["healthcheck"]["test"][1] == "python"
    dockerfile = (ROOT / "Dockerfile").read_text()
    trainer_stage = dockerfile.split("AS runtime", 1)[1].split("AS polyaxon", 1)[0]
    assert "install -y --no-install-recommends wget" in trainer_stage
    code = svcs["mlflow"]["healthcheck"]["test"][-1]
    compile(code, "healthcheck", "exec")
    assert shlex.split(svcs["visdom"]["healthcheck"]["test"][-1])[0].endswith(
        f":{ports(svcs['visdom'])[0]['target']}/")
