"""The summary that closes a remote run."""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np

from cartpole.remote.play import Tally


def run_summary(tally: Tally, seconds: float, interrupted: bool) -> dict[str, Any]:
    """Scores of completed episodes only; a cut episode is counted, never scored."""
    scores = np.array([e.score for e in tally.done], dtype=np.float64)
    lat = np.array(tally.latencies, dtype=np.float64) * 1000.0
    branches = Counter(e.branch for e in tally.done if e.branch is not None)
    state = ("failed" if tally.error else "interrupted" if interrupted
             else "completed")
    return {
        "state": state,
        "episodes": len(scores),
        "requested": tally.budget,
        "score": _round(scores.mean()) if scores.size else None,
        "score_min": _round(scores.min()) if scores.size else None,
        "score_max": _round(scores.max()) if scores.size else None,
        "steps": tally.steps,
        "seconds": round(seconds, 3),
        "steps_per_second": round(tally.steps / seconds, 1) if seconds > 0 else 0.0,
        "requests": tally.requests,
        "latency_p50_ms": _round(np.percentile(lat, 50)) if lat.size else None,
        "latency_p99_ms": _round(np.percentile(lat, 99)) if lat.size else None,
        "cut_short": tally.cut_short,
        "branches": {str(b): n for b, n in sorted(branches.items())},
        "error": str(tally.error) if tally.error else None,
        "interrupted": interrupted,
    }


def summary_lines(s: dict[str, Any], target: str, transport: str, runners: int,
                  batch: bool) -> list[str]:
    how = f"{transport}, {runners} runner{'s' if runners != 1 else ''}" + (
        ", batched" if batch else "")
    lines = []
    if s["episodes"]:
        lines.append(f"{s['episodes']} episodes against {target} ({how}): score mean "
                     f"{s['score']:g}, min {s['score_min']:g}, max {s['score_max']:g}")
    else:
        lines.append(f"no episode completed against {target} ({how})")
    if s["requests"]:
        lines.append(f"{s['steps']:,} env steps in {s['seconds']:.2f} s: "
                     f"{s['steps_per_second']:,.0f} steps/s; {s['requests']:,} requests, "
                     f"latency p50 {s['latency_p50_ms']:.2f} ms, p99 {s['latency_p99_ms']:.2f} ms")
    if s["branches"]:
        lines.append("episodes per branch: " + ", ".join(
            f"{b}: {n}" for b, n in s["branches"].items()))
    if s["state"] != "completed":
        why = "the error" if s["state"] == "failed" else "the interrupt"
        lines.append(f"PARTIAL: {s['episodes']} of {s['requested']} episodes completed "
                     f"before {why}; {s['cut_short']} cut short, not scored")
    return lines


def _round(value: float) -> float:
    return round(float(value), 3)
