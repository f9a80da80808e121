"""DATA_CARD.md, the dataset card README.md and the audit log of a run, written by the driver from the manifest.

The data card is for the people who use the corpus (sources, policies, tables, counts, gaps);
``README.md`` is the same card as a Hugging Face dataset card: its YAML ``configs:`` block names
one config per table (``load_dataset(OUT, "sft")``; ``load_dataset(OUT)`` loads ``sft``);
the audit log is for the privacy office (who ran what, when, with which config and key
fingerprint, on which inputs — keyed pseudonyms of the files, sizes and keyed content digests — producing which
outputs). Neither holds PHI nor an input file name or an absolute path (file names often carry
patient names or record numbers): the restricted ``lineage/sources`` maps the pseudonyms back.
"""
from __future__ import annotations

import getpass
import socket

import orjson
from apache_beam.io.filesystems import FileSystems


def write_audit_log(out_dir: str, manifest: dict) -> str:
    """Input hashes were computed by the read stage on the workers (``_stats/inputs*.jsonl``)."""
    inputs = []
    for meta in FileSystems.match([FileSystems.join(out_dir, "_stats", "inputs*.jsonl")])[0].metadata_list:
        with FileSystems.open(meta.path) as fh:
            inputs += [orjson.loads(line) for line in fh.read().splitlines() if line.strip()]
    inputs.sort(key=lambda r: r["source_id"])
    try:
        user = getpass.getuser()
    except Exception:  # noqa: BLE001 - containers may have no user name
        user = "unknown"
    audit = {
        "run_id": manifest["run_id"], "who": user, "host": socket.gethostname(),
        "started": manifest["started"], "finished": manifest["finished"],
        "medcorpus_version": manifest["medcorpus_version"], "config_hash": manifest["config_hash"],
        "secret_fingerprint": manifest["secret_fingerprint"], "demo": manifest["demo"],
        "deid_policy": manifest["deid_policy"], "runner": manifest["runner"],
        "inputs": inputs, "outputs": [dict(s, table=t) for t, shards in manifest["shards"].items() for s in shards],
    }
    path = FileSystems.join(out_dir, "audit.json")
    with FileSystems.create(path) as fh:
        fh.write(orjson.dumps(audit, option=orjson.OPT_INDENT_2))
    return path


