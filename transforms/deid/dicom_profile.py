"""DICOM de-identification driven by PS3.15 Annex E Table E.1-1 (shipped as data).

The action of every attribute is read from the table: the Basic Application Level
Confidentiality Profile, overridden by each profile option the policy enables. Actions:
``D`` dummy/pseudonym, ``Z`` zero-length, ``X`` remove, ``K`` keep, ``C`` clean (dates shifted
by the patient's offset under *Retain Longitudinal Temporal Information with Modified Dates*;
text through the text de-identifier under *Clean Descriptors*), ``U`` keyed UID. Compound actions
(``X/Z``, ``X/D``, ``Z/D``, ``X/Z/D``, ``X/Z/U*``) take the variant that keeps the object valid
for every IOD (``Z``, ``D`` or ``U``). Sequences are walked recursively; private tags are removed
unless listed as safe and the *Retain Safe Private* option is on.
"""
from __future__ import annotations

import datetime as dt
import json
import re
from collections import Counter
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Callable

from pydicom.dataset import Dataset
from pydicom.sequence import Sequence
from pydicom.tag import Tag

TABLE = Path(__file__).resolve().parent / "data" / "ps3_15_table_e1_1.json"

# policy option -> (table column, DCM code of the option, code meaning)
OPTIONS = [
    ("clean_descriptors", "cleanDescOpt", "113105", "Clean Descriptors Option"),
    ("clean_structured_content", "cleanStructContOpt", "113104", "Clean Structured Content Option"),
    ("retain_longitudinal_modified_dates", "rtnLongModifDatesOpt", "113107",
     "Retain Longitudinal Temporal Information Modified Dates Option"),
    ("retain_patient_characteristics", "rtnPatCharsOpt", "113108", "Retain Patient Characteristics Option"),
    ("retain_device_identity", "rtnDevIdOpt", "113109", "Retain Device Identity Option"),
    ("retain_institution_identity", "rtnInstIdOpt", "113112", "Retain Institution Identity Option"),
    ("retain_uids", "rtnUIDsOpt", "113110", "Retain UIDs Option"),
    ("retain_safe_private", "rtnSafePrivOpt", "113111", "Retain Safe Private Option"),
]
#: value representations of unlisted attributes that are cleaned like a "C" action
UNLISTED_CLEAN = ("PN", "LO", "SH", "LT", "ST", "UT", "UC", "DA", "DT")
MAX_LENGTH = {"LO": 64, "SH": 16, "ST": 1024, "LT": 10240, "UC": None, "UT": None}
COMPOUND = {"X/Z": "Z", "X/D": "D", "Z/D": "D", "X/Z/D": "D", "X/Z/U*": "U"}
DUMMY = {"PN": "ANONYMOUS", "LO": "ANONYMIZED", "SH": "ANON", "LT": "ANONYMIZED", "ST": "ANONYMIZED",
         "UT": "ANONYMIZED", "CS": "ANON", "DA": "19000101", "TM": "000000.00", "DT": "19000101000000",
         "AS": "000Y", "IS": "0", "DS": "0", "AE": "ANON", "UC": "ANONYMIZED", "UR": "", "US": 0, "SS": 0,
         "UL": 0, "SL": 0, "FL": 0.0, "FD": 0.0}


@dataclass
class DicomPolicy:
    retain_longitudinal_modified_dates: bool = True
    clean_descriptors: bool = True
    retain_patient_characteristics: bool = False
    retain_device_identity: bool = False
    retain_institution_identity: bool = False
    retain_safe_private: bool = False
    clean_structured_content: bool = False
    retain_uids: bool = False
    safe_private: list = field(default_factory=list)
    burned_in_risk_modalities: list = field(default_factory=lambda: ["US", "SC", "OT", "XC", "ES", "GM", "SM", "DOC"])
    pixel_clean_rules: list = field(default_factory=list)
    pixel_text: dict = field(default_factory=dict)  # OCR of burned-in text: transforms/deid/pixel_text.py

    @classmethod
    def from_dict(cls, d: dict | None) -> "DicomPolicy":
        d = dict(d or {})
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(f"unknown dicom policy key '{unknown[0]}'; valid keys: {', '.join(sorted(known))}")
        return cls(**d)

    def enabled_options(self) -> list[tuple]:
        return [o for o in OPTIONS if getattr(self, o[0])]


