"""`cartpole report` as a user meets it: the latest group, -o, a screenshot, bad input."""

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from cartpole.cli import cli
from tests.report.helpers import GROUP, figures

EXE = str(Path(sys.executable).with_name("cartpole"))


def _cartpole(*args, cwd):
    return subprocess.run([EXE, *args], cwd=cwd, capture_output=True, text=True, timeout=120)


def test_default_group_is_the_latest_and_out_goes_where_asked(runs, tmp_path):
    import shutil

    shutil.copytree(runs / GROUP, runs / "later")
    status = runs / "later" / "status.json"
    status.write_text(status.read_text().replace(f'"group": "{GROUP}"', '"group": "later"'))
    stamp = time.time() + 5
    os.utime(status, (stamp, stamp))  # the group that changed last

    out = tmp_path / "sub" / "page.html"
    result = CliRunner().invoke(cli, ["report", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert result.output == f"{out}\n"
    assert "cartpole report: later" in out.read_text()
    assert not (runs / "later" / "report.html").exists()

    result = CliRunner().invoke(cli, ["report", GROUP, "--runs-dir", str(runs)])
    assert result.exit_code == 0, result.output
    assert f"cartpole report: {GROUP}" in (runs / GROUP / "report.html").read_text()


@pytest.mark.slow
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["report", "nope"], "no group 'nope' in runs/"),
        (["report", "--runs-dir", "empty"], "no groups in empty"),
        (["report", "--screenshot", "x.png", "--screenshot-size", "big"],
         "screenshot size must be WIDTHxHEIGHT"),
        (["report", "-o", "runs"], "is a directory"),
    ],
)
def test_bad_input_is_one_line_exit_2(runs, tmp_path, args, message):
    (tmp_path / "empty").mkdir()
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    result = _cartpole(*args, cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: ") and message in lines[0], lines[0]
    assert result.stdout == ""
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before


def test_help_has_examples():
    result = CliRunner().invoke(cli, ["report", "--help"], terminal_width=120)
    assert result.exit_code == 0
    for text in ("--runs-dir", "--out", "--screenshot", "--screenshot-size", "Examples:",
                 "[default: runs/<group>/report.html]"):
        assert text in result.output


@pytest.mark.slow
def test_screenshot_shows_the_curves(runs, tmp_path):
    from PIL import Image

    from cartpole.report.browser import find_chromium

    find_chromium()  # make test installs it (make system-deps); missing is a failure
    png = tmp_path / "shot.png"
    result = _cartpole("report", GROUP, "--screenshot", str(png), "--screenshot-size",
                       "1280x900", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    html = runs / GROUP / "report.html"
    assert result.stdout.splitlines() == [str(html.relative_to(tmp_path)), str(png)]

    colours = {trace["legendgroup"]: trace["line"]["color"]
               for trace in figures(html.read_text())["fig-eval"]["data"]}
    assert len(colours) == 2
    with Image.open(png) as im:
        assert im.size == (1280, 900)
        # the first screen: header, then the learning and evaluation figures side by side
        top = im.convert("RGB").crop((0, 0, 1280, 600))
    assert len(top.getcolors(maxcolors=1 << 20)) > 200, "the page looks blank"
    # the learning curves fill the left half, the evaluations the right: plotly drew
    # both trials' traces (and legends) in each; a page whose figures failed has none
    for half in ((0, 0, 640, 600), (640, 0, 1280, 600)):
        counts = {rgb: n for n, rgb in top.crop(half).getcolors(maxcolors=1 << 20)}
        for trial, colour in colours.items():
            rgb = tuple(int(colour[i:i + 2], 16) for i in (1, 3, 5))
            assert counts.get(rgb, 0) > 40, f"{trial}'s colour {colour} missing in {half}"
