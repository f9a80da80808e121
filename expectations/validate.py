"""Run the expectation suites (great-expectations 1.x, ephemeral context, offline) on a corpus.

Each table's suite is JSON in this directory (users may add a directory of their own). Checks that
span rows or tables are computed here into helper columns (``_disease_codes_valid``,
``_phi_hits``, ``_messages_valid``, ``_chosen_differs``, ``_date_not_future``) that the suites
expect on, plus one cross-table check (every ``patient_key`` in exactly one split family),
reported in the same result format, and the shards are checked against ``manifest.json``
(``expectations.manifest_check``: shard list, row counts, sha256). Failing rows are named by id
(GX's ``unexpected_index_list`` with the ``id`` column); values are never copied into the results.
Results go to ``DIR/quality/validation.json`` and a self-contained summary ``DIR/quality/index.html``
(failures first); GX's own Data Docs for every suite are copied to ``DIR/quality/datadocs/`` and
made to work offline (``expectations.datadocs``).

A suite written for a split family (``sft``) also checks that family's multimodal table
(``sft_multimodal``), which may be empty.
"""
from __future__ import annotations

import datetime as dt
import html
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from schemas.tables import FAMILY, LAYOUT, SPLITS

SUITES_DIR = Path(__file__).resolve().parent
CODE = re.compile(r"^[A-Z][0-9][0-9A-Z]$")
#: failing row ids printed per failed expectation (all of them are in validation.json)
IDS_SHOWN = 5
#: the columns that name a row of each table in GX's unexpected index list
INDEX_COLUMNS = {"rejected": ["source", "position", "stage"], "lineage/inputs": ["source", "position"]}
RESULT_FORMAT = {"result_format": "COMPLETE"}


@dataclass
class ValidationResult:
    success: bool
    checks: list = field(default_factory=list)  # {"table","expectation","column","success","unexpected"}

    def failures(self) -> list[dict]:
        return [c for c in self.checks if not c["success"]]

    def summary_lines(self) -> list[str]:
        lines = []
        tables = sorted({c["table"] for c in self.checks})
        for t in tables:
            cs = [c for c in self.checks if c["table"] == t]
            bad = [c for c in cs if not c["success"]]
            lines.append(f"{t}: {len(cs) - len(bad)}/{len(cs)} expectations passed")
            lines += [f"  FAILED {failure_text(c)}" for c in bad]
        lines.append("all expectations passed" if self.success else f"{len(self.failures())} expectation(s) failed")
        return lines


def failure_text(c: dict) -> str:
    """One line for a failed check: what failed, how many rows and which (by id), or what was observed."""
    col = f" on column '{c['column']}'" if c.get("column") else ""
    text = f"{c['expectation']}{col}"
    if c.get("details"):
        more = len(c["details"]) - 3
        return text + ": " + "; ".join(c["details"][:3]) + (f" (+{more} more)" if more > 0 else "")
    if "observed" in c:
        return text + f": observed {c['observed']}"
    ids = c.get("ids") or []
    text += f": {c['unexpected']} unexpected row(s)" if isinstance(c["unexpected"], int) else f": {c['unexpected']}"
    if ids:
        more = len(ids) - IDS_SHOWN
        text += " (" + ", ".join(ids[:IDS_SHOWN]) + (f", +{more} more in quality/validation.json" if more > 0 else "") + ")"
    return text


def load_suites(*dirs: Path | None) -> dict[str, list[dict]]:
    suites: dict[str, list[dict]] = {}
    for d in dirs:
        if not d:
            continue
        for path in sorted(Path(d).glob("*.json")):
            spec = json.loads(path.read_text(encoding="utf-8"))
            suites.setdefault(spec.get("table", path.stem), []).extend(spec.get("expectations", []))
    for family, (_, multimodal) in LAYOUT.items():  # the family's suite, minus "not empty", for its images table
        if family in suites and multimodal not in suites:
            suites[multimodal] = [e for e in suites[family] if e["type"] != "expect_table_row_count_to_be_between"]
    return suites


