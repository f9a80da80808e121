"""Arrow schemas for every table medcorpus writes: the one source of truth.

Writers enforce these schemas, the expectation suites and the README's schema section are
derived from them, and tests load shards against them. Add a field here and only here.
"""
from __future__ import annotations

import pyarrow as pa

#: Images follow the Hugging Face ``datasets`` Image convention: a {bytes, path} struct.
IMAGE = pa.struct([pa.field("bytes", pa.binary()), pa.field("path", pa.string())])
MESSAGE = pa.struct([pa.field("role", pa.string()), pa.field("content", pa.string())])


def hf_feature(t: pa.DataType):
    """The Hugging Face ``datasets`` feature (as serialised in its JSON) of an Arrow type; the
    ``{bytes, path}`` image struct is ``Image``. Lists use the ``[feature]`` form that every
    ``datasets`` release reads."""
    if t.equals(IMAGE):
        return {"_type": "Image"}
    if pa.types.is_list(t) or pa.types.is_large_list(t):
        return [hf_feature(t.value_type)]
    if pa.types.is_struct(t):
        return {f.name: hf_feature(f.type) for f in t}
    dtype = {pa.string(): "string", pa.binary(): "binary", pa.int64(): "int64", pa.int32(): "int32",
             pa.float64(): "float64", pa.bool_(): "bool"}[t]
    return {"_type": "Value", "dtype": dtype}


def hf_features_json(fields: list[pa.Field]) -> str:
    """The ``huggingface`` Parquet schema metadata ``datasets`` writes (and reads back as features)."""
    import json

    return json.dumps({"info": {"features": {f.name: hf_feature(f.type) for f in fields}}})


#: Columns every corpus row carries (all four splits).
COMMON_FIELDS: list[pa.Field] = [
    pa.field("id", pa.string(), nullable=False),
    pa.field("patient_key", pa.string()),  # pseudonymous; null for non-patient documents
    pa.field("source_kind", pa.string(), nullable=False),  # fhir | text | dicom
    pa.field("modality", pa.string(), nullable=False),  # text | image | structured | multimodal
    pa.field("language", pa.string(), nullable=False),  # zh | en | mixed | other
    pa.field("tier", pa.string(), nullable=False),  # general | specialty | task
    pa.field("annotation_level", pa.string(), nullable=False),  # none | weak | fine
    pa.field("disease_codes", pa.list_(pa.string()), nullable=False),  # ICD-10 categories
    pa.field("disease_ids", pa.list_(pa.string()), nullable=False),  # matrix disease ids
    pa.field("scenario_ids", pa.list_(pa.string()), nullable=False),
    pa.field("task_id", pa.string()),  # the task an example was built for
    pa.field("task_ids", pa.list_(pa.string()), nullable=False),  # matrix tasks the row's diseases feed
    pa.field("dedup_cluster", pa.string()),
]

#: Per-record quality signals, written as columns on every row of all four splits so users can
#: re-filter without recomputing. On task examples the text signals describe the example's text
#: (all turns), the record signals the patient record it was built from.
QUALITY_FIELDS: list[pa.Field] = [
    pa.field("q_chars", pa.int64()),
    pa.field("q_tokens", pa.int64()),
    pa.field("q_alpha_share", pa.float64()),
    pa.field("q_digit_share", pa.float64()),
    pa.field("q_punct_share", pa.float64()),
    pa.field("q_dup_line_frac", pa.float64()),
    pa.field("q_dup_ngram_frac", pa.float64()),
    pa.field("q_mojibake", pa.int64()),
    pa.field("q_replacement_chars", pa.int64()),
    pa.field("q_boilerplate_share", pa.float64()),
    pa.field("q_language_confidence", pa.float64()),
    # record-level signals of the document's patient (null for documents without a patient)
    pa.field("q_record_completeness", pa.float64()),  # share of expected FHIR fields present
    pa.field("q_invalid_codes", pa.int64()),  # codings with an invalid format for their system
    pa.field("q_invalid_units", pa.int64()),  # observation units that are not UCUM
    pa.field("q_implausible_values", pa.int64()),  # lab values outside plausible clinical ranges
    pa.field("q_timeliness_flags", pa.int64()),  # periods ending before they start, events before birth
]

def _split_schema(table: str, own: list[pa.Field]) -> pa.Schema:
    fields = COMMON_FIELDS + own + QUALITY_FIELDS
    return pa.schema(fields, metadata={"medcorpus.table": table, "medcorpus.schema_version": "2",
                                       "huggingface": hf_features_json(fields)})


