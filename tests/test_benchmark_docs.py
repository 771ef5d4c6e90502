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


# Benchmarks whose results file is not committed yet: they render as not run. Remove a
# name once its file is in benchmarks/results/ (search: `make bench-search` on a quiet machine).
NOT_YET_RUN: set[str] = set()


def test_every_benchmark_has_a_results_file():
    stems, names = {p.stem for p in RESULT_FILES}, set(render.BENCHMARKS)
    assert stems <= names, f"results files of no benchmark: {sorted(stems - names)}"
    missing = names - stems
    assert missing <= NOT_YET_RUN, f"no results file for {sorted(missing - NOT_YET_RUN)}"


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


# --- serving: the targets of the V2 issue, the MLServer peer, the HTTP cores ----------------

def _serve_cell(connections: int, rps: float, p99: float, failed: bool = False) -> dict:
    return {"connections": connections, "rps": rps, "requests": int(2 * rps),
            "p50_ms": p99 / 2, "p99_ms": p99, "socket_errors": {},
            "non_2xx": 3 if failed else 0, "failed": failed,
            "reason": "3 non-2xx answers" if failed else None}


# req/s and p99 (ms) at 16 connections; half the req/s at 1
SERVE_FIGURES = {"seldon-numpy": (1000, 40.0), "floor": (40000, 1.0),
                 "floor-granian": (42000, 1.2), "cartpole-serve": (28000, 1.8),
                 "cartpole-serve-v2": (24000, 2.0), "core-uvicorn": (28500, 1.8),
                 "core-granian": (30000, 2.0), "mlserver": (4000, 9.0),
                 "mlserver-default": (1500, 60.0)}


def _new_serve_run(figures: dict | None = None) -> dict:
    """A serve-stacks results file as benchmarks/serve_stacks.py now writes it, with
    made-up figures: one row per server, and one round of every compared server in turn."""
    from benchmarks import serve_stacks as ss

    figures = {**SERVE_FIGURES, **(figures or {})}
    data = json.loads((render.RESULTS / "serve-stacks.json").read_text())
    data["settings"].update(
        targets=ss.TARGETS, ratios=ss.RATIOS, v2_body=ss.V2_BODY, v2_path=ss.V2_PATH,
        v2_peer=ss.V2_PEER, rounds=1, round_seconds=4,
        mlserver={"venv": ".venv-mlserver", "settings": {"parallel_workers": 0, "debug": False},
                  "default_row_settings": {"debug": False}, "model_settings": {}},
        v2_grpc={"load_tested": False, "why": ss.V2_GRPC})
    data["versions"]["mlserver-venv:mlserver"] = "1.7.1"
    rows = [{"key": key, "stack": key, "role": "role", "environment": "venv",
             "command": key, "load_1min": 1.0, "ready_s": 0.4, "rss_mb": 70.0,
             "cells": [_serve_cell(1, rps / 2, p99), _serve_cell(16, rps, p99)]}
            for key, (rps, p99) in figures.items()]
    keys = [k for k in ss.ALTERNATE if k in figures]
    rounds = [{"round": 0, "connections": c, "load_1min": 1.0,
               "cells": {k: _serve_cell(c, figures[k][0] * c / 16, figures[k][1])
                         for k in keys}} for c in (1, 16)]
    data["results"] = {"rows": rows, "skipped": [],
                       "alternate": {"keys": keys, "not_started": {}, "rounds": rounds}}
    return data


def test_serve_ratios_of_the_renderer_are_those_the_benchmark_records():
    from benchmarks import serve_stacks as ss

    assert set(render.SERVE_RATIOS) == set(ss.RATIOS)
    for name, spec in ss.RATIOS.items():
        assert render.SERVE_RATIOS[name] == {**spec, "to": spec["to"] if name != "ratio"
                                             else None}
    assert set(ss.ALTERNATE) >= {k for s in ss.RATIOS.values() for k in (s["of"], s["to"])}


def test_serve_round_ratios_leave_out_a_failed_cell():
    from benchmarks import serve_stacks as ss

    cells = {"cartpole-serve": _serve_cell(16, 30000, 2.0), "floor": _serve_cell(16, 40000, 1.0),
             "cartpole-serve-v2": _serve_cell(16, 20000, 2.0, failed=True)}
    ratios = ss.round_ratios(cells)
    assert ratios == {"floor_ratio": 0.75, "p99_over_floor": 2.0}


