"""DICOM de-identification driven by PS3.15 Annex E Table E.1-1 (shipped as data).

The action of every attribute is read from the table (``data/ps3_15_table_e1_1.json``): the Basic
Application Level Confidentiality Profile, replaced by the action of each profile option the policy
enables (``data/dicom_profile_rules.json`` names the option columns, their DCM codes and the
precedence). Actions: ``D`` dummy (PatientName and PatientID get the patient pseudonym), ``Z``
zero length, ``X`` remove, ``K`` keep, ``C`` clean (dates shifted by the patient's offset under
*Retain Longitudinal Temporal Information with Modified Dates*, times of day kept since the offset
is whole days; descriptors through the text de-identifier under *Clean Descriptors*; binary values
that cannot be cleaned are removed), ``U`` keyed UID. Compound actions (``X/Z``, ``X/D``, ``Z/D``,
``X/Z/D``, ``X/Z/U*``) take the variant valid for every IOD. Sequences are walked recursively (the
table applies inside items too). Private attributes are removed unless *Retain Safe Private* is on
and they are on the safe list (their private creator is then kept with them). Standard attributes
the table does not list are kept, as PS3.15 prescribes.
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
from pydicom.multival import MultiValue
from pydicom.sequence import Sequence
from pydicom.tag import BaseTag, Tag

DATA = Path(__file__).resolve().parent / "data"
TABLE = DATA / "ps3_15_table_e1_1.json"
RULES = DATA / "dicom_profile_rules.json"
DEFAULT_POLICY_YAML = Path(__file__).resolve().parents[2] / "pipelines" / "configs" / "deid_policy.yaml"
TEXT_VRS = ("LO", "SH", "LT", "ST", "UT", "UC")
NUMERIC_VRS = ("US", "SS", "UL", "SL", "FL", "FD", "UV", "SV")
BINARY_VRS = ("OB", "OW", "OD", "OF", "OL", "OV", "UN")
KEEP_ON_CLEAN_VRS = ("CS", "TM", "SH")  # enumerated codes, times of day, timezone offsets: not identifying


def _parse_tag(text: str) -> BaseTag:
    group, element = text.strip().strip("()").split(",")
    return Tag(int(group, 16), int(element, 16))


@lru_cache(maxsize=1)
def rules() -> dict:
    return json.loads(RULES.read_text(encoding="utf-8"))


@lru_cache(maxsize=1)
def _table() -> tuple[dict, list, dict | None]:
    rows = json.loads(TABLE.read_text(encoding="utf-8"))
    exact, masked, private = {}, [], None
    for row in rows:
        tag = row["tag"].strip("()").replace(",", "").upper()
        if not re.fullmatch(r"[0-9A-FX]{8}", tag):
            private = row  # "(gggg,eeee) where gggg is odd": private attributes
        elif "X" in tag:
            masked.append((re.compile("^" + tag.replace("X", "[0-9A-F]") + "$"), row))
        else:
            exact[int(tag, 16)] = row
    return exact, masked, private


@lru_cache(maxsize=4096)
def table_row(tag: int) -> dict | None:
    """The Table E.1-1 row for a standard attribute tag, or None when the table does not list it."""
    exact, masked, _ = _table()
    if tag in exact:
        return exact[tag]
    hex8 = f"{tag:08X}"
    for rx, row in masked:
        if rx.match(hex8):
            return row
    return None


def private_row() -> dict:
    return _table()[2]


def table_rows() -> list[dict]:
    """Every row of the table, in the file's order."""
    return json.loads(TABLE.read_text(encoding="utf-8"))


@dataclass
class DicomPolicy:
    """The ``dicom:`` section of the de-identification policy YAML."""
    retain_longitudinal_modified_dates: bool = True
    clean_descriptors: bool = True
    retain_patient_characteristics: bool = False
    retain_device_identity: bool = False
    retain_institution_identity: bool = False
    retain_safe_private: bool = False
    clean_structured_content: bool = False
    retain_uids: bool = False
    # private attributes kept under retain_safe_private: "(gggg,eeee)" or {group, creator, element}
    safe_private: list = field(default_factory=list)
    burned_in_risk_modalities: list = field(default_factory=lambda: ["US", "SC", "OT", "XC", "ES", "GM", "SM",
                                                                     "DOC"])
    burned_in_risk_sop_classes: list = field(default_factory=list)  # SOP Class UIDs (see the YAML)
    pixel_clean_rules: list = field(default_factory=list)

    @classmethod
    def from_dict(cls, d: dict | None) -> "DicomPolicy":
        d = dict(d or {})
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(f"unknown dicom policy key '{unknown[0]}'; valid keys: {', '.join(sorted(known))}")
        return cls(**d)

    @classmethod
    def from_yaml(cls, path: str | Path | None = None) -> "DicomPolicy":
        """The ``dicom:`` section of a policy file (default: the shipped deid_policy.yaml)."""
        import yaml

        doc = yaml.safe_load(Path(path or DEFAULT_POLICY_YAML).read_text(encoding="utf-8")) or {}
        return cls.from_dict(doc.get("dicom"))

    def enabled_options(self) -> list[dict]:
        return [o for o in rules()["options"] if getattr(self, o["key"])]


