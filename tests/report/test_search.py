"""The report of a group searched through its Optuna study: Optuna's history (with the
pruned trials), parameter importance and parallel coordinates, offline and drawn."""

import json
import re
import subprocess
import sys

import optuna
import plotly.graph_objects as go
import pytest
from optuna.importance import FanovaImportanceEvaluator, get_param_importances

from cartpole.report import load_group, render_page
from cartpole.report.search_figures import MIN_IMPORTANCE_TRIALS
from tests.report.helpers import EVAL_EVERY, GROUP, SEARCH_GRID, SEARCH_GROUP, figures, search_group

SEARCH_IDS = {"fig-search-history", "fig-search-importance", "fig-search-parallel"}
# 12 combinations: 7 complete, 3 pruned, 1 failed, 1 still waiting in the study
OUTCOMES = "ccpcpcfcpccw"


def _study(group_dir):
    return optuna.load_study(study_name=group_dir.name,
                             storage=f"sqlite:///{group_dir / 'study.db'}")


def _note(html, fid):
    match = re.search(rf'<span id="{fid}-absent">(.*?)</span>', html)
    return match and match.group(1)


def test_search_section_shows_optunas_three_figures(tmp_path):
    group_dir = search_group(tmp_path / "runs", OUTCOMES)
    html = render_page(load_group(group_dir))
    figs = figures(html)
    assert set(figs) == {"fig-learning", "fig-eval", "fig-hparams", *SEARCH_IDS}
    for fid in SEARCH_IDS:
        go.Figure(figs[fid])  # plotly takes each as it stands in the page
        assert f'<div id="{fid}"></div>' in html
        assert figs[fid]["layout"]["template"]["layout"]["paper_bgcolor"] == "white"
    assert (f"Optuna study {SEARCH_GROUP} in study.db · grid search · ASHA pruning · "
            "trials: 7 complete, 1 failed, 3 pruned, 1 waiting.") in html

    study = _study(group_dir)
    complete = [t for t in study.trials if t.state.name == "COMPLETE"]
    pruned = [t for t in study.trials if t.state.name == "PRUNED"]
    assert (len(complete), len(pruned)) == (7, 3)

    # history: Optuna's complete trials and best-so-far line, plus the pruned trials
    traces = {t["name"]: t for t in figs["fig-search-history"]["data"]}
    done = traces["complete trial"]
    assert done["x"] == [t.number for t in complete]
    assert done["y"] == [t.value for t in complete]
    assert done["text"][0] == "t000 learning_rate=0.0005 gamma=0.95 hidden_sizes=32,32"
    best = traces["best so far"]["y"]
    assert best[-1] == max(t.value for t in complete) == 500.0
    cut = traces["pruned (last evaluation)"]
    assert cut["x"] == [t.number for t in pruned] == [2, 4, 8]
    assert cut["y"] == [t.intermediate_values[2 * EVAL_EVERY] for t in pruned]
    assert cut["customdata"] == [2 * EVAL_EVERY] * 3  # the step each was pruned at
    assert "pruned trials are added in grey" in html

    # importance: Optuna's fANOVA evaluator, its numbers as Optuna computes them
    (bars,) = figs["fig-search-importance"]["data"]
    expected = get_param_importances(study, evaluator=FanovaImportanceEvaluator(seed=0))
    assert dict(zip(bars["y"], bars["x"], strict=True)) == pytest.approx(expected)
    assert set(bars["y"]) == set(SEARCH_GRID)
    assert sum(bars["x"]) == pytest.approx(1.0)

    # parallel coordinates: one line per complete trial through score and each param
    (par,) = figs["fig-search-parallel"]["data"]
    assert par["type"] == "parcoords"
    dims = {d["label"]: d for d in par["dimensions"]}
    assert set(dims) == {"score", *SEARCH_GRID}
    assert sorted(dims["score"]["values"]) == sorted(t.value for t in complete)
    assert dims["hidden_sizes"]["ticktext"] == SEARCH_GRID["hidden_sizes"]