_MESSAGES = pa.field("messages", pa.list_(MESSAGE), nullable=False)
# Image columns are nullable in Arrow terms because ``datasets`` takes a column's feature from the
# ``huggingface`` metadata only when the Arrow field is exactly its own (nullable); writers never
# leave them null (``images`` is an empty list at least, ``image`` always set in its table).
_IMAGES = pa.field("images", pa.list_(IMAGE))  # Hugging Face ``List(Image())``

# Text-only tables carry no image column (TRL's trainers take any ``image``/``images`` column for
# vision data); rows with images go to the family's multimodal table (see LAYOUT).
PRETRAINING = _split_schema("pretraining", [
    pa.field("text", pa.string(), nullable=False),
    pa.field("doc_type", pa.string()),
    pa.field("date", pa.string()),  # shifted, YYYY-MM-DD
])
PRETRAINING_IMAGES = _split_schema("pretraining_images", [
    pa.field("text", pa.string(), nullable=False),  # the image's caption (modality, body part, description)
    pa.field("doc_type", pa.string()),
    pa.field("date", pa.string()),
    pa.field("image", IMAGE),  # Hugging Face ``Image()``
])
SFT = _split_schema("sft", [_MESSAGES])
SFT_MULTIMODAL = _split_schema("sft_multimodal", [_MESSAGES, _IMAGES])
# TRL's conversational preference format: prompt = the user turn(s), chosen/rejected = assistant turns.
_PREFERENCE = [
    pa.field("prompt", pa.list_(MESSAGE), nullable=False),
    pa.field("chosen", pa.list_(MESSAGE), nullable=False),
    pa.field("rejected", pa.list_(MESSAGE), nullable=False),
    pa.field("corruption", pa.string()),  # kind of recorded corruption; null for imported pairs
]
PREFERENCE = _split_schema("preference", _PREFERENCE)
PREFERENCE_MULTIMODAL = _split_schema("preference_multimodal", _PREFERENCE + [_IMAGES])
_EVALUATION = [
    pa.field("messages", pa.list_(MESSAGE), nullable=False),  # prompt turns; last is the reference answer
    pa.field("reference", pa.string()),
]
EVALUATION = _split_schema("evaluation", _EVALUATION)
EVALUATION_MULTIMODAL = _split_schema("evaluation_multimodal", _EVALUATION + [_IMAGES])

REJECTED = pa.schema(
    [
        # "<kind>:src-<16 hex>": the input file's keyed pseudonym (never its name; lineage/sources maps it back)
        pa.field("source", pa.string(), nullable=False),
        pa.field("position", pa.string(), nullable=False),  # "file", "line 12", "entry 3", ...
        pa.field("source_kind", pa.string(), nullable=False),
        pa.field("stage", pa.string(), nullable=False),
        pa.field("error_kind", pa.string(), nullable=False),
        pa.field("message", pa.string(), nullable=False),  # never the raw payload
    ],
    metadata={"medcorpus.table": "rejected", "medcorpus.schema_version": "1"},
)

REVIEW = pa.schema(
    [
        pa.field("id", pa.string(), nullable=False),
        pa.field("split", pa.string()),
        pa.field("reason", pa.string(), nullable=False),
        pa.field("patient_key", pa.string()),  # so `medcorpus forget` reaches the review queue too
        pa.field("text", pa.string()),  # de-identified text for the reviewer
        pa.field("decision", pa.string()),  # filled by the reviewer: keep | drop
    ],
    metadata={"medcorpus.table": "review", "medcorpus.schema_version": "1"},
)

#: RESTRICTED (it maps outputs back to inputs): one row per output row of the four splits.
LINEAGE_ROWS = pa.schema(
    [
        pa.field("id", pa.string(), nullable=False),  # the output row's id
        pa.field("split", pa.string(), nullable=False),
        pa.field("patient_key", pa.string()),
        # inputs as "<kind>:<path relative to its source root>#<position>"; "patient:<key>" stands for
        # every input unit of that patient (see lineage/inputs)
        pa.field("inputs", pa.list_(pa.string()), nullable=False),
        pa.field("stages", pa.list_(pa.string()), nullable=False),  # "stage@version", in order
    ],
    metadata={"medcorpus.table": "lineage/rows", "medcorpus.schema_version": "1"},
)

