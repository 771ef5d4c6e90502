"""The SeldonDeployment manifests, rendered as `make seldon-render` renders them."""

import subprocess
from pathlib import Path

import pytest
import yaml

pytestmark = pytest.mark.slow  # every test here starts a process

ROOT = Path(__file__).parents[2]
SELDON_TYPES = {"INT", "FLOAT", "DOUBLE", "STRING", "BOOL", "JSON"}


def _render(kind):
    out = subprocess.run(["make", "--no-print-directory", "-C", str(ROOT), "seldon-render",
                          f"SELDON_MODEL_TYPE={kind}", "DOCKER_ORG=acme", "DOCKER_TAG=v7"],
                         capture_output=True, text=True, check=True).stdout
    assert "${" not in out
    return yaml.safe_load(out)


def _nodes(graph):
    yield graph
    for child in graph.get("children", []):
        yield from _nodes(child)


@pytest.mark.parametrize("kind", ["model", "abtest", "router"])
def test_structure(kind):
    doc = _render(kind)
    assert doc["apiVersion"] == "machinelearning.seldon.io/v1"
    assert doc["kind"] == "SeldonDeployment" and doc["metadata"]["name"]
    for predictor in doc["spec"]["predictors"]:
        containers = {c["name"]: c for spec in predictor["componentSpecs"]
                      for c in spec["spec"]["containers"]}
        assert all(c["image"] == "acme/cartpole-rl-remote:v7" for c in containers.values())
        served = set()
        for node in _nodes(predictor["graph"]):
            for p in node.get("parameters", []):
                assert {"name", "value", "type"} <= set(p) and p["type"] in SELDON_TYPES
            if "implementation" in node:  # served by Seldon itself, no container
                continue
            assert node["name"] in containers, f"{node['name']} has no container"
            served.add(node["name"])
        assert served == set(containers), "a container that no graph node uses"


def test_router_branches_match_its_children():
    graph = _render("router")["spec"]["predictors"][0]["graph"]
    params = {p["name"]: p["value"] for p in graph["parameters"]}
    assert graph["type"] == "ROUTER" and int(params["n_branches"]) == len(graph["children"]) == 3
    assert 0 <= float(params["epsilon"]) <= 1
    container = next(c for s in _render("router")["spec"]["predictors"][0]["componentSpecs"]
                     for c in s["spec"]["containers"] if c["name"] == graph["name"])
    env = {e["name"]: e["value"] for e in container["env"]}
    assert env == {"MODEL_NAME": "cartpole.serving.seldon.EpsilonGreedyRouter",
                   "SERVICE_TYPE": "ROUTER"}
    from cartpole.serving import seldon  # the class the container names exists

    assert hasattr(seldon, env["MODEL_NAME"].rsplit(".", 1)[1])


def test_abtest_has_two_children_and_a_ratio():
    graph = _render("abtest")["spec"]["predictors"][0]["graph"]
    ratio = next(p for p in graph["parameters"] if p["name"] == "ratioA")
    assert graph["implementation"] == "RANDOM_ABTEST" and len(graph["children"]) == 2
    assert 0 <= float(ratio["value"]) <= 1 and ratio["type"] == "FLOAT"


@pytest.mark.parametrize("target", ["seldon-build", "seldon-push", "gke-seldon-install",
                                    "gke-seldon-cartpole", "gke-seldon-cartpole-delete",
                                    "gke-seldon-uninstall"])
def test_make_targets_exist(target):
    subprocess.run(["make", "-n", "-C", str(ROOT), target], capture_output=True, check=True)