def test_serve_section_says_met_or_not_met_for_every_target():
    text = "\n".join(render.serve_section(_new_serve_run()))
    how = "(the median of 1 round measured in turn)"
    assert (f"| v1 REST req/s ÷ the constant floor's (uvicorn), 16 connections | 0.7× {how} "
            "| ≥ 0.65×: met |") in text
    assert (f"| v1 REST p99 ÷ the constant floor's p99 (uvicorn), 16 connections | 1.8× {how} "
            "| ≤ 2×: met |") in text
    assert f"| V2 REST req/s ÷ v1 REST's, 16 connections | 0.86× {how} | ≥ 0.8×: met |" in text
    assert f"16 connections; MLServer 1.7.1 with our `CartpoleRuntime` (settings " \
           f"`\"parallel_workers\": 0`, `\"debug\": false`) | 6.0× {how} | ≥ 5×: met |" in text
    assert "| `cartpole serve` resident memory after the load (MB) | 70 | ≤ 100 MB: met |" in text
    assert "| `cartpole serve` start to first answer (s) | 0.40 | ≤ 1 s: met |" in text
    assert "V2 gRPC is not in the load table: ghz" in text
    assert "| granian | 30,000 / 42,000 | 0.71× |" in text
    assert "| built-in (`cartpole serve`) | 28,000 / 40,000 | 0.7× |" in text
    assert "| uvicorn (httptools, uvloop) | 28,500 / 40,000 | 0.71× |" in text
    assert ("The built-in HTTP server answers 0.98× the requests per second of the same app "
            f"on uvicorn at 16 connections {how}: the built-in server is not the faster one "
            "in this run") in text
    assert f"On granian, the app answers 1.1× the requests per second it answers on uvicorn " \
           f"at 16 connections {how}" in text
    assert "so the setting of the peer is the faster of the two in this run" in text
    readme = render.performance_block({"serve-stacks": _new_serve_run()})
    assert "MLServer 1.7.1 with our `CartpoleRuntime` and `\"parallel_workers\": 0` " \
           "(target 5×: met)" in readme
    assert "(target 0.65×: met;" in readme

    slow = _new_serve_run({"cartpole-serve-v2": (12000, 2.0), "cartpole-serve": (20000, 5.0)})
    slow["results"]["rows"][3]["rss_mb"] = 120.0  # cartpole-serve
    text = "\n".join(render.serve_section(slow))
    assert f"| 0.5× {how} | ≥ 0.65×: **not met** |" in text
    assert f"| 5.0× {how} | ≤ 2×: **not met** |" in text
    assert f"| 0.6× {how} | ≥ 0.8×: **not met** |" in text
    assert f"| 3.0× {how} | ≥ 5×: **not met** |" in text
    assert "| 120 | ≤ 100 MB: **not met** |" in text
    assert "(target 5×: **not met**)" in render.performance_block({"serve-stacks": slow})


def test_serve_section_never_averages_a_failed_round_away():
    data = _new_serve_run()
    data["results"]["alternate"]["rounds"][1]["cells"]["floor"]["failed"] = True
    text = "\n".join(render.serve_section(data))
    assert ("| v1 REST req/s ÷ the constant floor's (uvicorn), 16 connections | **failed** "
            "(the median of 1 round measured in turn; a cell failed) | ≥ 0.65×: **not met**, "
            "no value |") in text
    assert "**no median** (a cell failed)" in text


def test_serve_section_renders_an_older_run_without_the_new_rows():
    data = json.loads((render.RESULTS / "serve-stacks.json").read_text())
    old_keys = {"seldon-numpy", "fastapi", "starlette", "asgi", "floor", "cartpole-serve",
                "seldon-keras"}
    for key in ("ratios", "v2_body", "v2_path", "v2_peer", "mlserver", "v2_grpc",
                "http_cores"):
        data["settings"].pop(key, None)
    data["results"]["rows"] = [r for r in data["results"]["rows"] if r["key"] in old_keys]
    data["results"].pop("skipped", None)
    alt = data["results"].get("alternate")
    if alt:
        alt["keys"] = [k for k in alt["keys"] if k in old_keys]
        for r in alt["rounds"]:
            r["cells"] = {k: c for k, c in r["cells"].items() if k in old_keys}
    text = "\n".join(render.serve_section(data))
    assert "| V2 REST req/s ÷ v1 REST's, 16 connections | not measured in this run |" in text
    assert "| V2 REST req/s ÷ MLServer's (V2 REST), 16 connections | not measured in this " \
           "run |" in text
    assert "V2 gRPC: not measured in this run." in text
    assert "the HTTP core candidates: not measured in this run" in text
    readme = render.performance_block({"serve-stacks": data})
    assert "`cartpole serve` answers" in readme and "MLServer" not in readme


# --- search: a pruned grid against a full one ---------------------------------------------

