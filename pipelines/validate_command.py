"""``medcorpus validate DIR``: run the expectation suites; exit 0 when all pass, 1 otherwise."""
from __future__ import annotations

import sys
from pathlib import Path

from pipelines.errors import UserError


def validate_dir(directory: str, suites: str | None) -> bool:
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

        write_report(out)
    return result.success


def run_validate(args) -> int:
    return 0 if validate_dir(args.directory, args.suites) else 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(run_validate(type("A", (), {"directory": sys.argv[1], "suites": None})()))