@dataclass
class DeidResult:
    dataset: Dataset
    actions: dict  # action kind (D, Z, X, K, C, U, shifted) -> count
    # "(gggg,eeee)" for top-level attributes, "(gggg,eeee)[i](gggg,eeee)" inside sequence items ->
    # the action applied (compound actions resolved; "X" for removed private attributes)
    log: dict


def table_action(row: dict, policy: DicomPolicy) -> str:
    """The table's action for the enabled options, as written (compound actions unresolved)."""
    action = row["basicProfile"]
    for option in policy.enabled_options():
        if option["column"] in row:
            action = row[option["column"]]
    return action


def action_for(row: dict, policy: DicomPolicy) -> str:
    """The action medcorpus applies: the table's, compound actions resolved to one variant."""
    action = table_action(row, policy)
    return rules()["compound"].get(action, action)


def _shift_date(value: str, days: int, vr: str) -> str:
    """Shift a DA or DT value by whole days; the time of day and timezone of a DT are kept."""
    v = value.strip()
    try:
        d = dt.date(int(v[0:4]), int(v[4:6]), int(v[6:8])) + dt.timedelta(days=days)
    except (ValueError, IndexError):
        return rules()["dummy"][vr]  # partial or malformed dates cannot be shifted: dummy
    return d.strftime("%Y%m%d") + v[8:]


def _values(elem) -> list:
    value = elem.value
    return list(value) if isinstance(value, (list, MultiValue)) else [value]


def _set_values(elem, values: list) -> None:
    elem.value = values if len(values) > 1 else values[0]


def _fits(text: str, vr: str) -> str:
    limit = rules()["max_length"].get(vr)
    return text[:limit] if limit else text


class _Deid:
    def __init__(self, pseudonym, shift, uid_map, text_deid, policy: DicomPolicy):
        self.pseudonym, self.shift, self.uid_map, self.text_deid, self.policy = (
            pseudonym, shift, uid_map, text_deid, policy)
        self.actions: Counter = Counter()
        self.log: dict[str, str] = {}
        self.pseudonym_tags = {_parse_tag(t) for t in rules()["pseudonym_tags"]}
        self.safe_tags, self.safe_creators = set(), set()
        for entry in policy.safe_private:
            if isinstance(entry, str):
                self.safe_tags.add(_parse_tag(entry))
            else:
                self.safe_creators.add((int(str(entry["group"]), 16), str(entry["creator"]).strip(),
                                        int(str(entry["element"]), 16) & 0xFF))
        self.non_ascii = False

    def record(self, path: str, action: str) -> None:
        self.actions[action] += 1
        self.log[path] = action

    # -- private attributes -------------------------------------------------------------------------
    def _is_safe_private(self, ds: Dataset, tag: BaseTag) -> bool:
        if not self.policy.retain_safe_private or tag.element < 0x1000:
            return False
        if tag in self.safe_tags:
            return True
        creator = ds.get((tag.group, tag.element >> 8))
        name = str(creator.value).strip() if creator is not None else ""
        return (tag.group, name, tag.element & 0xFF) in self.safe_creators

    def _private(self, ds: Dataset, prefix: str) -> None:
        tags = [t for t in ds.keys() if t.is_private]
        keep = {t for t in tags if self._is_safe_private(ds, t)}
        keep |= {Tag(t.group, t.element >> 8) for t in keep}  # a kept element keeps its private creator
        for tag in tags:
            path = f"{prefix}({tag.group:04X},{tag.element:04X})"
            if tag in keep:
                elem = ds[tag]
                if elem.VR == "SQ":
                    for i, item in enumerate(elem.value or []):
                        self.dataset(item, f"{path}[{i}]")
                self.record(path, "K")
            else:
                del ds[tag]
                self.record(path, "X")

    # -- the walk -----------------------------------------------------------------------------------
    def dataset(self, ds: Dataset, prefix: str = "") -> None:
        self._private(ds, prefix)
        for elem in list(ds):
            tag = elem.tag
            if tag.group == 0x0002 or tag.is_private:
                continue
            path = f"{prefix}({tag.group:04X},{tag.element:04X})"
            row = table_row(int(tag))
            if row is None:
                if elem.VR == "SQ":  # not listed: kept, but its items are de-identified
                    self._items(elem, path)
                continue
            action = action_for(row, self.policy)
            if tag in self.pseudonym_tags and action in ("Z", "D"):
                elem.value = self.pseudonym
                self.record(path, action)
                continue
            self.apply(ds, elem, action, path)

    def _items(self, elem, path: str) -> None:
        for i, item in enumerate(elem.value or []):
            self.dataset(item, f"{path}[{i}]")

    def apply(self, ds: Dataset, elem, action: str, path: str) -> None:
        tag, vr = elem.tag, elem.VR
        if action == "X":
            del ds[tag]
        elif action == "K":
            if vr == "SQ":
                self._items(elem, path)
        elif action == "Z":
            elem.value = Sequence([]) if vr == "SQ" else (None if vr in NUMERIC_VRS else
                                                          b"" if vr in BINARY_VRS else "")
        elif action == "U":
            if vr == "SQ":
                self._items(elem, path)
            elif vr == "UI" and elem.value:
                _set_values(elem, [self.uid_map(str(v)) if str(v) else v for v in _values(elem)])
        elif action == "C":
            self.clean(ds, elem, path)
        else:  # "D"
            self.dummy(elem, path)
        self.record(path, action)

    def dummy(self, elem, path: str) -> None:
        vr = elem.VR
        dummy = rules()["dummy"]
        if vr == "SQ":
            self._items(elem, path)
        elif vr == "UI":
            if elem.value:
                _set_values(elem, [self.uid_map(str(v)) if str(v) else v for v in _values(elem)])
        elif vr in ("DA", "DT") and self.policy.retain_longitudinal_modified_dates and elem.value:
            _set_values(elem, [_shift_date(str(v), self.shift, vr) for v in _values(elem)])
            self.actions["shifted"] += 1
        elif vr in dummy:
            elem.value = dummy[vr]
        else:
            elem.value = b"" if vr in BINARY_VRS else elem.value

    def clean(self, ds: Dataset, elem, path: str) -> None:
        vr = elem.VR
        if vr == "SQ":
            self._items(elem, path)
        elif not elem.value:
            return
        elif vr in ("DA", "DT"):
            if self.policy.retain_longitudinal_modified_dates:
                _set_values(elem, [_shift_date(str(v), self.shift, vr) for v in _values(elem)])
                self.actions["shifted"] += 1
            else:
                elem.value = rules()["dummy"][vr]
        elif vr == "PN":
            elem.value = rules()["dummy"]["PN"]
        elif vr in TEXT_VRS and not (vr == "SH" and elem.tag == 0x00080201):  # 0x00080201: timezone offset
            cleaned = [_fits(self.text_deid(str(v)), vr) for v in _values(elem)]
            self.non_ascii |= any(not c.isascii() for c in cleaned)
            _set_values(elem, cleaned)
        elif vr == "UI":
            _set_values(elem, [self.uid_map(str(v)) for v in _values(elem)])
        elif vr in BINARY_VRS:
            del ds[elem.tag]  # binary values cannot be cleaned: removed
        # CS codes, times of day and the timezone offset are kept (see KEEP_ON_CLEAN_VRS)


