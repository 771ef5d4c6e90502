"""The benchmark figures in the docs are rendered from the committed raw results.

Fast: runs no benchmark. It renders docs/benchmarks.md and the README's bench blocks
from benchmarks/results/*.json and compares them with the committed files, and checks
that every results file says on which machine, under which load, with which versions
and by which command it was measured.
"""

from __future__ import annotations

import json
import re

import pytest

from benchmarks import render
from benchmarks.harness import MACHINE_FIELDS, TOP_FIELDS

RESULT_FILES = sorted(render.RESULTS.glob("*.json"))


def test_docs_benchmarks_md_is_rendered_from_the_results():
    wanted = render.render_docs(render.load_results())
    assert render.DOCS.read_text() == wanted, "docs/benchmarks.md is stale: make bench-docs"


def test_readme_figures_are_rendered_from_the_results():
    text = render.README.read_text()
    assert render.render_readme(text, render.load_results()) == text, \
        "README.md's bench blocks are stale: make bench-docs"


def test_readme_has_every_bench_block_once():
    names = re.findall(r"<!-- bench:([a-z0-9-]+) -->", render.README.read_text())
    closes = re.findall(r"<!-- /bench:([a-z0-9-]+) -->", render.README.read_text())
    assert sorted(names) == sorted(render.BLOCKS) == sorted(closes)


def test_every_benchmark_has_a_results_file():
    assert sorted(p.stem for p in RESULT_FILES) == sorted(render.BENCHMARKS)


@pytest.mark.parametrize("path", RESULT_FILES, ids=lambda p: p.name)
def test_results_file_records_machine_load_versions_and_command(path):
    data = json.loads(path.read_text())
    missing = [k for k in TOP_FIELDS if k not in data]
    assert not missing, f"{path.name} lacks {missing}"
    assert data["benchmark"] == path.stem
    machine = data["machine"]
    missing = [k for k in MACHINE_FIELDS if k not in machine]
    assert not missing, f"{path.name}'s machine lacks {missing}"
    assert isinstance(machine["cpu_model"], str) and machine["cpu_model"]
    assert isinstance(machine["cores"], int) and machine["cores"] >= 1
    assert isinstance(machine["avx512"], bool)
    assert machine["tensorflow_import_seconds"] is None or \
        machine["tensorflow_import_seconds"] > 0
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", data["date"])
    assert len(data["load_average"]["start"]) == 3
    assert data["command"].strip() and data["versions"]
    assert all(isinstance(v, str) and v for v in data["versions"].values())


def test_render_shows_a_missing_benchmark_as_not_run():
    text = render.render_docs({})
    for name, (target, _) in render.BENCHMARKS.items():
        assert f"no `benchmarks/results/{name}.json`" in text
        assert f"`make {target}`" in text


# --- the training-speed figures: start-up, SB3 PPO, grid start-up and memory ---------------

def _results() -> dict:
    return render.load_results()


def test_startup_results_hold_what_the_section_renders():
    data = _results()["startup"]
    st, res = data["settings"], data["results"]
    assert st["repeats"] == len(res["runs"]) >= 1
    assert st["command"].startswith("cartpole train")
    assert set(st["targets"]) == {"whole_over_training", "peak_rss_mb"}
    for run in res["runs"]:
        assert run["wall"] > 0 and run["peak_rss_mb"] > 0
        assert run["phases"] is None or set(st["phases"]) <= set(run["phases"])
    for key in ("interpreter", "cli_import"):
        assert len(res["processes"][key]) == st["repeats"]
    for alt in res["alternatives"]:
        assert len(alt["seconds"]) == (st["repeats"] if alt["installed"] else 0)
    assert {"cli", "command"} <= set(res["import_profile"])
    rows = res["summary"]["rows"]
    assert [key for key, _, _ in render.STARTUP_ROWS] == list(rows)


def test_startup_section_renders_every_row_and_says_what_is_missing():
    data = _results()["startup"]
    text = "\n".join(render.startup_section(data))
    for _, label, _ in render.STARTUP_ROWS:
        assert f"| {label} |" in text
    # A run whose cartpole wrote no phases: those rows say so instead of failing.
    old = json.loads(json.dumps(data))
    for run in old["results"]["runs"]:
        run["phases"] = None
    old["results"]["summary"] = startup_summary(old["results"])
    text = "\n".join(render.startup_section(old))
    assert "| env creation | not measured in this run |" in text
    assert "writes no `phases`" in text


def startup_summary(res: dict) -> dict:
    from benchmarks.startup import summarise

    return summarise(res)


def test_import_profile_sums_self_time_per_top_level_package():
    from benchmarks.startup import import_profile

    stderr = "\n".join([
        "import time: self [us] | cumulative | imported package",
        "import time:       100 |        100 |   _io",
        "import time:      2000 |       2000 |     numpy._core",
        "import time:      1000 |       3000 |   numpy",
        "import time:       500 |       3500 | cartpole.cli",
        "some other line on stderr",
        "import time:      4000 |       4000 | tensorflow",
    ])
    profile = import_profile(stderr)
    assert profile["packages"]["numpy"] == {"seconds": 0.003, "modules": 2}
    assert profile["packages"]["(standard library)"]["modules"] == 1
    assert next(iter(profile["packages"])) == "tensorflow"
    assert profile["total_seconds"] == 0.0076
    assert profile["modules"] == 5
    assert profile["heavy_imported"] == ["tensorflow"]


def test_solve_section_has_the_ppo_headline_or_says_it_was_not_measured():
    data = _results().get("solve")
    if data is None:
        pytest.skip("no benchmarks/results/solve.json")
    text = "\n".join(render.solve_section(data))
    if "sb3_ppo" in data["results"]:
        assert "| ratio (cartpole / SB3 PPO) | **" in text
        assert "stable-baselines3 PPO** with the rl-baselines3-zoo" in text
    old = json.loads(json.dumps(data))
    old["results"].pop("sb3_ppo", None)
    old["settings"].pop("targets", None)
    text = "\n".join(render.solve_section(old))
    assert "- **stable-baselines3 PPO**: not measured in this run" in text
    assert "| ratio (cartpole / SB3 PPO) | not measured in this run |" in text
    assert render.performance_block({"solve": old})


def test_grid_section_renders_an_older_run_without_startup_or_targets():
    data = _results().get("grid")
    if data is None:
        pytest.skip("no benchmarks/results/grid.json")
    old = json.loads(json.dumps(data))
    old["settings"].pop("targets", None)
    for pair in old["results"]["pairs"]:
        for run in (pair["one"], pair["two"]):
            for key in ("wall_over_training", "startup_seconds_median", "startup_seconds_max",
                        "phases"):
                run.pop(key, None)
    text = "\n".join(render.grid_section(old))
    assert ("| trial start-up, median / max (s) | not measured in this run | "
            "not measured in this run |") in text
    assert "| wall / (summed training / workers) | " in text  # computed from wall and sum


def test_bench_runs_every_benchmark_target_and_help_lists_them():
    makefile = (render.ROOT / "Makefile").read_text()
    bench = makefile.split("\nbench:", 1)[1].split("\n\n", 1)[0]
    for target, _ in render.BENCHMARKS.values():
        assert f"--no-print-directory {target}\n" in bench, f"make bench skips {target}"
        assert re.search(rf"^{target}:.*## ", makefile, re.M), f"make help misses {target}"
