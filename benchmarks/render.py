"""Render every benchmark figure of the docs from benchmarks/results/*.json.

``python -m benchmarks.render`` (``make bench-docs``) rewrites docs/benchmarks.md whole,
and in README.md only the blocks between ``<!-- bench:NAME -->`` and
``<!-- /bench:NAME -->``. ``--check`` changes nothing and exits 1 if either file differs
from its rendering. No figure is typed here: every number comes from a results file,
and a benchmark without one is shown as not run. Only the standard library is used, so
the docs test stays fast.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
DOCS = ROOT / "docs" / "benchmarks.md"
README = ROOT / "README.md"
# results file -> its make target and its script
BENCHMARKS = {
    "solve": ("bench-solve", "benchmarks/time_to_solve.py"),
    "startup": ("bench-startup", "benchmarks/startup.py"),
    "grid": ("bench-grid", "benchmarks/grid_parallel.py"),
    "search": ("bench-search", "benchmarks/search.py"),
    "metrics": ("bench-metrics", "benchmarks/metrics_overhead.py"),
    "serve-stacks": ("bench-serve-stacks", "benchmarks/serve_stacks.py"),
    "remote": ("bench-remote", "benchmarks/remote_agent.py"),
}
BLOCK = re.compile(r"(<!-- bench:([a-z0-9-]+) -->\n)(.*?)(<!-- /bench:\2 -->)", re.S)

Results = dict[str, dict[str, Any]]


# --- loading -------------------------------------------------------------------------------

def load_results(folder: Path = RESULTS) -> Results:
    return {name: json.loads((folder / f"{name}.json").read_text())
            for name in BENCHMARKS if (folder / f"{name}.json").exists()}


# --- number formats ------------------------------------------------------------------------

def num(value: float | None, digits: int = 0) -> str:
    """A number with thousands separators; a dash for none."""
    return "—" if value is None else f"{value:,.{digits}f}"


def about(value: float) -> str:
    """Two significant figures, for prose: 27,317 -> 27,000; 15.3 -> 15; 0.172 -> 0.17."""
    if value == 0:
        return "0"
    digits = 2 - 1 - int(f"{abs(value):e}".split("e")[1])
    rounded = round(value, digits)
    return f"{rounded:,.{max(digits, 0)}f}"


def times(value: float | None) -> str:
    """A ratio: 1,769×, 11.2×, 0.17×."""
    if value is None:
        return "—"
    if value >= 100:
        return f"{value:,.0f}×"
    if value >= 1:
        return f"{value:.1f}×"
    return f"{value:.2g}×"


def pct(value: float) -> str:
    return f"{100 * value:+.1f}%"


def secs(value: float | None, digits: int = 2) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "an unknown time"
    return f"{seconds / 60:.1f} min" if seconds >= 90 else f"{seconds:.0f} s"


def met(ok: bool) -> str:
    return "met" if ok else "**not met**"


def an(n: int) -> str:
    """The article before a number said aloud: an 8, an 11, an 18, an 80; a 16."""
    spoken = str(n)
    return "an" if spoken.startswith("8") or spoken in ("11", "18") or (
        len(spoken) in (5, 6) and spoken[:2] in ("11", "18")) else "a"


def code(text: str) -> str:
    return f"`{text}`"


# --- what every section says about its run ------------------------------------------------

def machine_line(data: dict[str, Any]) -> str:
    m, load = data["machine"], data["load_average"]
    tf = m.get("tensorflow_import_seconds")
    tf_text = (f"`python -c \"import tensorflow\"` took {tf:.1f} s" if tf is not None
               else "TensorFlow was not importable")
    return (f"Measured {data['date'][:10]} on {m['cpu_model']}, {m['cores']} cores, "
            f"AVX-512 {'yes' if m['avx512'] else 'no'}, Python {m['python']}; {tf_text}. "
            f"Load average {load['start'][0]:.2f} at the start "
            f"(1-minute; at most {load.get('max_1min', load['start'][0]):.2f} during the "
            f"run, which took {duration(data.get('duration_seconds'))}).")


def load_note(data: dict[str, Any]) -> str:
    """How busy the shared machine was: the 1-minute load at the start and at most."""
    load = data["load_average"]
    return (f"load average {load['start'][0]:.1f} at its start, at most "
            f"{load.get('max_1min', load['start'][0]):.1f} during it")


def versions_line(data: dict[str, Any]) -> str:
    return "Versions, read from the environments that ran: " + ", ".join(
        f"{name} {v}" for name, v in sorted(data["versions"].items())) + "."


def reproduce(data: dict[str, Any]) -> str:
    text = f"Reproduce with {code(data['command'])}"
    if data.get("argv") and data["argv"] != data["command"]:
        text += f" (it runs {code(data['argv'])})"
    return text + "."


def footer(data: dict[str, Any]) -> list[str]:
    return [machine_line(data), "", versions_line(data), "", reproduce(data)]


def not_run(name: str) -> str:
    target, _ = BENCHMARKS[name]
    return (f"Not measured yet: no `benchmarks/results/{name}.json`. "
            f"`make {target}` runs it and writes it.")


def table(header: list[str], rows: list[list[str]]) -> list[str]:
    return ["| " + " | ".join(header) + " |", "|" + "---|" * len(header),
            *("| " + " | ".join(r) + " |" for r in rows)]


# --- time to solve -------------------------------------------------------------------------

def _hparams_text(hp: dict[str, Any]) -> str:
    keys = ("learning_rate", "batch_size", "buffer_size", "learning_starts", "gamma",
            "train_freq", "gradient_steps", "target_update", "target_update_interval",
            "exploration_fraction", "exploration_final_eps", "epsilon_decay", "epsilon_min",
            "hidden_sizes", "policy_kwargs")
    return ", ".join(f"{k} {json.dumps(hp[k])}" for k in keys if k in hp)


def _all_items_text(hp: dict[str, Any]) -> str:
    return ", ".join(f"{k} {json.dumps(v)}" for k, v in hp.items())


NOT_MEASURED = "not measured in this run"


def _target(targets: dict[str, Any], key: str, value: float | None, fmt: str = "{:g}",
            at_most: bool = True) -> str:
    """``≤ T: met`` for a target the run recorded; empty when it recorded none."""
    target = targets.get(key)
    if target is None:
        return ""
    sign = "≤" if at_most else "≥"
    if value is None:
        return f"{sign} {fmt.format(target)}: **not met**, no value"
    ok = value <= target if at_most else value >= target
    return f"{sign} {fmt.format(target)}: {met(ok)}"


def solve_section(data: dict[str, Any] | None) -> list[str]:
    lines = ["## Time to solve CartPole-v1 (`benchmarks/time_to_solve.py`)", ""]
    if data is None:
        return [*lines, not_run("solve")]
    st, res = data["settings"], data["results"]
    ours, sb3, s = res["cartpole"], res["sb3"], res["summary"]
    ppo = res.get("sb3_ppo")  # None: a run from before the PPO row
    targets = st.get("targets", {})
    hp = ours[0]["result"]["hparams"] if ours else {}
    zoo = sb3[0]["hyperparams"] if sb3 and "hyperparams" in sb3[0] else {}
    ppo_zoo = ppo[0].get("hyperparams", {}) if ppo else {}
    sb3_steps = max((r["steps_done"] for r in sb3), default=None)
    ppo_budget = max((r.get("steps", 0) for r in ppo), default=None) if ppo else None
    paired = s["paired_seeds"]
    n_ours = len(ours)
    sides = "three" if ppo is not None else "two"
    lines += [
        f"*Solved* means a {st['eval_episodes']}-episode greedy evaluation with a mean "
        f"return of at least {st['threshold']:g} (CartPole-v1's reward threshold). Every "
        f"side evaluates every {num(hp.get('eval_every'))} env steps on the same separately "
        f"seeded episodes, trains on one thread, one process per seed, the {sides} sides "
        "interleaved seed by seed. cartpole and SB3 DQN have a budget of "
        f"{num(st['steps'])} env steps"
        + ((f", SB3 PPO {num(ppo_budget)} (its zoo `n_timesteps`, over which its linear "
            "schedules run)." if ppo_budget == ppo_zoo.get("n_timesteps") else
            f", SB3 PPO {num(ppo_budget)} (not its zoo `n_timesteps`: its linear schedules "
            "run over this budget instead).") if ppo else "."),
        "",
        f"- **cartpole**: {code(ours[0]['command'].replace('--seed 0', '--seed N'))} "
        "(as a user runs it, in a folder of its own) with its default hyperparameters: "
        f"Double DQN, {_hparams_text(hp)}. Its time counts from the start of training and "
        "includes its own evaluations. It stops at the first solving evaluation once the "
        "confirmation episodes agree (`--stop-on-solve`, the default); the saved `.h5` is "
        f"then evaluated on {st['final_episodes']} fresh episodes." if ours
        else "- **cartpole**: no run recorded.",
        (f"- **stable-baselines3 PPO** with the rl-baselines3-zoo CartPole-v1 "
         f"hyperparameters (its `hyperparams/ppo.yml`: {_all_items_text(ppo_zoo)}; "
         "`lin_X` is the zoo's linear schedule from X down to 0 over the budget; the "
         f"{ppo_zoo.get('n_envs', '')} envs built with `make_vec_env`, as the zoo builds "
         "them). Its time is train-only: from just before its envs and model are built, "
         "its evaluation callback excluded. It stops at its first solving evaluation, "
         f"and the model of that moment is evaluated on {st['final_episodes']} fresh "
         "episodes." if ppo
         else f"- **stable-baselines3 PPO**: {NOT_MEASURED} (this results file predates "
              "the PPO row; `make bench-solve` adds it)."),
        f"- **stable-baselines3 DQN** with the rl-baselines3-zoo CartPole-v1 hyperparameters "
        f"({_hparams_text(zoo)}). Its time is train-only too. It runs all "
        f"{num(sb3_steps)} steps, and its final model is evaluated on "
        f"{st['final_episodes']} episodes for context." if sb3
        else "- **stable-baselines3 DQN**: no seed run (`--sb3-seeds 0`).",
        "",
    ]
    if ppo is not None:
        ratio_ppo = s.get("ratio_ppo")
        lines += [
            f"The headline compares cartpole's median time to solve over its {n_ours} seeds, "
            f"its evaluations included, with SB3 PPO's train-only median over its "
            f"{len(ppo)} seeds: **{secs(ratio_ppo)}** "
            + (f"(target {_target(targets, 'ratio_ppo', ratio_ppo)})" if "ratio_ppo" in targets
               else "") + ". "
            f"{s['ours_solved']}/{n_ours} cartpole seeds solve and "
            f"{s['ours_final_solves']}/{n_ours} saved models hold at least "
            f"{st['threshold']:g} over {st['final_episodes']} fresh episodes (target: all "
            f"of them; {met(s['ours_solved'] == n_ours and s['ours_final_solves'] == n_ours)})"
            ".",
            "",
        ]
    lines += [
        f"The DQN ratio compares medians over the seeds both DQNs ran ({len(paired)}: "
        f"{', '.join(map(str, paired))}). A seed that never solves counts as slower than "
        "every seed that does. \"Training time\" is the whole trial: for cartpole, until "
        "the confirmation lets it stop; for SB3 PPO, until its first solving evaluation; "
        "for SB3 DQN, all of its steps "
        f"({secs(s['sb3_train_seconds_min'], 1)}–{secs(s['sb3_train_seconds_max'], 1)} s "
        f"in this run). The whole benchmark took {duration(data['duration_seconds'])}. "
        "Each run is deterministic for its seed on a given machine: a rerun gives the same "
        "steps and scores, and only the seconds move.",
        "",
    ]

    def ppo_cell(text: str) -> str:
        return text if ppo is not None else NOT_MEASURED

    header = ["figure", "cartpole DQN", "stable-baselines3 PPO (zoo config, train-only)",
              "stable-baselines3 DQN (zoo config, train-only)"]
    n_ppo = len(ppo or [])
    lines += [
        *table(header, [
            ["seeds solving within the budget",
             f"{s['ours_solved']}/{n_ours}",
             ppo_cell(f"{s.get('ppo_solved')}/{n_ppo} (within {num(ppo_budget)} steps)"),
             f"{s['sb3_solved']}/{len(sb3)}"],
            ["median time to solve, all seeds of each (s)", secs(s["ours_median_seconds"]),
             ppo_cell(secs(s.get("ppo_median_seconds"))), secs(s["sb3_median_seconds"])],
            ["ratio (cartpole / SB3 PPO)",
             ppo_cell(f"**{secs(s.get('ratio_ppo'))}** "
                      + (f"(target {_target(targets, 'ratio_ppo', s.get('ratio_ppo'))})"
                         if "ratio_ppo" in targets else "")),
             ppo_cell("1"), ""],
            [f"median time to solve, the {len(paired)} seeds both DQNs ran (s)",
             secs(s["ours_median_seconds_paired"]), "", secs(s["sb3_median_seconds"])],
            ["ratio (cartpole / SB3 DQN), those seeds", f"{secs(s['ratio'])}", "", "1"],
            [f"model holds ≥ {st['threshold']:g} over {st['final_episodes']} fresh episodes",
             f"{s['ours_final_solves']}/{n_ours} saved models",
             ppo_cell(f"{s.get('ppo_final_solves')}/{n_ppo} (model at its solving "
                      "evaluation)"),
             f"{s['sb3_final_solves']}/{len(sb3)} (model after {num(sb3_steps)} steps)"],
        ]),
        "",
        "Per seed (\"whole process\": the command's wall clock from its start to its exit, "
        "its imports included; SB3's processes import torch and, through its logger's "
        "TensorBoard support, TensorFlow where it is installed):",
        "",
        *table(["side", "seed", "solved at step", "time to solve (s)", "training time (s)",
                "whole process (s)", f"best {st['eval_episodes']}-ep eval",
                f"{st['final_episodes']}-ep eval of the model kept"],
               [[r["impl"], str(r["seed"]), num(r["solved_at_step"]),
                 secs(r["solved_at_seconds"]), secs(r["train_seconds"], 1),
                 secs(r.get("process_wall"), 1), secs(r["best_eval"], 1),
                 secs(r.get("final_eval_mean"), 1)]
                for r in sorted(ours + (ppo or []) + sb3,
                                key=lambda r: (r["seed"], r["impl"]))]),
        "",
        *footer(data),
    ]
    return lines


# --- start-up -----------------------------------------------------------------------------

# (row key in the summary, what it is, how it is measured)
STARTUP_ROWS = (
    ("interpreter", "interpreter start", "`python -c pass`, a process of its own"),
    ("imports", "imports of the command line",
     "`python -c \"{cli_import}\"` minus the interpreter"),
    ("startup_rest", "rest of the start: command line, plan, the trial's own imports",
     "`phases.startup` (process start to trial start) minus the two rows above"),
    ("env", "env creation", "`phases.env`"),
    ("build", "network build (numpy weights: nothing is compiled)", "`phases.build`"),
    ("acting", "acting: action choice, env steps, replay buffer", "`phases.acting`"),
    ("learning", "learning: gradient updates", "`phases.learning`"),
    ("evaluation", "evaluations (20 greedy episodes each)", "`phases.evaluation`"),
    ("confirmation", "confirmation (80 more greedy episodes)", "`phases.confirmation`"),
    ("saving", "saving the model and its metadata", "`phases.saving`"),
    ("metrics_close", "closing the metrics engines", "`phases.metrics_close`"),
    ("other", "other: the group's steps around the trial, output, exit",
     "whole command minus every row above, per run"),
)
TOP_PACKAGES = 8


def _import_rows(profile: dict[str, Any]) -> list[list[str]]:
    cli, whole = profile["cli"]["packages"], profile["command"]["packages"]
    names = list(whole)[:TOP_PACKAGES]
    rows = [[code(n) if not n.startswith("(") else n,
             secs(cli[n]["seconds"]) if n in cli else "—", secs(whole[n]["seconds"]),
             str(whole[n]["modules"])] for n in names]
    rest = [n for n in whole if n not in names]
    if rest:
        rows.append([f"{len(rest)} other packages",
                     secs(sum(cli[n]["seconds"] for n in rest if n in cli)),
                     secs(sum(whole[n]["seconds"] for n in rest)),
                     str(sum(whole[n]["modules"] for n in rest))])
    rows.append(["**all imports**", secs(profile["cli"]["total_seconds"]),
                 secs(profile["command"]["total_seconds"]),
                 str(profile["command"]["modules"])])
    return rows


def startup_section(data: dict[str, Any] | None) -> list[str]:
    lines = ["## Start-up: where one `cartpole train` spends its time (`benchmarks/startup.py`)",
             ""]
    if data is None:
        return [*lines, not_run("startup")]
    st, res = data["settings"], data["results"]
    s, runs = res["summary"], res["runs"]
    targets = st.get("targets", {})
    whole = s["whole"]
    n = len(runs)
    rows = []
    for key, label, how in STARTUP_ROWS:
        value = s["rows"].get(key)
        share = f"{100 * value / whole:.0f}%" if value is not None and whole else ""
        rows.append([label, secs(value) if value is not None else NOT_MEASURED, share,
                     how.format(cli_import=st.get("cli_import", ""))])
    rows.append(["**whole command**", f"**{secs(whole)}**", "100%",
                 "wall clock from start to exit"])
    heavy = res["import_profile"]["command"]["heavy_imported"]
    watched = ", ".join(f"`{h}`" for h in st.get("heavy", []))
    alt_rows = []
    interp = s["rows"].get("interpreter")
    for alt in res["alternatives"]:
        if not alt["installed"]:
            alt_rows.append([alt["label"], code(alt["code"]),
                             "not installed in this environment: skipped", ""])
            continue
        m = alt.get("median")
        alt_rows.append([alt["label"], code(alt["code"]), secs(m),
                         secs(m - interp) if m is not None and interp is not None else "—"])
    ratio = s["whole_over_training"]
    lines += [
        f"{code(st['command'])}, run {n} time{'s' if n != 1 else ''} as a user runs it, each "
        "in a fresh empty folder; every figure is the median over the runs of that figure "
        "alone, so the rows need not add up exactly to the whole. The trial's phases are "
        "the wall seconds its own clocks give in its result.json; the interpreter and the "
        f"imports are measured as whole `python -c` processes, {n} of each, in turn with "
        "the runs."
        + ("" if s["phases_measured"] else
           " The cartpole version measured writes no `phases` into result.json, so only the "
           "start, the training seconds and the whole are known for this run."),
        "",
        *table(["part", "median (s)", "share of the whole", "measured as"], rows),
        "",
        *table(["figure", "value", "target"], [
            ["training: the trial's own `seconds` (env to confirmation), median (s)",
             secs(s["training_seconds"]), ""],
            ["whole command / training seconds, median (max)",
             f"**{secs(ratio)}** ({secs(s['whole_over_training_max'])})",
             _target(targets, "whole_over_training", ratio)],
            ["peak memory of the command, median (max) (MiB)",
             f"**{num(s['peak_rss_mb'])}** ({num(s['peak_rss_mb_max'])})",
             _target(targets, "peak_rss_mb", s["peak_rss_mb_max"], "{:g} MiB")],
            ["start-up: process start to trial start, median (s)",
             secs(s["startup"]) if s["startup"] is not None else NOT_MEASURED, ""],
        ]),
        "",
        f"Peak memory is {st.get('peak_memory', 'ru_maxrss')} on the command's process (the "
        "largest of it and any child it waited for). Per run:",
        "",
        *table(["run", "whole (s)", "training (s)", "whole / training", "start-up (s)",
                "learning (s)", "acting (s)", "evaluation (s)", "confirmation (s)",
                "steps", "peak memory (MiB)"],
               [[str(i + 1), secs(r["wall"]), secs(r["seconds"]),
                 secs(r["wall"] / r["seconds"]) if r["seconds"] else "—",
                 *(secs((r["phases"] or {}).get(k)) for k in
                   ("startup", "learning", "acting", "evaluation", "confirmation")),
                 num(r["steps"]), num(r["peak_rss_mb"])] for i, r in enumerate(runs)]),
        "",
        "Imports by top-level package, from one more run of the same command with "
        "`PYTHONPROFILEIMPORTTIME=1` (untimed, the first, so it also warms the disk cache) "
        f"and from `python -X importtime -c \"{st.get('cli_import', '')}\"`: each module's "
        "own import time (`self`), summed per package, profiler overhead included. "
        + (f"The whole command imported none of {watched}." if not heavy else
           "The whole command imported " + ", ".join(f"`{h}`" for h in heavy)
           + f" (of those watched: {watched})."),
        "",
        *table(["package", "at `cartpole.cli` import (s)", "in the whole command (s)",
                "modules"], _import_rows(res["import_profile"])),
        "",
        "For reference, what a trial would pay to import a framework (or pays for the "
        f"least it needs): each a whole `python -c` process, median of {n}. TensorFlow's "
        "row is what a trial no longer pays when training imports no TensorFlow.",
        "",
        *table(["import", "code", "whole process, median (s)", "minus the interpreter (s)"],
               alt_rows),
        "",
        *STARTUP_TRIED,
        "",
        *footer(data),
    ]
    return lines


# What was tried to cut a trial's start-up, and what each gave (the figures are in the
# tables of this page; nothing here is a measurement of its own).
STARTUP_TRIED = [
    "What was tried to make a trial spend its time learning, and what each gave:",
    "",
    "- **TensorFlow with its import narrowed** (scikit-learn, pandas and matplotlib kept "
    "out while it loads; an earlier version): still the largest part of every process, "
    "longer than a whole CartPole training, with the update compiled again by XLA in "
    "each trial process. Not enough.",
    "- **No framework: a numpy learner** (kept; `cartpole/agent/dqn.py`). The update is "
    "the one Keras's Adam and Huber make, on float32, and the `.h5` is still a Keras "
    "file (h5py writes its legacy layout; the tests load it in Keras 3). No import, no "
    "compilation; the learning row above is what it costs. One finding on the way: "
    "Adam's moments of weights whose gradient stays zero decay into float32's "
    "subnormal range, which x86 computes many times slower, and TensorFlow hid this by "
    "setting the CPU's flush-to-zero mode; the learner now flushes them itself, which "
    "made its Adam step several times faster.",
    "- **Keras 3 on a faster-importing backend**: torch's import is in the table above; "
    "JAX was not installed here. Either still imports Keras and compiles per process, "
    "for a network this small. Not kept.",
    "- **A compiled gradient step (numba)**: not kept. A step is mostly small matrix "
    "products that numpy already hands to BLAS, and numba's own import and compilation "
    "would be paid by every process.",
    "- **Vectorised evaluation** (kept): the 20 evaluation and 80 confirmation episodes "
    "step together in gymnasium's numpy-vectorised CartPole, one forward pass per step, "
    "each episode started in the state its own seed gives, so scores are exactly those "
    "of one env per seed (the tests compare them). Its cost is in the evaluation and "
    "confirmation rows above.",
    "- **A fork server for the grid** (kept; `cartpole/grid/backends/forkserver.py`): "
    "one process per group imports the trial code once and forks a child per trial; "
    "each child is a process of its own, in a session of its own, and a crash ends one "
    "trial only (tested). The grid section below gives each trial's start-up.",
]


# --- grid ----------------------------------------------------------------------------------

def _wall_over_training(run: dict[str, Any]) -> float | None:
    """wall / (summed training seconds / workers); computed where an older file lacks it."""
    if run.get("wall_over_training") is not None:
        return run["wall_over_training"]
    return (run["wall"] / (run["train_seconds_sum"] / run["workers"])
            if run.get("train_seconds_sum") else None)


def _startup_cell(run: dict[str, Any]) -> str:
    if run.get("startup_seconds_median") is None:
        return NOT_MEASURED
    return f"{secs(run['startup_seconds_median'])} / {secs(run['startup_seconds_max'])}"


def _rss_cell(run: dict[str, Any]) -> str:
    if run.get("peak_rss_mb_max") is None:
        return NOT_MEASURED
    return f"{run['peak_rss_mb_max']:.0f} / {run['peak_rss_mb_mean']:.0f}"


def grid_section(data: dict[str, Any] | None) -> list[str]:
    lines = ["## Grid search: parallel efficiency (`benchmarks/grid_parallel.py`)", ""]
    if data is None:
        return [*lines, not_run("grid")]
    st, pairs = data["settings"], data["results"]["pairs"]
    targets = st.get("targets", {})
    first = pairs[0]
    one, two = first["one"], first["two"]
    growth = two["train_seconds_sum"] / one["train_seconds_sum"] - 1
    ratios = [p["ratio"] for p in pairs]
    wot = _wall_over_training(two)
    rss_target = targets.get("peak_rss_mb")
    rss_max = max((p[k]["peak_rss_mb_max"] for p in pairs for k in ("one", "two")
                   if p[k].get("peak_rss_mb_max") is not None), default=None)
    verdicts = []
    if "wall_over_training" in targets:
        verdicts.append(f"with `--workers 2`, the wall clock is {secs(wot)}× the summed "
                        "training seconds divided by 2 (target "
                        f"{_target(targets, 'wall_over_training', wot)})")
    if rss_target is not None:
        verdicts.append("the largest trial process peaked at "
                        + (f"{rss_max:.0f} MiB" if rss_max is not None else "an unmeasured size")
                        + f" (target {_target(targets, 'peak_rss_mb', rss_max, '{:g} MiB')})")
    lines += [
        f"{an(one['trials']).capitalize()} {one['trials']}-combination grid "
        f"({code(st['grid'])}) runs twice in one "
        "benchmark: with `--workers 1`, which is the same trials one by one, and with "
        "`--workers 2`. Each trial is a fresh process on one thread with a fixed "
        f"budget of {num(st['steps'])} env steps and no early stop, so both runs do the "
        "same work. The ratio is the wall clock of the second run over the first; the "
        f"target is at most {st['target_ratio']:g}. Peak memory is each trial process's own "
        "maximum resident set (`ru_maxrss`), read at the end of its trial. Start-up is "
        "each trial process's time from its start to its trial's start (`phases.startup` "
        "in its result.json: interpreter, imports, reading its job).",
        "",
        "Two trials that train side by side are each slower than one alone: in this run the "
        f"summed training time inside the trials {'grew' if growth >= 0 else 'shrank'} by "
        f"{abs(100 * growth):.0f}% with two "
        f"workers, so the ratio sits {'above' if ratios[0] > 0.5 else 'at or below'} the "
        f"ideal 0.5. Target {met(max(ratios) <= st['target_ratio'])} "
        + (f"in every one of the {len(pairs)} repeats (ratios "
           f"{', '.join(f'{r:.2f}' for r in ratios)})." if len(pairs) > 1
           else f"(ratio {ratios[0]:.2f}, one repeat; `--repeats N` runs the pair N times).")
        + (" Also " + "; ".join(verdicts) + "." if verdicts else ""),
        "",
        *table(["figure", "`--workers 1`", "`--workers 2`"], [
            [f"wall clock of the {one['trials']}-trial grid, the whole command (s)",
             secs(one["wall"], 1), secs(two["wall"], 1)],
            ["of which training inside the trials, summed (s)",
             secs(one["train_seconds_sum"], 1), secs(two["train_seconds_sum"], 1)],
            ["wall / (summed training / workers)", secs(_wall_over_training(one)),
             f"**{secs(wot)}**" + (f" (target ≤ {targets['wall_over_training']:g})"
                                   if "wall_over_training" in targets else "")],
            ["ratio to one by one", "1",
             f"**{first['ratio']:.2f}** (target ≤ {st['target_ratio']:g})"],
            ["trial start-up, median / max (s)", _startup_cell(one), _startup_cell(two)],
            ["peak memory per trial process, max / mean (MiB)"
             + (f", target ≤ {rss_target:g}" if rss_target is not None else ""),
             _rss_cell(one), _rss_cell(two)],
            ["same scores in both runs", "yes" if first["same_scores"] else "**no**", ""],
            ["load average before the run (1-min)", secs(one.get("load_1min")),
             secs(two.get("load_1min"))],
        ]),
        "",
        f"Commands: {code(one['command'])} and {code(two['command'])}, each in an empty "
        "folder; the wall clock includes every trial process's start and imports.",
        "",
        *footer(data),
    ]
    return lines


# --- search: pruned against full --------------------------------------------------------

SEARCH_MODES = (("full", "`--prune none` (full)"), ("pruned", "`--prune asha` (pruned)"))


def _ratio_text(value: float | None, target: float | None = None) -> str:
    """Two decimals, or as many more (up to four) as it takes for a value that is not its
    target not to show as the target (0.4027 against 0.40: 0.403)."""
    if value is None:
        return "—"
    for digits in (2, 3):
        if target is None or value == target or \
                f"{value:.{digits}f}" != f"{target:.{digits}f}":
            return f"{value:.{digits}f}"
    return f"{value:.4f}"


def _search_score(run: dict[str, Any] | None) -> float | None:
    return ((run or {}).get("eval") or {}).get("mean")


def _search_rows(entry: dict[str, Any], targets: dict[str, Any]) -> list[list[str]]:
    """One seed's table: a row per figure, a column per run (a dash for a run not made)."""
    runs = entry.get("runs", {})

    def cells(fn: Callable[[dict[str, Any]], str]) -> list[str]:
        return [fn(runs[m]) if m in runs else "not run" for m, _ in SEARCH_MODES]

    def statuses(run: dict[str, Any]) -> str:
        count = run.get("statuses") or {}
        return " / ".join(str(count.get(k, 0)) for k in ("completed", "pruned", "failed"))

    def best(run: dict[str, Any]) -> str:
        if run.get("best_trial") is None:
            return "—"
        return f"{run['best_trial']} ({secs(run.get('best_training_score'), 1)})"

    def hparams(run: dict[str, Any]) -> str:
        return ", ".join(f"{k} {_compact(v)}" for k, v in (run.get("best_hparams") or {}).items()
                         ) or "—"

    def score(run: dict[str, Any]) -> str:
        ev = run.get("eval")
        return "—" if not ev else f"**{secs(ev['mean'], 1)}** ({secs(ev['min'], 0)})"

    wall_ratio, score_ratio = entry.get("wall_ratio"), entry.get("score_ratio")
    return [
        ["wall clock, the whole command (s)", *cells(lambda r: secs(r.get("wall"), 1))],
        ["exit code", *cells(lambda r: str(r.get("exit_code")))],
        ["trials completed / pruned / failed", *cells(statuses)],
        ["trials that solved", *cells(lambda r: str(r.get("solved_trials", "—")))],
        ["env steps trained, all trials", *cells(lambda r: num(r.get("trial_steps_sum")))],
        ["training inside the trials, summed (s)",
         *cells(lambda r: secs(r.get("train_seconds_sum"), 1))],
        ["of which reporting to the study and waiting for peers, summed (s)",
         *cells(lambda r: secs(r.get("pruning_seconds_sum"), 1))],
        ["trial start-up, summed (s)", *cells(lambda r: secs(r.get("startup_seconds_sum"), 1))],
        ["best trial (its best 20-episode evaluation)", *cells(best)],
        ["its hyperparameters", *cells(hparams)],
        ["best model, 100-episode greedy mean (lowest episode)", *cells(score)],
        ["load average before the command (1-min)", *cells(lambda r: secs(r.get("load_1min")))],
        ["pruned / full wall clock", "",
         f"**{_ratio_text(wall_ratio, targets.get('wall_ratio'))}** "
         f"({_target(targets, 'wall_ratio', wall_ratio)})"],
        ["pruned / full best model's score", "",
         f"**{_ratio_text(score_ratio, targets.get('score_ratio'))}** "
         f"({_target(targets, 'score_ratio', score_ratio, at_most=False)})"],
    ]


