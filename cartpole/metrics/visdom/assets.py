"""The Visdom page's static files, fetched from the npm registry instead of CDNs.

visdom downloads its page's JavaScript, CSS and fonts from CDNs when its server starts,
and crashes without them. The same files, at the same versions, come here from the npm
registry through the ``npm`` CLI (it resolves its own registry and cache), and are
copied into visdom's ``static/`` folder once. ``ensure_static_assets()`` is idempotent
and takes milliseconds when the files are there.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path

from cartpole.errors import CartpoleError

MARKER = "version.built"  # visdom skips its download when this holds its version

# File under visdom's static/ -> (npm package@version, path inside the package).
# The versions are the ones visdom 0.2.4 downloads (visdom/server/build.py).
ASSETS: dict[str, tuple[str, str]] = {
    "js/jquery.min.js": ("jquery@3.1.1", "dist/jquery.min.js"),
    "js/bootstrap.min.js": ("bootstrap@3.3.7", "dist/js/bootstrap.min.js"),
    "js/react-react.min.js": ("react@16.2.0", "umd/react.production.min.js"),
    "js/react-dom.min.js": ("react-dom@16.2.0", "umd/react-dom.production.min.js"),
    "js/react-modal.min.js": ("react-modal@3.1.10", "dist/react-modal.min.js"),
    "js/plotly-plotly.min.js": ("plotly.js-dist-min@2.11.1", "plotly.min.js"),
    "js/sjcl.js": ("sjcl@1.0.7", "sjcl.js"),
    "js/layout_bin_packer.js": ("layout-bin-packer@1.4.0", "dist/layout-bin-packer.js"),
    "js/layout-bin-packer.js.map": ("layout-bin-packer@1.4.0",
                                    "dist/layout-bin-packer.js.map"),
    "js/d3.v3.min.js": ("d3@3.5.17", "d3.min.js"),  # the last d3 v3
    "js/d3-selection-multi.v1.js": ("d3-selection-multi@1.0.1",
                                    "build/d3-selection-multi.js"),
    "js/saveSvgAsPng.js": ("save-svg-as-png@1.4.17", "lib/saveSvgAsPng.js"),
    "css/bootstrap.min.css": ("bootstrap@3.3.7", "dist/css/bootstrap.min.css"),
    "css/react-resizable-styles.css": ("react-resizable@1.4.6", "css/styles.css"),
    "css/react-grid-layout-styles.css": ("react-grid-layout@0.16.3", "css/styles.css"),
    # visdom stores the package's main file under this odd name; nothing loads it.
    "fonts/classnames": ("classnames@2.2.5", "index.js"),
    **{f"fonts/glyphicons-halflings-regular.{ext}":
       ("bootstrap@3.3.7", f"dist/fonts/glyphicons-halflings-regular.{ext}")
       for ext in ("eot", "woff2", "woff", "ttf", "svg")},
    # visdom's name keeps the URL fragment; the plain .svg above is what the CSS asks for.
    "fonts/glyphicons-halflings-regular.svg#glyphicons_halflingsregular":
        ("bootstrap@3.3.7", "dist/fonts/glyphicons-halflings-regular.svg"),
    # The few MathJax files visdom fetches (only LaTeX in plot labels needs them).
    **{f"js/mathjax/2.7.5/{path}": ("mathjax@2.7.5", path) for path in (
        "MathJax.js", "config/Safe.js", "config/TeX-AMS-MML_HTMLorMML.js",
        "extensions/Safe.js", "jax/output/SVG/jax.js", "jax/output/SVG/config.js",
        "jax/output/SVG/fonts/TeX/fontdata.js",
        "jax/output/SVG/fonts/TeX/Size1/Regular/Main.js")},
}


class VisdomServerError(CartpoleError):
    """The local Visdom server could not be prepared, started or stopped."""


class StaticAssetsError(VisdomServerError):
    """npm is missing, or a package of the page's static files could not be fetched."""


