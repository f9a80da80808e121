"""Strict command-line options: every option is medcorpus's own or one that Apache Beam defines.

medcorpus parses its own options with argparse and hands the rest to Beam. Beam only warns about
options it does not know ("Discarding unparseable args"), so a typo such as ``--ouput`` used to run
with the default output. Here the leftovers are parsed with Beam's own parser, built from every
``PipelineOptions`` subclass that is imported at that point (Beam's standard options, runner
options such as a Dask runner's, and any medcorpus defines), the way Beam's ``get_all_options``
builds it; anything else is a one-line error naming the closest valid option.
"""
from __future__ import annotations

import argparse
import difflib

from pipelines.errors import UserError

#: remote path schemes -> the Beam extra that provides their filesystem
REMOTE_EXTRAS = {"gs": "gcp", "s3": "aws", "azfs": "azure", "hdfs": "hadoop"}


def beam_parser() -> argparse.ArgumentParser:
    """Beam's parser with the options of every imported ``PipelineOptions`` subclass."""
    from apache_beam.options.pipeline_options import PipelineOptions, _BeamArgumentParser

    parser = _BeamArgumentParser(allow_abbrev=False)
    classes: dict[str, type] = {}
    for cls in PipelineOptions.__subclasses__():  # as PipelineOptions.get_all_options does
        classes.setdefault(str(cls), cls)
    for cls in classes.values():
        try:
            cls._add_argparse_args(parser)  # noqa: SLF001 - Beam's own hook for declaring options
        except argparse.ArgumentError:
            continue  # an option declared twice by two classes: the first declaration stands
    return parser


def option_strings(parser: argparse.ArgumentParser) -> list[str]:
    return sorted({s for action in parser._actions for s in action.option_strings if s.startswith("--")})  # noqa: SLF001


def check_passthrough(command: str, extra: list[str], own: list[str], other_commands: dict[str, list[str]],
                      beam: bool) -> None:
    """Raise a one-line ``UserError`` for the first token of ``extra`` that is not a valid option.

    ``own`` are the command's own options, ``other_commands`` maps other medcorpus commands to theirs
    (an option of another command is named as such), ``beam`` says whether Beam options pass.
    """
    if not extra:
        return
    unknown = list(extra)
    candidates = list(own)
    if beam:
        parser = beam_parser()
        _, unknown = parser.parse_known_args(extra)
        candidates += option_strings(parser)
    if not unknown:
        return
    token = next((t for t in unknown if t.startswith("-")), unknown[0])
    if not token.startswith("-"):
        raise UserError(f"unexpected argument '{token}' for 'medcorpus {command}'")
    name = token.split("=", 1)[0]
    for other, options in other_commands.items():
        if name in options and other != command:
            raise UserError(f"{name} is an option of 'medcorpus {other}'; 'medcorpus {command}' does not take it")
    close = difflib.get_close_matches(name, candidates, n=1, cutoff=0.6)
    hint = f" (did you mean {close[0]}?)" if close else f" (see 'medcorpus {command} --help')"
    what = "medcorpus or Apache Beam option" if beam else "option"
    raise UserError(f"unknown {what} {name} for 'medcorpus {command}'{hint}")


def check_remote_path(path: str | None, what: str) -> None:
    """A remote path needs its Beam filesystem installed: say which extra to install, before any work."""
    if not path or "://" not in path:
        return
    from apache_beam.io.filesystems import FileSystems

    scheme = path.split("://", 1)[0].lower()
    try:
        FileSystems.get_filesystem(path)
    except ValueError:
        extra = REMOTE_EXTRAS.get(scheme)
        hint = (f"install Beam's {extra} extras: pip install 'apache-beam[{extra}]'" if extra
                else "Beam has no filesystem for this scheme")
        raise UserError(f"{what} {scheme}:// needs a filesystem that is not installed: {hint}") from None
