"""The leak gate: scan EVERY shareable file of a built corpus for residual identifiers.

Independent of the de-identifier by construction: it imports nothing from ``transforms/deid``,
and its patterns (``leak_scan.py``) are written apart from the detector's recognizers. It reads
the outputs as a recipient would get them:

* every Parquet table outside ``lineage/`` (the four splits, ``review/``, ``rejected/``): every
  string of every row, nested lists and structs included (messages, image paths); a row counts once
  however many of its values hit, so the result is "7 pretraining rows and 2 SFT rows", not one
  flag per split;
* every other file (``manifest.json``, ``audit.json``, ``DATA_CARD.md``, ``report/index.html``,
  ``quality/`` with the Data Docs, ``deid_summary.json``): by line;
* every file's relative name;
* optionally the images (pretraining ``image``, the examples' ``images``) through OCR, so text
  burned into pixels is looked for too (``ocr_images``; needs tesseract, costs ~0.3-1 s an image).

What it looks for: the residual-PHI patterns, the canaries a red team planted (case-insensitive),
and what the run itself knows must never appear: the input files' relative paths and longer file
stems (from the restricted ``lineage/sources``) and the absolute source roots. ``lineage/`` and
``cache/`` are restricted and not scanned (they hold the file names by design).

The result names tables, files, kinds, counts and row ids (pseudonymous), never a matched value.
"""
from __future__ import annotations

import io
import json
import re
import unicodedata
from collections import Counter, defaultdict
from pathlib import Path

from transforms.quality.leak_scan import scan_text

#: top-level entries that are restricted or scratch space, never shipped with the corpus
RESTRICTED = ("lineage", "cache", "_stats")
RESULT_FILE = "quality/leak_scan.json"
#: a file stem shorter than this is too generic to be a canary (``IM0001``, ``notes``)
MIN_STEM = 8
#: row ids quoted per table to help triage (ids are pseudonymous)
EXAMPLE_IDS = 20
_TEXT_SUFFIXES = {".json", ".md", ".html", ".htm", ".txt", ".csv", ".jsonl", ".ndjson", ".yaml", ".yml", ".xml",
                  ".css", ".js", ".svg", ".tsv", ""}


def _norm(text: str) -> str:
    """NFKC (full-width digits and letters fold to ASCII) so a full-width phone number is caught too."""
    return unicodedata.normalize("NFKC", text)


def input_name_canaries(out: Path) -> list[str]:
    """Relative paths and file stems of the inputs that hold patient data (restricted ``lineage/inputs``).

    Files of documents without a patient (a guideline named after its title) are left out: their
    names may rightly appear in the text.
    """
    import pyarrow.parquet as pq

    sources: set[str] = set()
    for shard in sorted((out / "lineage" / "inputs").glob("*.parquet")):
        t = pq.read_table(shard, columns=["source", "patient_key"])
        sources |= {s for s, k in zip(t.column("source").to_pylist(), t.column("patient_key").to_pylist()) if k}
    return name_canaries(sources)


def name_canaries(sources, stems: bool = True) -> list[str]:
    """The canaries of input files named ``kind:relative/path``: relative paths with a folder or of
    ``MIN_STEM`` characters, and (``stems``) file stems that look like identifiers (digits) or non-Latin names."""
    names: set[str] = set()
    for source in sorted(set(sources)):
        rel = (source or "").partition(":")[2]
        if not rel:
            continue
        if "/" in rel or len(rel) >= MIN_STEM:
            names.add(rel)
        if not stems:
            continue
        stem = rel.rsplit("/", 1)[-1].split(".")[0]
        # a bare stem only when it looks like an identifier (digits) or a name in a non-Latin script;
        # "discharge_summary" may rightly appear in text, "Smith_MRN12345" or "张伟病历" may not
        if len(stem) >= MIN_STEM and any(c.isdigit() or ord(c) > 0x2E80 for c in stem):
            names.add(stem)
    return sorted(names)