def deidentify_dataset(ds: Dataset, *, patient_pseudonym: str, date_shift_days: int, uid_map: Callable[[str], str],
                       text_deid: Callable[[str], str], policy: DicomPolicy) -> DeidResult:
    """De-identify ``ds`` in place (file meta included) and mark it as de-identified."""
    d = _Deid(patient_pseudonym, date_shift_days, uid_map, text_deid, policy)
    d.dataset(ds)
    meta = getattr(ds, "file_meta", None)
    if meta is not None:
        if "MediaStorageSOPInstanceUID" in meta and not policy.retain_uids:
            meta.MediaStorageSOPInstanceUID = (str(ds.SOPInstanceUID) if ds.get("SOPInstanceUID") else
                                               uid_map(str(meta.MediaStorageSOPInstanceUID)))
            d.record("file_meta(0002,0003)", "U")
        for text in rules()["file_meta_remove"]:
            tag = _parse_tag(text)
            if tag in meta:
                del meta[tag]
                d.record(f"file_meta{text}", "X")
    if d.non_ascii and str(ds.get("SpecificCharacterSet", "") or "").upper() != "ISO_IR 192":
        ds.SpecificCharacterSet = "ISO_IR 192"  # the text de-identifier may insert non-ASCII surrogates
    ds.PatientIdentityRemoved = "YES"
    ds.LongitudinalTemporalInformationModified = "MODIFIED" if policy.retain_longitudinal_modified_dates else "REMOVED"
    codes = [rules()["basic_profile"]] + [{"code": o["code"], "meaning": o["meaning"]}
                                          for o in policy.enabled_options()]
    ds.DeidentificationMethod = [("medcorpus: " + c["meaning"])[:64] for c in codes]  # LO, VM 1-n
    seq = []
    for c in codes:
        item = Dataset()
        item.CodeValue = c["code"]
        item.CodingSchemeDesignator = "DCM"
        item.CodeMeaning = c["meaning"]
        seq.append(item)
    ds.DeidentificationMethodCodeSequence = Sequence(seq)
    return DeidResult(ds, dict(sorted(d.actions.items())), d.log)