#: RESTRICTED: one row per input unit (FHIR resource, text document, DICOM instance) written by the
#: de-identification stage, with its patient's pseudonym and date shift.
LINEAGE_INPUTS = pa.schema(
    [
        pa.field("source", pa.string(), nullable=False),
        pa.field("position", pa.string(), nullable=False),
        pa.field("source_kind", pa.string(), nullable=False),
        pa.field("patient_key", pa.string()),  # null for documents without a patient
        pa.field("date_shift_days", pa.int32()),  # the patient's shift (policy window); null without a patient
        pa.field("source_id", pa.string()),  # the file's pseudonym in rejected/, audit.json (see lineage/sources)
    ],
    metadata={"medcorpus.table": "lineage/inputs", "medcorpus.schema_version": "1"},
)

#: RESTRICTED: one row per input file read, mapping the pseudonym that the shareable side files use
#: (rejected/, audit.json) back to the file's path relative to its source root.
LINEAGE_SOURCES = pa.schema(
    [
        pa.field("source_id", pa.string(), nullable=False),  # "<kind>:src-<16 hex>"
        pa.field("source", pa.string(), nullable=False),  # "<kind>:<path relative to the source root>"
        pa.field("source_kind", pa.string(), nullable=False),
        pa.field("bytes", pa.int64()),
        pa.field("sha256", pa.string()),  # null when the file was rejected before it was read
    ],
    metadata={"medcorpus.table": "lineage/sources", "medcorpus.schema_version": "1"},
)

#: split family -> (text-only table, multimodal table). Each table is one dataset config.
LAYOUT: dict[str, tuple[str, str]] = {
    "pretraining": ("pretraining", "pretraining_images"),
    "sft": ("sft", "sft_multimodal"),
    "preference": ("preference", "preference_multimodal"),
    "evaluation": ("evaluation", "evaluation_multimodal"),
}
FAMILIES = tuple(LAYOUT)
TRAINING_FAMILIES = ("pretraining", "sft", "preference")
#: every corpus table (dataset config), text-only first
SPLITS: dict[str, pa.Schema] = {
    "pretraining": PRETRAINING,
    "sft": SFT,
    "preference": PREFERENCE,
    "evaluation": EVALUATION,
    "pretraining_images": PRETRAINING_IMAGES,
    "sft_multimodal": SFT_MULTIMODAL,
    "preference_multimodal": PREFERENCE_MULTIMODAL,
    "evaluation_multimodal": EVALUATION_MULTIMODAL,
}
#: table -> its split family
FAMILY: dict[str, str] = {table: family for family, tables in LAYOUT.items() for table in tables}


def table_for(family: str, row: dict) -> str:
    """The table a row of ``family`` belongs to: the multimodal one when it carries an image."""
    text, multimodal = LAYOUT[family]
    return multimodal if (row.get("image") or row.get("images")) else text


LINEAGE: dict[str, pa.Schema] = {"lineage/rows": LINEAGE_ROWS, "lineage/inputs": LINEAGE_INPUTS,
                                 "lineage/sources": LINEAGE_SOURCES}
TABLES: dict[str, pa.Schema] = {**SPLITS, "rejected": REJECTED, "review": REVIEW, **LINEAGE}


def empty_row(schema: pa.Schema) -> dict:
    """A row with every column present (nulls / empty lists) for ``schema``."""
    row = {}
    for f in schema:
        row[f.name] = [] if pa.types.is_list(f.type) else None
    return row


def conform(row: dict, schema: pa.Schema) -> dict:
    """Return ``row`` restricted to ``schema``'s columns, filling missing ones.

    Raises ``ValueError`` naming the column (never the value) when a non-nullable column is
    missing or a value cannot be converted to the declared type.
    """
    out = empty_row(schema)
    for f in schema:
        if f.name in row and row[f.name] is not None:
            out[f.name] = row[f.name]
        elif not f.nullable and not pa.types.is_list(f.type):
            raise ValueError(f"column {f.name!r} is required by the {schema.metadata[b'medcorpus.table'].decode()} schema")
    try:
        pa.Table.from_pylist([out], schema=schema)
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, ValueError) as exc:
        bad = _first_bad_column(out, schema)
        raise ValueError(f"column {bad!r} does not match its declared type ({type(exc).__name__})") from None
    return out


def _first_bad_column(row: dict, schema: pa.Schema) -> str:
    for f in schema:
        try:
            pa.array([row[f.name]], type=f.type)
        except Exception:  # noqa: BLE001 - we only look for the column name
            return f.name
    return "?"