def _visdom_dir() -> Path:
    # Found, not imported: importing visdom also imports torch when present (1.2 s).
    spec = importlib.util.find_spec("visdom")
    if spec is None or spec.origin is None:
        raise VisdomServerError("visdom is not installed; pip install 'cartpole[visdom]'")
    return Path(spec.origin).resolve().parent


def visdom_static_dir() -> Path:
    """The ``static/`` folder the installed visdom package serves."""
    return _visdom_dir() / "static"


def _visdom_version() -> str:
    """``visdom.__version__``, read the way visdom reads it."""
    try:
        return (_visdom_dir() / "VERSION").read_text().strip()
    except OSError:
        return "no_version_file"


def _missing(static: Path) -> list[str]:
    return [name for name in ASSETS
            if not (static / name).is_file() or (static / name).stat().st_size == 0]


def _npm_pack(specs: list[str], dest: Path) -> dict[str, Path]:
    """Fetch the tarballs of ``specs`` (``name@version``) into ``dest``: spec -> tarball."""
    npm = os.environ.get("NPM") or shutil.which("npm")
    if not npm:
        raise StaticAssetsError(
            "npm not found on PATH (needed once to fetch Visdom's page scripts: "
            f"{', '.join(specs)}); install it (Debian: apt-get install npm) or set NPM")
    cmd = [npm, "pack", "--json", "--prefer-offline", "--no-update-notifier",
           "--pack-destination", str(dest), *specs]
    try:
        proc = subprocess.run(cmd, cwd=dest, capture_output=True, text=True, timeout=600,
                              check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise StaticAssetsError(f"npm pack {' '.join(specs)} failed: {exc}") from None
    try:
        result = json.loads(proc.stdout)
    except json.JSONDecodeError:
        result = None
    if proc.returncode != 0 or not isinstance(result, list):
        reason = result.get("error", {}).get("summary") if isinstance(result, dict) else None
        if not reason:
            reason = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        raise StaticAssetsError(f"npm could not fetch {', '.join(specs)}: {reason}")
    packed = {f"{item['name']}@{item['version']}": dest / item["filename"] for item in result}
    lost = [spec for spec in specs if spec not in packed]
    if lost:
        raise StaticAssetsError(f"npm pack returned no tarball for {', '.join(lost)}")
    return packed


def _write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def _extract(tarball: Path, spec: str, names: list[str], static: Path) -> None:
    """Copy the files ``names`` (keys of ASSETS, all from ``spec``) out of ``tarball``."""
    left = {ASSETS[name][1] for name in names}
    with tarfile.open(tarball) as tar:  # one pass: the MathJax tarball is 21 MB
        for member in tar:
            inner = member.name.removeprefix("package/")
            if inner not in left or not member.isfile():
                continue
            data = tar.extractfile(member).read()  # type: ignore[union-attr]
            for name in names:
                if ASSETS[name][1] == inner:
                    _write_atomic(static / name, data)
            left.discard(inner)
            if not left:
                return
    raise StaticAssetsError(f"{spec} has no file {', '.join(sorted(left))}")


def ensure_static_assets(static_dir: Path | None = None) -> list[str]:
    """Put every file visdom's page needs into its ``static/`` folder; return those written.

    Missing files are taken from the npm registry at the versions visdom itself would
    download, then visdom's marker file is written so that its own download step (if
    anyone runs ``python -m visdom.server``) finds nothing left to fetch. Returns ``[]``
    quickly when everything is in place.
    """
    static = Path(static_dir) if static_dir else visdom_static_dir()
    version = _visdom_version()
    marker = static / MARKER
    missing = _missing(static)
    if not missing and marker.is_file() and marker.read_text().strip() == version:
        return []
    if missing:
        specs = sorted({ASSETS[name][0] for name in missing})
        with tempfile.TemporaryDirectory(prefix="cp-npm-") as tmp:
            for spec, tarball in _npm_pack(specs, Path(tmp)).items():
                _extract(tarball, spec, [n for n in missing if ASSETS[n][0] == spec],
                         static)
    _write_atomic(marker, version.encode())
    return missing
