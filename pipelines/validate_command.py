"""``medcorpus validate DIR``: run the expectation suites and the leak gate; exit 0 when all pass, 1 otherwise."""
from __future__ import annotations

import re
import sys
from pathlib import Path

from pipelines.errors import UserError

DEFAULT_LEAK_GATE = {"enabled": True, "canaries": [], "patterns": {}, "ocr_images": False}


def leak_settings(config: dict | None, roots=()) -> dict | None:
    """The leak gate's settings from the build config (None when disabled); patterns are checked here,
    before anything is written."""
    gate = dict(DEFAULT_LEAK_GATE, **((config or {}).get("leak_gate") or {}))
    if not gate.get("enabled", True):
        return None
    canaries = gate.get("canaries") or []
    if not isinstance(canaries, list) or not all(isinstance(c, str) for c in canaries):
        raise UserError("leak_gate.canaries must be a list of strings")
    patterns = gate.get("patterns") or {}
    if not isinstance(patterns, dict):
        raise UserError("leak_gate.patterns must map a name to a regular expression")
    for name, rx in patterns.items():
        try:
            re.compile(str(rx))
        except re.error:
            raise UserError(f"leak_gate.patterns.{name} is not a valid regular expression") from None
    # absolute source roots are canaries too (a shareable file must never name one)
    local_roots = [str(r) for r in roots if r and "://" not in str(r) and len(Path(str(r)).parts) > 2]
    return {"canaries": canaries, "patterns": {str(k): str(v) for k, v in patterns.items()},
            "ocr_images": bool(gate.get("ocr_images")), "roots": local_roots}


def run_leak_gate(directory: str | Path, settings: dict, thumbnails: bool = False) -> bool:
    """Scan every shareable file, write ``quality/leak_scan.json`` (counts only), print one line,
    and rewrite the report with the result. False when anything was found."""
    from transforms.quality.leak_gate import scan_output, summary_line, write_result

    out = Path(directory)
    if "://" in str(directory):
        print("leak gate: skipped for an object-store output (run `medcorpus validate` on a local copy)",
              file=sys.stderr)
        return True
    from expectations.datadocs import library_hashes

    result = scan_output(out, canaries=settings.get("canaries") or (), patterns=settings.get("patterns"),
                         roots=settings.get("roots") or (), ocr_images=bool(settings.get("ocr_images")),
                         library=library_hashes())
    path = write_result(out, result)
    line = summary_line(result)
    print(line if result["ok"] else f"medcorpus: error: {line} (see {path})",
          file=sys.stdout if result["ok"] else sys.stderr)
    if (out / "manifest.json").is_file():
        from pipelines.report import write_report

        write_report(out, thumbnails=thumbnails)
    return bool(result["ok"])


_DEFAULTS = object()


def validate_dir(directory: str, suites: str | None, *, leak=_DEFAULTS, thumbnails: bool = False) -> bool:
    """Expectation suites, then the leak gate (``leak``: its settings, None when disabled; by default
    the default settings)."""
    from expectations.validate import validate_corpus

    out = Path(directory)
    if not out.is_dir():
        raise UserError(f"not a directory: {directory}")
    if not any((out / s).is_dir() for s in ("pretraining", "sft", "preference", "evaluation")):
        raise UserError(f"no corpus splits in {directory} (run medcorpus build first)")
    if suites and not Path(suites).is_dir():
        raise UserError(f"--suites is not a directory: {suites}")
    result = validate_corpus(out, suites)
    for line in result.summary_lines():
        print(line)
    print(f"details: {out / 'quality' / 'index.html'} and {out / 'quality' / 'validation.json'}")
    if (out / "manifest.json").is_file():
        from pipelines.report import write_report

        write_report(out, thumbnails=thumbnails)  # scanned by the gate below, as shipped
    settings = leak_settings(None) if leak is _DEFAULTS else leak
    clean = run_leak_gate(out, settings, thumbnails) if settings else True
    return result.success and clean


def run_validate(args) -> int:
    return 0 if validate_dir(args.directory, args.suites) else 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(run_validate(type("A", (), {"directory": sys.argv[1], "suites": None})()))
