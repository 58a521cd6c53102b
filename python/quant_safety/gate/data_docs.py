"""Great Expectations Data Docs that open from disk, and their atomic swap.

GX's pages load their CSS/JS from CDNs (Bootstrap, bootstrap-table, jQuery, ...):
opened offline, the index is blank (its table is filled by bootstrap-table). After
GX renders a site, `make_offline` copies the vendored assets of
gx/data_docs_assets/ into `<site>/static/vendor/` and rewrites every page's
CDN `<link>`/`<script>`/`<img>` URL to the local file (relative to the page),
dropping the Subresource-Integrity attributes that a file:// load cannot check.

Publishing: each build's site is a directory of its own under the warehouse's
build dir (`data_docs/<run name>/`); the Data Docs path users open
(`<warehouse dir>/<name>_data_docs`) is a symlink to the current one, replaced
with one `os.replace` (atomic: a reader sees the old site or the new one, never a
half-written one). `qsafety build` publishes right after it swaps the warehouse
file in, so the live Data Docs always describe the live warehouse; a failed
build's site stays unpublished beside them (the error names it).
"""
from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

from ..config import PROJECT_DIR

ASSETS_DIR = PROJECT_DIR / "gx" / "data_docs_assets"
VENDOR_SUBDIR = "static/vendor"
KEEP_SITES = 3   # published site + the previous ones a reader may still have open

# CDN URL (regex, matched against the whole attribute value) -> file under static/vendor
# (or, for GX's own images, under the site's static/images copied by GX)
CDN_FILES: list[tuple[str, str]] = [
    (r"https://maxcdn\.bootstrapcdn\.com/bootstrap/4\.3\.1/css/bootstrap\.min\.css", "bootstrap/bootstrap.min.css"),
    (r"https://stackpath\.bootstrapcdn\.com/bootstrap/4\.3\.1/js/bootstrap\.min\.js", "bootstrap/bootstrap.min.js"),
    (
        r"https://unpkg\.com/bootstrap-table@1\.19\.\d/dist/bootstrap-table\.min\.css",
        "bootstrap-table/bootstrap-table.min.css",
    ),
    (
        r"https://unpkg\.com/bootstrap-table@1\.19\.\d/dist/bootstrap-table\.min\.js",
        "bootstrap-table/bootstrap-table.min.js",
    ),
    (
        r"https://unpkg\.com/bootstrap-table@1\.19\.\d/dist/extensions/filter-control/bootstrap-table-filter-control(\.min)?\.css",
        "bootstrap-table/bootstrap-table-filter-control.min.css",
    ),
    (
        r"https://unpkg\.com/bootstrap-table@1\.19\.\d/dist/extensions/filter-control/bootstrap-table-filter-control\.min\.js",
        "bootstrap-table/bootstrap-table-filter-control.min.js",
    ),
    (
        r"https://cdnjs\.cloudflare\.com/ajax/libs/bootstrap-datepicker/1\.9\.0/css/bootstrap-datepicker\.min\.css",
        "bootstrap-datepicker/bootstrap-datepicker.min.css",
    ),
    (
        r"https://cdnjs\.cloudflare\.com/ajax/libs/bootstrap-datepicker/1\.9\.0/js/bootstrap-datepicker\.min\.js",
        "bootstrap-datepicker/bootstrap-datepicker.min.js",
    ),
    (
        r"https://cdn\.jsdelivr\.net/npm/@forevolve/bootstrap-dark@1\.1\.0/dist/css/bootstrap-prefers-dark\.css",
        "bootstrap-dark/bootstrap-prefers-dark.css",
    ),
    (r"https://cdn\.jsdelivr\.net/npm/vega@5", "vega/vega.min.js"),
    (r"https://cdn\.jsdelivr\.net/npm/vega-lite@5", "vega/vega-lite.min.js"),
    (r"https://cdn\.jsdelivr\.net/npm/vega-embed@6", "vega/vega-embed.min.js"),
    (r"https://cdnjs\.cloudflare\.com/ajax/libs/font-awesome/6\.6\.0/css/all\.min\.css", "fontawesome/css/all.min.css"),
    (r"https://code\.jquery\.com/jquery-3\.7\.1\.min\.js", "jquery/jquery.min.js"),
    (r"https://cdnjs\.cloudflare\.com/ajax/libs/popper\.js/1\.12\.9/umd/popper\.min\.js", "popper/popper.min.js"),
]
GX_IMAGES = r"https://great-expectations-web-assets\.s3\.[a-z0-9-]+\.amazonaws\.com/[^\"'?]*(\?[^\"']*)?"
_RESOURCE_ATTR = re.compile(r"""(<(?:link|script|img)\b[^>]*?\s(?:href|src)\s*=\s*)(["'])([^"']*)\2""", re.I)
_SRI = re.compile(r"""\s(?:integrity|crossorigin)\s*=\s*(["'])[^"']*\1""", re.I)


