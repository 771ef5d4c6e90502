"""The report of a real group: every trial, its curves and scores, in one offline page."""

import json
import re
import subprocess
import sys
from pathlib import Path

import plotly.graph_objects as go
import pytest
from click.testing import CliRunner

from cartpole.cli import cli
from cartpole.report import load_group, render_page
from cartpole.report.figures import moving_mean, trial_colors
from tests.report.helpers import GROUP, HPARAM, VALUES, events, figures


def _report(*args):
    result = CliRunner().invoke(cli, ["report", *args])
    assert result.exit_code == 0, result.output
    return result


def test_report_shows_every_trial_its_curves_and_scores(runs):
    result = _report()  # no GROUP: the latest one, as `cartpole status` picks it
    path = runs / GROUP / "report.html"
    assert result.output.strip() == str(path.relative_to(runs.parent))
    html = path.read_text()
    figs = figures(html)
    assert set(figs) == {"fig-learning", "fig-eval", "fig-hparams"}
    for fig in figs.values():
        go.Figure(fig)  # plotly accepts every figure as it stands in the page

    for trial, value in zip(("t000", "t001"), VALUES, strict=True):
        trial_dir = runs / GROUP / trial
        episodes = events(trial_dir, "episode")
        evals = events(trial_dir, "eval")
        assert len(episodes) > 10 and len(evals) == 3
        learning = [t for t in figs["fig-learning"]["data"] if t["legendgroup"] == trial]
        raw, smooth = learning
        assert raw["name"] == smooth["name"] == f"{trial} {HPARAM}={value}"
        assert raw["x"] == [e["total_steps"] for e in episodes]
        assert raw["y"] == [e["score"] for e in episodes]
        assert smooth["y"] == moving_mean(raw["y"], 10)
        (ev,) = [t for t in figs["fig-eval"]["data"] if t["legendgroup"] == trial]
        assert ev["x"] == [e["step"] for e in evals] == [500, 1000, 1500]
        assert ev["y"] == [e["eval_mean"] for e in evals]
        assert ev["error_y"]["array"] == [e["eval_std"] for e in evals]

    # hyperparameter against score: one dot per trial at its value, its best score
    result_of = {t: json.loads((runs / GROUP / t / "result.json").read_text())
                 for t in ("t000", "t001")}
    (hp,) = figs["fig-hparams"]["data"]
    assert hp["x"] == [str(v) for v in VALUES]
    assert hp["y"] == [result_of[t]["score"] for t in ("t000", "t001")]
    assert figs["fig-hparams"]["layout"]["annotations"][0]["text"] == HPARAM

    # the leaderboard: ranked as leaderboard.json ranks, with the varying column
    board = json.loads((runs / GROUP / "leaderboard.json").read_text())
    table = html.split('<table class="leaderboard">')[1].split("</table>")[0]
    head = re.findall(r"<th\b[^>]*>(.*?)</th>", table)
    assert head == ["rank", "trial", HPARAM, "score", "std", "seeds", "steps", "seconds",
                    "status"]
    rows = re.findall(r"<tr>(.*?)</tr>", table.split("<tbody>")[1])
    assert len(rows) == len(board) == 2
    for row, entry in zip(rows, board, strict=True):
        cells = [re.sub(r"<[^>]+>", "", c) for c in re.findall(r"<td[^>]*>(.*?)</td>", row)]
        assert cells[0] == str(entry["rank"])
        assert cells[1] == entry["best_trial"]
        assert cells[3] == f"{entry['score_mean']:.1f}"
        assert cells[-1] == "completed"
    assert "CartPole-v1" in html and f"cartpole report: {GROUP}" in html


def test_page_stands_alone_offline(runs):
    from plotly.offline import get_plotlyjs

    html = render_page(load_group(runs / GROUP))
    plotly_js = get_plotlyjs()
    assert html.count(plotly_js) == 1  # plotly.js itself is inline, once
    ours = html.replace(plotly_js, "")
    assert "Plotly.newPlot" in ours
    # nothing of ours is fetched from anywhere: no external scripts, styles or images
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", ours)
    assert "<link" not in ours and "<script src" not in ours


def test_colours_match_between_figures_and_tables(runs):
    group = load_group(runs / GROUP)
    colors = trial_colors(group.trials)
    assert len(set(colors.values())) == 2
    html = render_page(group)
    figs = figures(html)
    for trace in figs["fig-eval"]["data"]:
        color = colors[trace["legendgroup"]]
        assert trace["line"]["color"] == color
        assert f'style="background:{color}"' in html


def test_failed_pending_and_stale_trials_do_not_break_the_report(runs):
    group_dir = runs / GROUP
    status = json.loads((group_dir / "status.json").read_text())
    status["state"], status["pid"] = "running", 2 ** 22 + 7  # above pid_max: never alive
    status["trials"]["t000"]["status"] = "running"  # its process died with the group's
    t001 = status["trials"]["t001"]
    t001.update(status="failed", error="RuntimeError: <boom> & more")
    for key in ("score", "score_std", "steps", "seconds"):
        t001.pop(key)
    status["trials"]["t002"] = {"status": "pending", "seed": 0,
                                "hparams": {**t001["hparams"], HPARAM: 0.997}}
    (group_dir / "status.json").write_text(json.dumps(status))
    (group_dir / "t001" / "result.json").unlink()
    events_file = group_dir / "t001" / "events.jsonl"
    text = events_file.read_text()
    events_file.write_text(text[: len(text) // 2])  # cut mid-line, as a crash leaves it

    html = Path(_report(GROUP).output.strip()).read_text()
    figs = figures(html)
    groups = {t["legendgroup"] for t in figs["fig-learning"]["data"]}
    assert groups == {"t000", "t001"}  # t002 never ran: no curve, but a row
    trials = html.split('<table class="trials">')[1]
    assert "status-stale" in trials and "status-failed" in trials
    assert "status-pending" in trials and "not started" in trials
    assert "RuntimeError: &lt;boom&gt; &amp; more" in trials  # escaped, not markup
    assert "<boom>" not in html
    assert "group stale" in html
    board = html.split('<table class="leaderboard">')[1].split("</table>")[0]
    assert board.count("<tr>") == 1 + 3  # header and the three combinations
    for state in ("stale", "failed", "pending"):  # what became of each, not just "failed"
        assert f'class="status status-{state}"' in board
    assert figs["fig-hparams"]["layout"]["xaxis"]["categoryarray"] == [
        "0.995", "0.997", "0.999"]


@pytest.mark.slow
def test_report_does_not_import_tensorflow(runs):
    code = ("import sys; from cartpole.report import make_report; "
            f"make_report({str(runs)!r}, {GROUP!r}); "
            "bad = [m for m in ('tensorflow', 'keras') if m in sys.modules]; "
            "sys.exit(f'imported {bad}' if bad else 0)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr


def test_moving_mean():
    assert moving_mean([], 3) == []
    assert moving_mean([3.0, 1.0, 2.0, 6.0], 2) == [3.0, 2.0, 1.5, 4.0]
