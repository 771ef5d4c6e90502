"""The Seldon Core 2 and KServe manifests (seldon/v2/), rendered as `make -C seldon/v2
v2-render` renders them, and the MLServer image they name (seldon/mlserver/Dockerfile).

No Kubernetes here: the structure is checked, and the two ways a cluster would start
MLServer with our runtime are replayed with the real `mlserver start` on loopback: KServe's
(model settings from the ServingRuntime's MLSERVER_MODEL_* variables, model in
/mnt/models), and Seldon Core 2's (no model at start; its agent loads each Model through
MLServer's repository API).
"""

import json
import re
import shutil
import subprocess
import sys
import urllib.request
from pathlib import Path

import numpy as np
import pytest
import yaml

from cartpole.serving.policy import ServedPolicy
from tests.servers import MLSERVER_VENV, free_port, start

pytestmark = [pytest.mark.slow,  # every test here starts a process (make, mlserver)
              pytest.mark.xdist_group("mlserver")]

ROOT = Path(__file__).parents[2]
V2 = ROOT / "seldon" / "v2"
MLSERVER = ROOT / "seldon" / "mlserver"
IMAGE = "acme/cartpole-mlserver:v7"
URI_A, URI_B = "gs://acme/cartpole/a", "gs://acme/cartpole/b"
RUNTIME = "cartpole.serving.mlserver.CartpoleRuntime"
SELDON = "mlops.seldon.io/v1alpha1"


def _render(manifest):
    out = subprocess.run(["make", "--no-print-directory", "-C", str(V2), "v2-render",
                          f"V2_MANIFEST={manifest}", "DOCKER_ORG=acme", "DOCKER_TAG=v7",
                          f"MODEL_URI={URI_A}", f"MODEL_URI_B={URI_B}"],
                         capture_output=True, text=True, check=True).stdout
    assert "${" not in out
    docs = [doc for doc in yaml.safe_load_all(out) if doc]
    for doc in docs:
        assert doc["metadata"]["name"] and "namespace" not in doc["metadata"]
    return docs


def _by_kind(docs):
    found = {}
    for doc in docs:
        found.setdefault(doc["kind"], []).append(doc)
    return found


def _capabilities():
    [server] = _render("server")
    return set(server["spec"]["extraCapabilities"])


def test_server_runs_our_image_in_mlservers_container():
    [server] = _render("server")
    assert (server["apiVersion"], server["kind"]) == (SELDON, "Server")
    assert server["spec"]["serverConfig"] == "mlserver"
    # The ServerConfig's MLServer container is called "mlserver": a container of the same
    # name overrides its image, any other name would be a second container.
    [container] = server["spec"]["podSpec"]["containers"]
    assert container == {"name": "mlserver", "image": IMAGE}
    assert "cartpole" in server["spec"]["extraCapabilities"]


def test_model_lands_on_our_server():
    [model] = _render("model")
    assert (model["apiVersion"], model["kind"]) == (SELDON, "Model")
    assert model["spec"]["storageUri"] == URI_A
    assert set(model["spec"]["requirements"]) <= _capabilities()


def test_experiment_splits_between_its_two_models():
    kinds = _by_kind(_render("experiment"))
    assert set(kinds) == {"Model", "Experiment"}
    models = {m["metadata"]["name"]: m for m in kinds["Model"]}
    assert [m["spec"]["storageUri"] for m in models.values()] == [URI_A, URI_B]
    for model in models.values():
        assert model["apiVersion"] == SELDON
        assert set(model["spec"]["requirements"]) <= _capabilities()
    [experiment] = kinds["Experiment"]
    assert experiment["apiVersion"] == SELDON
    candidates = experiment["spec"]["candidates"]
    assert {c["name"] for c in candidates} == set(models) and len(candidates) == 2
    assert all(isinstance(c["weight"], int) and c["weight"] > 0 for c in candidates)
    assert candidates[0]["weight"] == candidates[1]["weight"]  # an even A/B split
    assert experiment["spec"]["default"] in models


