"""The end-of-run summary: where the output is, rows per split, and what each stage did."""
from __future__ import annotations

import sys

from rich.console import Console
from rich.table import Table


class RunProgress:
    """A live status line on stderr (TTY only) while the Beam job runs: elapsed time and phase."""

    def __init__(self, label: str):
        self.label = label
        self._status = None

    def __enter__(self):
        import time

        self._start = time.time()
        console = Console(file=sys.stderr)
        if console.is_terminal:
            self._status = console.status(f"{self.label}: reading, linking, de-identifying, coding, checking, "
                                          "deduplicating, tiering, building examples, splitting, writing ...")
            self._status.__enter__()
        return self

    def __exit__(self, *exc):
        if self._status is not None:
            self._status.__exit__(*exc)
        return False


def print_summary(out_dir: str, manifest: dict, file=None) -> None:
    console = Console(file=file or sys.stdout, width=110)
    console.print(f"[bold]medcorpus[/bold] wrote [bold]{out_dir}[/bold] "
                  f"(run {manifest['run_id']}, {manifest['duration_s']} s, runner {manifest['runner']}"
                  f"{', demo secret' if manifest['demo'] else ''})")
    splits = Table(title="rows per split", show_edge=False)
    for col in ("split", "rows", "shards"):
        splits.add_column(col, justify="right" if col != "split" else "left")
    for split, rows in manifest["counts"]["by_split"].items():
        splits.add_row(split, str(rows), str(len(manifest["shards"].get(split, []))))
    splits.add_row("rejected", str(manifest["counts"]["rejected_rows"]), str(len(manifest["shards"].get("rejected", []))))
    splits.add_row("review", str(manifest["counts"]["review_rows"]), str(len(manifest["shards"].get("review", []))))
    console.print(splits)
    stages = Table(title="stages (in = out + filtered + rejected)", show_edge=False)
    for col in ("ledger", "stage", "in", "out", "filtered", "rejected", "top reasons"):
        stages.add_column(col, justify="right" if col in ("in", "out", "filtered", "rejected") else "left")
    order = ["read", "link", "deid", "quality", "dedup", "tier", "tasks", "split"]
    for ledger in ("units", "documents", "examples"):
        for stage in sorted(manifest["stages"].get(ledger, {}), key=lambda s: order.index(s) if s in order else 99):
            st = manifest["stages"][ledger][stage]
            reasons = {**st["filtered"], **st["rejected"]}
            top = ", ".join(f"{r} {n}" for r, n in sorted(reasons.items(), key=lambda kv: -kv[1])[:2])
            stages.add_row(ledger, stage, str(st["in"]), str(st["out"]), str(sum(st["filtered"].values())),
                           str(sum(st["rejected"].values())), top)
    console.print(stages)
    rec = manifest["reconciliation"]
    status = "[green]reconciled[/green]" if rec["ok"] else "[red]DO NOT RECONCILE[/red]"
    u = rec["units"]
    console.print(f"input units: read {u['read']} = written {u['written']} + filtered {sum(u['filtered'].values())}"
                  f" + rejected {sum(u['rejected'].values())}: {status}")
    blind = manifest.get("matrix", {}).get("blind_spots", [])
    console.print(f"matrix: {len(manifest.get('matrix', {}).get('cells', []))} task cells, {len(blind)} blind spots"
                  f"; manifest: {out_dir}/manifest.json")
