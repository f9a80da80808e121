"""De-identify whole files in their own formats (``medcorpus deid``).

Each file's kind is recognised from its content. FHIR bundles and single resources are
de-identified per patient found in the file (the patient's own known PHI is searched in their
notes); NDJSON keeps its line order; JSONL keeps ``id`` and line order; plain text is
de-identified whole; DICOM is written as de-identified Part 10 unless quarantined for burned-in
text. DICOM output paths are pseudonymised (file and folder names often carry names or IDs).
"""
from __future__ import annotations

import gzip
import io
from collections import Counter

import orjson

from transforms.deid.keys import date_shift_days, hmac_hex, keyed_uid, patient_key


def sniff_kind(data: bytes, name: str = "") -> str:
    """dicom | fhir-json | fhir-ndjson | jsonl | csv | text | binary, from content."""
    from transforms.io.dicom_read import sniff_dicom
    from transforms.io.text_parse import looks_binary

    if data[:2] == b"\x1f\x8b":
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError):
            return "binary"
    if sniff_dicom(data[:132]):
        return "dicom"
    head = data[:4096].lstrip()
    if head.startswith(b"{"):
        first = data.lstrip().split(b"\n", 1)[0]
        try:
            obj = orjson.loads(data)
            return "fhir-json" if isinstance(obj, dict) and "resourceType" in obj else "json"
        except orjson.JSONDecodeError:
            try:
                obj = orjson.loads(first)
            except orjson.JSONDecodeError:
                return "text"
            return "fhir-ndjson" if isinstance(obj, dict) and "resourceType" in obj else "jsonl"
    if looks_binary(data):
        return "binary"
    if name.lower().endswith(".csv"):
        return "csv"
    return "text"