def _serving_runtime():
    kinds = _by_kind(_render("kserve"))
    assert set(kinds) == {"ServingRuntime", "InferenceService"}
    return kinds["ServingRuntime"][0], kinds["InferenceService"][0]


def test_inference_service_uses_our_mlserver_runtime_over_v2():
    runtime, service = _serving_runtime()
    assert runtime["apiVersion"] == "serving.kserve.io/v1alpha1"
    assert service["apiVersion"] == "serving.kserve.io/v1beta1"
    model = service["spec"]["predictor"]["model"]
    assert model["runtime"] == runtime["metadata"]["name"]
    assert model["modelFormat"]["name"] in {f["name"] for f in
                                            runtime["spec"]["supportedModelFormats"]}
    assert model["protocolVersion"] == "v2" and "v2" in runtime["spec"]["protocolVersions"]
    assert model["storageUri"] == URI_A
    [container] = runtime["spec"]["containers"]
    assert container["name"] == "kserve-container" and container["image"] == IMAGE
    env = {e["name"]: e["value"] for e in container["env"]}
    assert env["MLSERVER_MODEL_IMPLEMENTATION"] == RUNTIME
    assert env["MLSERVER_MODEL_URI"] == "/mnt/models"  # where KServe puts storageUri
    # A model-settings.json in the folder would win over the variables: it names the
    # model as the service does.
    settings = json.loads((MLSERVER / "model-settings.json").read_text())
    assert settings["name"] == service["metadata"]["name"]


