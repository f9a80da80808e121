"""Imported expert labels / preference rankings (fine annotation) from JSONL objects."""
from __future__ import annotations

import hashlib


def _msg(prompt: str, answer: str) -> list[dict]:
    return [{"role": "user", "content": prompt}, {"role": "assistant", "content": answer}]


def examples_from_labels(lines: list[dict], source: str = "labels") -> list[dict]:
    out = []
    for obj in lines:
        base = {"example_id": "x-" + hashlib.sha256(f"{source}\x1f{obj.get('id')}".encode()).hexdigest()[:24],
                "patient_key": obj.get("patient_key"), "language": obj.get("language") or "en",
                "annotation_level": "fine", "task_id": obj.get("task_id") or "imported_labels",
                "builder": "imported_labels", "source_kind": "text", "modality": "text", "images": [],
                "disease_codes": obj.get("disease_codes") or [], "tier": "task"}
        if obj.get("chosen") and obj.get("rejected"):
            base.update({"set": "preference", "prompt": obj.get("prompt") or "", "chosen": obj["chosen"],
                         "rejected": obj["rejected"], "corruption": None})
        elif obj.get("messages"):
            base.update({"set": "sft", "messages": obj["messages"]})
        elif obj.get("prompt") and obj.get("response"):
            base.update({"set": "sft", "messages": _msg(obj["prompt"], obj["response"])})
        else:
            continue
        out.append(base)
    return out