class Matcher:
    """Counts the kinds found in a string: residual-PHI patterns (``patterns=False``: canaries only) and canaries."""

    def __init__(self, canaries, patterns: dict | None | bool):
        self.canaries = sorted({_norm(c).casefold() for c in canaries if c and c.strip()})
        self.builtin = patterns is not False
        self.patterns = {k: re.compile(v) if isinstance(v, str) else v for k, v in (patterns or {}).items()}

    def kinds(self, text: str) -> Counter:
        if not text:
            return Counter()
        text = _norm(text)
        hits = Counter(h["kind"] for h in scan_text(text, extra_patterns=self.patterns)) if self.builtin else Counter()
        folded = text.casefold()
        for canary in self.canaries:
            n = folded.count(canary)
            if n:
                hits["canary"] += n
        return hits


def _strings(value, column: str = ""):
    """(column, string) for every string inside a row value (lists and structs walked)."""
    if isinstance(value, str):
        yield column, value
    elif isinstance(value, dict):
        for k, v in value.items():
            if k == "bytes":
                continue
            yield from _strings(v, f"{column}.{k}" if column else k)
    elif isinstance(value, (list, tuple)):
        for v in value:
            yield from _strings(v, column)


def _images(row: dict) -> list[bytes]:
    found = []
    for key in ("image", "images"):
        value = row.get(key)
        for item in (value if isinstance(value, list) else [value]):
            if isinstance(item, dict) and item.get("bytes"):
                found.append(item["bytes"])
    return found


def _ocr_text(png: bytes) -> str:
    import pytesseract
    from PIL import Image

    img = Image.open(io.BytesIO(png)).convert("L")
    if max(img.size) < 1000:  # rendered images are small: enlarge so small glyphs are read
        img = img.resize((img.width * 2, img.height * 2))
    return pytesseract.image_to_string(img, lang="eng", config="--psm 11")


def _scan_parquet(path: Path, matcher: Matcher, ocr_images: bool) -> dict:
    import pyarrow.parquet as pq

    pf = pq.ParquetFile(path)
    rows = hit_rows = 0
    hits: Counter = Counter()
    columns: Counter = Counter()
    ids: list[str] = []
    for batch in pf.iter_batches(batch_size=2048):
        for row in batch.to_pylist():
            rows += 1
            row_hits: Counter = Counter()
            for column, text in _strings(row):
                found = matcher.kinds(text)
                if found:
                    row_hits.update(found)
                    columns[column] += 1
            if ocr_images:
                for png in _images(row):
                    found = matcher.kinds(_ocr_text(png))
                    if found:
                        row_hits.update({f"pixels:{k}": v for k, v in found.items()})
                        columns["image pixels"] += 1
            if row_hits:
                hit_rows += 1
                hits.update(row_hits)
                if len(ids) < EXAMPLE_IDS and isinstance(row.get("id"), str):
                    ids.append(row["id"])
    return {"rows": rows, "rows_with_hits": hit_rows, "hits": dict(sorted(hits.items())),
            "columns": dict(sorted(columns.items())), "row_ids": ids}


def _scan_text_file(path: Path, matcher: Matcher, skip: tuple[str, ...]) -> dict:
    return scan_text_bytes(path.read_bytes(), path.suffix, matcher, skip)


def scan_text_bytes(data: bytes, suffix: str, matcher: Matcher, skip: tuple[str, ...] = ()) -> dict:
    """A file's content by line (``suffix``: its extension, to tell text with a NUL from binary)."""
    if b"\x00" in data[:4096] and suffix.lower() not in _TEXT_SUFFIXES:
        return {"lines": 0, "lines_with_hits": 0, "hits": {}, "binary": True}
    text = data.decode("utf-8", errors="replace")
    for block in skip:  # library code embedded verbatim (plotly.js in the report)
        if block:
            text = text.replace(block, "")
    lines = text.splitlines()
    hit_lines = 0
    hits: Counter = Counter()
    for line in lines:
        found = matcher.kinds(line)
        if found:
            hit_lines += 1
            hits.update(found)
    return {"lines": len(lines), "lines_with_hits": hit_lines, "hits": dict(sorted(hits.items()))}


