"""The report as one self-contained HTML file: plotly.js inline, figures as JSON, tables.

The figures sit in a ``<script type="application/json" id="cartpole-figures">`` block,
``{div id: {"data": [...], "layout": {...}}}``, that a few lines of script hand to
``Plotly.newPlot``; the page needs no network and tools can read the data back.
"""

from __future__ import annotations

import json
from datetime import datetime
from html import escape
from pathlib import Path

import plotly.graph_objects as go
import plotly.io as pio
from plotly.offline import get_plotlyjs

from cartpole.fileio import check_writable_file, write_text
from cartpole.metrics.events import utc_now
from cartpole.paths import REPORT_FILE
from cartpole.report.data import GroupData
from cartpole.report.figures import eval_figure, hparams_figure, learning_figure, trial_colors
from cartpole.report.search_figures import search_figures
from cartpole.report.tables import leaderboard_table, trials_table

FIGURES_ID = "cartpole-figures"

_CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0;
       background: #f4f5f7; color: #222; }
header { background: #1f2937; color: #f9fafb; padding: 14px 24px; }
header h1 { margin: 0; font-size: 22px; font-weight: 600; }
header p { margin: 4px 0 0; color: #d1d5db; font-size: 14px; }
main { padding: 12px 24px 32px; }
.row { display: grid; grid-template-columns: repeat(auto-fit, minmax(560px, 1fr)); gap: 12px;
       margin-bottom: 12px; }
.card { background: #fff; border-radius: 6px; box-shadow: 0 1px 3px rgba(0,0,0,.12);
        padding: 8px; margin-bottom: 12px; overflow-x: auto; }
.row .card { margin-bottom: 0; }
h2 { font-size: 17px; margin: 6px 8px 10px; }
.note { color: #666; font-size: 13px; margin: 6px 8px; }
table { border-collapse: collapse; font-size: 13px; width: 100%; }
th, td { padding: 5px 10px; border-bottom: 1px solid #e5e7eb; text-align: left;
         white-space: nowrap; }
th { background: #f9fafb; font-weight: 600; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
td:last-child { white-space: normal; }
.swatch { display: inline-block; width: 11px; height: 11px; border-radius: 2px;
          margin-right: 6px; vertical-align: -1px; }
.trial { margin-right: 8px; }
.status { padding: 1px 7px; border-radius: 9px; font-size: 12px; background: #e5e7eb; }
.status-completed { background: #d1fae5; color: #065f46; }
.status-pruned { background: #e5e7eb; color: #374151; }
.status-failed { background: #fee2e2; color: #991b1b; }
.status-running { background: #dbeafe; color: #1e40af; }
.status-interrupted, .status-stale, .status-partial { background: #fef3c7; color: #92400e; }
"""

_SCRIPT = f"""
(function () {{
  var figures = JSON.parse(document.getElementById("{FIGURES_ID}").textContent);
  Object.keys(figures).forEach(function (id) {{
    Plotly.newPlot(id, figures[id].data, figures[id].layout,
                   {{responsive: true, displaylogo: false}});
  }});
}})();
"""


def default_report_path(group: GroupData) -> Path:
    return group.dir / REPORT_FILE


def render_page(group: GroupData) -> str:
    """The whole HTML page of a group's report."""
    colors = trial_colors(group.trials)
    figures: dict[str, go.Figure] = {
        "fig-learning": learning_figure(group, colors),
        "fig-eval": eval_figure(group, colors),
    }
    hp = hparams_figure(group, colors)
    if hp is not None:
        figures["fig-hparams"] = hp
    hp_card = ('<div class="card"><div id="fig-hparams"></div></div>' if hp is not None else
               '<div class="card"><p class="note">One combination: no hyperparameter varies '
               "in this group.</p></div>")
    search = _search_section(group, figures)
    title = f"cartpole report: {group.name}"
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="cartpole report">
<title>{escape(title)}</title>
<style>{_CSS}</style>
<script>{get_plotlyjs()}</script>
</head>
<body>
<header>
<h1>{escape(title)}</h1>
<p>{escape(_subtitle(group))}</p>
</header>
<main>
<div class="row">
<div class="card"><div id="fig-learning"></div></div>
<div class="card"><div id="fig-eval"></div></div>
</div>
{hp_card}
{search}<div class="card">
<h2>Leaderboard</h2>
{leaderboard_table(group, colors)}
<p class="note">Combinations ranked by their mean best greedy-evaluation score over seeds.
std: across seeds when a combination has several, otherwise across the evaluation episodes
of its trial.</p>
</div>
<div class="card">
<h2>Trials</h2>
{trials_table(group, colors)}
</div>
</main>
<script type="application/json" id="{FIGURES_ID}">{_figures_json(figures)}</script>
<script>{_SCRIPT}</script>
</body>
</html>
"""


def write_report(group: GroupData, out: Path | None = None) -> Path:
    """Write the report atomically (default ``runs/<group>/report.html``); return its path."""
    path = Path(out) if out is not None else default_report_path(group)
    check_writable_file(path, "report file")
    write_text(path, render_page(group))
    return path


def _search_section(group: GroupData, figures: dict[str, go.Figure]) -> str:
    """The Optuna study's cards ("" without a study); its figures join ``figures``.

    A card for each figure drawn (history and importance side by side); the reason a
    figure is absent is a line under the study's summary.
    """
    search = group.search
    if search is None:
        return ""
    head = '<div class="card" id="search">\n<h2>Search</h2>\n'
    if search.study is None:
        return (f'{head}<p class="note">The group\'s Optuna study {escape(search.name)} in '
                f"{escape(search.storage)} could not be read ({escape(search.error or '')}): "
                "no search plots.</p>\n</div>\n")
    counts = ", ".join(f"{n} {s}" for s, n in sorted(search.counts().items()))
    lines = [f"Optuna study {escape(search.name)} in {escape(search.storage)} · "
             f"{_METHODS.get(search.method, search.method)} · "
             f"{_PRUNERS.get(search.prune, search.prune)} · trials: {counts}."]
    names = {t.trial: t.name for t in group.trials}
    cards = []
    for item in search_figures(search, names, group.reward_threshold):
        if item.figure is None:
            lines.append(f'<span id="{item.id}-absent">{escape(item.note)}</span>')
            continue
        figures[item.id] = item.figure
        cards.append(f'<div class="card"><div id="{item.id}"></div><p class="note">'
                     f"{escape(item.note)}</p></div>\n")
    side_by_side = {"fig-search-history", "fig-search-importance"} <= set(figures)
    if side_by_side:
        cards[:2] = [f'<div class="row">\n{cards[0]}{cards[1]}</div>\n']
    notes = "".join(f'<p class="note">{line}</p>\n' for line in lines)
    return f"{head}{notes}</div>\n{''.join(cards)}"


_METHODS = {"grid": "grid search", "random": "random search", "tpe": "TPE search"}
_PRUNERS = {"none": "no pruning", "asha": "ASHA pruning", "median": "median pruning"}


def _subtitle(group: GroupData) -> str:
    counts = ", ".join(f"{n} {s}" for s, n in sorted(group.counts().items()))
    parts = [group.env_id or "unknown env",
             f"started {_date(group.started)}" if group.started else "",
             f"group {group.state}", f"{len(group.trials)} trials ({counts})" if counts else "",
             f"seeds per combination: {group.seeds}" if group.seeds > 1 else "",
             f"report made {_date(utc_now())}"]
    return " · ".join(p for p in parts if p)


def _date(ts: str | None) -> str:
    """``2026-11-22T08:43:44.477Z`` -> ``2026-11-22 08:43 UTC``."""
    if not ts:
        return "-"
    try:
        return datetime.fromisoformat(ts.replace("Z", "+00:00")).strftime("%Y-%m-%d %H:%M UTC")
    except ValueError:
        return ts


def _figures_json(figures: dict[str, go.Figure]) -> str:
    """JSON that is safe inside a script element: no '<', '>' or '&' left as such."""
    text = json.dumps({key: json.loads(pio.to_json(fig, validate=False))
                       for key, fig in figures.items()}, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