def search_section(data: dict[str, Any] | None) -> list[str]:
    lines = ["## Grid search: pruned against full (`benchmarks/search.py`)", ""]
    if data is None:
        return [*lines, not_run("search")]
    st, res = data["settings"], data["results"]
    seeds, s = res.get("seeds", []), res.get("summary") or {}
    targets = st.get("targets", {})
    first = next((r for e in seeds for r in e.get("runs", {}).values() if r.get("trials")),
                 None)
    n_trials = len(first["trials"]) if first else None
    grid_text = (f"{an(n_trials)} {n_trials}-combination grid" if n_trials
                 else "A grid")
    lines += [
        f"{grid_text[0].upper()}{grid_text[1:]} ({code(st['grid'])}), with a budget of "
        f"{num(st['steps'])} env steps per trial, runs twice for each grid seed through the "
        "real command line, back to back: in full (`--prune none`) and pruned "
        "(`--prune asha`: Optuna's successive halving, its first rung waiting for peers, "
        "compares the trials' greedy evaluations at each rung and stops those that lag; "
        "they end `pruned` and keep "
        f"their best model). Both runs use `--workers {st['workers']} --threads "
        f"{st['threads_per_trial']}` and stop a trial once it solves (the default), each in "
        f"an empty folder; the order alternates seed by seed ({st['order']})"
        + (f", and before each seed's pair the benchmark waits (at most {st['max_wait']:g} s) "
           f"for the 1-minute load average to fall to {st['max_load']:g}, then runs the two "
           "back to back" if "max_wait" in st else "")
        + ". The wall clock is the whole command's, from its start to its exit. Each run's "
        "published "
        f"best model (`-f`) is then evaluated on {st['eval_episodes']} greedy episodes that "
        "no trial was judged on, the same episodes for both runs of a seed (seeds "
        f"{code(st['eval_seeds'])}).",
        "",
    ]
    if st.get("quick"):
        lines += ["This file is a quick check of the benchmark (`--quick`): a smaller grid "
                  "and budget than the benchmark's own, so its figures are not the "
                  "benchmark's.", ""]
    done = [e for e in seeds if e.get("wall_ratio") is not None]
    scored = [e for e in seeds if e.get("score_ratio") is not None]
    wall, score = s.get("wall_ratio"), s.get("score_ratio")
    wall_text = _ratio_text(wall, targets.get("wall_ratio"))
    score_text = _ratio_text(score, targets.get("score_ratio"))
    each_wall = all(e["wall_ratio"] <= targets["wall_ratio"] for e in done) \
        if "wall_ratio" in targets and done else None
    each_score = all(e["score_ratio"] >= targets["score_ratio"] for e in scored) \
        if "score_ratio" in targets and scored else None
    lines += [
        f"Over the {len(done)} seed{'s' if len(done) != 1 else ''} with both runs, the "
        f"pruned runs took **{wall_text}×** the wall clock of the full ones (summed; "
        f"target {_target(targets, 'wall_ratio', wall)}), and their best models scored "
        f"**{score_text}×** as much (means of the {st['eval_episodes']}-episode scores; "
        f"target {_target(targets, 'score_ratio', score, at_most=False)}). "
        f"{s.get('pruned_trials', 0)} of the {s.get('trials', 0)} pruned-run trials were "
        "pruned.",
        "",
        *table(["figure", "value", "target"], [
            ["grid seeds", ", ".join(str(e["seed"]) for e in seeds) or "—", ""],
            ["wall clock, summed over the seeds: full / pruned (s)",
             f"{secs(s.get('full_wall_sum'), 1)} / {secs(s.get('pruned_wall_sum'), 1)}", ""],
            ["pruned / full wall clock, summed", f"**{wall_text}**",
             _target(targets, "wall_ratio", wall)],
            ["pruned / full wall clock, per seed: median (highest)",
             f"{_ratio_text(s.get('wall_ratio_median'), targets.get('wall_ratio'))} "
             f"({_ratio_text(s.get('wall_ratio_max'), targets.get('wall_ratio'))})",
             "" if each_wall is None else f"≤ {targets['wall_ratio']:g} each: {met(each_wall)}"],
            [f"best model's {st['eval_episodes']}-episode score, mean over the seeds: "
             "full / pruned",
             f"{secs(s.get('full_score_mean'), 1)} / {secs(s.get('pruned_score_mean'), 1)}", ""],
            ["pruned / full score", f"**{score_text}**",
             _target(targets, "score_ratio", score, at_most=False)],
            ["pruned / full score, per seed: lowest",
             _ratio_text(s.get("score_ratio_min"), targets.get("score_ratio")),
             "" if each_score is None
             else f"≥ {targets['score_ratio']:g} each: {met(each_score)}"],
            ["trials pruned", f"{s.get('pruned_trials', 0)} of {s.get('trials', 0)}", ""],
            ["every command exited 0", "yes" if s.get("all_exit_zero") else "**no**", ""],
        ]),
    ]
    for entry in seeds:
        order = " then ".join(entry.get("order", []))
        if entry.get("waited_seconds"):
            order += f", after {entry['waited_seconds']:.0f} s waiting for the load to settle"
        lines += ["", f"Seed {entry['seed']} ({order}):", "",
                  *table(["figure", *(label for _, label in SEARCH_MODES)],
                         _search_rows(entry, targets))]
    commands = [r["command"] for r in (seeds[0].get("runs", {}).values() if seeds else [])]
    lines += [
        "",
        "Training seconds and start-up are the trials' own (`seconds`, and `phases.startup` "
        "in each result.json: from the trial process's start to its trial's); a pruned "
        "run's trials also open the group's Optuna study. Commands of seed "
        f"{seeds[0]['seed'] if seeds else 0}, each in an empty folder (the others differ "
        "in `--seed` only): " + (" and ".join(code(c) for c in commands) or "none") + ".",
        "",
        *footer(data),
    ]
    return lines


