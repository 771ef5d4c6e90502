"""A real, small group trained once per session; tests copy it before they touch it."""

import shutil
from pathlib import Path

import pytest

from tests.report.helpers import train_group


@pytest.fixture(scope="session")
def trained_runs(tmp_path_factory) -> Path:
    """A runs folder holding group "g"; read-only for the tests (copy it to change it)."""
    runs = tmp_path_factory.mktemp("report-group") / "runs"
    train_group(runs)
    return runs


@pytest.fixture
def runs(trained_runs, tmp_path, monkeypatch) -> Path:
    """A private copy of the trained runs folder at ``tmp_path/runs``, with cwd ``tmp_path``."""
    copy = tmp_path / "runs"
    shutil.copytree(trained_runs, copy)
    monkeypatch.chdir(tmp_path)
    return copy