@dataclass
class DeidResult:
    dataset: Dataset
    actions: dict
    log: dict  # "(gggg,eeee)" -> action applied (top level and nested, last wins)


@lru_cache(maxsize=1)
def _table() -> tuple[dict, list]:
    rows = json.loads(TABLE.read_text(encoding="utf-8"))
    exact, masked = {}, []
    for row in rows:
        tag = row["tag"].strip("()").replace(",", "").upper()
        if not re.fullmatch(r"[0-9A-FX]{8}", tag):
            continue  # "(gggg,eeee) where gggg is odd": private attributes, handled as a rule
        if "X" in tag:
            masked.append((re.compile("^" + tag.replace("X", "[0-9A-F]") + "$"), row))
        else:
            exact[int(tag, 16)] = row
    return exact, masked


def table_row(tag: int) -> dict | None:
    exact, masked = _table()
    if tag in exact:
        return exact[tag]
    hex8 = f"{tag:08X}"
    for rx, row in masked:
        if rx.match(hex8):
            return row
    return None


def action_for(row: dict, policy: DicomPolicy) -> str:
    action = row["basicProfile"]
    for _, column, _, _ in policy.enabled_options():
        if column in row:
            action = row[column]
    return COMPOUND.get(action, action)


def _shift_da(value: str, days: int) -> str:
    v = value.strip()
    try:
        d = dt.date(int(v[0:4]), int(v[4:6]), int(v[6:8])) + dt.timedelta(days=days)
    except (ValueError, IndexError):
        return DUMMY["DA"]
    return d.strftime("%Y%m%d") + v[8:]