def _messages_ok(messages) -> bool:
    if messages is None or len(messages) == 0:
        return False
    roles = [m["role"] for m in messages]
    if roles[0] == "system":
        roles = roles[1:]
    if not roles or roles[-1] != "assistant":
        return False
    return all(r == ("user" if i % 2 == 0 else "assistant") for i, r in enumerate(roles))


def _turns(value) -> list:
    return list(value) if value is not None and not isinstance(value, str) else []


def _texts(row: dict) -> list[str]:
    out = [row.get(k) if isinstance(row.get(k), str) else "" for k in ("text", "prompt", "chosen", "rejected",
                                                                      "reference")]
    for key in ("messages", "prompt", "chosen", "rejected"):
        out += [m.get("content") or "" for m in _turns(row.get(key)) if isinstance(m, dict)]
    return out


def _preference_ok(prompt, chosen, rejected) -> bool:
    """TRL's conversational preference format: prompt ends with a user turn, answers are assistant turns."""
    prompt, chosen, rejected = _turns(prompt), _turns(chosen), _turns(rejected)
    return (bool(prompt) and prompt[-1].get("role") == "user" and bool(chosen) and bool(rejected)
            and all(m.get("role") == "assistant" for m in chosen + rejected))


def helper_columns(df, table: str, canaries=(), today: dt.date | None = None, shift_window: int = 365):
    from transforms.quality.leak_scan import scan_text

    today = today or dt.date.today()
    if table == "lineage/inputs":
        # every input unit moves its dates: a patient's offset, or a per-document one without a patient
        df["_date_shift_in_window"] = [v == v and v is not None and 0 < abs(int(v)) <= shift_window
                                       for v in df["date_shift_days"]]
    if table == "lineage/rows":
        df["_has_inputs"] = [inputs is not None and len(inputs) > 0 for inputs in df["inputs"]]
    family = FAMILY.get(table)
    if family:
        df["_disease_codes_valid"] = [all(CODE.match(c or "") for c in (codes if codes is not None else []))
                                      for codes in df["disease_codes"]]
        rows = df.to_dict("records")
        df["_phi_hits"] = [sum(len(scan_text(t, canaries)) for t in _texts(r)) for r in rows]
    if family == "pretraining":
        def ok(v):
            if v is None or v != v:
                return True
            try:
                return dt.date.fromisoformat(str(v)[:10]) <= today
            except ValueError:
                return False
        df["_date_not_future"] = [ok(v) for v in df["date"]]
    if family in ("sft", "evaluation"):
        df["_messages_valid"] = [_messages_ok(list(m) if m is not None else []) for m in df["messages"]]
    if family == "preference":
        df["_chosen_differs"] = [_turns(c) != _turns(r) for c, r in zip(df["chosen"], df["rejected"])]
        df["_preference_format_valid"] = [_preference_ok(p, c, r) for p, c, r in
                                          zip(df["prompt"], df["chosen"], df["rejected"])]
    return df


def scalar_frame(df):
    """What GX can check: nested columns (turn lists, code lists) as JSON text, binary columns dropped."""
    def nested(v):
        return isinstance(v, (list, dict)) or hasattr(v, "__array__")

    out = df.drop(columns=[c for c in ("image", "images") if c in df.columns])
    for c in out.columns:
        values = out[c]
        if values.map(nested).any():
            out[c] = [None if v is None else json.dumps(_plain(v), ensure_ascii=False) for v in values]
    return out


def _plain(v):
    if hasattr(v, "tolist"):
        v = v.tolist()
    if isinstance(v, dict):
        return {k: _plain(x) for k, x in v.items() if not isinstance(x, bytes)}
    if isinstance(v, (list, tuple)):
        return [_plain(x) for x in v]
    return v


def read_table(out_dir: Path, table: str):
    import pandas as pd
    import pyarrow.parquet as pq

    files = sorted((out_dir / table).glob("*.parquet"))
    if not files:
        return None
    return pd.concat([pq.read_table(f).to_pandas() for f in files], ignore_index=True)


