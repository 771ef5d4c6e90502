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