# --- metrics -------------------------------------------------------------------------------

def metrics_rows(data: dict[str, Any]) -> dict[str, dict[str, float]]:
    out = {}
    for name, runs in data["results"]["runs"].items():
        train = [r["train_seconds"] for r in runs]
        wall = [r["process_wall"] for r in runs]
        out[name] = {"train": statistics.median(train), "train_min": min(train),
                     "train_max": max(train), "wall": statistics.median(wall),
                     "wall_min": min(wall), "wall_max": max(wall),
                     "outside": statistics.median(w - t for w, t in zip(wall, train,
                                                                        strict=True)),
                     "n": len(runs)}
    return out


def metrics_section(data: dict[str, Any] | None) -> list[str]:
    lines = ["## Metrics engines: overhead (`benchmarks/metrics_overhead.py`)", ""]
    if data is None:
        return [*lines, not_run("metrics")]
    st = data["settings"]
    rows = metrics_rows(data)
    base = rows[st["baseline"]]
    targets = st.get("targets", {})
    spread = base["train_max"] - base["train_min"]
    diffs = max(abs(r["train"] - base["train"]) for r in rows.values())
    verdicts = [f"{name}: {pct(rows[name]['train'] / base['train'] - 1)} against a target of "
                f"at most {100 * t:.0f}% ({met(rows[name]['train'] / base['train'] - 1 <= t)})"
                for name, t in targets.items() if name in rows]
    table_rows = []
    for name, r in rows.items():
        target = targets.get(name)
        table_rows.append([
            name, secs(r["train"]), f"{secs(r['train_min'])}–{secs(r['train_max'])}",
            pct(r["train"] / base["train"] - 1),
            f"≤ {100 * target:.0f}%" if target is not None else "",
            secs(r["wall"]), f"{secs(r['wall_min'])}–{secs(r['wall_max'])}",
            pct(r["wall"] / base["wall"] - 1), secs(r["outside"])])
    lines += [
        "The same training (fixed steps, no early stop) with and without an engine, each "
        "run a fresh process on one thread, the configurations interleaved seed by seed. "
        "Every configuration writes the trial's own events file; \"no engine\" is the "
        "default console engine at the default log level, which formats nothing. For "
        "\"visdom + mlflow\" the benchmark starts a real Visdom server and a real "
        "`mlflow server` (SQLite store) on loopback.",
        "",
        "Two times per run. *Training* is the trial's own clock: the engines' background "
        "threads (batching, HTTP) share the process with training while it runs. *Whole "
        "process* is the command's wall clock from start to exit: its imports, the "
        "group's open step (MLflow's parent run), training, the engines' close (flushing "
        "their queues, the MLflow upload of the model), the group's close step (Visdom's "
        "summary chart, the MLflow model registry) and the exit. \"Outside training\" is "
        "the median of the difference.",
        "",
        "Targets (overhead of the median training time): " + "; ".join(verdicts) + ". "
        f"On this run the spread of the baseline from run to run ({secs(spread)} s, its "
        f"min–max) is {'wider' if spread > diffs else 'narrower'} than the largest "
        f"difference between the medians of two configurations ({secs(diffs)} s).",
        "",
        *table(["engines", "training, median (s)", "min–max (s)", "overhead",
                "target", "whole process, median (s)", "min–max (s)", "overhead",
                "outside training (s)"], table_rows),
        "",
        f"{base['n']} seeds × {num(st['steps'])} env steps per configuration. Engine "
        "options per configuration: "
        + "; ".join(f"{name}: {code(c)}" for name, c in st.get("configs", {}).items()) + ".",
        "",
        *footer(data),
    ]
    return lines


