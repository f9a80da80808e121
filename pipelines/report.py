"""The run report: ``OUT/report/index.html``, one self-contained page (no network) with charts.

Written by the driver at the end of every build and by ``medcorpus report DIR`` (also after
``validate`` and ``forget``). Everything on it comes from ``manifest.json``, the shards' own
columns (counts, languages, modalities, quality signals, de-identified thumbnails) and
``quality/validation.json``: counts and distributions only, never a row's text or image, so it holds
no PHI. Thumbnails of de-identified images are row content: they are embedded only when the user
asks (``medcorpus report DIR --thumbnails``, ``build --report-thumbnails``); every other rewrite of
the report (``validate``, ``forget``, a plain ``report``) leaves them out.
Charts are Plotly figures with plotly.js inlined once.
"""
from __future__ import annotations

import base64
import html
import io
from collections import Counter, defaultdict
from pathlib import Path

import orjson
import pyarrow.parquet as pq

from pipelines.errors import UserError
from schemas.tables import SPLITS

#: quality-signal columns shown as histograms
HISTOGRAMS = ("q_chars", "q_alpha_share", "q_dup_line_frac", "q_dup_ngram_frac", "q_language_confidence",
              "q_record_completeness")
THUMBNAILS = 6
STAGE_ORDER = ("read", "link", "deid", "terminology", "quality", "dedup", "tier", "tasks", "split", "write")
DICOM_ACTIONS = {"X": "removed (X)", "Z": "emptied (Z)", "D": "dummy value (D)", "U": "UID re-keyed (U)",
                 "C": "cleaned (C)", "K": "kept (K)"}
PALETTE = {"pretraining": "#4C78A8", "sft": "#F58518", "preference": "#54A24B", "evaluation": "#B279A2",
           "pretraining_images": "#9ECAE9", "sft_multimodal": "#FFBF79", "preference_multimodal": "#88D27A",
           "evaluation_multimodal": "#D6A5C9"}


def _read(out: Path, table: str, columns: list[str]):
    files = sorted((out / table).glob("*.parquet"))
    if not files:
        return None
    present = set(pq.read_schema(files[0]).names)
    cols = [c for c in columns if c in present]
    import pyarrow as pa

    return pa.concat_tables([pq.read_table(f, columns=cols) for f in files]) if cols else None


def _fig_html(fig, height: int = 360) -> str:
    fig.update_layout(height=height, margin=dict(l=40, r=20, t=50, b=40), template="plotly_white",
                      font=dict(family="sans-serif", size=12))
    return fig.to_html(full_html=False, include_plotlyjs=False, config={"displaylogo": False, "responsive": True})


def _bar(title: str, labels: list, values: list, *, horizontal: bool = False, color: str = "#4C78A8"):
    import plotly.graph_objects as go

    if horizontal:
        fig = go.Figure(go.Bar(x=values, y=labels, orientation="h", marker_color=color, text=values,
                               textposition="auto"))
        fig.update_yaxes(autorange="reversed")
    else:
        fig = go.Figure(go.Bar(x=labels, y=values, marker_color=color, text=values, textposition="auto"))
    fig.update_layout(title=title)
    return fig


def _table(headers: list[str], rows: list[list]) -> str:
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


# ---- sections -----------------------------------------------------------------------------------
def _overview(m: dict) -> str:
    c = m["counts"]
    rec = m["reconciliation"]
    units = rec.get("units") or {}
    tiles = [("rows written", sum(c["by_split"].values())), *c["by_split"].items(),
             ("rejected", c["rejected_rows"]), ("review queue", c["review_rows"]),
             ("input units read", units.get("read", 0))]
    html_tiles = "".join(f"<div class='tile'><b>{v:,}</b><span>{html.escape(str(k))}</span></div>" for k, v in tiles)
    status = ("<span class='ok'>reconciled</span>" if rec.get("ok")
              else "<span class='bad'>NOT reconciled</span>")
    forgotten = m.get("forgotten") or []
    note = (f"<p>{len(forgotten)} removal(s) by <code>medcorpus forget</code> since the build "
            f"({sum(e['patients'] for e in forgotten)} patient(s)).</p>" if forgotten else "")
    return (f"<div class='tiles'>{html_tiles}</div>"
            f"<p>Run <code>{html.escape(m['run_id'])}</code>, medcorpus {html.escape(m['medcorpus_version'])}, "
            f"{html.escape(m['runner'])}, {m['duration_s']} s, finished {html.escape(m['finished'])}. "
            f"Counts {status}: read {units.get('read', 0):,} = written {units.get('written', 0):,} + filtered "
            f"{sum((units.get('filtered') or {}).values()):,} + rejected {sum((units.get('rejected') or {}).values()):,}."
            f"{' Built from the bundled synthetic sample with the demo secret.' if m.get('demo') else ''}</p>{note}")


