"""The report's plotly figures: learning curves, evaluations, hyperparameters against score.

Every trial keeps one colour in every figure and table. Data go in as plain lists so
that the figures' JSON stays readable (and testable) in the page.
"""

from __future__ import annotations

from typing import Any

import plotly.graph_objects as go
from plotly.colors import qualitative
from plotly.subplots import make_subplots

from cartpole.report.data import GroupData, TrialData

PALETTE = [*qualitative.Plotly, *qualitative.D3]
SMOOTH_EPISODES = 10
CURVE_HEIGHT = 480  # pixels, the learning and evaluation figures
_LAYOUT: dict[str, Any] = {
    "template": "plotly_white",
    "margin": {"l": 60, "r": 20, "t": 70, "b": 50},
    "legend": {"orientation": "h", "y": -0.18, "x": 0, "font": {"size": 11}},
    "hovermode": "closest",
    "font": {"family": "system-ui, -apple-system, Segoe UI, sans-serif", "size": 12},
}


def trial_colors(trials: list[TrialData]) -> dict[str, str]:
    """One colour per trial, in trial order (the palette repeats past 20 trials)."""
    return {t.trial: PALETTE[i % len(PALETTE)] for i, t in enumerate(trials)}


def learning_figure(group: GroupData, colors: dict[str, str]) -> go.Figure:
    """Score of every training episode against env steps, raw and smoothed, per trial."""
    fig = go.Figure()
    for t in group.trials:
        c = t.curves
        if not c.episode_scores:
            continue
        fig.add_trace(go.Scatter(
            x=c.episode_steps, y=c.episode_scores, mode="lines", name=t.name,
            legendgroup=t.trial, showlegend=False, opacity=0.3,
            line={"color": colors[t.trial], "width": 1},
            hovertemplate="%{y:.0f} at step %{x}<extra>" + t.trial + " episode</extra>"))
        fig.add_trace(go.Scatter(
            x=c.episode_steps, y=moving_mean(c.episode_scores, SMOOTH_EPISODES), mode="lines",
            name=t.name, legendgroup=t.trial, line={"color": colors[t.trial], "width": 2.5},
            hovertemplate=(f"%{{y:.1f}} at step %{{x}}<extra>{t.trial} mean of "
                           f"{SMOOTH_EPISODES}</extra>")))
    _threshold(fig, group.reward_threshold)
    fig.update_layout(**_LAYOUT, height=CURVE_HEIGHT, title=_title(
        "Training score per episode", f"faint: each episode; bold: mean of the last "
        f"{SMOOTH_EPISODES}", CURVE_HEIGHT), xaxis_title="env steps",
        yaxis_title="episode score")
    _empty_note(fig, "no episode recorded yet")
    return fig


def eval_figure(group: GroupData, colors: dict[str, str]) -> go.Figure:
    """Greedy evaluation mean against env steps per trial, the std as error bars."""
    fig = go.Figure()
    for t in group.trials:
        c = t.curves
        if not c.eval_means:
            continue
        stds = [s or 0.0 for s in c.eval_stds]
        fig.add_trace(go.Scatter(
            x=c.eval_steps, y=c.eval_means, mode="lines+markers", name=t.name,
            legendgroup=t.trial, line={"color": colors[t.trial], "width": 2},
            marker={"size": 7}, customdata=stds,
            error_y={"type": "data", "array": stds, "visible": True, "thickness": 1.2,
                     "width": 4},
            hovertemplate="%{y:.1f} ± %{customdata:.1f} at step %{x}<extra>"
                          + t.trial + "</extra>"))
    _threshold(fig, group.reward_threshold)
    fig.update_layout(**_LAYOUT, height=CURVE_HEIGHT, title=_title(
        "Greedy evaluation", "mean return over the evaluation episodes, bars: ± std",
        CURVE_HEIGHT), xaxis_title="env steps", yaxis_title="evaluation mean return")
    _empty_note(fig, "no evaluation recorded yet")
    return fig


def hparams_figure(group: GroupData, colors: dict[str, str]) -> go.Figure | None:
    """Best evaluation score against each varying hyperparameter; None if none varies."""
    names = group.varying
    scored = [t for t in group.trials if t.score is not None]
    if not names:
        return None
    cols = min(len(names), 4)
    rows = -(-len(names) // cols)
    fig = make_subplots(rows=rows, cols=cols, subplot_titles=names, shared_yaxes=True,
                        horizontal_spacing=0.06,
                        vertical_spacing=min(0.25, 0.9 / max(rows - 1, 1)))
    for i, name in enumerate(names):
        row, col = i // cols + 1, i % cols + 1
        values = sorted({value_label(t.hparams.get(name)) for t in group.trials},
                        key=_sort_key)
        fig.add_trace(go.Scatter(
            x=[value_label(t.hparams.get(name)) for t in scored], y=[t.score for t in scored],
            mode="markers", name=name, showlegend=False, text=[t.name for t in scored],
            marker={"color": [colors[t.trial] for t in scored], "size": 11,
                    "line": {"width": 1, "color": "#333"}},
            hovertemplate="%{text}<br>best eval %{y:.1f}<extra></extra>"), row=row, col=col)
        fig.update_xaxes(type="category", categoryorder="array", categoryarray=values,
                         row=row, col=col)
    fig.update_yaxes(title_text="best eval score", row=1, col=1)
    height = 260 * rows + 60
    fig.update_layout(**{**_LAYOUT, "margin": {"l": 60, "r": 20, "t": 80, "b": 40}},
                      title=_title("Hyperparameters against score",
                                   "best greedy evaluation of each scored trial", height),
                      height=height)
    if not scored:
        _empty_note(fig, "no trial has a score yet", force=True)
    return fig


def moving_mean(values: list[float], window: int) -> list[float]:
    """Trailing mean over up to ``window`` values (shorter at the start)."""
    out: list[float] = []
    total = 0.0
    for i, v in enumerate(values):
        total += v
        if i >= window:
            total -= values[i - window]
        out.append(total / min(i + 1, window))
    return out


def _title(text: str, sub: str, height: int) -> dict[str, Any]:
    """A left-aligned title with a smaller second line (clear of the mode bar).

    plotly places a two-line title by its first line, so it goes a fixed number of
    pixels below the top whatever the figure's height.
    """
    return {"text": f"{text}<br><sup>{sub}</sup>", "x": 0.01, "xanchor": "left",
            "y": 1 - 22 / height, "yanchor": "middle"}


def _threshold(fig: go.Figure, threshold: float | None) -> None:
    if threshold is not None:
        fig.add_hline(y=threshold, line={"dash": "dash", "color": "#888", "width": 1},
                      annotation_text=f"solved ({threshold:g})",
                      annotation_position="top left")


def _empty_note(fig: go.Figure, text: str, force: bool = False) -> None:
    if force or not fig.data:
        fig.add_annotation(text=text, showarrow=False, xref="paper", yref="paper",
                           x=0.5, y=0.5, font={"size": 16, "color": "#888"})


def value_label(value: Any) -> str:
    """A hyperparameter value as an axis category: lists (layer sizes) as ``64,64``."""
    if isinstance(value, list | tuple):
        return ",".join(map(str, value))
    return str(value)


def _sort_key(text: str) -> tuple[int, float, str]:
    try:
        return (0, float(text), text)
    except ValueError:
        first = text.split(",")[0]
        try:
            return (1, float(first), text)
        except ValueError:
            return (2, 0.0, text)