# --- serving -------------------------------------------------------------------------------

# The ratios the serving section quotes (row over row, of req/s or of p99), for a results
# file that does not list its own (benchmarks/serve_stacks.py RATIOS; "ratio"'s peer is
# the file's own).
SERVE_RATIOS = {
    "ratio": {"of": "cartpole-serve", "to": None, "field": "rps"},
    "floor_ratio": {"of": "cartpole-serve", "to": "floor", "field": "rps"},
    "p99_over_floor": {"of": "cartpole-serve", "to": "floor", "field": "p99_ms"},
    "v2_over_v1": {"of": "cartpole-serve-v2", "to": "cartpole-serve", "field": "rps"},
    "over_mlserver": {"of": "cartpole-serve-v2", "to": "mlserver", "field": "rps"},
    "granian_floor_ratio": {"of": "core-granian", "to": "floor-granian", "field": "rps"},
    "granian_p99_over_floor": {"of": "core-granian", "to": "floor-granian",
                               "field": "p99_ms"},
    "builtin_over_uvicorn": {"of": "cartpole-serve", "to": "core-uvicorn", "field": "rps"},
    "uvicorn_floor_ratio": {"of": "core-uvicorn", "to": "floor", "field": "rps"},
    "granian_over_uvicorn": {"of": "core-granian", "to": "core-uvicorn", "field": "rps"},
}
SERVE_RATIO_TEXT = {
    "ratio": "v1 REST req/s ÷ seldon-core-microservice's",
    "floor_ratio": "v1 REST req/s ÷ the constant floor's (uvicorn)",
    "p99_over_floor": "v1 REST p99 ÷ the constant floor's p99 (uvicorn)",
    "v2_over_v1": "V2 REST req/s ÷ v1 REST's",
    "over_mlserver": "V2 REST req/s ÷ MLServer's (V2 REST)",
    "granian_floor_ratio": "on granian: the app's req/s ÷ granian's constant floor's",
    "granian_p99_over_floor": "on granian: the app's p99 ÷ granian's constant floor's p99",
    "builtin_over_uvicorn": "the built-in HTTP server, req/s ÷ `--http-server uvicorn`'s",
    "uvicorn_floor_ratio": "on uvicorn: the app's req/s ÷ uvicorn's constant floor's",
    "granian_over_uvicorn": "the app on granian, req/s ÷ on uvicorn",
}