@pytest.mark.parametrize(
    ("outcomes", "grid", "reason"),
    [
        ("cpcpcp", None, f"needs at least {MIN_IMPORTANCE_TRIALS} complete trials; this "
                         "study has 3."),
        ("cccccc", {"learning_rate": [0.0005, 0.001, 0.0023], "gamma": [0.95, 0.99]},
         None),
        ("cccccc", {"learning_rate": [0.0005, 0.001, 0.0023, 0.004, 0.008, 0.016]},
         "needs at least 2 parameters that vary between the complete trials; only "
         "learning_rate varies."),
    ],
)
def test_importance_needs_enough_complete_trials_and_parameters(tmp_path, outcomes, grid,
                                                               reason):
    group_dir = search_group(tmp_path / "runs", outcomes, grid=grid)
    html = render_page(load_group(group_dir))
    figs = figures(html)
    assert {"fig-search-history", "fig-search-parallel"} <= set(figs)
    if reason is None:
        assert "fig-search-importance" in figs
        assert _note(html, "fig-search-importance") is None
        return
    assert "fig-search-importance" not in figs
    assert 'id="fig-search-importance"' not in html
    note = _note(html, "fig-search-importance")
    assert note.startswith("Parameter importance ") and note.endswith(reason)
    # the history takes the whole width when it has no neighbour
    assert '<div class="row">\n<div class="card"><div id="fig-search-history">' not in html


def test_history_of_a_study_with_only_pruned_trials(tmp_path):
    group_dir = search_group(tmp_path / "runs", "pp")
    html = render_page(load_group(group_dir))
    figs = figures(html)
    names = [t["name"] for t in figs["fig-search-history"]["data"]]
    assert names == ["pruned (last evaluation)"]  # Optuna's own plot had nothing to show
    assert "fig-search-parallel" not in figs
    assert _note(html, "fig-search-parallel") == ("Parallel coordinates: no complete trial "
                                                  "with parameters yet.")


def test_no_search_section_without_a_study(runs, tmp_path):
    def sections(group_dir):
        html = render_page(load_group(group_dir))
        return 'id="search"' in html, set(figures(html))

    assert sections(runs / GROUP) == (False, {"fig-learning", "fig-eval", "fig-hparams"})

    group_dir = search_group(tmp_path / "other", "ccc", group=GROUP)
    study_db = group_dir / "study.db"
    optuna.delete_study(study_name=GROUP, storage=f"sqlite:///{study_db}")
    (runs / GROUP / "study.db").write_bytes(study_db.read_bytes())  # the tables, no study
    assert sections(runs / GROUP) == (False, {"fig-learning", "fig-eval", "fig-hparams"})

    optuna.create_study(study_name=GROUP, storage=f"sqlite:///{runs / GROUP / 'study.db'}")
    assert sections(runs / GROUP)[0] is False  # a study without trials


def test_study_in_the_storage_plan_json_names(tmp_path):
    group_dir = search_group(tmp_path / "runs", "ccccp")
    shared = tmp_path / "shared.db"  # as if trained with --storage sqlite:///.../shared.db
    (group_dir / "study.db").rename(shared)
    plan_file = group_dir / "plan.json"
    plan = json.loads(plan_file.read_text())
    plan["options"]["search"]["storage"] = f"sqlite:///{shared}"
    plan_file.write_text(json.dumps(plan))
    html = render_page(load_group(group_dir))
    assert set(figures(html)) >= SEARCH_IDS
    assert f"in sqlite:///{shared} · grid search · ASHA pruning · trials: 4 complete, " \
           "1 pruned." in html

    shared.unlink()  # gone: no section, and the report creates no empty database
    assert 'id="search"' not in render_page(load_group(group_dir))
    assert not shared.exists()


def test_a_study_that_cannot_be_read_is_one_line(tmp_path, monkeypatch):
    group_dir = search_group(tmp_path / "runs", "ccc")
    (group_dir / "study.db").write_bytes(b"not a database\n" * 100)
    html = render_page(load_group(group_dir))
    assert not SEARCH_IDS & set(figures(html))
    (line,) = re.findall(r'<div class="card" id="search">\n<h2>Search</h2>\n'
                         r'<p class="note">(.*?)</p>', html)
    assert line.startswith(f"The group's Optuna study {SEARCH_GROUP} in study.db could not "
                           "be read (")
    assert line.endswith("): no search plots.")

    # a study in a database server that is not there (storage from plan.json)
    plan_file = group_dir / "plan.json"
    plan = json.loads(plan_file.read_text())
    plan["options"]["search"]["storage"] = "postgresql+psycopg://nobody@127.0.0.1:9/none"
    plan_file.write_text(json.dumps(plan))
    # its password from $CARTPOLE_STORAGE, as cartpole train takes it; never on the page
    monkeypatch.setenv("CARTPOLE_STORAGE", "postgresql+psycopg://nobody:s3cret@127.0.0.1:9/none")
    html = render_page(load_group(group_dir))
    assert ("Optuna study 20261203-101500-ab12 in postgresql+psycopg://nobody@127.0.0.1:9/"
            "none could not be read (OperationalError: ") in html
    assert "s3cret" not in html


