"""A lane's episode bookkeeping: which branch of a router graph its feedback credits."""

import numpy as np

from cartpole.remote.client import Reply
from cartpole.remote.play import Lane, PlayConfig


def reply(branch: int | None) -> Reply:
    return Reply(np.array([0]), {} if branch is None else {"router": branch})


def test_feedback_credits_the_branch_that_played_most_of_the_episode():
    lane = Lane(0, PlayConfig())
    lane.start(0)
    answers = [reply(1), reply(1), reply(0), reply(1), reply(0)]
    for r in answers:
        lane.step(0, r)
    assert lane.branch() == 1
    assert lane.feedback_reply(answers[-1]) is answers[3]  # branch 1's last, not branch 0's
    lane.close()


def test_feedback_without_routing_sends_the_last_answer():
    lane = Lane(0, PlayConfig())
    lane.start(0)
    answers = [reply(None), reply(None)]
    for r in answers:
        lane.step(0, r)
    assert lane.branch() is None and lane.feedback_reply(answers[-1]) is answers[-1]
    lane.close()
