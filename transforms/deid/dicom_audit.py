"""Audit a de-identified DICOM object against PS3.15 Table E.1-1, attribute by attribute.

Judged with the table action for the enabled options: X removed; Z zero length or a dummy value
(PS3.15 allows either); D replaced; U a different UID; K unchanged; C changed, emptied or removed
(a time of day kept unchanged counts as modified under the longitudinal option, since dates move by
whole days); compound actions (X/Z, X/D, Z/D, X/Z/D, X/Z/U*) accept any of their parts.
"""
from __future__ import annotations

from transforms.deid.dicom_profile import DicomPolicy, table_row


def table_action(row: dict, policy: DicomPolicy) -> str:
    raw = row["basicProfile"]
    for _, column, _, _ in policy.enabled_options():
        if column in row:
            raw = row[column]
    return raw


def audit_actions(before, after, policy: DicomPolicy) -> tuple[int, int, list[str]]:
    """(right, total, names of attributes whose action does not match the table)."""
    right = total = 0
    wrong: list[str] = []
    for elem in before:
        if elem.tag.is_private or elem.tag.group == 0x0002:
            continue
        row = table_row(int(elem.tag))
        if row is None:
            continue
        action = table_action(row, policy)
        total += 1
        present = elem.tag in after
        value = after[elem.tag].value if present else None
        empty = present and (value in ("", None, b"", []) or (elem.VR == "SQ" and len(value) == 0))
        changed = present and not empty and str(value) != str(elem.value)
        ok = {
            "X": not present, "Z": empty or changed, "X/Z": not present or empty or changed,
            "D": changed or (elem.VR == "SQ" and present), "X/D": not present or empty or changed,
            "Z/D": empty or changed, "X/Z/D": not present or empty or changed,
            "U": changed or not elem.value, "X/Z/U*": not present or empty or changed,
            "K": present and str(value) == str(elem.value),
            "C": not present or empty or changed or elem.VR == "SQ"
            or (elem.VR == "TM" and policy.retain_longitudinal_modified_dates),
        }.get(action, False)
        if ok:
            right += 1
        else:
            wrong.append(f"{row['name']} ({action})")
    return right, total, wrong
