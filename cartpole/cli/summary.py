"""Human-readable tables: a finished group's summary and a group's status."""

from __future__ import annotations

from typing import Any

from cartpole.display import fmt_number
from cartpole.grid.leaderboard import rank_combinations, undelivered


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    widths = [max(len(str(c)) for c in col) for col in zip(header, *rows, strict=True)]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    return [fmt.format(*header).rstrip(), *(fmt.format(*r).rstrip() for r in rows)]


def summary_lines(result: dict[str, Any], records: list[dict[str, Any]]) -> list[str]:
    """A table of combinations (for grids) and one closing line."""
    lines: list[str] = []
    if len(records) > 1:
        rows = []
        for row in rank_combinations(records):
            members = [r for r in records if r["trial"] in row["trials"]]
            label = members[0].get("label") or "defaults"
            rows.append([str(row["rank"]), label, f"{row['seeds']}/{len(members)}",
                         f"{fmt_number(row['score_mean'])} ± {fmt_number(row['score_std'])}",
                         fmt_number(row["steps_mean"], ".0f"), fmt_number(row["seconds_mean"]),
                         row["status"]])
        lines += _table(["rank", "combination", "seeds", "score", "steps", "seconds",
                         "status"], rows)
    best = next((r for r in records if r["trial"] == result.get("trial")), None)
    lost = _undelivered(records)
    if best is None:
        lines.append(f"no trial completed ({result['state']}); nothing was published{lost}")
        return lines
    solved = (f"solved at step {best['solved_at_step']}" if best.get("solved_at_step")
              else "not solved")
    pruned = sum(r.get("status") == "pruned" for r in records)
    state = f"{result['state']} ({pruned} of {len(records)} trials pruned)" if pruned \
        else result["state"]
    lines.append(f"{state}: best {best['trial']} {solved}; {best['steps']} steps, "
                 f"{best['episodes']} episodes in {best['seconds']:.1f} s; best evaluation "
                 f"{best['score']:.1f} ± {best['score_std']:.1f}; model: {result['model']}"
                 f"{lost}")
    if result.get("gif"):
        lines.append(f"recorded a greedy episode (score {result['gif_score']:.0f}) "
                     f"to {result['gif']}")
    return lines


def _undelivered(records: list[dict[str, Any]]) -> str:
    """``; 123 events undelivered (visdom); see events.jsonl of t000, t001``, or nothing."""
    lost = undelivered(records)
    if not lost:
        return ""
    engines = (next(iter(lost)) if len(lost) == 1
               else ", ".join(f"{name} {n}" for name, n in lost.items()))
    trials = [r["trial"] for r in records if r.get("undelivered")]
    return (f"; {sum(lost.values())} events undelivered ({engines}); "
            f"see events.jsonl of {', '.join(trials)}")


def plan_lines(planned: dict[str, Any]) -> list[str]:
    """``--dry-run``: a table of the planned trials and one closing line."""
    trials = planned["trials"]
    rows = [[t["trial"], t["status"], str(t["seed"]),
             f"{t['steps']} steps" if t["steps"] is not None else f"{t['episodes']} episodes",
             t["label"] or "defaults"] for t in trials]
    to_run = sum(t["status"] not in ("completed", "pruned") for t in trials)
    engines = [name + (" (" + ", ".join(f"{k}={v}" for k, v in settings.items()) + ")"
                       if settings else "")
               for name, settings in planned.get("metrics", {}).items()]
    search = planned.get("search") or {}
    lines = _table(["trial", "status", "seed", "budget", "combination"], rows) if rows else []
    if search.get("method", "grid") != "grid":
        from optuna.distributions import json_to_distribution

        ranges = "; ".join(f"{n} {_shown_range(json_to_distribution(d))}"
                           for n, d in search.get("space", {}).items())
        done = sum(t["status"] in ("completed", "pruned") for t in trials)
        left = max(0, search["trials"] - done)
        what = (f"would sample {left} more of {search['trials']} combinations "
                f"({search['method']}) from: {ranges}" if done else
                f"would sample {search['trials']} combinations ({search['method']}) from: "
                f"{ranges}")
    else:
        what = f"would run {to_run} of {len(trials)} trials"
    if search.get("prune", "none") != "none":
        what += f" (pruning with {search['prune']})"
    return [*lines, f"metrics engines: {'; '.join(engines) or 'none'}",
            f"dry run: group {planned['group']} {what}; nothing was trained or written"]


def _shown_range(distribution: Any) -> str:
    if hasattr(distribution, "choices"):
        return "one of " + ", ".join(map(str, distribution.choices))
    return (f"{distribution.low:g} to {distribution.high:g}"
            + (", log scale" if distribution.log else ""))


def status_lines(data: dict[str, Any]) -> list[str]:
    """The status of every trial of a group, and the best so far."""
    trials = data.get("trials", {})
    counts: dict[str, int] = {}
    for t in trials.values():
        counts[t["status"]] = counts.get(t["status"], 0) + 1
    lines = [f"group {data['group']} ({data.get('backend', 'local')}): {data['state']}; "
             + ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))]
    rows = []
    for name, t in sorted(trials.items()):
        if t["status"] == "running":
            detail = f"step {t.get('step', '-')}, last eval {fmt_number(t.get('eval'))}"
        elif (t["status"] in ("completed", "pruned", "interrupted")
              and t.get("score") is not None):
            detail = f"score {fmt_number(t['score'])}, {t.get('steps', '-')} steps"
        else:
            detail = t.get("error", "")
        hp = t.get("hparams") or {}
        rows.append([name, t["status"], str(t.get("seed", "-")), detail,
                     " ".join(f"{k}={v}" for k, v in hp.items() if k in data.get("varying", ()))])
    lines += _table(["trial", "status", "seed", "detail", ""], rows)
    scored = [(n, t) for n, t in trials.items() if t.get("score") is not None]
    if scored:
        name, t = max(scored, key=lambda nt: nt[1]["score"])
        lines.append(f"best trial so far: {name}, score {fmt_number(t['score'])}")
    return lines
