"""kuberay/: the manifests as `make gke-ray-render` renders them, their fields, the
entrypoint through our CLI, and the way the job's driver joins a running Ray head."""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from cartpole.cli import cli
from tests.servers import free_port
from tests.waiting import wait_until

pytestmark = pytest.mark.slow  # every test here starts a process

ROOT = Path(__file__).parents[2]
BIN = Path(sys.executable).parent


def _render(name: str) -> dict:
    out = subprocess.run(["make", "--no-print-directory", "-C", str(ROOT), "gke-ray-render",
                          f"KUBERAY_MANIFEST={name}", "DOCKER_ORG=acme", "DOCKER_TAG=v7"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "$" not in out.stdout
    return yaml.safe_load(out.stdout)


def _containers(template: dict) -> list[dict]:
    return template["spec"]["containers"]


def _train_params(entrypoint: str) -> dict:
    """Parse the entrypoint's `cartpole train ...` as our CLI does; a typo fails."""
    args = shlex.split(entrypoint.split("&&")[-1])
    assert args[:2] == ["cartpole", "train"]
    ctx = cli.make_context("cartpole", args[1:])
    name, *rest = [*getattr(ctx, "_protected_args", []), *ctx.args]
    return cli.get_command(ctx, name).make_context(name, rest, parent=ctx).params


def _cpus(value: str) -> float:
    return float(value[:-1]) / 1000 if value.endswith("m") else float(value)


def test_rayjob_fields():
    job = _render("rayjob")
    assert job["apiVersion"] == "ray.io/v1" and job["kind"] == "RayJob"
    assert job["metadata"]["name"]
    spec = job["spec"]
    params = _train_params(spec["entrypoint"])
    assert params["backend"] == "ray" and params["ray_address"] == "auto"
    assert spec["shutdownAfterJobFinishes"] is True and spec["ttlSecondsAfterFinished"] > 0
    cluster = spec["rayClusterSpec"]
    head = cluster["headGroupSpec"]
    workers = cluster["workerGroupSpecs"]
    images = {c["image"] for t in [head["template"], *(w["template"] for w in workers)]
              for c in _containers(t)}
    assert images == {"acme/cartpole:v7"}
    assert head["rayStartParams"]["num-cpus"] == "0"  # trials never run on the head
    total = 0.0
    for group in workers:
        assert group["groupName"]
        assert group["minReplicas"] <= group["replicas"] <= group["maxReplicas"]
        for container in _containers(group["template"]):
            res = container["resources"]
            assert res["requests"]["cpu"] == res["limits"]["cpu"]
            assert res["limits"]["memory"].endswith("Gi")
            cpus = _cpus(res["limits"]["cpu"])
            # a trial peaks near 850 MiB: at least 1 GiB per trial a worker may run
            assert float(res["limits"]["memory"][:-2]) >= cpus
            total += cpus * group["replicas"]
    # --workers is the number of trials in flight: the workers' CPUs, no more.
    assert params["workers"] == total


def test_ray_version_is_the_images():
    rayjob = _render("rayjob")["spec"]["rayClusterSpec"]["rayVersion"]
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert f"ARG RAY_VERSION={rayjob}\n" in dockerfile


def test_results_land_on_the_volume_that_outlives_the_cluster():
    job = _render("rayjob")
    head = job["spec"]["rayClusterSpec"]["headGroupSpec"]["template"]["spec"]
    claim = next(v["persistentVolumeClaim"]["claimName"] for v in head["volumes"])
    mounts = {m["mountPath"]: m for m in head["containers"][0]["volumeMounts"]}
    assert {"/app/runs", "/app/.models"} <= set(mounts)
    assert head["securityContext"]["fsGroup"] == head["securityContext"]["runAsUser"] == 1000
    assert "cd /app &&" in job["spec"]["entrypoint"]  # runs/ and .models/ resolve there
    pvc = _render("runs-pvc")
    assert pvc["kind"] == "PersistentVolumeClaim" and pvc["metadata"]["name"] == claim
    fetch = _render("fetch-pod")
    assert fetch["kind"] == "Pod"
    assert fetch["spec"]["volumes"][0]["persistentVolumeClaim"]["claimName"] == claim


@pytest.fixture
def ray_head(tmp_path):
    """A real Ray head started by `ray start`, as KubeRay starts one; stopped by its
    process group."""
    temp = Path("/tmp") / f"cp-rayhead-{os.getpid()}-{free_port()}"  # short socket paths
    env = {**os.environ, "RAY_AUTH_MODE": "disabled", "RAY_TMPDIR": str(temp),
           "RAY_USAGE_STATS_ENABLED": "0"}
    log = (tmp_path / "ray-head.log").open("wb")
    proc = subprocess.Popen([str(BIN / "ray"), "start", "--head", "--block",
                             f"--port={free_port()}", "--num-cpus=2",
                             "--include-dashboard=false", f"--temp-dir={temp}",
                             "--disable-usage-stats"],
                            stdout=log, stderr=subprocess.STDOUT, env=env,
                            start_new_session=True)
    try:
        def head_up():
            assert proc.poll() is None, (tmp_path / "ray-head.log").read_text()
            return list(temp.glob("ray_current_cluster"))

        wait_until(head_up, "the Ray head to come up")
        yield env
    finally:
        for sig, wait in ((signal.SIGTERM, 5), (signal.SIGKILL, 10)):
            try:
                os.killpg(proc.pid, sig)
                proc.wait(wait)
                break
            except subprocess.TimeoutExpired:
                continue
            except ProcessLookupError:
                break
        log.close()
        subprocess.run(["rm", "-rf", str(temp)], check=False)


def test_the_driver_joins_a_running_head_as_in_the_rayjob(ray_head, tmp_path, quick):
    job = _render("rayjob")
    args = shlex.split(job["spec"]["entrypoint"].split("&&")[-1])
    backend = args[args.index("--backend"):args.index("--ray-address") + 2]
    cmd = [str(BIN / "cartpole"), "train", *backend, "--workers", "2",
           "--gamma", "0.95", "0.99", *quick(), "--seed", "0"]
    out = subprocess.run(cmd, cwd=tmp_path, env=ray_head, capture_output=True, text=True,
                         timeout=240)
    assert out.returncode == 0, out.stderr[-3000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert [t["status"] for t in result["trials"]] == ["completed", "completed"]
    assert (tmp_path / ".models" / "cartpole-rl-remote.h5").exists()
    assert re.search(r"runs/[\w-]+/t001/model\.h5$",
                     result["trials"][1]["model"] if "model" in result["trials"][1]
                     else result["trials"][1]["dir"] + "/model.h5")
