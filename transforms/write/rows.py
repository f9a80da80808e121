"""Turn documents and examples into rows of the output tables (see ``schemas/tables.py``).

Rows follow the formats Hugging Face TRL takes as is: SFT and evaluation rows are ``messages``
(a list of ``{"role", "content"}`` turns); preference rows are TRL's conversational preference
format: ``prompt`` is the user turn(s), ``chosen`` and ``rejected`` the assistant turn(s), each a
list of messages (builders may give plain strings; they are wrapped here). Which table of a split
family a row lands in (text-only or multimodal) is ``schemas.tables.table_for``.
"""
from __future__ import annotations

from schemas.tables import QUALITY_FIELDS

#: signal name produced by transforms.quality.signals -> q_* column
QUALITY_COLUMNS = {f.name: f.name[2:] for f in QUALITY_FIELDS}


def _common(item: dict, *, row_id: str, tier: str, annotation_level: str) -> dict:
    return {
        "id": row_id,
        "patient_key": item.get("patient_key"),
        "source_kind": item.get("source_kind") or "fhir",
        "modality": item.get("modality") or "text",
        "language": item.get("language") or "other",
        "tier": tier,
        "annotation_level": annotation_level,
        "disease_codes": sorted(item.get("disease_codes") or []),
        "disease_ids": sorted(item.get("disease_ids") or []),
        "scenario_ids": sorted(item.get("scenario_ids") or []),
        "task_id": item.get("task_id"),
        "task_ids": sorted(item.get("task_ids") or ([item["task_id"]] if item.get("task_id") else [])),
        "dedup_cluster": item.get("dedup_cluster"),
    }


def pretraining_row(doc: dict) -> dict:
    row = _common(doc, row_id=doc["doc_id"], tier=doc.get("tier") or "general", annotation_level="none")
    row.update({"text": doc["text"], "doc_type": doc.get("doc_type"), "date": doc.get("date"),
                "image": doc.get("image"), "_inputs": list(doc.get("inputs") or [])})
    return _with_signals(row, doc)


def _with_signals(row: dict, item: dict) -> dict:
    signals = {**(item.get("quality") or {}), **(item.get("record_signals") or {})}
    for column, name in QUALITY_COLUMNS.items():
        value = signals.get(name)
        if value is not None:
            row[column] = value
    return row


def example_row(ex: dict, split: str) -> dict:
    row = _common(ex, row_id=ex["example_id"], tier="task", annotation_level=ex.get("annotation_level") or "weak")
    if ex.get("images"):
        row["images"] = list(ex["images"])
    pk = ex.get("patient_key")
    row["_inputs"] = list(ex.get("inputs") or (["patient:" + pk] if pk else []))
    if split in ("sft", "evaluation"):
        row["messages"] = [{"role": m["role"], "content": m["content"]} for m in ex.get("messages") or []]
    if split == "evaluation":
        ref = ex.get("reference")
        if ref is None and row["messages"] and row["messages"][-1]["role"] == "assistant":
            ref = row["messages"][-1]["content"]
        row["reference"] = ref
    if split == "preference":
        row.update({"prompt": as_messages(ex["prompt"], "user"), "chosen": as_messages(ex["chosen"], "assistant"),
                    "rejected": as_messages(ex["rejected"], "assistant"), "corruption": ex.get("corruption")})
    return _with_signals(row, ex)


def as_messages(value, role: str) -> list[dict]:
    """A turn list: plain text becomes one ``role`` message; a message list is kept (role, content)."""
    if isinstance(value, str):
        return [{"role": role, "content": value}]
    return [{"role": m["role"], "content": m["content"]} for m in value or []]


def content_text(value) -> str:
    """The text of a string or of a list of messages."""
    if isinstance(value, str):
        return value
    return "\n".join(m.get("content") or "" for m in value or [] if isinstance(m, dict))


def example_text(ex: dict) -> str:
    """All text of an example (or of an example row), for decontamination and quality signals."""
    parts = [m.get("content", "") for m in ex.get("messages") or []]
    parts += [content_text(ex.get(k)) for k in ("prompt", "chosen", "reference")]
    return "\n".join(p for p in parts if p)