def _search_trials(statuses: list[str], steps: int = 20_000) -> list[dict]:
    return [{"trial": f"t{i:03d}", "status": st, "score": 500.0 if st == "completed" else 150.0,
             "steps": steps if st == "completed" else 4_000,
             "seconds": 1.5 if st == "completed" else 0.3, "episodes": 100,
             "solved_at_step": steps if st == "completed" else None, "seed": 0,
             "peak_rss_mb": 90.0, "startup": 0.05, "hparams": {"gamma": 0.99}}
            for i, st in enumerate(statuses)]


def _search_run(mode: str, seed: int, wall: float, score: float, pruned: int = 0) -> dict:
    trials = _search_trials(["completed"] * (16 - pruned) + ["pruned"] * pruned)
    prune = {"full": "none", "pruned": "asha"}[mode]
    command = f"cartpole train --gamma 0.98 0.99 --seed {seed} --prune {prune}"
    return {"mode": mode, "prune": prune, "seed": seed, "argv": command.split(),
            "command": command, "wall": wall, "exit_code": 0, "load_1min": 0.2,
            "group": "g", "state": "completed", "model": "best.h5",
            "best_trial": "t000", "best_training_score": 500.0,
            "best_hparams": {"gamma": 0.99, "hidden_sizes": [64, 64]}, "trials": trials,
            "statuses": {"completed": 16 - pruned, "pruned": pruned} if pruned
            else {"completed": 16},
            "pruned_trials": pruned, "solved_trials": 16 - pruned,
            "train_seconds_sum": round(sum(t["seconds"] for t in trials), 3),
            "trial_steps_sum": sum(t["steps"] for t in trials), "startup_seconds_sum": 0.8,
            "eval": {"episodes": 100, "mean": score, "std": 0.0, "min": score,
                     "returns": [score] * 100}}


def _new_search_run(walls: tuple[float, float] = (30.0, 10.0),
                    scores: tuple[float, float] = (500.0, 495.0), n_seeds: int = 3) -> dict:
    """A search results file as benchmarks/search.py writes it, with made-up figures: per
    seed a full and a pruned run (walls and scores full, pruned), the order alternating."""
    from benchmarks import search

    data = json.loads((render.RESULTS / "grid.json").read_text())  # machine, load, versions
    data.update(benchmark="search", command="make bench-search",
                argv=".venv/bin/python -m benchmarks.search --via 'make bench-search'")
    data["settings"] = {"grid": " ".join(search.GRID), "steps": search.STEPS,
                        "seeds": list(range(n_seeds)), "quick": False, "workers": 2,
                        "threads_per_trial": 1, "modes": search.MODES, "stop_on_solve": True,
                        "env": "CartPole-v1", "order": "full first on even seeds, pruned "
                        "first on odd ones", "eval_episodes": 100,
                        "eval_seeds": "2000003 + 1000 * seed + i, i < 100",
                        "targets": search.TARGETS}
    seeds = []
    for seed in range(n_seeds):
        runs = {"full": _search_run("full", seed, walls[0], scores[0]),
                "pruned": _search_run("pruned", seed, walls[1], scores[1], pruned=13)}
        entry = {"seed": seed, "order": search.order(seed),
                 "runs": {m: runs[m] for m in search.order(seed)}}
        entry.update(search.seed_figures(entry["runs"]))
        seeds.append(entry)
    data["results"] = {"seeds": seeds, "summary": search.summarise(seeds)}
    return data


def test_search_orders_alternate_and_evaluation_seeds_are_unseen_by_training():
    from benchmarks import search
    from cartpole.training.loop import CONFIRM_SEED_OFFSET, EVAL_SEED_OFFSET

    assert [search.order(s) for s in range(3)] == [["full", "pruned"], ["pruned", "full"],
                                                   ["full", "pruned"]]
    seen = {base + seed + i for seed in range(3) for i in range(100)
            for base in (EVAL_SEED_OFFSET, CONFIRM_SEED_OFFSET)}
    unseen = [search.eval_seeds(s) for s in range(3)]
    assert all(len(set(u)) == search.EVAL_EPISODES and not set(u) & seen for u in unseen)
    assert not set(unseen[0]) & set(unseen[1])


def test_search_summary_sums_walls_and_averages_scores():
    from benchmarks import search

    data = _new_search_run(walls=(30.0, 10.0), scores=(500.0, 495.0))
    s = data["results"]["summary"]
    assert s["wall_ratio"] == 0.3333 and s["wall_ratio_max"] == 0.3333
    assert s["score_ratio"] == 0.99 and s["score_ratio_min"] == 0.99
    assert s["pruned_trials"] == 39 and s["trials"] == 48 and s["all_exit_zero"]
    # A seed cut short (one run only) has no ratios and is left out of the sums.
    seeds = data["results"]["seeds"]
    cut = {"seed": 3, "order": ["pruned", "full"],
           "runs": {"pruned": _search_run("pruned", 3, 99.0, 10.0, pruned=13)}}
    cut.update(search.seed_figures(cut["runs"]))
    assert cut["wall_ratio"] is None and cut["score_ratio"] is None
    assert search.summarise([*seeds, cut])["wall_ratio"] == 0.3333