@pytest.mark.slow
def test_no_search_section_without_optuna(tmp_path):
    group_dir = search_group(tmp_path / "runs", "cccc")
    code = ("import sys; sys.modules['optuna'] = None  # as if it were not installed\n"
            "from pathlib import Path\n"
            "from cartpole.report import load_group, render_page\n"
            f"html = render_page(load_group(Path({str(group_dir)!r})))\n"
            "assert 'id=\"search\"' not in html and 'fig-search' not in html\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "optuna is not installed: the report leaves out the search plots" in proc.stderr


def _fills(dom, fid):
    """Fill colours of the marks plotly drew in the figure ``fid``, with their counts."""
    start = dom.index(f'id="{fid}"')
    part = dom[start:dom.index('<p class="note"', start)]
    # a marker is <path class="point" style="fill: ...">, a bar <g class="point"><path ...>
    fills = re.findall(r'class="point[^"]*"(?:>\s*<path)?[^>]*fill: (rgb\([^)]*\))', part)
    return {c: fills.count(c) for c in fills}, part


@pytest.mark.slow
def test_search_plots_are_drawn_in_chromium(tmp_path):
    from PIL import Image

    from cartpole.report import write_report
    from cartpole.report.browser import dump_dom, find_chromium, screenshot
    from tests.report.helpers import card_bands

    find_chromium()  # make test installs it (make system-deps); missing is a failure
    page = write_report(load_group(search_group(tmp_path / "runs", OUTCOMES)))
    blue, grey = "rgb(99, 110, 250)", "rgb(156, 163, 175)"  # complete, pruned

    # plotly built every figure: 7 complete and 3 pruned points, 3 bars, 4 axes
    dom = dump_dom(page.as_uri(), wait_ms=8000)
    fills, _ = _fills(dom, "fig-search-history")
    assert fills == {blue: 7, grey: 3}
    fills, _ = _fills(dom, "fig-search-importance")
    assert fills == {blue: 3}
    _, part = _fills(dom, "fig-search-parallel")
    assert part.count('class="y-axis"') == 4
    assert re.findall(r'class="axis-title"[^>]*>([^<]*)<', part) == [
        "score", "gamma", "hidden_sizes", "learning_rate"]

    # and drew them: the parallel coordinates' lines are WebGL, outside the document
    png = screenshot(page.as_uri(), tmp_path / "page.png", 1280, 3400, wait_ms=8000)
    with Image.open(png) as im:
        rgb = im.convert("RGB")
    bands = card_bands(rgb)
    # curves, hyperparameters, the study's summary, history beside importance, parallel
    assert len(bands) >= 5, bands
    top, bottom = bands[3]
    history = rgb.crop((0, top, 640, bottom)).getcolors(maxcolors=1 << 20)
    importance = rgb.crop((640, top, 1280, bottom)).getcolors(maxcolors=1 << 20)
    assert sum(n for n, c in history if c == (99, 110, 250)) > 7 * 30
    assert sum(n for n, c in history if c == (156, 163, 175)) > 3 * 10
    assert sum(n for n, c in importance if c == (99, 110, 250)) > 3 * 500
    top, bottom = bands[4]
    lines = rgb.crop((150, top, 1080, bottom)).getcolors(maxcolors=1 << 20)
    # the score colour scale runs from light to dark blue; the page's text is grey-blue
    assert sum(n for n, (r, g, b) in lines if b - r > 60 and g - r > 30) > 100


def test_counts_take_each_trial_once_in_its_latest_state():
    """An interrupted attempt (FAIL) that was rerun to completion counts as complete only."""
    import optuna

    from cartpole.report.study import SearchStudy

    study = optuna.create_study(direction="maximize")
    for trial, state in (("t000", "FAIL"), ("t000", "COMPLETE"), ("t001", "PRUNED")):
        asked = study.ask()
        asked.set_user_attr("trial", trial)
        if state == "COMPLETE":
            study.tell(asked, 100.0)
        else:
            study.tell(asked, state=getattr(optuna.trial.TrialState, state))
    found = SearchStudy(name="g", storage="study.db", study=study)
    assert found.counts() == {"complete": 1, "pruned": 1}
