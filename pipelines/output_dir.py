"""The output directory's life cycle: prepare, mark a build in progress, reuse, clean up.

A build writes ``RUNNING_MARKER`` into the directory before the pipeline starts and removes it
when the manifest is written. A directory that still has it was left by an interrupted or killed
build: the same command replaces it without ``--overwrite`` (nothing but medcorpus's own entries
may be in it), so an interruption never blocks a rerun. Ctrl-C also removes the partial output at
once (``clean_partial``), keeping the ``--incremental`` cache so the rerun resumes.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

from pipelines import __version__
from pipelines.errors import UserError
from schemas.tables import SPLITS

#: Present while a build writes into the directory.
RUNNING_MARKER = ".medcorpus-build-incomplete"
#: What an output directory may contain; --overwrite removes only these.
OUTPUT_ENTRIES = tuple(SPLITS) + ("rejected", "review", "quality", "report", "lineage", "_stats",
                                  "manifest.json", "DATA_CARD.md", "README.md", "config.resolved.yaml", "audit.json",
                                  "deid_summary.json", "cache", RUNNING_MARKER)


def interrupted_build(output: str) -> bool:
    return "://" not in output and (Path(output) / RUNNING_MARKER).is_file()


def prepare_output(output: str, overwrite: bool, keep: tuple[str, ...] = ()) -> None:
    if "://" in output:
        return  # object stores: shards are written with deterministic names
    out = Path(output)
    if out.exists() and not out.is_dir():
        raise UserError(f"--output is a file, not a directory: {output}")
    if out.exists():
        present = [p.name for p in out.iterdir()]
        overwrite = overwrite or interrupted_build(output)
        if present and not overwrite:
            raise UserError(f"output directory is not empty: {output} (pass --overwrite to replace a previous build)")
        foreign = [n for n in present if n not in OUTPUT_ENTRIES]
        if foreign and overwrite:
            raise UserError(f"refusing to overwrite {output}: it holds files medcorpus did not write ({foreign[0]} ...)")
        for name in present:
            if name in keep:
                continue
            p = out / name
            shutil.rmtree(p) if p.is_dir() else p.unlink()
    out.mkdir(parents=True, exist_ok=True)


def mark_running(output: str, run_id: str) -> None:
    if "://" not in output:
        (Path(output) / RUNNING_MARKER).write_text(f"medcorpus build {run_id} in progress\n", encoding="utf-8")


def mark_done(output: str) -> None:
    if "://" not in output:
        (Path(output) / RUNNING_MARKER).unlink(missing_ok=True)


def clean_partial(output: str, keep: tuple[str, ...] = ()) -> None:
    """Remove what an interrupted build wrote (only medcorpus's own entries; ``keep`` stays)."""
    if "://" in output or not Path(output).is_dir():
        return
    for p in Path(output).iterdir():
        if p.name in OUTPUT_ENTRIES and p.name not in keep and p.name != RUNNING_MARKER:
            shutil.rmtree(p, ignore_errors=True) if p.is_dir() else p.unlink(missing_ok=True)
    if keep and any((Path(output) / k).exists() for k in keep):
        return  # the marker stays: the next run replaces the rest and resumes from the cache
    (Path(output) / RUNNING_MARKER).unlink(missing_ok=True)
    if not any(Path(output).iterdir()):
        Path(output).rmdir()


def reusable_build(output: str, *, fingerprint: str, config_hash: str, secret) -> dict | None:
    """The previous manifest when that build is complete and nothing it depends on has changed."""
    if "://" in output or interrupted_build(output):
        return None
    path = Path(output) / "manifest.json"
    if not path.is_file():
        return None
    try:
        previous = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    same = (previous.get("input_fingerprint") == fingerprint and previous.get("config_hash") == config_hash
            and previous.get("secret_fingerprint") == secret.fingerprint
            and previous.get("medcorpus_version") == __version__ and not previous.get("forgotten"))
    if not same:
        return None
    import hashlib

    for shards in previous.get("shards", {}).values():  # every shard still there and intact
        for s in shards:
            f = Path(output) / s["path"]
            if not f.is_file() or hashlib.sha256(f.read_bytes()).hexdigest() != s["sha256"]:
                return None
    return previous


def record_reuse(output: str, previous: dict) -> None:
    import datetime as dt

    previous.setdefault("reused", []).append({
        "at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "shards": sum(len(s) for s in previous["shards"].values()),
        "reason": "inputs (paths, sizes, mtimes), config hash, secret fingerprint and medcorpus version unchanged"})
    (Path(output) / "manifest.json").write_text(json.dumps(previous, indent=2, sort_keys=True), encoding="utf-8")


def write_resolved_config(output: str, config: dict) -> str:
    """``config.resolved.yaml`` beside the manifest: the effective config as checked, usable as
    ``--config`` from the directory of the config file the build was given. It is a shareable side
    file, so it names no absolute path: shipped files are ``builtin:NAME``, the user's files are
    relative to that directory (as a config file writes them); object-store URIs stay as given; the
    leak gate's planted canaries are withheld (counted in a comment)."""
    import os

    import yaml
    from apache_beam.io.filesystems import FileSystems

    from pipelines.config import CONFIG_DIR

    base = str(config.get("_base_dir") or CONFIG_DIR)

    def public(v):
        if isinstance(v, dict):
            return {k: public(x) for k, x in v.items() if not str(k).startswith("_")}
        if isinstance(v, list):
            return [public(x) for x in v]
        if isinstance(v, str) and v.startswith(str(CONFIG_DIR) + "/") and "/" not in v[len(str(CONFIG_DIR)) + 1:]:
            return "builtin:" + v[len(str(CONFIG_DIR)) + 1:]
        if isinstance(v, str) and "://" not in v and os.path.isabs(v):
            return os.path.relpath(v, base)
        return v

    resolved = public(config)
    gate = resolved.get("leak_gate") or {}
    withheld = len(gate.get("canaries") or [])
    if withheld:  # planted canaries look like PHI and would trip the leak gate (and tell recipients what to hide)
        gate["canaries"] = []
    text = ("# The effective configuration of this build (defaults + your --config), as medcorpus checked it.\n"
            "# Paths are relative to the directory of that config file (no absolute path in a shareable file):\n"
            "# copy this file there to rebuild with it: medcorpus build --config DIR/config.resolved.yaml ...\n"
            + (f"# leak_gate.canaries: {withheld} withheld (never written to a shareable file); add them back\n"
               if withheld else "")
            + yaml.safe_dump(resolved, sort_keys=False, allow_unicode=True))
    path = FileSystems.join(output, "config.resolved.yaml")
    with FileSystems.create(path) as fh:
        fh.write(text.encode("utf-8"))
    return path
