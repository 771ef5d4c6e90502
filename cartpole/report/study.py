"""A group's Optuna study as the report reads it: an in-memory copy, or nothing.

The study is named after the group and lives in ``runs/<group>/study.db``, or in the
storage plan.json's ``options.search.storage`` names (without its password: the report
takes the whole URL from ``$CARTPOLE_STORAGE`` when it names the same database, as
``cartpole train`` does). A group without a study, a missing Optuna or an empty study
gives no search section; a study that cannot be read gives a one-line note.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cartpole.grid.study import TRIAL_ATTR, whole_url
from cartpole.paths import STUDY_FILE

log = logging.getLogger(__name__)

_STATES = {"FAIL": "failed"}  # Optuna's other state names read well in lower case
_CONNECT_TIMEOUT = 10  # seconds, a study in a database server that does not answer


@dataclass
class SearchStudy:
    """A snapshot of the group's study (``study`` is None if it could not be read)."""

    name: str
    storage: str  # where it lives, for people: "study.db" or a URL without password
    method: str = "grid"
    prune: str = "none"
    study: Any = None  # an optuna.Study in memory, a copy taken when the report was made
    error: str | None = None
    trial_ids: dict[int, str] = field(default_factory=dict)  # Optuna number -> "t003"

    def trials(self, *states: str) -> list[Any]:
        """The study's trials in the named states (``"COMPLETE"``, ``"PRUNED"``, ...)."""
        if self.study is None:
            return []
        return [t for t in self.study.get_trials(deepcopy=False) if t.state.name in states]

    def counts(self) -> dict[str, int]:
        """How many trials are in each state, e.g. ``{"complete": 8, "pruned": 4}``: each
        cartpole trial once, in the state of its latest Optuna trial (an interrupted
        attempt that was rerun is not counted as failed)."""
        latest: dict[Any, Any] = {}
        for t in self.study.get_trials(deepcopy=False) if self.study is not None else ():
            key = t.user_attrs.get(TRIAL_ATTR) or ("#", t.number)
            if key not in latest or t.number > latest[key].number:
                latest[key] = t
        counts: dict[str, int] = {}
        for t in latest.values():
            state = _STATES.get(t.state.name, t.state.name.lower())
            counts[state] = counts.get(state, 0) + 1
        return counts


def load_search(group_dir: Path, name: str, search: dict[str, Any] | None) -> SearchStudy | None:
    """The study ``name`` of the group in ``group_dir`` (``search``: plan.json's
    ``options.search``); None when there is none, it is empty or Optuna is missing."""
    search = search or {}
    shown = search.get("storage")
    if shown:
        url = whole_url(shown)
    elif (group_dir / STUDY_FILE).is_file():
        url, shown = f"sqlite:///{(group_dir / STUDY_FILE).resolve()}", STUDY_FILE
    else:
        return None
    try:
        import optuna
    except ImportError:
        log.warning("optuna is not installed: the report leaves out the search plots")
        return None
    found = SearchStudy(name=name, storage=shown, method=search.get("method") or "grid",
                        prune=search.get("prune") or "none")
    try:
        with quiet_optuna():
            read = _read_trials(optuna, url, name)
            if read is None or not read[0]:
                return None
            trials, direction = read
            found.study = optuna.create_study(study_name=name, direction=direction)
            found.study.add_trials(trials)
    except Exception as exc:  # noqa: BLE001 - any storage error: the report goes on without
        found.error = _scrub(one_line(exc), url)
        log.warning("cannot read the study %s in %s: %s", name, shown, found.error)
        return found
    found.trial_ids = {t.number: t.user_attrs[TRIAL_ATTR] for t in trials
                       if isinstance(t.user_attrs.get(TRIAL_ATTR), str)}
    return found


def _read_trials(optuna: Any, url: str, name: str) -> tuple[list[Any], Any] | None:
    """Every trial of the study ``name`` in ``url``, and its direction; None if there is
    no such study. The storage is opened as it is (no table, no SQLite file is created)
    and closed again.
    """
    from optuna.storages import RDBStorage
    from sqlalchemy.engine import make_url

    database = make_url(url).database
    if url.startswith("sqlite") and not (database and Path(database).is_file()):
        return None

    connect = ({"connect_timeout": _CONNECT_TIMEOUT} if url.startswith("postgresql") else
               {"timeout": _CONNECT_TIMEOUT} if url.startswith("sqlite") else {})
    storage = RDBStorage(url, engine_kwargs={"connect_args": connect},
                         skip_table_creation=True)
    try:
        try:
            study = optuna.load_study(study_name=name, storage=storage)
        except KeyError:
            return None
        if len(study.directions) != 1:
            raise ValueError("a study with several objectives (cartpole's have one)")
        return study.get_trials(deepcopy=True), study.direction
    finally:
        storage.engine.dispose()


def one_line(exc: BaseException) -> str:
    """``ValueError: the first line of its message`` (at most 200 characters of it), of
    the exception at the root of ``exc`` (Optuna wraps a refused connection in a
    StorageInternalError about a commit)."""
    for _ in range(10):  # a chain of causes is short; this one cannot loop
        inner = exc.__cause__ or exc.__context__
        if inner is None:
            break
        exc = inner
    lines = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {lines[0][:200]}" if lines else type(exc).__name__


def _scrub(text: str, url: str) -> str:
    """``text`` without the password of ``url``, should an error message quote it."""
    try:
        from sqlalchemy.engine import make_url

        password = make_url(url).password
    except Exception:  # noqa: BLE001 - not a URL SQLAlchemy reads: nothing to hide in it
        return text
    return text.replace(str(password), "***") if password else text


@contextmanager
def quiet_optuna() -> Iterator[None]:
    """Optuna's INFO and WARNING lines off (a study made in memory, a plot of a study
    without complete trials), then its verbosity as it was."""
    import optuna

    before = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    try:
        yield
    finally:
        optuna.logging.set_verbosity(before)