def _cross_table(frames: dict) -> list[dict]:
    families: dict[str, set] = {}
    for split, df in frames.items():
        if split not in SPLITS or df is None:
            continue
        fam = "evaluation" if FAMILY[split] == "evaluation" else "training"
        for key in df["patient_key"].dropna():
            families.setdefault(key, set()).add(fam)
    leaked = sum(1 for f in families.values() if len(f) > 1)
    checks = [{"table": "all splits", "expectation": "expect_patient_key_in_one_split_family", "column": "patient_key",
               "success": leaked == 0, "unexpected": leaked, "dimension": "consistency"}]
    lineage = frames.get("lineage/rows")
    if lineage is not None:
        row_ids = {(split, i) for split, df in frames.items() if split in SPLITS and df is not None for i in df["id"]}
        traced = set(zip(lineage["split"], lineage["id"]))
        missing = len(row_ids - traced)
        checks.append({"table": "all splits", "expectation": "expect_every_row_to_have_lineage", "column": "id",
                       "success": missing == 0, "unexpected": missing, "dimension": "consistency"})
    return checks


def validate_corpus(out_dir: str | Path, extra_suites_dir: str | Path | None = None, canaries=()) -> ValidationResult:
    os.environ.setdefault("TQDM_DISABLE", "1")
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
    import great_expectations as gx
    from great_expectations.core.expectation_suite import ExpectationSuite
    from great_expectations.expectations.expectation_configuration import ExpectationConfiguration

    out = Path(out_dir)
    suites = load_suites(SUITES_DIR, Path(extra_suites_dir) if extra_suites_dir else None)
    frames = {t: read_table(out, t) for t in suites}
    shift_window = _shift_window(out)
    import logging

    logging.getLogger("great_expectations").setLevel(logging.ERROR)
    ctx = gx.get_context(mode="ephemeral")
    try:
        from great_expectations.data_context.types.base import ProgressBarsConfig

        ctx.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
    except Exception:  # noqa: BLE001 - progress bars are cosmetic
        pass
    source = ctx.data_sources.add_pandas("medcorpus")
    checks: list[dict] = []
    for table, exps in sorted(suites.items()):
        df = frames.get(table)
        if df is None:
            checks.append({"table": table, "expectation": "expect_table_to_exist", "column": None, "success": False,
                           "unexpected": 1, "dimension": "completeness"})
            continue
        df = helper_columns(df, table, canaries, shift_window=shift_window)
        gx_name = table.replace("/", "_")
        scalar = scalar_frame(df)
        index_columns = [c for c in INDEX_COLUMNS.get(table, ["id"]) if c in scalar.columns]
        asset = source.add_dataframe_asset(gx_name)
        batch_definition = asset.add_batch_definition_whole_dataframe("all")
        usable = [e for e in exps if "column" not in e["kwargs"] or e["kwargs"]["column"] in scalar.columns]
        for e in exps:
            if e not in usable:
                checks.append({"table": table, "expectation": e["type"], "column": e["kwargs"]["column"],
                               "success": False, "unexpected": "column missing", "dimension": e.get("meta", {}).get("dimension")})
        suite = ctx.suites.add(ExpectationSuite(name=f"medcorpus.{gx_name}", expectations=[
            ExpectationConfiguration(type=e["type"], kwargs=e["kwargs"], meta=e.get("meta")) for e in usable]))
        # a checkpoint (not a bare batch.validate) so the results also land in GX's Data Docs
        definition = ctx.validation_definitions.add(
            gx.ValidationDefinition(name=f"medcorpus.{gx_name}.validation", data=batch_definition, suite=suite))
        checkpoint = ctx.checkpoints.add(gx.Checkpoint(
            name=f"medcorpus.{gx_name}.checkpoint", validation_definitions=[definition],
            actions=[gx.checkpoint.UpdateDataDocsAction(name="data_docs")],
            result_format={**RESULT_FORMAT, "unexpected_index_column_names": index_columns}))
        run = checkpoint.run(batch_parameters={"dataframe": scalar})
        result = next(iter(run.run_results.values()))
        checks += [check_record(table, r, index_columns) for r in result.results]
    checks += _cross_table(frames)
    from expectations.manifest_check import manifest_checks

    checks += manifest_checks(out)
    res = ValidationResult(all(c["success"] for c in checks), checks)
    _copy_data_docs(ctx, out / "quality" / "datadocs")
    _write_reports(out, res)
    return res