def test_search_section_says_met_for_both_targets():
    data = _new_search_run(walls=(30.0, 10.0), scores=(500.0, 495.0))
    text = "\n".join(render.search_section(data))
    assert text.startswith("## Grid search: pruned against full (`benchmarks/search.py`)")
    assert "A 16-combination grid (`--gamma 0.98 0.99 --learning-rate" in text
    assert "the pruned runs took **0.33×** the wall clock of the full ones (summed; " \
           "target ≤ 0.4: met)" in text
    assert "scored **0.99×** as much" in text and "target ≥ 0.98: met)" in text
    assert "| pruned / full wall clock, summed | **0.33** | ≤ 0.4: met |" in text
    assert "| pruned / full wall clock, per seed: median (highest) | 0.33 (0.33) | " \
           "≤ 0.4 each: met |" in text
    assert "| pruned / full score | **0.99** | ≥ 0.98: met |" in text
    assert "| trials pruned | 39 of 48 |" in text
    assert "Seed 0 (full then pruned):" in text and "Seed 1 (pruned then full):" in text
    assert "| trials completed / pruned / failed | 16 / 0 / 0 | 3 / 13 / 0 |" in text
    assert "| wall clock, the whole command (s) | 30.0 | 10.0 |" in text
    assert "| best model, 100-episode greedy mean (lowest episode) | **500.0** (500) | " \
           "**495.0** (495) |" in text
    assert "| pruned / full wall clock |  | **0.33** (≤ 0.4: met) |" in text
    assert "| pruned / full best model's score |  | **0.99** (≥ 0.98: met) |" in text
    assert "`cartpole train --gamma 0.98 0.99 --seed 0 --prune none`" in text
    assert "Reproduce with `make bench-search`" in text and "Measured " in text
    assert "not met" not in text and "quick check" not in text


def test_search_section_says_not_met_and_renders_a_run_cut_short():
    data = _new_search_run(walls=(30.0, 18.0), scores=(500.0, 450.0))
    text = "\n".join(render.search_section(data))
    assert "| pruned / full wall clock, summed | **0.60** | ≤ 0.4: **not met** |" in text
    assert "| pruned / full score | **0.90** | ≥ 0.98: **not met** |" in text
    assert "| pruned / full wall clock |  | **0.60** (≤ 0.4: **not met**) |" in text
    # A crash between the two runs of a seed leaves one run and no ratios for that seed.
    seeds = data["results"]["seeds"]
    seeds[2]["runs"].pop("pruned")
    for key in ("wall_ratio", "score_ratio", "pruned_trials", "full_score", "pruned_score"):
        seeds[2].pop(key)
    data["settings"]["quick"] = True
    text = "\n".join(render.search_section(data))
    assert "Over the 2 seeds with both runs" in text
    assert "| wall clock, the whole command (s) | 30.0 | not run |" in text
    assert "| pruned / full wall clock |  | **—** (≤ 0.4: **not met**, no value) |" in text
    assert "This file is a quick check of the benchmark (`--quick`)" in text


def test_docs_render_the_search_section_with_and_without_its_results():
    with_run = render.render_docs({"search": _new_search_run()})
    assert "| search | `benchmarks/results/search.json` |" in with_run
    assert "| pruned / full wall clock, summed | **0.33** | ≤ 0.4: met |" in with_run
    without = render.render_docs({})
    assert "| search | — | not yet | — | `make bench-search` |" in without
    assert "Not measured yet: no `benchmarks/results/search.json`. `make bench-search` runs " \
           "it and writes it." in without


def test_search_ratio_just_past_its_target_shows_a_third_decimal():
    data = _new_search_run(walls=(30.0, 12.08), scores=(500.0, 489.9))
    text = "\n".join(render.search_section(data))
    assert "| pruned / full wall clock, summed | **0.403** | ≤ 0.4: **not met** |" in text
    assert "| pruned / full score | **0.9798** | ≥ 0.98: **not met** |" in text
    data = _new_search_run(walls=(30.0, 12.0), scores=(500.0, 490.0))
    text = "\n".join(render.search_section(data))
    assert "| pruned / full wall clock, summed | **0.40** | ≤ 0.4: met |" in text
    assert "| pruned / full score | **0.98** | ≥ 0.98: met |" in text
    assert render._ratio_text(0.4, 0.4) == "0.40" and render._ratio_text(0.33, 0.4) == "0.33"
