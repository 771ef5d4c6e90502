"""Valid events of a remote run (``cartpole run``) and of the router demo, for the tests."""

from cartpole.metrics import make_event


def run_start(group="run-x", **over):
    return make_event("run_start", group, "agent", **{
        "target": "http://127.0.0.1:9000/api/v1.0/predictions", "transport": "rest",
        "runners": 2, "batch": False, "env": "CartPole-v1", "episodes": 4,
        "feedback": "episode", **over})


def run_episode(group="run-x", runner=0, episode=1, score=20.0, steps=20, branch=None,
                **over):
    return make_event("run_episode", group, f"r{runner:02d}", **{
        "runner": runner, "episode": episode, "seed": 100 + episode, "score": score,
        "steps": steps, "seconds": 0.05, "branch": branch, **over})


def run_end(group="run-x", **over):
    return make_event("run_end", group, "agent", **{
        "episodes": 4, "score": 25.0, "score_min": 20.0, "score_max": 31.0, "steps": 100,
        "seconds": 0.4, "steps_per_second": 250.0, "latency_p50_ms": 0.8,
        "latency_p99_ms": 2.5, "requests": 100, "cut_short": 0, "error": None,
        "interrupted": False, **over})


def route(group="run-x", request=1, branch=0, share=0.5, **over):
    return make_event("route", group, "router", **{
        "request": request, "branch": branch, "reward": 1.0, "preferred": 1, "share": share,
        **over})


def a_run(group="run-x"):
    """Two runners, four episodes (run-wide numbers in order of completion), the end."""
    return [run_start(group),
            run_episode(group, 0, 1, 12.0, 12), run_episode(group, 1, 2, 30.0, 30),
            run_episode(group, 0, 3, 45.0, 45), run_episode(group, 1, 4, 13.0, 13),
            run_end(group, score=25.0, score_min=12.0, score_max=45.0)]


def a_router_demo(group="run-x", requests=6):
    return [route(group, r, branch=r % 2, share=round((r // 2) / r, 4))
            for r in range(1, requests + 1)]
