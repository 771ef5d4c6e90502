"""A fork server for the local backend: trial code imported once, one fresh child per trial.

Starting a trial as a new interpreter costs its imports (numpy, gymnasium, h5py, the
package: about 0.15-0.2 s on a 2-core machine) every time, which is a tenth of a short
trial. The fork server is one process, started once per group, that imports the trial
code and then forks a child per trial. Each child is still a process of its own: it
starts a new session (so the runner can signal its process group), sends stderr to the
trial's ``worker.log``, runs ``worker.main`` and exits; nothing of one trial runs in
another's process, and a crash ends one child only. The server itself never trains,
and it starts no thread, so forking it is safe.

Protocol, one line each way: the runner writes ``run <trial_dir>`` on the server's
stdin; the server answers ``started <trial_dir> <pid>`` and, when the child ends,
``exit <pid> <code>`` (a negative code is the signal that ended it, as ``Popen``
reports). The server exits when its stdin closes, after its children. The group's
stdout reaches the children as an inherited file descriptor (its number is the
server's one argument), since the server's own stdout is the answer pipe. When its
stdin closes while children still run, the runner is gone: the server sends each
child's process group SIGTERM, so they stop as they would on Ctrl-C.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import subprocess
import sys
import threading
from pathlib import Path

from cartpole.paths import LOG_FILE

REAP_SECONDS = 0.05


class ForkServerError(RuntimeError):
    """The fork server ended or could not start a trial."""


class ForkServer:
    """The runner's side: starts the server, launches trials, collects their exits."""

    def __init__(self, env: dict[str, str], preload: tuple[str, ...] = ()) -> None:
        """``preload``: more modules every trial of this group imports, as "module" or
        "module:function" to call once (a search's Optuna: ``study.STUDY_MODULES``)."""
        group_stdout = os.dup(1)  # as a worker started by Popen(stdout=None) would share
        try:
            self._proc = subprocess.Popen(
                [sys.executable, "-m", "cartpole.grid.backends.forkserver",
                 str(group_stdout), *preload],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=None, env=env,
                pass_fds=(group_stdout,), start_new_session=True, text=True, bufsize=1,
            )
        finally:
            os.close(group_stdout)
        self._lock = threading.Condition()
        self._started: dict[str, int] = {}
        self._exits: dict[int, int] = {}
        self._closed = False
        self._reader = threading.Thread(target=self._read, name="fork-server", daemon=True)
        self._reader.start()

    @property
    def pid(self) -> int:
        return self._proc.pid

    def launch(self, trial_dir: Path) -> ForkedTrial:
        """Fork a child that trains the trial in ``trial_dir``; return its handle."""
        key = str(trial_dir)
        try:
            assert self._proc.stdin is not None
            self._proc.stdin.write(f"run {key}\n")
            self._proc.stdin.flush()
        except (BrokenPipeError, OSError) as exc:
            raise ForkServerError(f"the fork server is gone ({exc})") from None
        with self._lock:
            if not self._lock.wait_for(lambda: key in self._started or self._closed,
                                       timeout=60):
                raise ForkServerError("the fork server did not start the trial within 60 s")
            if key not in self._started:
                raise ForkServerError("the fork server ended before it started the trial")
            return ForkedTrial(self, self._started.pop(key))

    def returncode(self, pid: int) -> int | None:
        with self._lock:
            if pid in self._exits:
                return self._exits[pid]
            return -signal.SIGKILL if self._closed else None

    def wait(self, pid: int, timeout: float | None) -> int | None:
        """The child's exit code, waiting at most ``timeout`` seconds (None: still running)."""
        with self._lock:
            self._lock.wait_for(lambda: pid in self._exits or self._closed, timeout=timeout)
        return self.returncode(pid)

    def wait_any(self, timeout: float) -> None:
        """Return once some child ended, or after ``timeout`` seconds."""
        with self._lock:
            count = len(self._exits)
            self._lock.wait_for(lambda: len(self._exits) > count or self._closed,
                                timeout=timeout)

    def close(self) -> None:
        """Close the server's stdin; it exits after its children."""
        if self._proc.stdin is not None:
            with contextlib.suppress(OSError):
                self._proc.stdin.close()
        try:
            self._proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()

    def _read(self) -> None:
        assert self._proc.stdout is not None
        for line in self._proc.stdout:
            kind, _, rest = line.rstrip("\n").partition(" ")
            with self._lock:
                if kind == "started":
                    trial_dir, _, pid = rest.rpartition(" ")
                    self._started[trial_dir] = int(pid)
                elif kind == "exit":
                    pid, _, code = rest.partition(" ")
                    self._exits[int(pid)] = int(code)
                self._lock.notify_all()
        with self._lock:
            self._closed = True
            self._lock.notify_all()


