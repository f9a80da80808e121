"""The ``medcorpus`` command line: build, deid, validate, forget, report, sample.

User mistakes (missing path, no inputs, bad config key or value, missing secret, an unknown
option) print one clear line and exit non-zero; tracebacks are reserved for bugs. Options are
strict: ``build`` and ``deid`` pass on only the options Apache Beam defines
(``pipelines.options``); anything else names the closest valid option.
"""
from __future__ import annotations

import argparse
import logging
import sys
import textwrap

from pipelines import __version__
from pipelines.errors import UserError

EPILOG_BUILD = textwrap.dedent("""\
    examples:
      medcorpus build                                   # the bundled sample -> ./corpus-out
      MEDCORPUS_SECRET=... medcorpus build --source fhir:/data/bulk --source text:/data/notes \\
          --source dicom:/data/pacs --output /data/corpus
      medcorpus build --source fhir:'gs://bucket/export/*.ndjson.gz' --output gs://bucket/corpus \\
          --secret-file gs://secrets/medcorpus.key --runner DataflowRunner --project P --region R \\
          --temp_location gs://bucket/tmp --setup_file ./setup.py

    Options Apache Beam defines are passed to Beam (--runner, --direct_num_workers,
    --direct_running_mode, --project, --temp_location, --flink_master, --setup_file, ...);
    any other option is an error.
    """)


class _Parser(argparse.ArgumentParser):
    """argparse whose errors are one ``medcorpus: error:`` line (no usage block)."""

    def error(self, message: str):
        raise UserError(message)



def _parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="medcorpus", allow_abbrev=False,
        description="Build a de-identified, coded, quality-checked, tiered medical corpus with Apache Beam.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Run 'medcorpus COMMAND --help' for the options of a command.",
    )
    p.add_argument("--version", action="version", version=f"medcorpus {__version__}")
    p.add_argument("-v", "--verbose", action="store_true", help="log Beam's own progress messages")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    b = sub.add_parser("build", help="run the corpus pipeline", epilog=EPILOG_BUILD, allow_abbrev=False,
                       formatter_class=argparse.RawDescriptionHelpFormatter,
                       description="Read FHIR, DICOM and text sources, de-identify, normalize, check, "
                                   "deduplicate, tier, build task examples, split and write Parquet.")
    b.add_argument("--config", metavar="FILE", help="YAML config overriding the defaults (see README)")
    b.add_argument("--source", action="append", default=[], metavar="KIND:PATH",
                   help="input: KIND is fhir, dicom or text; PATH a file, directory or glob (.gz accepted). "
                        "Repeatable. Without any, the bundled sample is built.")
    b.add_argument("--output", default="corpus-out", metavar="DIR", help="output directory (default: ./corpus-out)")
    b.add_argument("--secret-file", metavar="FILE", help="file holding the pseudonymisation secret (default: "
                   "$MEDCORPUS_SECRET); on Dataflow/Flink a path every worker can read, e.g. gs://...")
    b.add_argument("--overwrite", action="store_true", help="replace an existing, non-empty output directory")
    b.add_argument("--skip-unchanged", action="store_true",
                   help="if DIR holds a complete build of the same inputs (paths, sizes, mtimes), config, secret and "
                        "medcorpus version, reuse it instead of rebuilding; otherwise rebuild (implies --overwrite)")
    b.add_argument("--incremental", action="store_true",
                   help="keep a per-patient cache in DIR/cache: re-running de-identifies only patients whose inputs "
                        "changed, and a killed run resumes where it stopped (implies --skip-unchanged)")
    b.add_argument("--gate", action="store_true", help="run the expectation suites at the end; fail the run on failure")
    b.add_argument("--dry-run", action="store_true",
                   help="check options, config, secret, sources (and their kinds) and task builders, then stop "
                        "before reading any data or writing anything")
    b.add_argument("--benchmark", action="append", default=[], metavar="FILE",
                   help="JSONL benchmark (question/options/answer) to decontaminate against; repeatable")
    b.add_argument("--report-thumbnails", action="store_true",
                   help="embed a few de-identified images in report/index.html (row content: off by default)")

    d = sub.add_parser("deid", help="write de-identified copies of FHIR, DICOM and text files", allow_abbrev=False,
                       formatter_class=argparse.RawDescriptionHelpFormatter,
                       description="De-identify inputs in their own formats, keeping the relative layout. "
                                   "Each file's kind is recognised by its content, not its extension.",
                       epilog="example:\n  MEDCORPUS_SECRET=... medcorpus deid /data/export /data/pacs --output /data/deid\n")
    d.add_argument("inputs", nargs="+", metavar="INPUT", help="files or directories")
    d.add_argument("--output", required=True, metavar="DIR")
    d.add_argument("--config", metavar="FILE")
    d.add_argument("--secret-file", metavar="FILE")
    d.add_argument("--overwrite", action="store_true")

    v = sub.add_parser("validate", help="run the expectation suites on a built corpus", allow_abbrev=False,
                       formatter_class=argparse.RawDescriptionHelpFormatter,
                       description="Exit 0 when every expectation passes, 1 when any fails.",
                       epilog="example:\n  medcorpus validate corpus-out\n")
    v.add_argument("directory", metavar="DIR")
    v.add_argument("--suites", metavar="DIR", help="extra directory of user expectation suites (JSON)")

    f = sub.add_parser("forget", help="remove patients' rows from a built corpus (splits, review, lineage)",
                       allow_abbrev=False,
                       description="Remove every row of the named patients from a built corpus and update its "
                                   "manifest, data card, audit log and report.")
    f.add_argument("directory", metavar="DIR")
    f.add_argument("--key", action="append", default=[], metavar="PATIENT_KEY",
                   help="pseudonymous patient_key as written in the corpus (repeatable)")
    f.add_argument("--patient-id", action="append", default=[], metavar="ID",
                   help="source patient id (FHIR Patient.id; ext:VALUE for patients known only from notes or "
                        "images); needs the build's secret (MEDCORPUS_SECRET or --secret-file)")
    f.add_argument("--source", action="append", default=[], metavar="KIND:PATH[#POSITION]",
                   help="every patient with data from this input file, as recorded in lineage/inputs")
    f.add_argument("--secret-file", metavar="FILE")

    r = sub.add_parser("report", help="(re)write DIR/report/index.html from a built corpus", allow_abbrev=False)
    r.add_argument("directory", metavar="DIR")
    r.add_argument("--thumbnails", action="store_true",
                   help="embed a few de-identified images (row content: off unless asked)")

    s = sub.add_parser("sample", help="write the bundled sample inputs to disk", allow_abbrev=False,
                       formatter_class=argparse.RawDescriptionHelpFormatter,
                       epilog="example:\n  medcorpus sample --output ./sample && "
                              "medcorpus build --source fhir:./sample/fhir --source text:./sample/text "
                              "--source dicom:./sample/dicom\n")
    s.add_argument("--output", required=True, metavar="DIR")
    for command in (b, d, v, f, r, s):  # -v also after the command
        command.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS,
                             help="log Beam's own progress messages")
    return p