def _sources_and_stages(m: dict) -> list[str]:
    import plotly.graph_objects as go

    charts = []
    kinds = m["counts"]["by_source_kind"]
    fig = go.Figure()
    for outcome, color in (("in", "#4C78A8"), ("out", "#54A24B"), ("rejected", "#E45756")):
        fig.add_bar(name=outcome, x=list(kinds), y=[kinds[k].get(outcome, 0) for k in kinds], marker_color=color)
    fig.update_layout(title="Input units per source kind (read stage)", barmode="group")
    charts.append(_fig_html(fig))
    for ledger in ("units", "documents", "examples"):
        stages = m["stages"].get(ledger) or {}
        if not stages:
            continue
        names = sorted(stages, key=lambda s: (STAGE_ORDER.index(s) if s in STAGE_ORDER else len(STAGE_ORDER), s))
        fig = go.Figure()
        fig.add_bar(name="in", x=names, y=[stages[s]["in"] for s in names], marker_color="#4C78A8")
        fig.add_bar(name="out", x=names, y=[stages[s]["out"] for s in names], marker_color="#54A24B")
        fig.add_bar(name="filtered", x=names, y=[sum(stages[s]["filtered"].values()) for s in names],
                    marker_color="#EECA3B")
        fig.add_bar(name="rejected", x=names, y=[sum(stages[s]["rejected"].values()) for s in names],
                    marker_color="#E45756")
        fig.update_layout(title=f"{ledger.capitalize()} per stage", barmode="group")
        charts.append(_fig_html(fig, 320))
    return charts


def _reasons(m: dict) -> list[str]:
    filtered: Counter = Counter()
    rejected: Counter = Counter()
    for ledger, stages in m["stages"].items():
        if ledger not in ("units", "documents", "examples", "rows"):
            continue
        for stage, st in stages.items():
            for reason, n in st["filtered"].items():
                filtered[f"{ledger}/{stage}: {reason}"] += n
            for reason, n in st["rejected"].items():
                rejected[f"{ledger}/{stage}: {reason}"] += n
    charts = []
    for title, counts, color in (("Filtered by reason", filtered, "#EECA3B"), ("Rejected by reason", rejected, "#E45756")):
        if counts:
            items = counts.most_common(25)
            charts.append(_fig_html(_bar(title, [k for k, _ in items], [v for _, v in items], horizontal=True,
                                         color=color), 120 + 24 * len(items)))
        else:
            charts.append(f"<p>{title}: none.</p>")
    return charts


def _deid(m: dict) -> list[str]:
    import plotly.graph_objects as go

    charts = []
    entities = {k: v for k, v in (m["deid"].get("entities") or {}).items() if not k.startswith(("out", "rejected:"))}
    by_mod: dict[str, dict[str, int]] = defaultdict(dict)
    for key, n in entities.items():
        key = key.split(":", 1)[1] if key.startswith("count:") else key
        modality, _, kind = key.partition(":")
        by_mod[modality][kind or modality] = by_mod[modality].get(kind or modality, 0) + n
    if by_mod:
        kinds = sorted({k for d in by_mod.values() for k in d}, key=lambda k: -sum(d.get(k, 0) for d in by_mod.values()))
        fig = go.Figure()
        for modality, d in sorted(by_mod.items()):
            fig.add_bar(name=modality, x=kinds, y=[d.get(k, 0) for k in kinds])
        fig.update_layout(title="De-identification: entities replaced, by type and modality", barmode="stack")
        charts.append(_fig_html(fig, 380))
    actions = {DICOM_ACTIONS.get(k.split(":", 1)[-1], k.split(":", 1)[-1].replace("_", " ")): v
               for k, v in (m["deid"].get("dicom_actions") or {}).items() if k != "out"}
    if actions:
        charts.append(_fig_html(_bar("DICOM attribute actions (PS3.15 profile)", list(actions), list(actions.values()),
                                     color="#72B7B2"), 300))
    images = m["deid"].get("images") or {}
    quarantined = {k.split(":", 1)[-1]: v for k, v in images.items() if k.startswith("quarantined")}
    charts.append("<p>Quarantined images (burned-in annotation risk): "
                  + (", ".join(f"{html.escape(k)} {v}" for k, v in quarantined.items()) if quarantined else "none")
                  + f"; rendered images: {images.get('out', 0)}.</p>")
    return charts