def _library_blocks() -> tuple[str, ...]:
    try:
        from plotly.offline import get_plotlyjs

        return (get_plotlyjs(),)
    except Exception:  # noqa: BLE001 - without plotly there is nothing to skip
        return ()


def shareable_files(out: Path) -> list[Path]:
    files = []
    for p in sorted(out.rglob("*")):
        rel = p.relative_to(out)
        if rel.parts and rel.parts[0] in RESTRICTED:
            continue
        if p.is_file():
            files.append(p)
    return files


def scan_output(out: str | Path, *, canaries=(), patterns: dict | None = None, roots=(),
                ocr_images: bool = False, library=()) -> dict:
    """Scan every shareable file of ``out``; the result holds counts, never a matched value.

    ``library``: sha256 digests of files medcorpus copies verbatim from its own install (the Data
    Docs' vendored jQuery/Bootstrap/bootstrap-table assets, whose licence banners name their authors
    and e-mail addresses); a file byte-identical to one of them holds no output data and is not
    scanned (its name still is). A changed copy matches no digest and is scanned like any file."""
    import hashlib

    out = Path(out)
    library = set(library)
    skipped = 0
    names = input_name_canaries(out)
    roots = [str(r) for r in roots if r and "://" not in str(r)]
    matcher = Matcher(list(canaries) + names + roots, patterns)
    skip = _library_blocks()
    tables: dict[str, dict] = {}
    files: dict[str, dict] = {}
    file_names: Counter = Counter()
    by_table: dict[str, list[dict]] = defaultdict(list)
    for path in shareable_files(out):
        rel = path.relative_to(out).as_posix()
        if rel == RESULT_FILE:
            continue
        found = matcher.kinds(rel)
        if found:
            file_names.update(found)
        if path.suffix == ".parquet":
            by_table[path.parent.relative_to(out).as_posix()].append(_scan_parquet(path, matcher, ocr_images))
        elif library and hashlib.sha256(path.read_bytes()).hexdigest() in library:
            skipped += 1
        else:
            result = _scan_text_file(path, matcher, skip)
            if result["hits"]:
                files[rel] = result
    for table, parts in sorted(by_table.items()):
        hits: Counter = Counter()
        columns: Counter = Counter()
        for part in parts:
            hits.update(part["hits"])
            columns.update(part["columns"])
        tables[table] = {"rows": sum(p["rows"] for p in parts),
                         "rows_with_hits": sum(p["rows_with_hits"] for p in parts),
                         "hits": dict(sorted(hits.items())), "columns": dict(sorted(columns.items())),
                         "row_ids": [i for p in parts for i in p["row_ids"]][:EXAMPLE_IDS]}
    rows_with_hits = sum(t["rows_with_hits"] for t in tables.values())
    return {
        "ok": not rows_with_hits and not files and not file_names,
        "rows_scanned": sum(t["rows"] for t in tables.values()),
        "rows_with_hits": rows_with_hits,
        "tables": tables,
        "files_with_hits": files,
        "file_names_with_hits": dict(sorted(file_names.items())),
        "files_scanned": len(shareable_files(out)) - skipped,
        "library_files_skipped": skipped,
        "canaries": {"planted": len({c for c in canaries if c}), "input_names": len(names), "roots": len(roots)},
        "ocr_images": bool(ocr_images),
    }


def write_result(out: str | Path, result: dict) -> Path:
    path = Path(out) / RESULT_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=1, sort_keys=True), encoding="utf-8")
    return path


def summary_line(result: dict) -> str:
    """One line: rows per table and side files with hits (counts only)."""
    if result["ok"]:
        return (f"leak gate: no residual identifiers or canaries in {result['rows_scanned']} rows and "
                f"{result['files_scanned']} files")
    parts = [f"{t} {v['rows_with_hits']} of {v['rows']} rows" for t, v in result["tables"].items()
             if v["rows_with_hits"]]
    parts += [f"{f} ({v['lines_with_hits']} lines)" for f, v in sorted(result["files_with_hits"].items())]
    if result["file_names_with_hits"]:
        parts.append(f"{sum(result['file_names_with_hits'].values())} file name(s)")
    return "leak gate FAILED: " + "; ".join(parts)