#: commands whose leftover options go to Apache Beam
BEAM_COMMANDS = ("build", "deid")


def command_options(parser: argparse.ArgumentParser) -> dict[str, list[str]]:
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))  # noqa: SLF001
    return {name: sorted({o for a in cmd._actions for o in a.option_strings if o.startswith("--")})  # noqa: SLF001
            for name, cmd in sub.choices.items()}


def parse_command(argv: list[str]):
    """Parse and check ``argv``: (args, beam_args). Raises ``UserError`` for any unknown option."""
    parser = _parser()
    args, extra = parser.parse_known_args(argv)
    if args.command is None:
        return args, extra
    if args.command in BEAM_COMMANDS:
        import pipelines.build  # noqa: F401 - imports every PipelineOptions subclass medcorpus uses
    options = command_options(parser)
    from pipelines.options import check_passthrough

    check_passthrough(args.command, extra, options[args.command], options, beam=args.command in BEAM_COMMANDS)
    return args, extra


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    _quiet_logs("-v" in argv or "--verbose" in argv)  # before Beam is imported: it logs at import time
    try:
        args, beam_args = parse_command(argv)
    except UserError as exc:
        print(f"medcorpus: error: {exc}", file=sys.stderr)
        return exc.exit_code
    if args.command is None:
        _parser().print_help()
        return 2
    try:
        if args.command == "build":
            from pipelines.build import run_build

            return run_build(args, beam_args)
        if args.command == "deid":
            from pipelines.deid_command import run_deid

            return run_deid(args, beam_args)
        if args.command == "validate":
            from pipelines.validate_command import run_validate

            return run_validate(args)
        if args.command == "forget":
            from pipelines.forget_command import run_forget

            return run_forget(args)
        if args.command == "report":
            from pipelines.report import run_report

            return run_report(args)
        if args.command == "sample":
            from pipelines.sample.export import export_sample

            return export_sample(args.output)
    except UserError as exc:
        print(f"medcorpus: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("medcorpus: interrupted", file=sys.stderr)
        return 130
    return 2


class _DropNoise(logging.Filter):
    """Beam warns at import time about optional GCP client libraries nobody asked for."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("apitools not found")


def _quiet_logs(verbose: bool) -> None:
    level = logging.INFO if verbose else logging.WARNING
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    for handler in logging.getLogger().handlers:
        handler.addFilter(_DropNoise())
    for name in ("apache_beam", "presidio-analyzer", "presidio-anonymizer", "tldextract", "great_expectations",
                 "filelock", "urllib3"):
        logging.getLogger(name).setLevel(logging.INFO if verbose else logging.ERROR)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
