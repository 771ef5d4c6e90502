"""The search section's figures: Optuna's own plots of the group's study, in the report's style.

Optuna draws them (``optuna.visualization``); this module only restyles them like the
other figures, names the points after cartpole's trials and adds what Optuna leaves
out of its history: the pruned trials, at the value Optuna keeps for them (their last
evaluation). Each figure comes with a one-line note, or only a note saying why it is
absent.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import plotly.graph_objects as go

from cartpole.report.figures import _LAYOUT, CURVE_HEIGHT, PALETTE, _threshold, _title
from cartpole.report.study import SearchStudy, quiet_optuna

MIN_IMPORTANCE_TRIALS = 4  # complete trials; fewer give a forest of a handful of points
MIN_IMPORTANCE_PARAMS = 2  # one parameter alone always has importance 1
TARGET = "score"  # what Optuna calls the objective in the figures
PRUNED_COLOR = "#9ca3af"
# Optuna's Blues starts almost white: its worst trials vanished on a white page.
_SCORE_SCALE = [[0.0, "#c6dbef"], [0.5, "#4292c6"], [1.0, "#08306b"]]


@dataclass
class SearchFigure:
    """A figure of the search section (None when absent) and its note."""

    id: str
    figure: go.Figure | None
    note: str


def search_figures(search: SearchStudy, names: dict[str, str],
                   threshold: float | None = None) -> list[SearchFigure]:
    """History, importance and parallel coordinates of ``search`` (``names``: cartpole
    trial id -> the name the report gives it)."""
    return [history_figure(search, names, threshold), importance_figure(search),
            parallel_figure(search)]


def history_figure(search: SearchStudy, names: dict[str, str],
                   threshold: float | None = None) -> SearchFigure:
    """``plot_optimization_history`` with the pruned trials added."""
    from optuna.visualization import plot_optimization_history

    fid = "fig-search-history"
    complete, pruned = search.trials("COMPLETE"), search.trials("PRUNED")
    if not complete and not pruned:
        return SearchFigure(fid, None, "Optimisation history: no trial of the study has "
                                       "finished yet.")
    with quiet_optuna():
        fig = plot_optimization_history(search.study, target_name=TARGET)
    label = {t.number: _trial_name(search, names, t.number) for t in search.trials(
        "COMPLETE", "PRUNED")}
    for trace in fig.data:
        if trace.name == TARGET:
            trace.update(name="complete trial", marker={"color": PALETTE[0], "size": 9},
                         text=[label[n] for n in trace.x],
                         hovertemplate="%{text}<br>score %{y:.1f}<extra>Optuna trial "
                                       "%{x}</extra>")
        elif trace.name == "Best Value":
            trace.update(name="best so far", line={"color": PALETTE[1], "width": 2.5},
                         hovertemplate="best so far %{y:.1f}<extra>Optuna trial %{x}"
                                       "</extra>")
    points = [(t.number, _pruned_value(t), max(t.intermediate_values, default=None))
              for t in pruned]
    points = [p for p in points if p[1] is not None]
    if points:
        fig.add_trace(go.Scatter(
            x=[p[0] for p in points], y=[p[1] for p in points], mode="markers",
            name="pruned (last evaluation)", text=[label[p[0]] for p in points],
            customdata=[p[2] for p in points],
            marker={"color": PRUNED_COLOR, "size": 9, "symbol": "x"},
            hovertemplate="%{text}<br>pruned at step %{customdata:,}: %{y:.1f}"
                          "<extra>Optuna trial %{x}</extra>"))
    _threshold(fig, threshold)
    numbers = len(search.trials("COMPLETE", "PRUNED", "FAIL", "RUNNING", "WAITING"))
    fig.update_layout(**_LAYOUT, height=CURVE_HEIGHT, title=_title(
        "Optimisation history", "score of each trial in the order Optuna numbered them",
        CURVE_HEIGHT), yaxis_title="score (best greedy evaluation)")
    fig.update_xaxes(title_text="Optuna trial number", tickformat="d",
                     dtick=1 if numbers <= 12 else None)
    note = ("Optuna's history plots complete trials only, and its best-so-far line counts "
            "only them; the pruned trials are added in grey at their last evaluation, the "
            "value Optuna records for a pruned trial. Failed trials have no value.")
    return SearchFigure(fid, fig, note)


def importance_figure(search: SearchStudy) -> SearchFigure:
    """``plot_param_importances`` with Optuna's default evaluator (fANOVA, seeded so
    that the same study gives the same page), if there are enough complete trials."""
    fid = "fig-search-importance"
    reason = importance_absent(search)
    if reason is not None:
        return SearchFigure(fid, None, reason)
    from optuna.importance import FanovaImportanceEvaluator
    from optuna.visualization import plot_param_importances

    try:
        with quiet_optuna():
            fig = plot_param_importances(search.study, target_name=TARGET,
                                         evaluator=FanovaImportanceEvaluator(seed=0))
    except ImportError:
        return SearchFigure(fid, None, "Parameter importance needs scikit-learn (Optuna's "
                                       "fANOVA evaluator fits its random forest): pip "
                                       "install scikit-learn.")
    except (RuntimeError, ValueError) as exc:
        return SearchFigure(fid, None, f"Optuna could not assess parameter importance: "
                                       f"{exc}")
    fig.update_traces(marker={"color": PALETTE[0]}, textfont={"size": 12})
    complete = len(search.trials("COMPLETE"))
    fig.update_layout(**_LAYOUT, height=CURVE_HEIGHT, showlegend=False, title=_title(
        "Hyperparameter importance", f"fANOVA, Optuna's default evaluator, over the "
        f"{complete} complete trials", CURVE_HEIGHT),
        xaxis_title="importance (the parameters' shares sum to 1)", yaxis_title=None)
    fig.update_xaxes(range=[0, 1.12])
    note = ("How much of the score's variance each hyperparameter explains, by a random "
            "forest fitted to the complete trials (pruned and failed ones are left out).")
    return SearchFigure(fid, fig, note)


def importance_absent(search: SearchStudy) -> str | None:
    """Why the importance plot is left out (None: it is not): too few complete trials,
    or fewer than two parameters that vary between them."""
    complete = search.trials("COMPLETE")
    varying = sorted({n for t in complete for n in t.params
                      if len({repr(u.params.get(n)) for u in complete}) > 1})
    if len(complete) < MIN_IMPORTANCE_TRIALS:
        return (f"Parameter importance needs at least {MIN_IMPORTANCE_TRIALS} complete "
                f"trials; this study has {len(complete)}.")
    if len(varying) < MIN_IMPORTANCE_PARAMS:
        only = f"only {varying[0]} varies" if varying else "no parameter varies"
        return (f"Parameter importance needs at least {MIN_IMPORTANCE_PARAMS} parameters "
                f"that vary between the complete trials; {only}.")
    return None


def parallel_figure(search: SearchStudy) -> SearchFigure:
    """``plot_parallel_coordinate``: one line per complete trial through its params."""
    from optuna.visualization import plot_parallel_coordinate

    fid = "fig-search-parallel"
    complete = search.trials("COMPLETE")
    if not any(t.params for t in complete):
        return SearchFigure(fid, None, "Parallel coordinates: no complete trial with "
                                       "parameters yet.")
    with quiet_optuna():
        fig = plot_parallel_coordinate(search.study, target_name=TARGET)
    fig.update_traces(line={"colorscale": _SCORE_SCALE,
                            "colorbar": {"title": {"text": TARGET}, "thickness": 14}},
                      labelangle=0, labelfont={"size": 13}, tickfont={"size": 11})
    layout = {**_LAYOUT, "margin": {"l": 70, "r": 70, "t": 100, "b": 50}}
    fig.update_layout(**layout, height=CURVE_HEIGHT, title=_title(
        "Parallel coordinates", f"each of the {len(complete)} complete trials through "
        "its hyperparameters to its score", CURVE_HEIGHT))
    note = ("One line per complete trial, coloured by its score (Optuna draws complete "
            "trials only). Drag along an axis to keep the lines that cross it there.")
    return SearchFigure(fid, fig, note)


def _trial_name(search: SearchStudy, names: dict[str, str], number: int) -> str:
    trial = search.trial_ids.get(number)
    if trial is None:
        return f"Optuna trial {number}"
    return names.get(trial, trial)


def _pruned_value(trial: Any) -> float | None:
    """What Optuna keeps as a pruned trial's value: its last intermediate value."""
    if trial.value is not None:
        return float(trial.value)
    steps = trial.intermediate_values
    return float(steps[max(steps)]) if steps else None
