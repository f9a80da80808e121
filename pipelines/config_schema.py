"""The typed build configuration: ranges, enums and paths, checked before any data is read.

``pipelines.config.load_config`` merges the user's YAML over ``configs/default.yaml`` (an unknown
key is an error there, listing the valid ones) and resolves paths; this pydantic model then checks
every value. The first problem becomes one ``medcorpus: error:`` line naming the key, what it must
be and what it was (config values are settings, never patient data). A key that exists in
``default.yaml`` but is not modelled here passes unchecked (``extra="allow"``), so a new setting
needs only its default to work.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Literal, Optional

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from pipelines.errors import UserError

#: config keys whose values an error line never quotes
UNQUOTED = ("leak_gate.canaries",)
MODULE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")


def _existing(value: str | None) -> str | None:
    """A local path must name a file; a remote one (``gs://...``) is checked by its filesystem later."""
    if value is None or "://" in str(value):
        return value
    if not Path(value).is_file():
        raise ValueError(f"file not found: {value}")
    return value


class _Section(BaseModel):
    model_config = ConfigDict(extra="allow")


class Fhir(_Section):
    version: Literal["R4", "R4B", "R5"]
    mode: Literal["lenient", "strict"]


class Text(_Section):
    csv_text_column: str = Field(min_length=1)
    default_doc_type: str = Field(min_length=1)


class Link(_Section):
    identifier_systems: list[str]


class Dicom(_Section):
    render: Literal["series", "instance"]
    max_side: int = Field(ge=16, le=16384)


class Limits(_Section):
    """Reader limits (``transforms/io/limits.py``; it also checks them, as positive numbers)."""
    max_file_mb: float = Field(gt=0, le=1_000_000)
    max_decompressed_mb: float = Field(default=256, gt=0, le=1_000_000)
    max_compression_ratio: float = Field(default=200, gt=0)
    max_json_depth: int = Field(default=64, ge=1)
    max_note_chars: int = Field(default=1_000_000, ge=1)
    max_bundle_entries: int = Field(default=100_000, ge=1)
    max_csv_cell_chars: int = Field(default=1_000_000, ge=1)


class Terminology(_Section):
    maps: list[str]
    display_tables: list[str]

    _maps = field_validator("maps", "display_tables")(lambda v: [_existing(x) for x in v])


class Dedup(_Section):
    enabled: bool
    threshold: float = Field(gt=0, le=1)


class Split(_Section):
    evaluation_ratio: float = Field(ge=0, lt=1)
    stratify_by: list[Literal["disease", "source"]]


class Decontamination(_Section):
    n_words: int = Field(ge=3, le=200)
    n_cjk: int = Field(ge=3, le=400)
    max_train_df: int = Field(ge=1)


class Tasks(_Section):
    builders: list[str]
    labels: list[str]

    @field_validator("builders")
    @classmethod
    def _modules(cls, v: list[str]) -> list[str]:
        for name in v:
            if not MODULE.match(name):
                raise ValueError(f"not an importable module path: {name!r} (e.g. my_package.builders)")
        return v

    _labels = field_validator("labels")(lambda v: [_existing(x) for x in v])


class Review(_Section):
    overrides: Optional[str]

    _overrides = field_validator("overrides")(lambda v: _existing(v))


class Output(_Section):
    rows_per_shard: dict[Literal["pretraining", "sft", "preference", "evaluation"], int]

    @field_validator("rows_per_shard")
    @classmethod
    def _positive(cls, v: dict) -> dict:
        for key, n in v.items():
            if n < 1:
                raise ValueError(f"{key} must be at least 1")
        return v


class LeakGate(_Section):
    """The leak gate (``transforms/quality/leak_gate.py``); ``validate_command.leak_settings`` also
    compiles the patterns."""
    enabled: bool
    canaries: list[str]
    patterns: dict[str, str]
    ocr_images: bool


class BuildConfig(_Section):
    fhir: Fhir
    text: Text
    link: Link
    dicom: Dicom
    limits: Limits
    deid_policy: str
    matrix: str
    quality: str
    terminology: Terminology
    dedup: Dedup
    split: Split
    decontaminate_against: list[str]
    decontamination: Decontamination
    tasks: Tasks
    review: Review
    leak_gate: LeakGate
    output: Output

    _files = field_validator("deid_policy", "matrix", "quality")(lambda v: _existing(v))
    _benchmarks = field_validator("decontaminate_against")(lambda v: [_existing(x) for x in v])


def check_config(config: dict) -> None:
    """Raise a one-line ``UserError`` for the first invalid value of the effective config."""
    try:
        BuildConfig.model_validate({k: v for k, v in config.items() if not k.startswith("_")})
    except ValidationError as exc:
        err = exc.errors()[0]
        key = ".".join(str(p) for p in err["loc"])
        key = re.sub(r"\.(\d+)(?=\.|$)", r"[\1]", key)
        msg = err["msg"].removeprefix("Value error, ")
        got = err.get("input")
        hidden = key.startswith(UNQUOTED)  # planted canaries look like PHI: never echoed
        shown = "" if hidden or isinstance(got, (dict, list)) or got is None else f" (got {got!r})"
        raise UserError(f"invalid config value '{key}': {msg}{shown}") from None
