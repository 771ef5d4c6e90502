"""The repository's markdown: every relative link names a file that exists and, with a
``#fragment``, a heading (or an ``<a id>``/``<a name>``) of that file, under GitHub's
anchor rules.

GitHub's anchors (github-slugger): the heading's text as rendered (no backticks, link
targets or emphasis marks), lowercased, every character that is not a letter, digit,
``_``, ``-`` or space removed, spaces turned into ``-``; a repeated anchor gets ``-1``,
``-2``, ... in order.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from urllib.parse import unquote

import pytest

ROOT = Path(__file__).parents[1]


def _markdown_files() -> list[Path]:
    # Globbed, not `git ls-files` (a process: slow tier); the last test checks they agree.
    skip = {".git", "node_modules", "runs", ".models", "build", "dist"}
    return sorted(p for p in ROOT.rglob("*.md")
                  if not any(part in skip or part.startswith(".")
                             for part in p.relative_to(ROOT).parts[:-1]))


FENCE = re.compile(r"^\s*(```|~~~)")
HEADING = re.compile(r"^ {0,3}(#{1,6})\s+(.*?)\s*#*\s*$")
HTML_ANCHOR = re.compile(r"""<a\s[^>]*\b(?:id|name)\s*=\s*["']([^"']+)["']""", re.I)
# [text](target "title") and ![alt](target); target without spaces or in <...>.
INLINE_LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*(<[^>]*>|[^)\s]+)(?:\s+[^)]*)?\)")
REFERENCE_DEF = re.compile(r"^ {0,3}\[[^\]]+\]:\s*(<[^>]*>|\S+)")


def _lines_outside_code(text: str) -> list[tuple[int, str]]:
    """The lines outside fenced code blocks, numbered from 1, inline code spans blanked."""
    out, fence = [], None
    for number, line in enumerate(text.splitlines(), 1):
        match = FENCE.match(line)
        if match:
            if fence is None:
                fence = match.group(1)
            elif match.group(1) == fence:
                fence = None
            continue
        if fence is None:
            out.append((number, line))
    return out


def slug(heading: str) -> str:
    """GitHub's anchor for a heading's markdown text (before de-duplication)."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # links and images: their text
    text = re.sub(r"<[^>]+>", "", text)  # inline HTML tags
    text = text.replace("`", "").replace("*", "")
    text = re.sub(r"(?<!\w)_+|_+(?!\w)", "", text)  # _emphasis_, not snake_case
    text = text.strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    text = path.read_text(encoding="utf-8")
    seen: dict[str, int] = {}
    found = set(HTML_ANCHOR.findall(text))
    for _, line in _lines_outside_code(text):
        match = HEADING.match(line)
        if not match:
            continue
        base = slug(match.group(2))
        count = seen.get(base, 0)
        seen[base] = count + 1
        found.add(base if count == 0 else f"{base}-{count}")
    return found


def links(path: Path) -> list[tuple[int, str]]:
    """(line, target) of every link in the file, outside code."""
    out = []
    for number, line in _lines_outside_code(path.read_text(encoding="utf-8")):
        line = re.sub(r"`[^`]*`", "", line)  # inline code
        targets = [m.group(1) for m in INLINE_LINK.finditer(line)]
        ref = REFERENCE_DEF.match(line)
        if ref:
            targets.append(ref.group(1))
        out += [(number, t.strip("<>")) for t in targets]
    return out


def broken_links(path: Path, root: Path = ROOT) -> list[str]:
    problems = []
    for number, target in links(path):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.I) or target.startswith("//"):
            continue  # https:, mailto:, ...: not ours to check offline
        file_part, _, fragment = target.partition("#")
        file_part = unquote(file_part.split("?")[0])
        if file_part.startswith("/"):
            dest = root / file_part.lstrip("/")
        else:
            dest = (path.parent / file_part) if file_part else path
        where = f"{path.relative_to(root)}:{number}: {target}"
        if not dest.exists():
            problems.append(f"{where}: no such file")
        elif fragment and dest.suffix == ".md" and unquote(fragment) not in anchors(dest):
            problems.append(f"{where}: no heading with that anchor in {dest.relative_to(root)}")
    return problems


def test_slug_follows_githubs_rules():
    assert slug("Remote agent (`benchmarks/remote_agent.py`)") == \
        "remote-agent-benchmarksremote_agentpy"
    assert slug("Remote runs: `cartpole run`") == "remote-runs-cartpole-run"
    assert slug("A [linked](x.md) *word*, 2018's") == "a-linked-word-2018s"
    assert slug("Grid search & more") == "grid-search--more"


def test_markdown_files_are_found():
    names = {p.relative_to(ROOT).as_posix() for p in _markdown_files()}
    assert {"README.md", "docs/remote.md", "docs/benchmarks.md"} <= names


@pytest.mark.parametrize("path", _markdown_files(), ids=lambda p: p.relative_to(ROOT).as_posix())
def test_relative_links_resolve(path):
    assert broken_links(path) == []


def test_a_broken_anchor_is_reported(tmp_path):
    (tmp_path / "a.md").write_text("# Top\n\n## Remote agent (`x.py`)\n\n## Top\n")
    (tmp_path / "b.md").write_text(
        "[ok](a.md#remote-agent-xpy) [dup](a.md#top-1) [self](#here)\n\n## Here\n"
        "[bad](a.md#remote-agent) [gone](c.md)\n```\n[in code](a.md#nope)\n```\n")
    assert broken_links(tmp_path / "b.md", tmp_path) == [
        "b.md:4: a.md#remote-agent: no heading with that anchor in a.md",
        "b.md:4: c.md: no such file"]


@pytest.mark.slow
def test_the_markdown_files_are_the_tracked_ones():
    tracked = subprocess.run(["git", "ls-files", "*.md"], cwd=ROOT, capture_output=True,
                             text=True, check=False)
    if tracked.returncode != 0:
        pytest.skip("not a git checkout")
    found = {p.relative_to(ROOT).as_posix() for p in _markdown_files()}
    assert set(tracked.stdout.split()) <= found