class _Deid:
    def __init__(self, pseudonym, shift, uid_map, text_deid, policy):
        self.pseudonym, self.shift, self.uid_map, self.text_deid, self.policy = pseudonym, shift, uid_map, text_deid, policy
        self.actions: Counter = Counter()
        self.log: dict[str, str] = {}
        self.safe_private = {Tag(*[int(x, 16) for x in t.strip("()").split(",")]) for t in policy.safe_private}

    def record(self, tag, action):
        self.actions[action] += 1
        self.log[f"({tag.group:04X},{tag.element:04X})"] = action

    def dataset(self, ds: Dataset) -> None:
        for elem in list(ds):
            tag = elem.tag
            if tag.group == 0x0002:
                continue
            if tag.is_private:
                if self.policy.retain_safe_private and tag in self.safe_private:
                    self.record(tag, "K")
                else:
                    del ds[tag]
                    self.record(tag, "X")
                continue
            if tag in (0x00100010, 0x00100020):  # PatientName, PatientID: the shared pseudonym
                elem.value = self.pseudonym
                self.record(tag, "D")
                continue
            row = table_row(int(tag))
            if row is None:
                self.unlisted(ds, elem)
                continue
            self.apply(ds, elem, action_for(row, self.policy))

    def unlisted(self, ds: Dataset, elem) -> None:
        """An attribute the table does not list (e.g. an SR's TextValue, a CodeMeaning): sequences are
        walked, person names replaced, text through the text de-identifier, dates shifted, values of
        unknown VR removed; codes, numbers and UIDs of definitions are kept (allow-list design)."""
        if elem.VR == "SQ":
            for item in elem.value or []:
                self.dataset(item)
        elif elem.VR in UNLISTED_CLEAN and elem.value not in (None, "", b""):
            self.clean(elem)
            self.record(elem.tag, "C")
        elif elem.VR == "UN":
            del ds[elem.tag]
            self.record(elem.tag, "X")

    def apply(self, ds: Dataset, elem, action: str) -> None:
        tag, vr = elem.tag, elem.VR
        if action == "X":
            del ds[tag]
        elif action == "K":
            if vr == "SQ":
                for item in elem.value or []:
                    self.dataset(item)
        elif action == "Z":
            elem.value = Sequence([]) if vr == "SQ" else ("" if vr not in ("US", "SS", "UL", "SL", "FL", "FD") else None)
        elif action == "U":
            if vr == "UI" and elem.value:
                vals = elem.value if isinstance(elem.value, list) or elem.VM > 1 else [elem.value]
                mapped = [self.uid_map(str(v)) for v in vals]
                elem.value = mapped if elem.VM > 1 else mapped[0]
            elif vr == "SQ":
                for item in elem.value or []:
                    self.dataset(item)
        elif action == "C":
            self.clean(elem)
        else:  # "D"
            if vr == "SQ":
                for item in elem.value or []:
                    self.dataset(item)
            elif vr == "UI":
                elem.value = self.uid_map(str(elem.value)) if elem.value else elem.value
            elif vr in ("DA", "DT") and elem.value:
                elem.value = DUMMY[vr]
            elif vr in DUMMY:
                elem.value = DUMMY[vr]
            else:
                elem.value = b"" if vr in ("OB", "OW", "UN") else elem.value
        self.record(tag, action)

    def clean(self, elem) -> None:
        vr = elem.VR
        if vr == "SQ":
            for item in elem.value or []:
                self.dataset(item)
        elif vr in ("DA", "DT") and elem.value:
            if self.policy.retain_longitudinal_modified_dates:
                vals = elem.value if elem.VM > 1 else [elem.value]
                shifted = [_shift_da(str(v), self.shift) for v in vals]
                elem.value = shifted if elem.VM > 1 else shifted[0]
                self.actions["date_shifted"] += 1
        elif vr == "TM":
            pass  # times of day are kept when dates are shifted (the offset is whole days)
        elif vr in ("LO", "SH", "LT", "ST", "UT", "UC", "PN") and elem.value:
            if vr == "PN":
                elem.value = "ANONYMOUS"
            else:
                vals = elem.value if elem.VM > 1 else [elem.value]
                limit = MAX_LENGTH.get(vr)
                cleaned = [self.text_deid(str(v))[:limit] if limit else self.text_deid(str(v)) for v in vals]
                elem.value = cleaned if elem.VM > 1 else cleaned[0]
        elif vr == "UI" and elem.value:
            elem.value = self.uid_map(str(elem.value))


def deidentify_dataset(ds: Dataset, *, patient_pseudonym: str, date_shift_days: int, uid_map: Callable[[str], str],
                       text_deid: Callable[[str], str], policy: DicomPolicy) -> DeidResult:
    d = _Deid(patient_pseudonym, date_shift_days, uid_map, text_deid, policy)
    d.dataset(ds)
    meta = getattr(ds, "file_meta", None)
    if meta is not None:
        if "MediaStorageSOPInstanceUID" in meta and not policy.retain_uids:
            meta.MediaStorageSOPInstanceUID = uid_map(str(meta.MediaStorageSOPInstanceUID))
        for t in list(meta.keys()):
            if Tag(t) in (Tag(0x00020016), Tag(0x00020100), Tag(0x00020102)):  # source AE / private info
                del meta[t]
    ds.PatientIdentityRemoved = "YES"
    if policy.retain_longitudinal_modified_dates:  # MODIFIED only when the dates really moved
        ds.LongitudinalTemporalInformationModified = "MODIFIED" if date_shift_days else "UNMODIFIED"
    methods = ["Basic Application Confidentiality Profile"] + [o[3] for o in policy.enabled_options()]
    ds.DeidentificationMethod = [("medcorpus: " + m)[:64] for m in methods]  # LO, VM 1-n, 64 chars each
    seq = []
    for code, meaning in [("113100", "Basic Application Confidentiality Profile")] + [
            (o[2], o[3]) for o in policy.enabled_options()]:
        item = Dataset()
        item.CodeValue = code
        item.CodingSchemeDesignator = "DCM"
        item.CodeMeaning = meaning
        seq.append(item)
    ds.DeidentificationMethodCodeSequence = Sequence(seq)
    return DeidResult(ds, dict(sorted(d.actions.items())), d.log)