def _cell(row: dict[str, Any], connections: int) -> dict[str, Any] | None:
    return next((c for c in row.get("cells", []) if c["connections"] == connections), None)


def _row(rows: list[dict[str, Any]], key: str) -> dict[str, Any] | None:
    return next((r for r in rows if r["key"] == key), None)


def _ratio_specs(data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    st = data["settings"]
    specs = st.get("ratios") or SERVE_RATIOS
    return {name: {**spec, "to": spec["to"] or st["peer"]} for name, spec in specs.items()}


def _cells_ratio(a: dict[str, Any] | None, b: dict[str, Any] | None,
                 field: str = "rps") -> float | None:
    if not a or not b or a["failed"] or b["failed"] or not b.get(field) \
            or a.get(field) is None:
        return None
    return a[field] / b[field]


def serve_ratio(rows: list[dict[str, Any]], key: str, peer: str,
                connections: int, field: str = "rps") -> float | None:
    """``field`` of row ``key`` over the peer's, at ``connections``; None if either failed
    or is missing."""
    row, base = _row(rows, key), _row(rows, peer)
    if row is None or base is None:
        return None
    return _cells_ratio(_cell(row, connections), _cell(base, connections), field)


def alternate_ratio(data: dict[str, Any], spec: dict[str, Any],
                    connections: int) -> dict[str, Any] | None:
    """The ratio ``spec`` names in each round measured in turn at ``connections``, and
    their median (None when any round failed: a failed cell is never averaged away);
    None when the rounds did not hold both servers."""
    alt = data["results"].get("alternate")
    if not alt or spec["of"] not in alt["keys"] or spec["to"] not in alt["keys"]:
        return None
    ratios, failed = [], 0
    for r in alt["rounds"]:
        if r["connections"] != connections:
            continue
        value = _cells_ratio(r["cells"].get(spec["of"]), r["cells"].get(spec["to"]),
                             spec["field"])
        if value is None:
            failed += 1
        else:
            ratios.append(value)
    if not ratios and not failed:
        return None
    return {"ratios": ratios, "failed": failed,
            "median": statistics.median(ratios) if ratios and not failed else None}


def measured_ratio(data: dict[str, Any], name: str,
                   connections: int) -> tuple[float | None, str | None]:
    """A ratio of the serving section and how it was measured: the median of the rounds in
    turn when the run has them, else the rows one after the other; (None, None) when the
    run did not measure one of its two servers."""
    spec = _ratio_specs(data).get(name)
    if spec is None:
        return None, None
    alt = alternate_ratio(data, spec, connections)
    if alt is not None:
        n = len(alt["ratios"]) + alt["failed"]
        return alt["median"], f"the median of {n} round{'s' if n != 1 else ''} measured in turn"
    rows = data["results"]["rows"]
    if _row(rows, spec["of"]) is None or _row(rows, spec["to"]) is None:
        return None, None
    return (serve_ratio(rows, spec["of"], spec["to"], connections, spec["field"]),
            "rows measured one after the other")


def headline_ratio(data: dict[str, Any], connections: int) -> tuple[float | None, str]:
    """The ratio to seldon-core to quote, and how it was measured."""
    value, how = measured_ratio(data, "ratio", connections)
    return value, how or "not measured"


def seldon_text(st: dict[str, Any], versions: dict[str, str], venv: str) -> str:
    cfg = st["seldon_config"]
    return (f"seldon-core {versions.get(venv + ':seldon-core', '(version unknown)')} "
            f"({cfg['workers']} gunicorn worker{'s' if cfg['workers'] != 1 else ''}, "
            f"{cfg['threads']} thread{'s' if cfg['threads'] != 1 else ''}, its defaults "
            "otherwise)")


def _settings_text(settings: dict[str, Any] | None) -> str:
    return ", ".join(f"`\"{k}\": {json.dumps(v)}`" for k, v in (settings or {}).items())


def mlserver_text(data: dict[str, Any], brief: bool = False) -> str:
    """Which MLServer ran as the V2 peer, and with which settings (``brief``: only its
    parallel workers)."""
    ml = data["settings"].get("mlserver") or {}
    version = data["versions"].get("mlserver-venv:mlserver", "(version unknown)")
    settings = ml.get("settings") or {}
    if brief:
        settings = {k: v for k, v in settings.items() if k == "parallel_workers"}
        return (f"MLServer {version} with our `CartpoleRuntime`"
                + (f" and {_settings_text(settings)}" if settings else ""))
    return (f"MLServer {version} with our `CartpoleRuntime`"
            + (f" (settings {_settings_text(settings)})" if settings else ""))


def _ratio_value(data: dict[str, Any], name: str, connections: int) -> str:
    value, how = measured_ratio(data, name, connections)
    if how is None:
        return NOT_MEASURED
    return f"**failed** ({how}; a cell failed)" if value is None else f"{times(value)} ({how})"


def _target_cell(targets: dict[str, Any], key: str, value: float | None, measured: bool,
                 fmt: str = "{:g}×", at_most: bool = False) -> str:
    if key not in targets:
        return "no target recorded in this run"
    if not measured:
        sign = "≤" if at_most else "≥"
        return f"{sign} {fmt.format(targets[key])}: {NOT_MEASURED}"
    return _target(targets, key, value, fmt, at_most)


def serve_targets(data: dict[str, Any]) -> list[list[str]]:
    """The targets table: figure, this run, target."""
    st, rows, t = data["settings"], data["results"]["rows"], data["settings"]["targets"]
    conns = st["connections"]
    at, lo = t.get("connections", max(conns)), min(conns)
    ours = _row(rows, "cartpole-serve")
    out = []
    for name, c, at_most in (("floor_ratio", at, False), ("p99_over_floor", at, True),
                             ("v2_over_v1", at, False), ("over_mlserver", at, False),
                             ("over_mlserver", lo, False), ("ratio", at, False),
                             ("ratio", lo, False)):
        value, how = measured_ratio(data, name, c)
        label = f"{SERVE_RATIO_TEXT[name]}, {c} connection{'s' if c != 1 else ''}"
        if name == "over_mlserver" and how is not None:
            label += f"; {mlserver_text(data)}"
        target = (_target_cell(t, name, value, how is not None, at_most=at_most) if c == at
                  else "—")
        out.append([label, _ratio_value(data, name, c), target])
    if "p99_ms" in t:  # the first serving issue's target: p99 in milliseconds
        cell = _cell(ours, at) if ours else None
        p99 = cell["p99_ms"] if cell and not cell["failed"] else None
        out.append([f"v1 REST p99 (ms), {at} connections, rows one after the other",
                    secs(p99) if ours else NOT_MEASURED,
                    _target_cell(t, "p99_ms", p99, ours is not None, "{:g} ms",
                                 at_most=True)])
    rss = ours.get("rss_mb") if ours else None
    ready = ours.get("ready_s") if ours else None
    out.append(["`cartpole serve` resident memory after the load (MB)",
                num(rss) if ours else NOT_MEASURED,
                _target_cell(t, "rss_mb", rss, ours is not None, "{:g} MB", at_most=True)])
    out.append(["`cartpole serve` start to first answer (s)",
                secs(ready) if ours else NOT_MEASURED,
                _target_cell(t, "ready_s", ready, ours is not None, "{:g} s", at_most=True)])
    grpc = st.get("v2_grpc")
    out.append(["V2 gRPC, req/s",
                "not in the load table (see below)" if grpc else NOT_MEASURED,
                "reported beside V2 REST: not load-tested in this run" if grpc else "—"])
    return out


def _core_line(data: dict[str, Any], core: str, app: str, floor: str,
               ratio: str) -> list[str]:
    rows = data["results"]["rows"]
    at = data["settings"]["targets"].get("connections", max(data["settings"]["connections"]))
    a, f = _row(rows, app), _row(rows, floor)
    if a is None or f is None:
        return [core, NOT_MEASURED, "", "", "", ""]
    ca, cf = _cell(a, at), _cell(f, at)

    def rps(cell: dict[str, Any] | None) -> str:
        return "**failed**" if not cell or cell["failed"] else num(cell["rps"])

    def p99(cell: dict[str, Any] | None) -> str:
        return "—" if not cell or cell["failed"] else secs(cell["p99_ms"])

    return [core, f"{rps(ca)} / {rps(cf)}", times(_cells_ratio(ca, cf)),
            f"{p99(ca)} / {p99(cf)}", _ratio_value(data, ratio, at), num(a.get("rss_mb"))]


def serve_section(data: dict[str, Any] | None) -> list[str]:
    lines = ["## Serving (`benchmarks/serve_stacks.py`)", ""]
    if data is None:
        return [*lines, not_run("serve-stacks")]
    st, rows, v = data["settings"], data["results"]["rows"], data["versions"]
    peer = st["peer"]
    conns = st["connections"]
    hi = max(conns)
    t = st["targets"]
    at = t.get("connections", hi)
    keras = _row(rows, "seldon-keras")
    table_rows = []
    for r in rows:
        cells = []
        for c in conns:
            cell = _cell(r, c)
            if cell is None:
                cells += ["—", "—", "—"]
            elif cell["failed"]:
                cells += [f"**failed**: {cell['reason']}", "—", "—"]
            else:
                cells += [num(cell["rps"]), f"{secs(cell['p50_ms'])} / {secs(cell['p99_ms'])}",
                          times(serve_ratio(rows, r["key"], peer, c))]
        table_rows.append([r["stack"], r["role"], *cells, num(r.get("rss_mb")),
                           f"{secs(r.get('ready_s'))} s", secs(r.get("load_1min"))])
    header = ["stack", "role"]
    for c in conns:
        n = f"{c} conn"
        header += [f"req/s, {n}", f"p50 / p99 (ms), {n}", f"× peer, {n}"]
    header += ["RSS (MB)", "start to first answer", "load before the row (1-min)"]
    has_v2 = "v2_path" in st
    prose = [
        "Every row runs in one process (one worker) on loopback, one after the other in one "
        "run, one observation per request, the same model; each server's whole process "
        "group is gone before the next starts. The peer of the ratio columns is the first "
        "row: seldon-core-microservice with our numpy MODEL class, "
        f"{seldon_text(st, v, 'seldon-venv')}, in `.venv-seldon`. The candidate stacks are "
        "the same prediction endpoint on uvicorn, one worker: FastAPI (pydantic validation), "
        "Starlette, and a plain ASGI callable with orjson. `cartpole serve` runs its app on "
        "its built-in HTTP server (httptools' parser on uvloop, "
        "`cartpole/serving/http_server.py`), with its metrics on: every request goes "
        "through its Prometheus counters and latency histogram, which cannot be turned off. "
        "The floor rows answer a constant without reading the request. "
        + ("`cartpole serve` is measured twice, on Seldon's v1 REST path and on the Open "
           "Inference Protocol's (V2) REST path, as is its V2 peer, `mlserver start` with our "
           "`CartpoleRuntime`. The HTTP core candidates run `cartpole serve`'s app on uvicorn "
           "(`cartpole serve --http-server uvicorn`) and its ASGI app "
           "(`cartpole.serving.server.build_app`) on granian, each beside the constant "
           "floor on the same core. " if has_v2 else "")
        + "seldon-core's RSS counts its gunicorn master and worker, granian's its main "
        "process and worker. A cell in which wrk saw socket errors or non-2xx answers is "
        "marked failed and enters no ratio.",
        "",
        f"The targets of `cartpole serve`, at {at} connections unless said (from the "
        "serving issues; a target this run did not record is said so):",
        "",
        *table(["figure", "this run", "target"], serve_targets(data)),
        "",
    ]
    alt = data["results"].get("alternate")
    if alt:
        specs = _ratio_specs(data)
        said = []
        for name, spec in specs.items():
            per = {c: alternate_ratio(data, spec, c) for c in conns}
            if all(a is None for a in per.values()):
                continue
            said.append(f"{SERVE_RATIO_TEXT.get(name, name)}: " + "; ".join(
                f"at {c} connection{'s' if c != 1 else ''} "
                + (f"median {times(a['median'])}" if a["median"] is not None
                   else "**no median** (a cell failed)")
                + " (rounds: " + ", ".join(times(x) for x in a["ratios"])
                + (f", {a['failed']} failed" if a["failed"] else "") + ")"
                for c, a in per.items() if a is not None))
        names = ", ".join(code(k) for k in alt["keys"])
        prose += [
            "Because other work may share the machine, the servers the targets compare are "
            f"also measured in turn: {names} up at once, {st['rounds']} round"
            f"{'s' if st['rounds'] != 1 else ''} of wrk on each in turn, "
            f"{st['round_seconds']} s per cell, a ratio per round. These medians are the "
            "ratios quoted above and in the README:",
            "",
            *(f"- {s}" for s in said),
            "",
        ]
        for key, why in (alt.get("not_started") or {}).items():
            prose += [f"{code(key)} did not start for the rounds: {why}", ""]
    asgi = serve_ratio(rows, "cartpole-serve", "asgi", hi)
    if asgi is not None:
        does = "Prometheus counters and a latency histogram, routing, tags" + (
            ", both protocols" if has_v2 else "")
        prose += [f"`cartpole serve` does more than the bare `asgi` row ({does}), and reaches "
                  f"{100 * asgi:.0f}% of that row's throughput at {hi} connections (rows "
                  "measured one after the other).", ""]
    if has_v2:
        prose += [
            "HTTP cores (rows one after the other, at "
            f"{at} connections; the last column from the rounds in turn):",
            "",
            *table(["HTTP core", "req/s: app / its floor", "app ÷ its floor",
                    "p99 (ms): app / its floor", "app ÷ its floor, in turn",
                    "app RSS (MB)"],
                   [_core_line(data, "built-in (`cartpole serve`)", "cartpole-serve",
                               "floor", "floor_ratio"),
                    _core_line(data, "uvicorn (httptools, uvloop)", "core-uvicorn", "floor",
                               "uvicorn_floor_ratio"),
                    _core_line(data, "granian", "core-granian", "floor-granian",
                               "granian_floor_ratio")]),
            "",
        ]
        bu, how = measured_ratio(data, "builtin_over_uvicorn", at)
        if bu is not None:
            why = ("uvicorn builds an ASGI scope, a task and receive and send messages for "
                   "every request, and writes each answer as soon as it is made; the built-in "
                   "server calls the app directly and writes the answers of one event-loop "
                   "round together, which wakes the waiting client once per round rather than "
                   "once per answer. That is why `cartpole serve` has its own HTTP server "
                   "rather than the well-kept library; `--http-server uvicorn` runs the same "
                   "app on uvicorn." if bu > 1.05 else
                   "the built-in server is not the faster one in this run, so this run does "
                   "not back the choice of it over uvicorn (`--http-server uvicorn`).")
            prose += [f"The built-in HTTP server answers {times(bu)} the requests per second "
                      f"of the same app on uvicorn at {at} connections ({how}): {why}", ""]
        gr, how = measured_ratio(data, "granian_over_uvicorn", at)
        if gr is not None and "builtin_over_uvicorn" in _ratio_specs(data):
            prose += [f"On granian, the app answers {times(gr)} the requests per second it "
                      f"answers on uvicorn at {at} connections ({how}).", ""]
        elif gr is not None:
            prose += [f"On granian, `cartpole serve`'s app answers {times(gr)} the requests "
                      f"per second of `cartpole serve` on uvicorn at {at} connections ({how}): "
                      + ("the two cores are on par in this run (within 5%), so "
                         "`cartpole serve` stays on uvicorn." if abs(gr - 1) <= 0.05 else
                         "granian is the faster core in this run." if gr > 1 else
                         "uvicorn is the faster core in this run."), ""]
        ml = _row(rows, "mlserver")
        ml_default = _row(rows, "mlserver-default")
        if ml is not None:
            text = (f"The V2 peer is `mlserver start`: {mlserver_text(data)}, from "
                    f"`{st['mlserver']['venv']}`. MLServer's REST takes the JSON body only "
                    "(not the binary tensor extension), so every V2 row is sent JSON.")
            if ml_default is not None:
                a, b = _cell(ml, at), _cell(ml_default, at)
                defaults = _settings_text(st["mlserver"].get("default_row_settings"))
                text += (" A second row leaves `parallel_workers` to MLServer's default "
                         f"(settings {defaults or 'its defaults'}): ")
                if _cells_ratio(a, b) is not None:
                    faster = _cells_ratio(a, b) >= 1
                    text += (f"{num(b['rps'])} requests per second at {at} connections "
                             f"against {num(a['rps'])}, so the setting of the peer is "
                             + ("the faster of the two in this run."
                                if faster else "**not** the faster of the two in this run."))
                else:
                    text += "a cell failed, so the two settings are not compared."
            prose += [text, ""]
        else:
            prose += [f"MLServer (the V2 peer): {NOT_MEASURED}.", ""]
    else:
        prose += ["V2 REST, the MLServer peer and the HTTP core candidates: "
                  f"{NOT_MEASURED} (this results file predates them).", ""]
    grpc = st.get("v2_grpc")
    prose += [f"V2 gRPC is not in the load table: {grpc['why']}" if grpc
              else f"V2 gRPC: {NOT_MEASURED}.", ""]
    for s in data["results"].get("skipped", []):
        prose += [f"{s['stack']}: {NOT_MEASURED} ({s['why']}).", ""]
    if keras is not None:
        k1 = _cell(keras, min(conns))
        tf = v.get("seldon-keras-venv:tensorflow-cpu") or v.get("seldon-keras-venv:tensorflow")
        prose += [
            "The original's style, a Keras `model.predict` call per request, runs in a third "
            f"environment (`.venv-seldon-keras`) with TensorFlow {tf} (the last line that fits "
            "seldon-core's pins; the model is rebuilt from the same weights because Keras 2 "
            "cannot read a Keras 3 file's config) and runs last, so that its TensorFlow "
            "threads weigh on no other row"
            + (f": {num(k1['rps'])} requests per second at {min(conns)} connection."
               if k1 and not k1["failed"] else "."),
            "",
        ]
    bodies = f"body {code(st['body'])} to {code(st['path'])}"
    if has_v2:
        bodies = (f"v1 rows: {bodies}; V2 rows: body {code(st['v2_body'])} to "
                  f"{code(st['v2_path'])}")
    lines += [
        *prose,
        *table(header, table_rows),
        "",
        f"wrk {v.get('wrk', '')}, one thread, {st['seconds_per_cell']} s per cell, "
        f"{', '.join(map(str, conns))} connections; {bodies}. Server commands as run:",
        "",
        *(f"- {r['stack']}: {code(r['command'])}" for r in rows),
        "",
        *footer(data),
    ]
    return lines


# --- remote agent --------------------------------------------------------------------------

def _remote(rows: list[dict[str, Any]], server: str, agent: str,
            kind: str) -> dict[str, Any] | None:
    row = next((r for r in rows if (r["server_key"], r["agent"], r["kind"])
                == (server, agent, kind)), None)
    return row if row is not None and row.get("steps_s") is not None else None


def remote_peer(data: dict[str, Any]) -> dict[str, Any] | None:
    peer = data["settings"]["peer"]
    return next((r for r in data["results"]["rows"]
                 if (r["server_key"], r["agent"]) == (peer["server_key"], peer["agent"])
                 and r.get("steps_s")), None)


def remote_section(data: dict[str, Any] | None) -> list[str]:
    lines = ["## Remote agent (`benchmarks/remote_agent.py`)", ""]
    if data is None:
        return [*lines, not_run("remote")]
    st, res, v = data["settings"], data["results"], data["versions"]
    rows = res["rows"]
    peer = remote_peer(data)
    table_rows = []
    for r in rows:
        kind = r["kind"]
        if r["kind"] == "process":
            kind = "process: " + code(re.sub(r"--port \d+", "--port PORT", r["command"]))
        if r.get("steps_s") is None:
            table_rows.append([r["server"], r["agent"], kind,
                               f"not run: {r.get('not_run', 'no result')}", "—", "—", "—"])
            continue
        ratio = times(r["steps_s"] / peer["steps_s"]) if peer else "—"
        table_rows.append([r["server"], r["agent"], kind, num(r["steps_s"]),
                           f"{secs(r['p50_ms'])} ms", f"{secs(r['p99_ms'])} ms", ratio])
    t = st["targets"]
    prose = [
        "How many CartPole steps per second `cartpole run` plays against a served model, on "
        "loopback, with the server and the agent sharing this machine's cores. Targets "
        "(the remote agent's issue): with 16 runners and `--batch` against `cartpole serve`, "
        f"at least {num(t['batched'])} env steps/s; without batching, at least "
        f"{num(t['unbatched'])}.",
        "",
        "Servers, one after another, each in its own process group: `cartpole serve`; "
        "seldon-core-microservice with our numpy MODEL class (REST and gRPC), "
        f"{seldon_text(st, v, 'seldon-venv')}; and seldon-core-microservice with a Keras "
        "`model.predict` class, the 2018 original's serving style (in `.venv-seldon-keras`, "
        "built by the make target). Each row says what it measures:",
        "",
        "- **process**: `cartpole run` as a user runs it, a subprocess with its progress "
        "display and metric events; the figures are those of its JSON result. Its `-e` is "
        "set from the in-process rate of the same agent so that it plays for about "
        f"{st['seconds_per_cell']:g} s; a cell that would take more than "
        f"{st['process_cap_seconds']:g} s is not run.",
        "- **in-process library**: the runners behind `cartpole run` "
        "(`cartpole.remote.play`), called in the benchmark's process for "
        f"{st['seconds_per_cell']:g} s after a {st['warmup_seconds']:g} s warm-up; cut "
        "episodes count their steps.",
        "- **in-process, 2018 client pattern**: one runner, a new HTTP session per request, "
        "a feedback request after every step, as the 2018 agent did.",
        "",
        "The peer of the ratio column is the 2018 client against the 2018 serving style: "
        "the journey as it was."
        + ("" if peer else " It is missing from this run, so there is no ratio."),
        "",
    ]
    serve_b = {k: _remote(rows, "cartpole-serve", "16 runners, --batch", k)
               for k in ("process", "in-process library")}
    serve_u = {k: _remote(rows, "cartpole-serve", "16 runners", k)
               for k in ("process", "in-process library")}
    facts = []
    for kind in ("process", "in-process library"):
        b, u = serve_b[kind], serve_u[kind]
        if b and u:
            facts.append(f"{kind}: 16 batched runners play {num(b['steps_s'])} env steps/s "
                         f"(target {num(t['batched'])}: {met(b['steps_s'] >= t['batched'])}) "
                         f"and 16 unbatched runners {num(u['steps_s'])} (target "
                         f"{num(t['unbatched'])}: {met(u['steps_s'] >= t['unbatched'])})")
    if facts:
        prose += ["Against `cartpole serve` in this run, " + "; ".join(facts) + ".", ""]
    sb = _remote(rows, "seldon-numpy", "16 runners, --batch", "process")
    su = _remote(rows, "seldon-numpy", "16 runners", "process")
    gb = _remote(rows, "seldon-numpy", "--grpc-client, 16 runners, --batch", "process")
    more = []
    if sb and su:
        more.append(f"against seldon-core with the same numpy model, batching is worth "
                    f"{times(sb['steps_s'] / su['steps_s'])} to `cartpole run` (its gunicorn "
                    "sync worker closes the connection after every answer, so each request "
                    "is a new connection there)")
    if sb and gb:
        more.append(f"batched gRPC plays {times(gb['steps_s'] / sb['steps_s'])} the steps of "
                    "batched REST against it (one gRPC worker)")
    if peer:
        ours_b = serve_b["process"]
        c18 = _remote(rows, "cartpole-serve", "2018 client, 1 runner",
                      "in-process, 2018 client pattern")
        more.append(f"the 2018 journey (its client against its Keras serving style) plays "
                    f"{num(peer['steps_s'])} steps/s, bounded by `model.predict`")
        if ours_b:
            more.append(f"`cartpole run --runners 16 --batch` against `cartpole serve` plays "
                        f"{times(ours_b['steps_s'] / peer['steps_s'])} that")
        if c18:
            more.append(f"the 2018 client alone against `cartpole serve` "
                        f"{times(c18['steps_s'] / peer['steps_s'])}")
    if more:
        prose += ["In this run, " + "; ".join(more) + ".", ""]
    lines += [
        *prose,
        *table(["server", "agent", "kind", "env steps/s", "request p50", "request p99",
                "× peer"], table_rows),
        "",
        "The runners' HTTP client parses answers with httptools over a socket of its own; "
        "the standard library's `http.client` was the bottleneck when it was measured "
        "while the client was built.",
        "",
        "Servers as run (with the 1-minute load average before each, other work on the "
        "machine included): "
        + "; ".join(f"{s['server']}: {code(s['command'])}"
                    + (f" (load {s['load_1min']:.2f})" if "load_1min" in s else "")
                    for s in res["servers"]) + ".",
        "",
        *footer(data),
    ]
    return lines


# --- the whole page ------------------------------------------------------------------------

SECTIONS: dict[str, Callable[[dict[str, Any] | None], list[str]]] = {
    "solve": solve_section, "startup": startup_section, "grid": grid_section,
    "search": search_section, "metrics": metrics_section, "serve-stacks": serve_section,
    "remote": remote_section,
}


def render_docs(results: Results) -> str:
    lines = [
        "# Benchmarks",
        "",
        "<!-- Generated by `make bench-docs` (python -m benchmarks.render) from "
        "benchmarks/results/*.json: edit benchmarks/render.py, not this file. -->",
        "",
        "Every figure here is rendered from the raw results committed in "
        "`benchmarks/results/`, one JSON file per benchmark, each written by a command in "
        "`benchmarks/` that measures the project side by side with the peer it is compared "
        "with, in the same run. Each file also records its machine (CPU model, cores, "
        "AVX-512, the seconds `import tensorflow` took in that run), the load average, the "
        "versions of the compared tools as installed in the environments that ran them, and "
        "the command that reproduces it. `make bench` reruns every benchmark and rewrites "
        "this page; the table below names the `make` target that reruns each one. "
        "The targets quoted are the issues' targets; "
        "everything else is measured.",
        "",
        "| benchmark | results file | measured | load average at start | command |",
        "|---|---|---|---|---|",
    ]
    for name, (target, _) in BENCHMARKS.items():
        data = results.get(name)
        if data is None:
            lines.append(f"| {name} | — | not yet | — | `make {target}` |")
        else:
            lines.append(f"| {name} | `benchmarks/results/{name}.json` | {data['date'][:10]} "
                         f"| {data['load_average']['start'][0]:.2f} | {code(data['command'])} |")
    for name, section in SECTIONS.items():
        lines += ["", *section(results.get(name))]
    return "\n".join(lines) + "\n"


# --- README blocks -------------------------------------------------------------------------

def _compact(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _items(obj: dict[str, Any], keys: tuple[str, ...]) -> str:
    return ",".join(f"{_compact(k)}:{_compact(obj[k])}" for k in keys if k in obj)


def train_block(results: Results) -> str:
    data = results.get("solve")
    if data is None:
        return not_run("solve")
    st, res = data["settings"], data["results"]
    ours, s = res["cartpole"], res["summary"]
    first = next(r for r in ours if r["seed"] == 0) if any(
        r["seed"] == 0 for r in ours) else ours[0]
    result = first["result"]
    trial = result["trials"][0]
    first_hp = next(iter(result["hparams"]))
    json_lines = [
        "{" + _items(result, ("group", "state", "model", "score")) + ",",
        f' "hparams":{{{_compact(first_hp)}:{_compact(result["hparams"][first_hp])},...}},'
        + _items(result, ("trial", "run_dir")) + ",",
        ' "trials":[{' + _items(trial, ("trial", "status", "score", "steps")) + ",...}]}",
    ]
    return "\n".join([
        f"The training itself then takes about {about(s['ours_median_train_seconds'])} s on "
        f"one core (the median of {len(ours)} seeds in `make bench-solve`, "
        f"{data['date'][:10]}; the whole command, from its start to its exit, about "
        f"{about(s['ours_median_process_wall'])} s): it stops once a "
        f"{st['eval_episodes']}-episode greedy evaluation reaches CartPole-v1's threshold of "
        f"{st['threshold']:g} and 80 more episodes confirm it. Its last two lines are a "
        f"summary and a JSON object naming the model it kept (seed {first['seed']} of that "
        f"run, {code(first['command'])}):",
        "",
        "```",
        first["summary_line"],
        *json_lines,
        "```",
    ])


def run_example_block(results: Results) -> str:
    data = results.get("remote")
    example = data and data["results"].get("example")
    if not example:
        return not_run("remote")
    out = example["stdout"]
    start = next((i for i, line in enumerate(out) if " episodes against " in line),
                 max(len(out) - 3, 0))
    summary = json.loads(out[-1])
    return "\n".join([
        f"What {code(example['command'])} printed in `make bench-remote` "
        f"({data['date'][:10]}), its progress lines left out:",
        "",
        "```",
        *out[start:-1],
        "{" + _items(summary, ("run", "state", "episodes", "score")) + ",...}",
        "```",
    ])


def serve_v2_clauses(serve: dict[str, Any]) -> list[str]:
    """The README's clauses on V2 REST, MLServer and the floor, for what the run measured."""
    st = serve["settings"]
    t = st["targets"]
    at = t.get("connections", max(st["connections"]))
    out = []
    ml, how_ml = measured_ratio(serve, "over_mlserver", at)
    v2, how_v2 = measured_ratio(serve, "v2_over_v1", at)
    bits = []
    if ml is not None:
        bits.append(f"{times(ml)} the requests per second of "
                    f"{mlserver_text(serve, brief=True)}"
                    + (f" (target {t['over_mlserver']:g}×: {met(ml >= t['over_mlserver'])})"
                       if "over_mlserver" in t else ""))
    if v2 is not None:
        bits.append(f"{times(v2)} those of its own v1 REST endpoint"
                    + (f" (target {t['v2_over_v1']:g}×: {met(v2 >= t['v2_over_v1'])})"
                       if "v2_over_v1" in t else ""))
    if bits:
        out.append(f"over the Open Inference Protocol (V2 REST, JSON) it answers "
                   f"{' and '.join(bits)}, at {at} connections "
                   f"({how_ml or how_v2})")
    floor, how = measured_ratio(serve, "floor_ratio", at)
    if floor is not None and "floor_ratio" in t:
        out.append(f"its v1 REST endpoint, metrics on, answers {times(floor)} the requests "
                   "per second of a constant-answer ASGI app on uvicorn "
                   f"(target {t['floor_ratio']:g}×: {met(floor >= t['floor_ratio'])}; {how})")
    return out


def performance_block(results: Results) -> str:
    parts = []
    solve = results.get("solve")
    if solve:
        st, s = solve["settings"], solve["results"]["summary"]
        n = len(solve["results"]["cartpole"])
        m = solve["machine"]
        paired = len(s["paired_seeds"])
        ppo = solve["results"].get("sb3_ppo")
        text = (f"On the reference machine ({m['cpu_model']}, {m['cores']} cores, one thread "
                f"per run), `cartpole train` solves CartPole-v1 in a median of "
                f"{secs(s['ours_median_seconds'], 1)} s over {n} seeds, its own evaluations "
                "included.")
        if ppo and s.get("ratio_ppo") is not None:
            text += (f" Side by side in the same run, stable-baselines3 PPO with its tuned zoo "
                     f"hyperparameters needs a median of {secs(s['ppo_median_seconds'], 1)} s "
                     f"of training alone ({len(ppo)} seeds, its evaluations not counted): "
                     f"cartpole takes {times(s['ratio_ppo'])} that.")
        elif ppo:
            text += (" Stable-baselines3 PPO, side by side in the same run, had no finite "
                     "median to compare with.")
        text += (f" On the {paired} seeds both it and stable-baselines3 DQN (with its tuned zoo "
                 f"hyperparameters) ran, side by side in one run, its median is "
                 f"{secs(s['ours_median_seconds_paired'], 1)} s against "
                 f"{secs(s['sb3_median_seconds'], 1)} s: {times(s['ratio'])} the time."
                 if s["ratio"] is not None
                 else " Stable-baselines3 DQN had no finite median to compare with.")
        parts.append(
            f"{text} {s['ours_solved']} of {n} seeds solve within {num(st['steps'])} steps, "
            f"and {s['ours_final_solves']} of {n} saved models hold a "
            f"{st['final_episodes']}-episode mean of at least {st['threshold']:g} "
            f"(`make bench-solve`, {solve['date'][:10]}; {load_note(solve)}).")
    else:
        parts.append("Training speed: " + not_run("solve"))
    parts.append(
        "`make bench` runs every benchmark (time to solve against stable-baselines3 PPO and "
        "DQN, where the time of one training command goes, the grid's parallel efficiency, "
        "a pruned grid search against a full one, the metrics engines' overhead, serving "
        "stacks, the remote agent), writes its raw results to `benchmarks/results/` and "
        "rewrites [docs/benchmarks.md](docs/benchmarks.md), "
        "with each table's command, and the figures in this README.")
    serve, remote = results.get("serve-stacks"), results.get("remote")
    said = []
    if serve:
        st = serve["settings"]
        hi, lo = max(st["connections"]), min(st["connections"])
        r_hi, how = headline_ratio(serve, hi)
        r_lo, _ = headline_ratio(serve, lo)
        if r_hi is not None:
            said.append(
                f"`cartpole serve` answers {times(r_hi)} the requests per second of "
                f"{seldon_text(st, serve['versions'], 'seldon-venv')} serving the same numpy "
                f"model with its microservice, at {hi} concurrent connections "
                f"({times(r_lo)} at {lo}; {how}; `make bench-serve-stacks`, "
                f"{serve['date'][:10]}; {load_note(serve)})")
        else:
            said.append("the serving ratio is not available: a cell of its run failed "
                        "(`make bench-serve-stacks`)")
        said.extend(serve_v2_clauses(serve))
    else:
        said.append("serving: " + not_run("serve-stacks"))
    if remote:
        rows = remote["results"]["rows"]
        b = _remote(rows, "cartpole-serve", "16 runners, --batch", "process")
        u = _remote(rows, "cartpole-serve", "16 runners", "process")
        peer = remote_peer(remote)
        bits = []
        if b:
            bits.append(f"`cartpole run` with 16 batched runners, run as a command, plays "
                        f"about {about(b['steps_s'])} CartPole steps per second against it")
        if u:
            bits.append(f"16 unbatched runners about {about(u['steps_s'])}")
        if peer:
            bits.append(f"and the 2018 agent against its Keras-serving microservice about "
                        f"{about(peer['steps_s'])}")
        said.append(", ".join(bits) + f" (`make bench-remote`, {remote['date'][:10]}; "
                    f"{load_note(remote)})")
    else:
        said.append("playing: " + not_run("remote"))
    parts.append("Serving and playing, measured side by side on the same machine: "
                 + "; ".join(said) + ".")
    return "\n\n".join(parts)


BLOCKS: dict[str, Callable[[Results], str]] = {
    "train": train_block, "run-example": run_example_block, "performance": performance_block,
}


def render_readme(text: str, results: Results) -> str:
    """``text`` with every ``bench:NAME`` block re-rendered; an unknown name is an error."""
    def block(match: re.Match[str]) -> str:
        name = match.group(2)
        if name not in BLOCKS:
            raise KeyError(f"README block bench:{name} has no renderer")
        return f"{match.group(1)}{BLOCKS[name](results).rstrip()}\n{match.group(4)}"

    return BLOCK.sub(block, text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true",
                        help="change nothing; exit 1 if a file differs from its rendering")
    args = parser.parse_args()
    results = load_results()
    readme = README.read_text()
    wanted = {DOCS: render_docs(results), README: render_readme(readme, results)}
    stale = [p for p, text in wanted.items() if not p.exists() or p.read_text() != text]
    if args.check:
        for path in stale:
            print(f"{path.relative_to(ROOT)} differs from its rendering: make bench-docs",
                  file=sys.stderr)
        sys.exit(1 if stale else 0)
    for path in stale:
        path.write_text(wanted[path])
        print(f"rewrote {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
