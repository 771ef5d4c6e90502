"""Shared test settings: the quick training options, and the two tiers of the suite.

Tests that start a process (a server, the command line, a trial worker, Ray, Chromium,
a linter) are marked ``slow`` and run only in ``make test``; ``make test-fast`` runs
the rest, in-process. The marker is checked: an unmarked test that starts a process
fails, so the fast tier stays fast.
"""

import os
import signal
import subprocess
import time

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

# Training that runs every part of a trial (acting, learning, evaluation, saving) in
# well under a second of learning: a tiny network, few updates, two-episode evaluations.
QUICK_OPTIONS = {"eval-every": 300, "eval-episodes": 2, "hidden-sizes": "8",
                 "learning-starts": 100, "train-freq": 100, "gradient-steps": 5}


class Quick:
    """The quick training settings, for the command line and for library calls."""

    def __call__(self, steps: int | None = 600, **overrides: object) -> list[str]:
        """``cartpole train`` options; ``overrides`` use underscores (``eval_every=500``),
        and ``steps=None`` leaves the step budget out."""
        options = {**QUICK_OPTIONS, **{k.replace("_", "-"): v for k, v in overrides.items()}}
        if steps is not None:
            options = {"steps": steps, **options}
        return [arg for name, value in options.items() for arg in (f"--{name}", str(value))]

    def hparams(self, **overrides: object):
        """The same settings as an HParams, for ``run_trial``."""
        from cartpole.hparams import HParams

        options = {k.replace("-", "_"): v for k, v in QUICK_OPTIONS.items()}
        options["hidden_sizes"] = tuple(int(n) for n in str(options["hidden_sizes"]).split(","))
        return HParams(**{**options, **overrides})


@pytest.fixture(scope="session")
def quick():
    """The quick training settings: ``quick(steps=600, **overrides)`` gives command-line
    options, ``quick.hparams(**overrides)`` an HParams."""
    return Quick()


# -- the tiers ---------------------------------------------------------------------------
_may_start_processes = True
_start_process = subprocess.Popen._execute_child


def _guarded_start(self, args, *rest, **kw):
    if not _may_start_processes:
        raise AssertionError(f"this test starts a process ({args!r:.80}): mark it "
                             "@pytest.mark.slow, or keep it in-process")
    return _start_process(self, args, *rest, **kw)


subprocess.Popen._execute_child = _guarded_start


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item):
    global _may_start_processes
    _may_start_processes = item.get_closest_marker("slow") is not None
    return (yield)


def pytest_addoption(parser):
    parser.addoption("--tf-ratio", action="store_true",
                     help="at the end, time `import tensorflow` once and print the suite's "
                          "wall time as a multiple of it")


def pytest_configure(config):
    # A shell without job control starts background commands with SIGINT ignored
    # (`make test &` in a script, `nohup`), and every child inherits that: the tests
    # that press Ctrl-C on a command would then see it run on. The tests' children must
    # get Python's default Ctrl-C, as from a terminal.
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


def pytest_sessionstart(session):
    session.config._cartpole_started = time.monotonic()
    if session.config.pluginmanager.hasplugin("dsession"):
        return  # pytest-xdist's controller: its workers run the tests
    # numpy's BLAS threads, fixed once for the whole session as a trial does.
    from cartpole.training.runtime import limit_threads

    limit_threads(1)


def pytest_terminal_summary(terminalreporter, config):
    if not config.getoption("--tf-ratio"):
        return
    import sys

    wall = time.monotonic() - config._cartpole_started
    global _may_start_processes
    _may_start_processes = True
    times = []
    for _ in range(3):
        begin = time.monotonic()
        subprocess.run([sys.executable, "-c", "import tensorflow"], check=True,
                       capture_output=True)
        times.append(time.monotonic() - begin)
    tf_seconds = sorted(times)[1]
    terminalreporter.write_line(
        f"suite wall time {wall:.0f} s = {wall / tf_seconds:.0f}x one "
        f"`python -c 'import tensorflow'` here ({tf_seconds:.1f} s, the median of 3); "
        "the budget is 50x")
