"""Make a copied Great Expectations Data Docs site work offline.

GX's page templates load jQuery, Bootstrap 4, bootstrap-table, Font Awesome, vega and a logo
from public CDNs; without a network the index (a bootstrap-table filled by script) is blank. This
rewrites every page of the site to local copies under ``static/vendor/``: jQuery, Bootstrap and
Font Awesome from their XStatic packages on PyPI, bootstrap-table from ``expectations/vendor/``.
bootstrap-datepicker (bootstrap-table's filter control calls it) from ``expectations/vendor/``.
Assets the pages can do without (the dark theme; Popper, which Bootstrap's bundle includes) are
dropped; the vega scripts are dropped from pages that draw no chart (none of
medcorpus's suites draws one; a user suite that does keeps them and needs a network for charts).
"""
from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

VENDOR = Path(__file__).resolve().parent / "vendor"
TAG = re.compile(r"""<(script|link)\b[^>]*?\b(?:src|href)=["'](https?://[^"']+)["'][^>]*?>(\s*</script>)?""", re.I)
IMG = re.compile(r"""(<img\b[^>]*?\bsrc=["'])https?://great-expectations-web-assets[^"']*(["'])""", re.I)


def _assets() -> dict[str, Path]:
    """vendor-relative name -> source file."""
    import xstatic.pkg.bootstrap as bootstrap
    import xstatic.pkg.font_awesome as font_awesome
    import xstatic.pkg.jquery as jquery

    fa = Path(font_awesome.BASE_DIR)
    files = {"jquery.min.js": Path(jquery.BASE_DIR) / "jquery.min.js",
             "bootstrap/bootstrap.min.css": Path(bootstrap.BASE_DIR) / "css" / "bootstrap.min.css",
             "bootstrap/bootstrap.bundle.min.js": Path(bootstrap.BASE_DIR) / "js" / "bootstrap.bundle.min.js",
             "font-awesome/css/all.min.css": fa / "css" / "all.min.css"}
    files.update({f"font-awesome/webfonts/{p.name}": p for p in (fa / "webfonts").iterdir()
                  if p.suffix in (".woff2", ".ttf")})
    for name, folder in (("bootstrap-table", "bootstrap-table-1.19.1"), ("bootstrap-datepicker", "bootstrap-datepicker-1.9.0")):
        files.update({f"{name}/{p.name}": p for p in (VENDOR / folder).iterdir()})
    return files


def library_hashes() -> set[str]:
    """sha256 of every asset ``make_offline`` copies verbatim (the leak gate skips exact copies)."""
    import hashlib

    return {hashlib.sha256(src.read_bytes()).hexdigest() for src in _assets().values()}


def _local(url: str) -> str | None:
    """The vendored file that replaces a CDN url; "" to drop the tag; None to keep it."""
    u = url.lower()
    if "jquery" in u and u.endswith(".js"):
        return "jquery.min.js"
    if "bootstrap-table" in u:
        if "filter-control" in u:
            return "bootstrap-table/bootstrap-table-filter-control.min." + ("css" if u.endswith(".css") else "js")
        return "bootstrap-table/bootstrap-table.min." + ("css" if u.endswith(".css") else "js")
    if "bootstrapcdn.com/bootstrap" in u:
        return "bootstrap/bootstrap.min.css" if u.endswith(".css") else "bootstrap/bootstrap.bundle.min.js"
    if "font-awesome" in u or "fontawesome" in u:
        return "font-awesome/css/all.min.css"
    if "datepicker" in u:
        return "bootstrap-datepicker/bootstrap-datepicker.min." + ("css" if u.endswith(".css") else "js")
    if "popper" in u or "bootstrap-dark" in u:
        return ""
    if "/vega" in u:
        return "vega"
    return None


def make_offline(site: Path) -> list[str]:
    """Rewrite every page of ``site``; return the remote urls that had to stay (expected: none)."""
    vendor = site / "static" / "vendor"
    for rel, src in _assets().items():
        dst = vendor / rel
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, dst)
    logo = site / "static" / "images" / "logo-long.png"
    kept: set[str] = set()
    for page in site.rglob("*.html"):
        text = page.read_text(encoding="utf-8")
        prefix = os.path.relpath(vendor, page.parent).replace(os.sep, "/")
        draws_charts = "vegaEmbed(" in text

        def replace(m: re.Match) -> str:
            kind, url = m.group(1).lower(), m.group(2)
            local = _local(url)
            if local == "vega":
                local = None if draws_charts else ""
            if local is None:
                kept.add(url)
                return m.group(0)
            if not local:
                return ""
            if kind == "script":
                return f'<script src="{prefix}/{local}"></script>'
            return f'<link rel="stylesheet" href="{prefix}/{local}">'

        text = TAG.sub(replace, text)
        if logo.is_file():
            text = IMG.sub(lambda m: m.group(1) + os.path.relpath(logo, page.parent).replace(os.sep, "/") + m.group(2),
                           text)
        page.write_text(text, encoding="utf-8")
    return sorted(kept)
