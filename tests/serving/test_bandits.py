"""Routers that learn: epsilon-greedy and Thompson sampling, through the Seldon classes."""

import threading

import pytest

from cartpole.serving.bandits import EpsilonGreedy, ThompsonSampling
from cartpole.serving.errors import BadRequest
from cartpole.serving.seldon import EpsilonGreedyRouter, ThompsonRouter


@pytest.mark.parametrize("router", [
    EpsilonGreedyRouter(n_branches="3", epsilon="0.1", seed="0"),  # Seldon passes strings
    ThompsonRouter(n_branches=3, seed=0),
])
def test_converges_to_the_rewarded_branch(router):
    chosen = []
    for _ in range(2000):
        branch = router.route([[0.0, 0.0, 0.0, 0.0]], None)
        chosen.append(branch)
        router.send_feedback([[0.0] * 4], None, 1.0 if branch == 2 else 0.0, None, branch)
    assert chosen.count(2) / len(chosen) >= 0.85
    state = router.bandit.state()
    assert sum(state["routed"]) == 2000 and state["mean_reward"][2] == 1.0
    keys = {m["key"] for m in router.metrics()}
    assert "cartpole_branch_2_routed" in keys


def test_epsilon_greedy_tries_every_branch_before_exploiting():
    bandit = EpsilonGreedy(3, 0.0, 0)
    bandit.update(0, 0.02)  # a poor first reward must not win against untried branches
    assert {bandit.choose() for _ in range(20)} == {1, 2}
    bandit.update(1, 0.9)
    assert {bandit.choose() for _ in range(20)} == {2}
    bandit.update(2, 0.5)
    assert {bandit.choose() for _ in range(20)} == {1}


def test_feedback_routing_as_seldon_dict():
    router = EpsilonGreedyRouter(2, 0.0, 0)
    router.send_feedback([], None, 1.0, None, {"router": 1})
    assert router.bandit.state()["rewarded"] == [0, 1]


@pytest.mark.parametrize(("make", "message"), [
    (lambda: EpsilonGreedy(0), "at least 1"),
    (lambda: EpsilonGreedy("x"), "integer"),
    (lambda: EpsilonGreedy(2, 1.5), r"epsilon must be in \[0, 1\]"),
    (lambda: EpsilonGreedy(2, 0.1).update(5, 1.0), "branch must be in 0..1"),
    (lambda: EpsilonGreedy(2, 0.1).update(0, "nan"), "finite"),
    (lambda: ThompsonSampling(2).update(None, 1.0), "numeric reward"),
])
def test_bad_parameters(make, message):
    with pytest.raises(BadRequest, match=message):
        make()


def test_thread_safe_counts():
    bandit = EpsilonGreedy(3, 0.5, 1)

    def work():
        for _ in range(2000):
            bandit.update(bandit.choose(), 1.0)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    state = bandit.state()
    assert sum(state["routed"]) == 8000 and sum(state["rewarded"]) == 8000
