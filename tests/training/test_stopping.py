"""Signals held over a block (training/stopping.py): they act once it ends, not inside."""

from __future__ import annotations

import os
import signal

import pytest

from cartpole.training.stopping import signals_held


def _interrupted_inside(done: list) -> None:
    with signals_held():
        os.kill(os.getpid(), signal.SIGINT)
        for _ in range(1000):  # bytecode enough for a handler to have run
            done.append(None)
        done.append("end")


def test_a_ctrl_c_inside_the_block_acts_after_it():
    done: list = []
    with pytest.raises(KeyboardInterrupt):
        _interrupted_inside(done)
    assert done[-1] == "end"  # the block ran to its end first
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # restored


def test_without_a_signal_nothing_happens():
    with signals_held():
        value = 1
    assert value == 1