class OfflineError(RuntimeError):
    pass


def make_offline(site_dir: Path) -> int:
    """Vendor the assets into site_dir and rewrite its pages; returns pages rewritten.
    Raises OfflineError if a page still loads a resource from the network."""
    site_dir = Path(site_dir)
    vendor = site_dir / VENDOR_SUBDIR
    shutil.rmtree(vendor, ignore_errors=True)
    shutil.copytree(ASSETS_DIR, vendor, ignore=shutil.ignore_patterns("*.sh", "*.md", "*.version"))
    patterns = [(re.compile(p + r"$"), target) for p, target in CDN_FILES]
    images = re.compile(GX_IMAGES + "$")
    pages = 0
    for page in site_dir.rglob("*.html"):
        text = page.read_text(encoding="utf-8")
        root = os.path.relpath(site_dir, page.parent).replace(os.sep, "/")

        def local(match: re.Match, root: str = root, page: Path = page) -> str:   # bound per page
            prefix, quote, url = match.groups()
            if not url.lower().startswith(("http:", "https:", "//")):
                return match.group(0)
            for pattern, target in patterns:
                if pattern.match(url):
                    return f"{prefix}{quote}{root}/{VENDOR_SUBDIR}/{target}{quote}"
            if images.match(url):
                return f"{prefix}{quote}{root}/static/images/logo-long.png{quote}"
            raise OfflineError(f"{page}: no vendored copy of {url} (add it to gx/data_docs_assets and CDN_FILES)")

        new = _RESOURCE_ATTR.sub(local, text)
        table_js = f'{root}/{VENDOR_SUBDIR}/bootstrap-table/bootstrap-table.min.js"></script>'
        defaults = f'<script src="{root}/{VENDOR_SUBDIR}/qsafety/defaults.js"></script>'
        if table_js in new and defaults not in new:   # our table defaults, right after bootstrap-table
            new = new.replace(table_js, table_js + "\n" + defaults, 1)
        new = re.sub(r"<(link|script)\b[^>]*>", lambda m: _SRI.sub("", m.group(0)), new)
        if new != text:
            page.write_text(new, encoding="utf-8")
            pages += 1
    return pages


def publish(site_dir: Path, live: Path, keep: int = KEEP_SITES) -> Path:
    """Point `live` (the Data Docs path users open) at site_dir with one atomic rename;
    returns live/index.html. Older sites beside site_dir beyond `keep` are removed."""
    site_dir, live = Path(site_dir).resolve(), Path(live)
    live.parent.mkdir(parents=True, exist_ok=True)
    if live.exists() and not live.is_symlink():
        shutil.rmtree(live)   # a plain directory written by an older version of the gate
    link = live.with_name(f".{live.name}.link.{os.getpid()}")
    link.unlink(missing_ok=True)
    link.symlink_to(os.path.relpath(site_dir, live.parent))
    os.replace(link, live)
    siblings = sorted((p for p in site_dir.parent.iterdir() if p.is_dir() and p != site_dir),
                      key=lambda p: p.stat().st_mtime, reverse=True)
    for old in siblings[max(keep - 1, 0):]:
        shutil.rmtree(old, ignore_errors=True)
    return live / "index.html"
