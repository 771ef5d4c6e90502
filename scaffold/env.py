"""Write the compose stacks' .env: generated credentials, never committed.

    python3 scaffold/env.py [PATH]        (`make env` runs it; PATH defaults to .env)

Creates PATH with mode 600 when it is missing. When it exists, appends only the keys
it lacks: a value already in the file is never changed, whoever wrote it. Generated
passwords go into the file only; what this prints names keys, never values.
Standard library only, so the host's python3 runs it without the project's venv.
"""

from __future__ import annotations

import os
import re
import secrets
import stat
import sys
import tempfile
from pathlib import Path

# Characters a value can hold and still mean the same thing to docker-compose 1.29,
# `docker compose` v2, the shells of the healthchecks and curl's config syntax.
SAFE_VALUE = re.compile(r"[A-Za-z0-9._~-]*")
ASSIGNMENT = re.compile(r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=(.*)$")
OPT_IN = re.compile(r"^\s*#\s*BIND_ADDRESS\s*=")


def generated() -> str:
    """A random password: 32 URL-safe characters (24 random bytes)."""
    return secrets.token_urlsafe(24)


# (key, how its value is made, the comment written above it). A comment of None
# continues the group above.
KEYS: list[tuple[str, object, str | None]] = [
    ("ELASTIC_PASSWORD", generated,
     "efk: ELASTIC_PASSWORD is the superuser `elastic`'s (log into Kibana with it);\n"
     "the one-shot efk-users gives KIBANA_SYSTEM_PASSWORD to Kibana's own user"),
    ("KIBANA_SYSTEM_PASSWORD", generated, None),
    ("CARTPOLE_ES_PASSWORD", generated,
     "efk: user cartpole_writer, which may only write to cartpole-* indices; Fluentd\n"
     "uses it, and so can the elasticsearch engine (ELASTICSEARCH_USERNAME=cartpole_writer)"),
    ("MLFLOW_TRACKING_USERNAME", lambda: "admin",
     "mlflow: the server's admin (basic auth); the trainer logs in as this user"),
    ("MLFLOW_TRACKING_PASSWORD", generated, None),
    ("MLFLOW_FLASK_SERVER_SECRET_KEY", generated,
     "mlflow: signs the auth app's CSRF tokens"),
    ("VISDOM_USERNAME", lambda: "cartpole",
     "visdom: the login of the page and of the trainer"),
    ("VISDOM_PASSWORD", generated, None),
]

HEADER = """\
# The compose stacks' settings and credentials: written by `make env`
# (scaffold/env.py), which only ever adds keys that are missing.
# Never commit this file (.gitignore keeps it out). Values: letters, digits, - _ . ~
"""

OPT_IN_TEXT = """\
# Every published port listens on 127.0.0.1 only. Uncomment and set 0.0.0.0 to
# publish Visdom, Elasticsearch, Kibana and MLflow on every interface of this host
# (each asks for the credentials above); Fluentd's 24224 stays on 127.0.0.1.
# BIND_ADDRESS=127.0.0.1
"""


def _value(raw: str) -> str:
    value = raw.strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        value = value[1:-1]
    return value


def read_keys(text: str) -> dict[str, str]:
    """The keys assigned in an env file, with their values (the last one wins)."""
    found = {}
    for line in text.splitlines():
        match = ASSIGNMENT.match(line)
        if match:
            found[match.group(1)] = _value(match.group(2))
    return found


def missing_text(text: str) -> tuple[str, list[str]]:
    """What to append to ``text`` (an env file's content), and the keys it adds."""
    present = read_keys(text)
    parts, added = [], []
    if not text:
        parts.append(HEADER)
    for key, make, comment in KEYS:
        if key in present:
            continue
        if comment:
            parts.append("\n" + "".join(f"# {line}\n" for line in comment.splitlines()))
        parts.append(f"{key}={make()}\n")
        added.append(key)
    if "BIND_ADDRESS" not in present and not any(OPT_IN.match(line)
                                                 for line in text.splitlines()):
        parts.append("\n" + OPT_IN_TEXT)
        added.append("a commented-out BIND_ADDRESS")
    return "".join(parts), added


def warnings(text: str) -> list[str]:
    """Keys whose values will not work, named without their values."""
    out = []
    for key, value in read_keys(text).items():
        if key in {k for k, _, _ in KEYS} and not value:
            out.append(f"{key} is empty: the stacks refuse to start; delete its line and "
                       "run `make env` again to generate one")
        elif not SAFE_VALUE.fullmatch(value):
            out.append(f"{key} holds characters other than letters, digits and - _ . ~ "
                       "(compose versions and shells may read it differently)")
    bind = read_keys(text).get("BIND_ADDRESS")
    if bind not in (None, "127.0.0.1", "0.0.0.0", "::1", "::"):
        out.append("BIND_ADDRESS is neither 127.0.0.1 nor 0.0.0.0: the ports bind there")
    return out


def _write_private(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` atomically; the file is mode 600 from the start."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as handle:  # mkstemp makes it 600
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def main(argv: list[str]) -> int:
    if len(argv) > 1 or (argv and argv[0].startswith("-")):
        print("usage: python3 scaffold/env.py [PATH]   (default PATH: .env)", file=sys.stderr)
        return 2
    path = Path(argv[0] if argv else ".env")
    text = path.read_text() if path.exists() else ""
    if text and not text.endswith("\n"):
        text += "\n"
    extra, added = missing_text(text)
    if added:
        _write_private(path, text + extra)
    elif path.exists() and stat.S_IMODE(path.stat().st_mode) & 0o077:
        path.chmod(0o600)
        print(f"{path}: made readable by you only (mode 600)")
    if added:
        print(f"{path}: added {', '.join(added)} (generated passwords stay in the file)")
    else:
        print(f"{path}: every key is there; nothing changed")
    for line in warnings(text + extra):
        print(f"warning: {path}: {line}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
