"""The live progress line during a run and the end-of-run summary (rows per table, what each stage did)."""
from __future__ import annotations

import sys

from rich.console import Console
from rich.table import Table


#: what a stage is doing, for the live display
STAGE_WORDS = {"read": "reading inputs", "link": "linking by patient", "deid": "de-identifying",
               "terminology": "coding terminology", "linearise": "writing record summaries",
               "boilerplate": "removing template text", "quality": "checking quality", "dedup": "deduplicating",
               "tier": "tiering", "tasks": "building task examples", "example_dedup": "deduplicating examples",
               "split": "splitting and decontaminating", "write": "writing Parquet"}
#: stage order in the end-of-run summary
STAGE_ORDER = ["read", "link", "deid", "linearise", "boilerplate", "quality", "dedup", "tier", "tasks",
               "example_dedup", "split"]
#: (label, ledger|stage|outcome keys summed) shown after the running stage
COUNTS = (("read", ("units|read|in",)), ("de-identified", ("units|deid|out",)),
          ("documents", ("documents|quality|in",)), ("examples", ("examples|tasks|out",)),
          ("rows", ("rows|write|out",)))


def status_text(elapsed_s: float, counts: dict[str, int], last: dict[str, float], now: float) -> str:
    """One status line: elapsed time, the running stage (the one that moved last) and counts so far."""
    minutes, seconds = divmod(int(elapsed_s), 60)
    parts = [f"{minutes}:{seconds:02d}"]
    if last:
        stage = max(last, key=last.get)
        word = STAGE_WORDS.get(stage, stage)
        parts.append(word if now - last[stage] < 5 else f"after {stage}: grouping or writing")
    else:
        parts.append("starting the pipeline")
    shown = [f"{label} {sum(counts.get(k, 0) for k in keys):,}" for label, keys in COUNTS
             if any(counts.get(k) for k in keys)]
    rejected = sum(n for k, n in counts.items() if k.endswith("|rejected"))
    if rejected:
        shown.append(f"rejected {rejected:,}")
    return "  ".join(parts) + ("  ·  " + " · ".join(shown) if shown else "")


class RunProgress:
    """A live status line on stderr (a terminal only, not with -v) while the Beam job runs: elapsed
    time, the running stage and counts so far, read from the ledger events the stages emit
    (``transforms.progress``). ``local`` says whether the workers run on this machine (the counts
    come from them); on Dataflow/Flink the line shows the elapsed time only."""

    def __init__(self, label: str, local: bool = True, verbose: bool = False):
        self.label, self.local, self.verbose = label, local, verbose
        self._live = None
        self._dir = None

    def _render(self):
        import time

        from transforms.progress import read_all

        counts, last = read_all(self._dir) if self._dir else ({}, {})
        self._spinner.update(text=f"{self.label}  " + status_text(time.time() - self._start, counts, last, time.time()))
        return self._spinner

    def __enter__(self):
        import os
        import tempfile
        import time

        from transforms.progress import ENV

        self._start = time.time()
        if self.local:
            self._dir = tempfile.mkdtemp(prefix="medcorpus-progress-")
            os.environ[ENV] = self._dir
        console = Console(file=sys.stderr)
        if console.is_terminal and not self.verbose:
            from rich.live import Live
            from rich.spinner import Spinner

            self._spinner = Spinner("dots", text=self.label)
            self._live = Live(console=console, refresh_per_second=4, transient=True, get_renderable=self._render,
                              redirect_stdout=False, redirect_stderr=False)
            self._live.__enter__()
        return self

    def __exit__(self, *exc):
        import os
        import shutil

        from transforms.progress import ENV

        if self._live is not None:
            self._live.__exit__(*exc)
        if self._dir:
            os.environ.pop(ENV, None)
            shutil.rmtree(self._dir, ignore_errors=True)
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
    order = STAGE_ORDER
    for ledger in ("units", "documents", "examples"):
        for stage in sorted(manifest["stages"].get(ledger, {}), key=lambda s: order.index(s) if s in order else 99):
            st = manifest["stages"][ledger][stage]
            reasons = {**st["filtered"], **st["rejected"]}
            top = ", ".join(f"{r} {n}" for r, n in sorted(reasons.items(), key=lambda kv: -kv[1])[:2])
            stages.add_row(ledger, stage, str(st["in"]), str(st["out"]), str(sum(st["filtered"].values())),
                           str(sum(st["rejected"].values())), top)
    console.print(stages)
    failures = builder_failures(manifest)
    if failures:
        console.print("[red]task builders failed[/red]: " + ", ".join(f"{b} raised {e} on {n} patient(s)"
                                                                     for (b, e), n in failures.items())
                      + " (their examples are missing; rows in rejected/, stage tasks)")
    rec = manifest["reconciliation"]
    status = "[green]reconciled[/green]" if rec["ok"] else "[red]DO NOT RECONCILE[/red]"
    u = rec["units"]
    console.print(f"input units: read {u['read']} = written {u['written']} + filtered {sum(u['filtered'].values())}"
                  f" + rejected {sum(u['rejected'].values())}: {status}")
    blind = manifest.get("matrix", {}).get("blind_spots", [])
    console.print(f"matrix: {len(manifest.get('matrix', {}).get('cells', []))} task cells, {len(blind)} blind spots"
                  f"; manifest: {out_dir}/manifest.json")


def builder_failures(manifest: dict) -> dict[tuple[str, str], int]:
    """(builder, exception type) -> failed calls, from the ``builders`` ledger."""
    rejected = ((manifest.get("stages") or {}).get("builders") or {}).get("tasks", {}).get("rejected", {})
    out = {}
    for reason, n in sorted(rejected.items()):
        _, builder, exc = (reason.split(":", 2) + ["", ""])[:3]
        out[(builder, exc)] = n
    return out
