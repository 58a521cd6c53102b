"""Headless Chromium: screenshots and rendered DOM of pages opened from disk.

Used by the tests (the report, the dbt docs and the Data Docs must render offline)
and by `make screenshots` (docs/img/). Debian's `chromium` package; started with
the background-networking features off, so that a headless run opens no
connection of its own, and with a fresh profile per call.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--hide-scrollbars", "--disable-extensions", "--mute-audio"]


def find_chromium() -> str | None:
    explicit = os.environ.get("QSAFETY_CHROMIUM")
    if explicit:
        return explicit if shutil.which(explicit) or Path(explicit).exists() else None
    for name in CANDIDATES:
        path = shutil.which(name)
        if path:
            return path
    return None


def _run(args: list[str], timeout: float) -> subprocess.CompletedProcess:
    chromium = find_chromium()
    if chromium is None:
        raise FileNotFoundError("headless Chromium not found (apt-get install chromium, or set QSAFETY_CHROMIUM)")
    with tempfile.TemporaryDirectory(prefix="qsafety_chromium_") as profile:
        return subprocess.run([chromium, *FLAGS, f"--user-data-dir={profile}", *args], capture_output=True,
                              text=True, timeout=timeout)


def file_url(path: Path) -> str:
    return Path(path).resolve().as_uri()


def screenshot(page: Path, png: Path, width: int = 1400, height: int = 900, wait_ms: int = 4000,
               timeout: float = 90, fragment: str = "") -> Path:
    """PNG of `page` (a local HTML file; `fragment` appended to its URL, e.g. a route of
    the dbt docs app) after `wait_ms` of virtual time (scripts run)."""
    png = Path(png)
    png.parent.mkdir(parents=True, exist_ok=True)
    png.unlink(missing_ok=True)
    proc = _run([f"--window-size={width},{height}", f"--virtual-time-budget={wait_ms}",
                 f"--screenshot={png.resolve()}", file_url(page) + fragment], timeout)
    if not png.exists():
        raise RuntimeError(f"{page}: Chromium wrote no screenshot (exit {proc.returncode}): {proc.stderr[-500:]}")
    return png


def rendered_dom(page: Path, wait_ms: int = 4000, timeout: float = 90) -> str:
    """The page's DOM after its scripts ran (`--dump-dom`)."""
    proc = _run([f"--virtual-time-budget={wait_ms}", "--dump-dom", file_url(page)], timeout)
    if proc.returncode != 0 or not proc.stdout:
        raise RuntimeError(f"{page}: Chromium --dump-dom failed (exit {proc.returncode}): {proc.stderr[-500:]}")
    return proc.stdout


def ink_fraction(png: Path) -> float:
    """Share of pixels that are not (near) white: a blank page is ~0."""
    import matplotlib.image as mpimg

    pixels = mpimg.imread(str(png))[..., :3]
    return float((pixels.min(axis=-1) < 0.92).mean())


def readme_screenshots(bundle: Path, data_docs: Path, out: Path) -> list[Path]:
    """The screenshots the README shows (docs/img/): the report, the dbt docs site (the
    matrix model's page) and the Data Docs index, each opened from disk."""
    shots = [
        screenshot(bundle / "analysis_report.html", out / "report.png", width=1200, height=1500),
        screenshot(bundle / "docs" / "static_index.html", out / "dbt_docs.png", width=1400, height=900,
                   wait_ms=8000, fragment="#!/model/model.quant_safety.matrix"),
        screenshot(data_docs / "index.html", out / "data_docs.png", width=1400, height=800),
    ]
    for png in shots:
        if ink_fraction(png) < 0.02:
            raise RuntimeError(f"{png}: the page rendered blank")
    return shots


def main(argv: list[str] | None = None) -> int:
    import argparse

    from .config import settings

    cfg = settings()
    parser = argparse.ArgumentParser(
        prog="python -m quant_safety.browser",
        description="screenshots of the report, dbt docs and Data Docs (headless Chromium)",
    )
    parser.add_argument("--bundle", type=Path, default=cfg.out_dir, help="bundle dir (default: %(default)s)")
    parser.add_argument("--data-docs", type=Path, default=cfg.data_docs_dir, help="Data Docs (default: %(default)s)")
    parser.add_argument("--out", type=Path, default=Path("docs/img"), help="output dir (default: %(default)s)")
    args = parser.parse_args(argv)
    for png in readme_screenshots(args.bundle, args.data_docs, args.out):
        print(png)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