def test_every_manifest_names_the_runtime_that_exists():
    settings = json.loads((MLSERVER / "model-settings.json").read_text())
    assert settings["implementation"] == RUNTIME
    module, name = RUNTIME.rsplit(".", 1)
    python = MLSERVER_VENV / "bin" / "python"
    assert python.exists(), f"{python} is missing: run `make mlserver-venv`"
    out = subprocess.run([str(python), "-c", f"import {module} as m, mlserver; "
                          f"print(issubclass(m.{name}, mlserver.MLModel))"],
                         capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "True", out.stderr


@pytest.mark.parametrize("target", ["mlserver-build", "mlserver-push", "v2-apply",
                                    "v2-delete", "help"])
@pytest.mark.parametrize("manifest", ["server", "model", "experiment", "kserve"])
def test_make_targets_exist(target, manifest):
    subprocess.run(["make", "-n", "-C", str(V2), target, f"V2_MANIFEST={manifest}"],
                   capture_output=True, check=True)


def test_image_is_hadolint_clean_pinned_and_copies_only_what_it_is_given():
    dockerfile = (MLSERVER / "Dockerfile").read_text()
    hadolint = str(Path(sys.executable).with_name("hadolint"))
    out = subprocess.run([hadolint, "--no-color", str(MLSERVER / "Dockerfile")],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr
    base = re.search(r"^FROM (\S+)", dockerfile, re.M).group(1)
    seldon_base = re.search(r"^FROM (\S+)", (ROOT / "seldon" / "Dockerfile").read_text(),
                            re.M).group(1)
    assert base == seldon_base, "one pinned Python image for both serving images"
    assert re.search(r"^USER 1000$", dockerfile, re.M)  # Seldon Core 2's runAsUser
    kept = [line[1:].rstrip("/") for line in
            (MLSERVER / "Dockerfile.dockerignore").read_text().splitlines()
            if line.startswith("!")]
    for sources in re.findall(r"^COPY (.+) \S+$", dockerfile, re.M):
        for source in sources.split():
            assert source.rstrip("/") in kept, f"{source} is left out of the context"
            assert (ROOT / source).exists()


def _model_folder(folder, model_file, settings=True):
    folder.mkdir(parents=True)
    shutil.copy(model_file, folder / "cartpole-rl-remote.h5")
    shutil.copy(model_file.with_suffix(".json"), folder / "cartpole-rl-remote.json")
    if settings:
        shutil.copy(MLSERVER / "model-settings.json", folder)
    return folder


def _infer(url, name, obs):
    body = {"inputs": [{"name": "obs", "datatype": "FP32", "shape": list(obs.shape),
                        "data": obs.ravel().tolist()}]}
    request = urllib.request.Request(f"{url}/v2/models/{name}/infer", method="POST",
                                     data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as reply:
        return json.loads(reply.read())["outputs"][0]["data"]


def _loopback_env(workdir):
    port = free_port()
    return port, {"MLSERVER_HOST": "127.0.0.1", "MLSERVER_HTTP_PORT": str(port),
                  "MLSERVER_GRPC_PORT": str(free_port()),
                  "MLSERVER_METRICS_PORT": str(free_port()),
                  "MLSERVER_METRICS_DIR": str(workdir / "metrics")}


def test_kserve_runtimes_environment_serves_the_model(tmp_path, model_file):
    """The ServingRuntime's variables, as KServe sets them for a service called
    ``pole-isvc``, with /mnt/models a folder here holding only the model pair, and the
    image's command (mlserver start "$MLSERVER_MODELS_DIR")."""
    runtime, _ = _serving_runtime()
    mnt = _model_folder(tmp_path / "mnt-models", model_file, settings=False)
    env = {e["name"]: e["value"].replace("{{.Name}}", "pole-isvc")
           .replace("/mnt/models", str(mnt)) for e in runtime["spec"]["containers"][0]["env"]}
    port, loopback = _loopback_env(tmp_path)
    env |= loopback  # its own ports, on loopback
    server = start([str(MLSERVER_VENV / "bin" / "mlserver"), "start",
                    env["MLSERVER_MODELS_DIR"]], f"http://127.0.0.1:{port}",
                   tmp_path / "kserve.log", "/v2/models/pole-isvc/ready", timeout=90, env=env)
    try:
        obs = np.random.default_rng(3).normal(0, 0.5, (8, 4)).astype(np.float32)
        assert _infer(server.url, "pole-isvc", obs) == ServedPolicy.load(model_file) \
            .act(obs).tolist()
    finally:
        server.stop(grace=10)


def test_seldon_core_2s_way_of_loading_serves_the_model(tmp_path, model_file):
    """The mlserver ServerConfig's variables (no model at start), then what its agent does
    once the Model's folder (model-settings.json beside the model pair) is downloaded:
    ``POST /v2/repository/models/{name}/load``. (The agent also renames the model to
    ``NAME_VERSION`` in its model-settings.json; that is not replayed.)"""
    models = tmp_path / "agent-models"
    _model_folder(models / "cartpole", model_file)
    port, env = _loopback_env(tmp_path)
    env |= {"MLSERVER_MODELS_DIR": str(models), "MLSERVER_MODEL_PARALLEL_WORKERS": "1",
            "MLSERVER_LOAD_MODELS_AT_STARTUP": "false"}
    server = start([str(MLSERVER_VENV / "bin" / "mlserver"), "start", str(models)],
                   f"http://127.0.0.1:{port}", tmp_path / "seldon2.log", "/v2/health/ready",
                   timeout=90, env=env)
    try:
        with pytest.raises(urllib.error.HTTPError):  # not loaded yet
            urllib.request.urlopen(f"{server.url}/v2/models/cartpole/ready", timeout=10)
        load = urllib.request.Request(f"{server.url}/v2/repository/models/cartpole/load",
                                      method="POST", data=b"")
        with urllib.request.urlopen(load, timeout=60) as reply:
            assert reply.status == 200
        obs = np.random.default_rng(4).normal(0, 0.5, (8, 4)).astype(np.float32)
        assert _infer(server.url, "cartpole", obs) == ServedPolicy.load(model_file) \
            .act(obs).tolist()
    finally:
        server.stop(grace=10)