class FileDeidentifier:
    def __init__(self, secret: bytes, policy: dict):
        from transforms.deid.text import TextDeidentifier

        self.secret = secret
        self.policy = policy
        self.text = TextDeidentifier(policy.get("text") or {}, secret)
        self.max_days = int((policy.get("date_shift") or {}).get("max_days", 365))

    # ------------------------------------------------------------------------------ FHIR
    def _resources(self, resources: list[dict], counts: Counter) -> list[dict]:
        from transforms.deid.fhir_deid import deidentify_patient_resources
        from transforms.deid.text import known_phi_from_patient_resource
        from transforms.io.fhir_parse import patient_ref_of

        full = {f"urn:uuid:{r.get('id')}": r for r in resources if r.get("id")}
        groups: dict[str, list[int]] = {}
        for i, r in enumerate(resources):
            groups.setdefault(patient_ref_of(r, full) or "", []).append(i)
        out: list[dict | None] = [None] * len(resources)
        for pid, idx in sorted(groups.items()):
            group = [resources[i] for i in idx]
            patient = next((r for r in group if r.get("resourceType") == "Patient"), None)
            known = known_phi_from_patient_resource(patient) if patient else None
            shift = date_shift_days(self.secret, pid, self.max_days) if pid else 0

            def text_deid(t, lang=None, _s=shift, _k=known):
                from transforms.io.text_parse import detect_language

                return self.text.deidentify(t, language=lang or detect_language(t)[0], date_shift_days=_s, known=_k)

            new, c = deidentify_patient_resources(group, secret=self.secret, patient_id=pid or "none",
                                                  date_shift_days=shift, text_deid=text_deid,
                                                  policy=self.policy.get("fhir") or {})
            counts.update({f"fhir:{k}": v for k, v in c.items()})
            for i, r in zip(idx, new):
                out[i] = r
        return out  # type: ignore[return-value]

    def fhir_json(self, data: bytes, counts: Counter) -> bytes:
        doc = orjson.loads(data)
        if doc.get("resourceType") == "Bundle":
            entries = doc.get("entry") or []
            res = [e.get("resource") for e in entries if isinstance(e.get("resource"), dict)]
            new = iter(self._resources(res, counts))
            out_entries = []
            for e in entries:
                e = dict(e)
                if isinstance(e.get("resource"), dict):
                    e["resource"] = next(new)
                    rid, rtype = e["resource"].get("id"), e["resource"].get("resourceType")
                    if e.get("fullUrl"):
                        e["fullUrl"] = f"urn:uuid:{rid}" if rid else None
                    if isinstance(e.get("request"), dict) and e["request"].get("url") and rid:
                        e["request"] = {**e["request"], "url": rtype}
                out_entries.append({k: v for k, v in e.items() if v is not None})
            doc = {**doc, "entry": out_entries}
            doc.pop("identifier", None)
            if doc.get("id"):
                doc["id"] = hmac_hex(self.secret, "bundle", str(doc["id"]), 32)
        else:
            doc = self._resources([doc], counts)[0]
        return orjson.dumps(doc, option=orjson.OPT_INDENT_2)

    def fhir_ndjson(self, data: bytes, counts: Counter) -> bytes:
        lines = data.split(b"\n")
        parsed, keep = [], []
        for line in lines:
            if not line.strip():
                continue
            try:
                parsed.append(orjson.loads(line))
                keep.append(True)
            except orjson.JSONDecodeError:
                counts["rejected:invalid_json_line"] += 1
        new = self._resources(parsed, counts)
        return b"\n".join(orjson.dumps(r) for r in new) + b"\n"

    # ------------------------------------------------------------------------------ text
    def jsonl(self, data: bytes, counts: Counter) -> bytes:
        from transforms.io.text_parse import detect_language

        out = []
        for line in data.decode("utf-8-sig").split("\n"):
            if not line.strip():
                continue
            try:
                obj = orjson.loads(line)
            except orjson.JSONDecodeError:
                counts["rejected:invalid_json_line"] += 1
                continue
            if isinstance(obj, dict) and isinstance(obj.get("text"), str):
                pid = str(obj.get("patient_id") or "")
                shift = date_shift_days(self.secret, pid, self.max_days) if pid else 0
                text, c = self.text.deidentify(obj["text"], language=obj.get("language") or detect_language(obj["text"])[0],
                                               date_shift_days=shift)
                counts.update({f"text:{k}": v for k, v in c.items()})
                obj["text"] = text
                if pid:
                    obj["patient_id"] = patient_key(self.secret, pid)
            out.append(orjson.dumps(obj))
        return b"\n".join(out) + b"\n"

    def text_file(self, data: bytes, rel: str, counts: Counter) -> bytes:
        from transforms.io.text_parse import decode_text, detect_language

        text, enc = decode_text(data)
        shift = date_shift_days(self.secret, "file:" + rel, self.max_days)
        new, c = self.text.deidentify(text, language=detect_language(text)[0], date_shift_days=shift)
        counts.update({f"text:{k}": v for k, v in c.items()})
        return new.encode("utf-8")

    # ------------------------------------------------------------------------------ DICOM
    def dicom(self, data: bytes, counts: Counter) -> tuple[bytes | None, str | None]:
        from transforms.deid.burned_in import burned_in_risk
        from transforms.deid.dicom_profile import DicomPolicy, deidentify_dataset
        from transforms.io.dicom_read import read_dataset

        policy = DicomPolicy.from_dict(self.policy.get("dicom") or {})
        ds = read_dataset(data, headers_only=False)
        pid = str(ds.get("PatientID", "") or "")
        reason = burned_in_risk(ds, policy)
        if reason:
            counts[f"dicom:quarantined:{reason}"] += 1
            return None, reason
        shift = date_shift_days(self.secret, pid, self.max_days) if pid else 0
        result = deidentify_dataset(ds, patient_pseudonym=patient_key(self.secret, pid) if pid else "ANONYMOUS",
                                    date_shift_days=shift, uid_map=lambda u: keyed_uid(self.secret, u),
                                    text_deid=lambda t: self.text.deidentify(t, language="en", date_shift_days=shift)[0],
                                    policy=policy)
        counts.update({f"dicom:action:{k}": v for k, v in result.actions.items()})
        buf = io.BytesIO()
        result.dataset.save_as(buf, enforce_file_format=False)
        return buf.getvalue(), None