def write_data_card(out_dir: str, manifest: dict) -> str:
    c = manifest["counts"]
    rec = manifest["reconciliation"]["units"]
    lines = [
        "# Data card", "",
        f"Built by medcorpus {manifest['medcorpus_version']} (run `{manifest['run_id']}`, {manifest['finished']}, "
        f"runner {manifest['runner']}){' from the bundled synthetic sample with the demo secret' if manifest['demo'] else ''}.",
        "", "## Sources", "",
    ]
    lines += [f"- {s['kind']}: `{s['root']}`" for s in manifest["sources"]]
    lines += ["", "## Policies and tables", "",
              f"- De-identification policy: `{manifest['deid_policy']['id']}` version {manifest['deid_policy']['version']}"
              f" (HIPAA Safe Harbor and PIPL identifiers; keyed pseudonyms, per-patient date shifts, PS3.15 for DICOM)",
              f"- Config hash: `{manifest['config_hash'][:16]}`; key fingerprint: `{manifest['secret_fingerprint']}`",
              f"- Disease-scenario matrix version: {manifest['matrix']['version']}"]
    lines += [f"- {name}: {version}" for name, version in sorted(manifest["table_versions"].items())]
    lines += ["", "## Counts", "", "| table | rows |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in c["by_split"].items()]
    lines += [f"| rejected | {c['rejected_rows']} |", f"| review | {c['review_rows']} |", "",
              f"Input units read {rec['read']} = written {rec['written']} + filtered {sum(rec['filtered'].values())}"
              f" + rejected {sum(rec['rejected'].values())} "
              f"({'reconciled' if manifest['reconciliation']['ok'] else 'NOT reconciled'}).", "",
              "## Matrix cells", "", "| task | disease | scenario | pretraining | sft | preference | evaluation |",
              "|---|---|---|---|---|---|---|"]
    for cell in manifest["matrix"]["cells"]:
        ps = cell["per_split"]
        lines.append(f"| {cell['task_id']}{' (blind spot)' if cell['blind_spot'] else ''} | {cell['disease']} | "
                     f"{cell['scenario']} | {ps.get('pretraining', 0)} | {ps.get('sft', 0)} | {ps.get('preference', 0)} "
                     f"| {ps.get('evaluation', 0)} |")
    dist = manifest["matrix"].get("distribution") or {}
    if dist:
        scenarios = sorted({sc for v in dist.values() for sc in v})
        lines += ["", "## Examples per disease and scenario", "",
                  "An example counts for the diseases its answer names.", "",
                  "| disease | " + " | ".join(scenarios) + " |", "|---|" + "---|" * len(scenarios)]
        lines += [f"| {d} | " + " | ".join(str(v.get(sc, 0)) for sc in scenarios) + " |" for d, v in dist.items()]
    gaps = manifest["matrix"]["blind_spots"]
    lines += ["", "## Known gaps", "",
              f"- Blind spots (cells below their minimum): {', '.join(gaps) if gaps else 'none'}",
              "- Labels marked `weak` are derived by rules from coded data; `fine` labels were imported.",
              "- Evaluation rows come from patients held out of every training split; decontamination "
              f"removed {sum(v for k, v in manifest['decontamination'].items() if k.startswith('removed:'))} "
              "training items that overlapped evaluation data or benchmarks.", ""]
    path = FileSystems.join(out_dir, "DATA_CARD.md")
    with FileSystems.create(path) as fh:
        fh.write("\n".join(lines).encode("utf-8"))
    with FileSystems.create(FileSystems.join(out_dir, "README.md")) as fh:
        fh.write(dataset_card(manifest, lines).encode("utf-8"))
    return path


DEFAULT_CONFIG = "sft"


def dataset_configs(manifest: dict) -> list[dict]:
    """One ``datasets`` config per table that holds rows (``datasets`` cannot load an empty split).
    Evaluation tables are the ``test`` split, the others ``train``; ``sft`` is the default (else
    the first table with rows)."""
    from schemas.tables import FAMILY, SPLITS

    counts = manifest["counts"]["by_split"]
    configs = []
    for table in SPLITS:
        if not counts.get(table):
            continue
        split = "test" if FAMILY[table] == "evaluation" else "train"
        configs.append({"config_name": table, "data_files": [{"split": split, "path": f"{table}/*.parquet"}]})
    default = next((c for c in configs if c["config_name"] == DEFAULT_CONFIG), configs[0] if configs else None)
    if default is not None:
        default["default"] = True
    return configs


def dataset_card(manifest: dict, card_lines: list[str]) -> str:
    """``README.md``: the Hugging Face dataset card (YAML metadata + the data card)."""
    import yaml

    meta = {"pretty_name": f"medcorpus build {manifest['run_id']}", "tags": ["medical", "clinical"],
            "configs": dataset_configs(manifest)}
    names = [c["config_name"] for c in meta["configs"]]
    usage = ["## Loading", "",
             "Each table is a config of this dataset (" + ", ".join(f"`{n}`" for n in names) + "):", "",
             "```python", "from datasets import load_dataset", "",
             'sft = load_dataset("PATH/TO/THIS/FOLDER", "sft", split="train")  # load_dataset(PATH) loads sft',
             'pref = load_dataset("PATH/TO/THIS/FOLDER", "preference", split="train")',
             'evaluation = load_dataset("PATH/TO/THIS/FOLDER", "evaluation", split="test")', "```", "",
             "`sft` and `evaluation` rows are chat `messages`; `preference` rows are TRL's conversational "
             "preference format (`prompt`, `chosen`, `rejected` as message lists, plus `corruption`). Text-only "
             "configs have no image column; rows with images are in `pretraining_images` and the `*_multimodal` "
             "configs, whose image columns load as `Image` features.", ""]
    body = card_lines[:1] + [""] + usage + card_lines[1:]
    return "---\n" + yaml.safe_dump(meta, sort_keys=False, allow_unicode=True) + "---\n\n" + "\n".join(body)