def check_record(table: str, r, index_columns: list[str]) -> dict:
    """A GX result as a check: counts, the failing rows' ids, or the observed value; never row values."""
    cfg = r.expectation_config
    res = r.result or {}
    check = {"table": table, "expectation": cfg.type, "column": cfg.kwargs.get("column"), "success": bool(r.success),
             "dimension": (cfg.meta or {}).get("dimension")}
    if "unexpected_count" in res:
        check["unexpected"] = int(res["unexpected_count"])
        ids = ["/".join(str(row.get(c)) for c in index_columns) for row in res.get("unexpected_index_list") or []
               if isinstance(row, dict)]
        if ids:
            check["ids"] = ids
    elif "observed_value" in res:  # table-level expectations: row counts, column sets, ...
        check["unexpected"] = 0 if r.success else 1
        check["observed"] = _plain(res["observed_value"])
    else:
        check["unexpected"] = 0 if r.success else 1
        if not r.success and r.exception_info and (r.exception_info.get("raised_exception")):
            check["observed"] = f"GX error ({r.exception_info.get('exception_message', '')[:80]})"
    return check


def _shift_window(out: Path) -> int:
    """The date-shift window of the policy the corpus was built with (manifest), else the default."""
    try:
        manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
        return int(manifest["deid_policy"]["date_shift_max_days"])
    except (OSError, KeyError, TypeError, ValueError):
        return 365


def _copy_data_docs(ctx, target: Path) -> None:
    """Copy the ephemeral context's Data Docs site (a temporary directory) next to the corpus."""
    import shutil
    from urllib.parse import urlparse

    try:
        sites = ctx.get_docs_sites_urls()
    except Exception:  # noqa: BLE001 - Data Docs are a convenience; validation.json is the record
        return
    for site in sites:
        path = Path(urlparse(site.get("site_url") or "").path).parent
        if path.is_dir():
            if target.exists():
                shutil.rmtree(target)
            shutil.copytree(path, target)
            from expectations.datadocs import make_offline

            make_offline(target)
            return


def _write_reports(out: Path, res: ValidationResult) -> None:
    q = out / "quality"
    q.mkdir(parents=True, exist_ok=True)
    (q / "validation.json").write_text(json.dumps({"success": res.success, "checks": res.checks}, indent=1,
                                                  default=str), encoding="utf-8")
    ordered = sorted(res.checks, key=lambda c: (c["success"], c["table"], c["expectation"], str(c.get("column"))))
    rows = "".join(
        f"<tr class='{'ok' if c['success'] else 'bad'}'><td>{'pass' if c['success'] else 'FAIL'}</td>"
        f"<td>{html.escape(c['table'])}</td><td>{html.escape(c['expectation'])}</td>"
        f"<td>{html.escape(str(c.get('column') or ''))}</td><td>{html.escape(str(c.get('dimension') or ''))}</td>"
        f"<td>{html.escape('' if c['success'] else failure_text(c).split(': ', 1)[-1])}</td></tr>" for c in ordered)
    failed = len(res.failures())
    page = ("<!doctype html><meta charset='utf-8'><title>medcorpus quality</title><style>body{font:14px sans-serif;"
            "margin:2em}td,th{padding:4px 8px;border-bottom:1px solid #ddd;text-align:left;vertical-align:top}"
            ".bad{background:#fde2e2}.ok{background:#eef9ee}</style><h1>Expectation results: "
            + ("all passed" if res.success else f"{failed} FAILED") + f"</h1><p>{len(res.checks)} checks, failures "
            "first. Failing rows are named by id; validation.json lists all of them.</p><table>"
            "<tr><th>result</th><th>table</th><th>expectation</th><th>column</th><th>dimension</th><th>what failed</th>"
            "</tr>" + rows + "</table><p>Great Expectations Data Docs (offline): "
            "<a href='datadocs/index.html'>datadocs/index.html</a>.</p>")
    (q / "index.html").write_text(page, encoding="utf-8")