def _mix(out: Path) -> list[str]:
    import plotly.graph_objects as go

    lang: dict[str, Counter] = {}
    modality: dict[str, Counter] = {}
    for split in SPLITS:
        t = _read(out, split, ["language", "modality"])
        if t is None:
            continue
        lang[split] = Counter(t.column("language").to_pylist())
        modality[split] = Counter(t.column("modality").to_pylist())
    charts = []
    for title, data in (("Language mix per split", lang), ("Modality mix per split", modality)):
        keys = sorted({k for c in data.values() for k in c})
        fig = go.Figure()
        for split, c in data.items():
            fig.add_bar(name=split, x=keys, y=[c.get(k, 0) for k in keys], marker_color=PALETTE[split])
        fig.update_layout(title=title, barmode="group")
        charts.append(_fig_html(fig, 300))
    return charts


def _signals(out: Path) -> list[str]:
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    fig = make_subplots(rows=2, cols=3, subplot_titles=HISTOGRAMS)
    any_data = False
    for split in SPLITS:
        t = _read(out, split, list(HISTOGRAMS))
        if t is None:
            continue
        for i, col in enumerate(HISTOGRAMS):
            if col not in t.column_names:
                continue
            values = [v for v in t.column(col).to_pylist() if v is not None]
            if not values:
                continue
            any_data = True
            fig.add_trace(go.Histogram(x=values, name=split, legendgroup=split, showlegend=i == 0, opacity=0.65,
                                       marker_color=PALETTE[split], nbinsx=30), row=i // 3 + 1, col=i % 3 + 1)
    if not any_data:
        return ["<p>No quality signals (empty corpus).</p>"]
    fig.update_layout(title="Quality-signal distributions (all rows, per split)", barmode="overlay")
    return [_fig_html(fig, 560)]


def _matrix(m: dict) -> list[str]:
    import plotly.graph_objects as go

    mx = m.get("matrix") or {}
    cells = mx.get("cells") or []
    if not cells:
        return ["<p>No matrix.</p>"]
    dist = mx.get("distribution") or {}
    gaps = set(mx.get("disease_scenario_gaps") or [])
    diseases = sorted(set(dist) | {g.split(" x ")[0] for g in gaps} | {c["disease"] for c in cells if c["disease"] != "*"})
    scenarios = sorted({sc for v in dist.values() for sc in v} | {g.split(" x ")[1] for g in gaps}
                       | {c["scenario"] for c in cells})
    z = [[None] * len(scenarios) for _ in diseases]
    text = [[""] * len(scenarios) for _ in diseases]
    for i, d in enumerate(diseases):
        for j, sc in enumerate(scenarios):
            n = (dist.get(d) or {}).get(sc)
            gap = f"{d} x {sc}" in gaps
            if n is not None or gap:
                z[i][j] = n or 0
                text[i][j] = ("✕ " if gap else "") + str(n or 0)
    fig = go.Figure(go.Heatmap(z=z, x=scenarios, y=diseases, text=text, texttemplate="%{text}",
                               colorscale="Blues", hoverongaps=False, colorbar=dict(title="examples")))
    fig.update_layout(title="Disease × scenario matrix: examples per cell (an example counts for the diseases its answer names; "
                            f"✕ = served by a task but below {mx.get('blind_spot_min', 1)}; blank = no task)")
    blind = mx.get("blind_spots") or []
    task_rows = [(c["task_id"], c["disease"], c["scenario"], c["total"], c["min"], "blind spot" if c["blind_spot"] else "")
                 for c in cells]
    return [_fig_html(fig, 220 + 22 * len(diseases)),
            f"<p>Task cells below their minimum ({len(blind)}): {html.escape(', '.join(blind)) if blind else 'none'}. "
            f"Disease × scenario cells served by a task but below the minimum: {len(gaps)}.</p>",
            _table(["task", "disease", "scenario", "examples", "minimum", ""], task_rows)]


def _terminology(m: dict) -> list[str]:
    term = {k: v for k, v in (m.get("terminology") or {}).items() if k != "out"}
    if not term:
        return ["<p>No terminology statistics.</p>"]
    rows = sorted(term.items())
    versions = sorted((m.get("table_versions") or {}).items())
    return [_table(["statistic", "count"], rows),
            "<h3>Table versions</h3>" + _table(["table", "version"], versions)]


def _expectations(out: Path) -> list[str]:
    path = out / "quality" / "validation.json"
    if not path.is_file():
        return ["<p>Expectation suites not run for this corpus: run <code>medcorpus validate DIR</code> "
                "or build with <code>--gate</code>.</p>"]
    res = orjson.loads(path.read_bytes())
    checks = res.get("checks") or []
    per: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for c in checks:
        per[c["table"]][0 if c["success"] else 1] += 1
    summary = _table(["table", "passed", "failed"], [[t, p, f] for t, (p, f) in sorted(per.items())])
    failed = [[c["table"], c["expectation"], c.get("column") or "", c.get("unexpected")] for c in checks
              if not c["success"]]
    verdict = ("<p class='ok'>All expectations passed.</p>" if res.get("success")
               else "<p class='bad'>Some expectations failed:</p>" + _table(["table", "expectation", "column",
                                                                             "unexpected"], failed))
    return [verdict, summary, "<p>Details: <a href='../quality/index.html'>quality/index.html</a>.</p>"]


def _leak_gate(out: Path) -> list[str]:
    path = out / "quality" / "leak_scan.json"
    if not path.is_file():
        return ["<p>The leak gate has not run on this corpus (<code>medcorpus validate DIR</code> runs it).</p>"]
    res = orjson.loads(path.read_bytes())
    verdict = ("<p class='ok'>No residual identifiers or planted canaries in any shareable file.</p>" if res.get("ok")
               else "<p class='bad'>Residual identifiers or planted canaries found: the corpus must not be shared.</p>")
    rows = [[t, v["rows"], v["rows_with_hits"], ", ".join(f"{k} {n}" for k, n in v["hits"].items())]
            for t, v in sorted((res.get("tables") or {}).items())]
    rows += [[f, f"{v['lines']} lines", v["lines_with_hits"], ", ".join(f"{k} {n}" for k, n in v["hits"].items())]
             for f, v in sorted((res.get("files_with_hits") or {}).items())]
    if res.get("file_names_with_hits"):
        rows.append(["file names", "", sum(res["file_names_with_hits"].values()),
                     ", ".join(f"{k} {n}" for k, n in res["file_names_with_hits"].items())])
    c = res.get("canaries") or {}
    note = (f"<p>{res.get('rows_scanned', 0):,} rows and {res.get('files_scanned', 0):,} files scanned (everything "
            f"outside lineage/ and cache/, file names included) for residual-PHI patterns, {c.get('planted', 0)} "
            f"planted canaries, {c.get('input_names', 0)} input file names and {c.get('roots', 0)} source paths"
            f"{'; images through OCR' if res.get('ocr_images') else ''}"
            f"{'; ' + str(res['library_files_skipped']) + ' exact copies of vendored Data Docs assets skipped' if res.get('library_files_skipped') else ''}"
            ". Counts only; details in "
            "<code>quality/leak_scan.json</code>.</p>")
    return [verdict, _table(["table or file", "rows", "rows with hits", "hits by kind"], rows), note]


def _thumbnails(out: Path, enabled: bool = False) -> list[str]:
    if not enabled:
        return ["<p>Images are not shown: the report embeds no row content unless asked "
                "(<code>medcorpus report DIR --thumbnails</code>). Counts of rendered, redacted and quarantined "
                "images are under De-identification.</p>"]
    t = _read(out, "pretraining_images", ["id", "modality", "image"])
    if t is None:
        return ["<p>No images.</p>"]
    from PIL import Image

    items = []
    for row_id, modality, image in zip(t.column("id").to_pylist(), t.column("modality").to_pylist(),
                                       t.column("image").to_pylist()):
        if modality == "image" and image and image.get("bytes"):
            items.append((row_id, image["bytes"]))
    items.sort()
    figs = []
    for row_id, data in items[:THUMBNAILS]:
        try:
            img = Image.open(io.BytesIO(data))
            img.thumbnail((160, 160))
            buf = io.BytesIO()
            img.convert("L" if img.mode in ("L", "I;16", "I") else "RGB").save(buf, format="PNG")
        except Exception:  # noqa: BLE001 - a thumbnail is a convenience
            continue
        b64 = base64.b64encode(buf.getvalue()).decode("ascii")
        figs.append(f"<figure><img alt='de-identified image' src='data:image/png;base64,{b64}'>"
                    f"<figcaption>{html.escape(row_id[:14])}</figcaption></figure>")
    if not figs:
        return ["<p>No images.</p>"]
    return [f"<p>{len(figs)} of {len(items)} de-identified images (burned-in risks were quarantined before rendering).</p>"
            f"<div class='thumbs'>{''.join(figs)}</div>"]


CSS = """
body{font:14px/1.45 system-ui,sans-serif;margin:0;color:#222;background:#f6f7f9}
header{background:#1f3b57;color:#fff;padding:18px 32px}header h1{margin:0;font-size:22px}
main{padding:12px 32px 40px;max-width:1280px}section{background:#fff;border-radius:8px;padding:12px 20px;
margin:16px 0;box-shadow:0 1px 3px rgba(0,0,0,.08)}h2{font-size:17px;margin:6px 0 10px}
.tiles{display:flex;flex-wrap:wrap;gap:10px}.tile{background:#eef3f8;border-radius:6px;padding:8px 14px;
min-width:110px}.tile b{display:block;font-size:20px}.tile span{color:#555;font-size:12px}
table{border-collapse:collapse;margin:6px 0}td,th{padding:3px 10px;border-bottom:1px solid #e3e3e3;text-align:left}
.ok{color:#2a7a2a;font-weight:600}.bad{color:#b00020;font-weight:600}.thumbs{display:flex;gap:12px;flex-wrap:wrap}
figure{margin:0;text-align:center}figure img{border:1px solid #ccc;background:#000;max-width:160px}
figcaption{font-size:11px;color:#666}nav a{color:#cfe3f7;margin-right:14px;font-size:13px}
"""


def render_report(out: Path, thumbnails: bool = False) -> str:
    from plotly.offline import get_plotlyjs

    m = orjson.loads((out / "manifest.json").read_bytes())
    sections = [
        ("overview", "Overview", [_overview(m)]),
        ("sources", "Sources and stages", _sources_and_stages(m)),
        ("reasons", "Filtered and rejected", _reasons(m)),
        ("deid", "De-identification", _deid(m)),
        ("mix", "Language and modality", _mix(out)),
        ("signals", "Quality signals", _signals(out)),
        ("matrix", "Disease-scenario matrix", _matrix(m)),
        ("terminology", "Terminology coverage", _terminology(m)),
        ("expectations", "Expectation suites", _expectations(out)),
        ("leak", "Leak gate", _leak_gate(out)),
        ("images", "De-identified images", _thumbnails(out, thumbnails)),
    ]
    nav = "".join(f"<a href='#{sid}'>{html.escape(title)}</a>" for sid, title, _ in sections)
    body = "".join(f"<section id='{sid}'><h2>{html.escape(title)}</h2>{''.join(parts)}</section>"
                   for sid, title, parts in sections)
    return ("<!doctype html><html lang='en'><head><meta charset='utf-8'>"
            "<meta name='viewport' content='width=device-width,initial-scale=1'>"
            f"<title>medcorpus run report {html.escape(m['run_id'])}</title><style>{CSS}</style>"
            f"<script>{get_plotlyjs()}</script></head><body>"
            f"<header><h1>medcorpus run report</h1><nav>{nav}</nav></header><main>{body}</main></body></html>")


def write_report(out: Path | str, thumbnails: bool = False) -> Path | None:
    """Write ``out/report/index.html``; object-store outputs are skipped (run ``medcorpus report`` on a copy).

    ``thumbnails`` embeds a few de-identified images (row content): only on the user's explicit request.
    """
    if "://" in str(out):
        return None
    out = Path(out)
    page = render_report(out, thumbnails)
    (out / "report").mkdir(exist_ok=True)
    path = out / "report" / "index.html"
    path.write_text(page, encoding="utf-8")
    return path


def run_report(args) -> int:
    out = Path(args.directory)
    if not (out / "manifest.json").is_file():
        raise UserError(f"no manifest.json in {args.directory} (run medcorpus build first)")
    path = write_report(out, thumbnails=bool(getattr(args, "thumbnails", False)))
    print(f"report: {path}")
    return 0