class ForkedTrial:
    """One trial's child process, with the part of ``Popen``'s interface the backend uses."""

    def __init__(self, server: ForkServer, pid: int) -> None:
        self._server = server
        self.pid = pid

    @property
    def returncode(self) -> int | None:
        return self._server.returncode(self.pid)

    def poll(self) -> int | None:
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        code = self._server.wait(self.pid, timeout)
        if code is None:
            raise subprocess.TimeoutExpired(f"trial process {self.pid}", timeout or 0.0)
        return code


# --- the server's side ---------------------------------------------------------------------


def serve(group_stdout: int, preload: tuple[str, ...] = ()) -> int:
    """The server's loop: fork a child per ``run`` line, report starts and exits."""
    # What every trial imports, imported once here (no thread starts on import).
    import importlib

    import cartpole.grid.backends.worker as worker
    import cartpole.metrics.engines
    import cartpole.training.trial_dir  # noqa: F401

    for name in preload:  # "module" or "module:function" (called once, here)
        module, _, function = name.partition(":")
        loaded = importlib.import_module(module)
        if function:
            getattr(loaded, function)()

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the runner stops trials, not us
    children: set[int] = set()
    stdin = sys.stdin.buffer
    pending = b""
    open_input = True
    while open_input or children:
        if open_input:
            ready, _, _ = select.select([stdin], [], [], REAP_SECONDS)
            if ready:
                chunk = os.read(stdin.fileno(), 65536)
                if not chunk:
                    open_input = False
                    for pid in children:
                        _signal_group(pid, signal.SIGTERM)
                pending += chunk
                while b"\n" in pending:
                    line, pending = pending.split(b"\n", 1)
                    command, _, arg = line.decode().partition(" ")
                    if command == "run":
                        pid = _fork_trial(worker.main, arg, group_stdout)
                        children.add(pid)
                        _say(f"started {arg} {pid}")
        else:
            select.select([], [], [], REAP_SECONDS)
        for pid, code in _reap():
            children.discard(pid)
            _say(f"exit {pid} {code}")
    return 0


def _fork_trial(main, trial_dir: str, group_stdout: int) -> int:  # noqa: ANN001
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid:
        return pid
    code = 1
    try:
        os.setsid()
        signal.signal(signal.SIGINT, signal.default_int_handler)
        log = os.open(Path(trial_dir) / LOG_FILE, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        os.dup2(log, 2)
        os.close(log)
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.close(null)
        os.dup2(group_stdout, 1)
        os.close(group_stdout)
        sys.stdin = open(0, closefd=False)  # noqa: SIM115 - fd 0, closed at exit
        sys.stdout = open(1, "w", buffering=1, closefd=False)  # noqa: SIM115
        sys.stderr = open(2, "w", buffering=1, closefd=False)  # noqa: SIM115
        code = main([trial_dir])
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    except BaseException:  # noqa: BLE001 - the child must never return into the server
        import traceback

        traceback.print_exc()
        code = 1
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)


def _signal_group(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, sig)


def _reap() -> list[tuple[int, int]]:
    ended = []
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return ended
        if pid == 0:
            return ended
        ended.append((pid, os.waitstatus_to_exitcode(status)))


def _say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def main(argv: list[str]) -> None:
    code = serve(int(argv[0]), tuple(argv[1:]))
    sys.stdout.flush()
    # Its children are reaped and it started no thread: nothing is left to tear down, and
    # the interpreter's teardown of what it imported (Optuna, SQLAlchemy) would keep the
    # runner waiting for a third of a second.
    os._exit(code)


if __name__ == "__main__":
    main(sys.argv[1:])
