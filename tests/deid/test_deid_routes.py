"""Issue 14: no route from a FHIR record to a shareable output bypasses de-identification.

Identifiers are planted (English and Chinese) in the places the red-team pass found them: text
attachments whose content type differs in case, parameters or spacing, XHTML and RTF attachments,
HTML whose entities and inline tags split the identifier, coding displays, concept and medication
texts, dosage text, reason texts, extensions, Encounter identifiers, device serial numbers. The
whole de-identified output (every string, attachments decoded) is scanned for them.
"""
from __future__ import annotations

import base64
import json

import pytest

from transforms.deid.fhir_deid import deidentify_patient_resources
from transforms.deid.text import KnownPHI, TextDeidentifier, known_phi_from_patient_resource
from transforms.io.fhir_notes import extract_notes
from transforms.io.text_formats import html_to_text, normalize_content_type, text_format, to_plain_text

SECRET = b"routes-test-secret-0123456789"
SHIFT = -17


def b64(s: str, encoding: str = "utf-8") -> str:
    return base64.b64encode(s.encode(encoding)).decode()


EN = {"name": "Quentin Blackwood", "family": "Blackwood", "given": "Quentin", "mrn": "MRN-4417-0093",
      "phone": "617-555-0148", "ssn": "078-05-1120", "street": "18 Larkspur Lane", "dob": "1961-04-09",
      "dob_text": "04/09/1961"}
ZH = {"name": "欧阳振华", "family": "欧阳", "given": "振华", "mrn": "ZY20230415", "phone": "13912345678",
      "street": "浙江省杭州市西湖区文三路88号", "dob": "1958-11-23", "dob_text": "1958年11月23日"}


def patient(p: dict) -> dict:
    return {"resourceType": "Patient", "id": "pt-1",
            "name": [{"family": p["family"], "given": [p["given"]], "text": p["name"]}],
            "identifier": [{"system": "urn:mrn", "value": p["mrn"]}],
            "telecom": [{"system": "phone", "value": p["phone"]}],
            "address": [{"line": [p["street"]], "city": "X", "state": "MA", "postalCode": "02139"}],
            "birthDate": p["dob"]}


def planted_resources(p: dict, zh: bool) -> list[dict]:
    note = (f"患者{p['name']}，病案号{p['mrn']}，电话{p['phone']}，住址{p['street']}，出生日期{p['dob_text']}。"
            if zh else f"Patient {p['name']} (MRN {p['mrn']}, SSN {EN['ssn']}), phone {p['phone']}, lives at "
                       f"{p['street']}, DOB {p['dob_text']}.")
    phone = p["phone"]
    # entities and inline tags inside the phone number and the name: "617&#45;<span>555</span>-0148"
    split_phone = (phone[:3] + "&#45;<span>" + phone[4:7] + "</span>" + phone[7:] if not zh
                   else phone[:3] + "<span>" + phone[3:7] + "</span>" + phone[7:])
    html = (f"<html><body><p>Patient:&nbsp;{p['name'][:2]}<b>{p['name'][2:]}</b></p>"
            f"<p>Tel&nbsp;{split_phone}</p><p>{p['street']}</p></body></html>")
    rtf = r"{\rtf1\ansi\deff0 {\fonttbl {\f0 Times;}} \f0 " + "".join(
        f"\\u{ord(c)}?" if ord(c) > 127 else c for c in note) + r"\par}"
    ref = {"reference": "Patient/pt-1", "display": p["name"]}
    deliver = (f"赖诺普利 10 mg，送至{p['street']}（{p['name']}）" if zh
               else f"Lisinopril 10 mg - deliver to {p['street']} ({p['name']})")
    attachments = [
        {"contentType": "TEXT/PLAIN", "data": b64(note)},
        {"contentType": "text/plain ", "data": b64(note)},
        {"contentType": "text/plain; charset=UTF-8", "data": b64(note)},
        {"contentType": "application/xhtml+xml", "data": b64(html)},
        {"contentType": "text/html; charset=utf-8", "data": b64(html)},
        {"contentType": "application/rtf", "data": b64(rtf)},
        {"contentType": "text/markdown", "data": b64("# Note\n\n" + note)},
        {"contentType": "application/pdf", "data": b64("%PDF-1.4 " + note), "url": f"file:///{p['name']}.pdf",
         "title": p["name"]},
    ]
    return [
        patient(p),
        {"resourceType": "Encounter", "id": "enc-1", "subject": ref, "status": "finished",
         "identifier": [{"system": "urn:visit", "value": p["mrn"] + "-V1"}],
         "period": {"start": "2021-03-01T08:00:00Z", "end": "2021-03-02T08:00:00Z"},
         "reasonCode": [{"text": f"follow-up for {p['name']}"}],
         "extension": [{"url": "http://example.org/escort", "valueHumanName": {"text": p["name"]}},
                       {"url": "http://example.org/pickup", "valueAddress": {"line": [p["street"]], "state": "MA"}},
                       {"url": "http://example.org/driver", "valueReference": ref},
                       {"url": "http://example.org/remark", "valueString": note}]},
        {"resourceType": "MedicationRequest", "id": "mr-1", "subject": ref, "status": "active", "intent": "order",
         "authoredOn": "2021-03-01",
         "medicationCodeableConcept": {"coding": [{"system": "http://www.nlm.nih.gov/research/umls/rxnorm",
                                                   "code": "314076", "display": deliver}], "text": deliver},
         "dosageInstruction": [{"text": f"{deliver}; call {phone}"}],
         "reasonCode": [{"coding": [{"system": "http://snomed.info/sct", "code": "38341003",
                                     "display": f"Hypertension ({p['name']})"}], "text": note}],
         "note": [{"text": note, "authorString": p["name"]}]},
        {"resourceType": "Condition", "id": "c-1", "subject": ref, "recordedDate": "2021-03-01",
         "code": {"coding": [{"system": "http://hl7.org/fhir/sid/icd-10-cm", "code": "I10",
                              "display": f"Essential hypertension - {p['name']}"}], "text": deliver}},
        {"resourceType": "Device", "id": "d-1", "patient": ref, "serialNumber": p["mrn"], "lotNumber": p["mrn"],
         "udiCarrier": [{"deviceIdentifier": p["mrn"], "carrierHRF": p["mrn"]}]},
        {"resourceType": "DocumentReference", "id": "doc-1", "subject": ref, "status": "current",
         "date": "2021-03-02T09:00:00Z", "description": note,
         "content": [{"attachment": a} for a in attachments]},
        {"resourceType": "DiagnosticReport", "id": "dr-1", "subject": ref, "status": "final",
         "effectiveDateTime": "2021-03-02", "conclusion": note,
         "presentedForm": [{"contentType": " Text/HTML ", "data": b64(html)}],
         "text": {"status": "additional", "div": f"<div xmlns=\"http://www.w3.org/1999/xhtml\">{html}</div>"}},
    ]


def strings(node):
    """Every string in the output, base64 attachments decoded."""
    if isinstance(node, dict):
        for k, v in node.items():
            if k == "data" and isinstance(v, str):
                yield base64.b64decode(v).decode("utf-8", "replace")
            else:
                yield from strings(v)
    elif isinstance(node, list):
        for v in node:
            yield from strings(v)
    elif isinstance(node, str):
        yield node


def planted(p: dict, zh: bool) -> list[str]:
    values = [p["name"], p["mrn"], p["phone"], p["street"], p["dob"], p["dob_text"]]
    values += [p["phone"].replace("-", "")] + ([] if zh else [EN["ssn"], p["family"]])
    return values


@pytest.fixture(scope="module")
def deid():
    return TextDeidentifier({}, SECRET)


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_planted_identifiers_in_every_fhir_route_are_removed(deid, lang):
    p, zh = (ZH, True) if lang == "zh" else (EN, False)
    resources = planted_resources(p, zh)
    known = known_phi_from_patient_resource(resources[0])
    out, counts = deidentify_patient_resources(
        resources, secret=SECRET, patient_id="pt-1", date_shift_days=SHIFT, policy={},
        text_deid=lambda t, l=None: deid.deidentify(t, language=l or lang, date_shift_days=SHIFT, known=known))
    blob = "\n".join(strings(out))
    for value in planted(p, zh):
        assert value not in blob, f"a planted {lang} identifier survived"
    # the notes extracted from the output (what reaches pretraining and SFT) hold the note, de-identified
    notes = [n for r in out for n in extract_notes(r)]
    assert len(notes) >= 9 and counts["attachment_deidentified"] == 8
    assert counts["attachment_removed:unsupported_content_type"] == 1 and counts["attachment_url_removed"] == 1
    anchor = "病案号" if zh else "lives at"
    assert sum(anchor in n["text"] for n in notes) >= 7
    dr = next(r for r in out if r["resourceType"] == "DiagnosticReport")
    assert dr["presentedForm"][0]["contentType"] == "text/plain; charset=utf-8"
    assert not any("<span" in n["text"] or "&#45;" in n["text"] or "\\rtf" in n["text"] for n in notes)


def test_structure_codes_and_terminology_survive_the_walk(deid):
    resources = planted_resources(EN, False)
    out, counts = deidentify_patient_resources(resources, secret=SECRET, patient_id="pt-1", date_shift_days=SHIFT,
                                               policy={}, text_deid=lambda t, l=None: ("<TEXT>", {}))
    cond = next(r for r in out if r["resourceType"] == "Condition")
    assert cond["code"]["coding"][0] == {"system": "http://hl7.org/fhir/sid/icd-10-cm", "code": "I10",
                                         "display": "Essential (primary) hypertension"}  # the table's display
    assert cond["code"]["text"] == "<TEXT>" and cond["recordedDate"] == "2021-02-12"
    mr = next(r for r in out if r["resourceType"] == "MedicationRequest")
    assert mr["medicationCodeableConcept"]["coding"][0]["display"] == "<TEXT>"  # no table knows it: de-identified
    assert mr["status"] == "active" and mr["intent"] == "order" and mr["subject"] == {
        "reference": "Patient/" + out[0]["id"]}
    assert mr["dosageInstruction"][0]["text"] == "<TEXT>" and mr["note"][0] == {"text": "<TEXT>",
                                                                                "authorString": "<TEXT>"}
    enc = next(r for r in out if r["resourceType"] == "Encounter")
    assert enc["identifier"][0]["system"] == "urn:visit" and EN["mrn"] not in enc["identifier"][0]["value"]
    assert [e["url"] for e in enc["extension"]] == ["http://example.org/pickup", "http://example.org/driver",
                                                   "http://example.org/remark"]  # the HumanName one is gone
    assert enc["extension"][0]["valueAddress"] == {"state": "MA"} and "display" not in enc["extension"][1][
        "valueReference"]
    dev = next(r for r in out if r["resourceType"] == "Device")
    assert EN["mrn"] not in json.dumps(dev)
    assert counts["removed:human_name"] >= 1 and counts["display_from_terminology"] == 1


@pytest.mark.parametrize("raw, canonical, fmt", [
    ("TEXT/PLAIN", "text/plain", "plain"), ("text/plain ", "text/plain", "plain"),
    (" text/html; charset=ISO-8859-1", "text/html", "html"), ("application/xhtml+xml", "application/xhtml+xml", "html"),
    ("application/rtf", "text/rtf", "rtf"), ("text/rtf", "text/rtf", "rtf"), ("text/x-markdown", "text/markdown",
                                                                              "markdown"),
    ("application/hl7-cda+xml", "application/hl7-cda+xml", "xml"), ("text/csv", "text/csv", "plain"),
    ("application/pdf", "application/pdf", None), ("image/png", "image/png", None)])
def test_one_decision_of_what_is_text(raw, canonical, fmt):
    assert normalize_content_type(raw) == canonical and text_format(raw) == fmt


def test_markup_becomes_plain_text_before_deidentification():
    assert html_to_text("<p>Tel 617&#45;<span>555</span>-0148&nbsp;or&#160;x</p><div>Blackw<!-- -->ood</div>") == \
        "Tel 617-555-0148 or x\nBlackwood"
    assert html_to_text("<table><tr><td>Name</td><td>Quentin</td></tr></table><script>var x='Q'</script>") == \
        "Name Quentin"
    assert to_plain_text(r"{\rtf1\ansi Name: Q\'fcentin\par \u27431?\u38451?\par}", "rtf") == "Name: Qüentin\n欧阳"
    assert to_plain_text("617\u200b555\u00ad0148", "plain") == "6175550148"


def test_latin1_attachment_is_decoded_by_its_charset():
    from transforms.io.fhir_notes import attachment_text

    text, ctype = attachment_text({"contentType": "text/plain; charset=ISO-8859-1", "data": b64("Müller", "latin-1")})
    assert (text, ctype) == ("Müller", "text/plain")


def test_known_phi_marks_a_patient_over_89_for_the_detector():
    import dataclasses

    from transforms.deid.known import known_phi_for_record, mark_over_age_cap

    @dataclasses.dataclass
    class WithAgeFields(KnownPHI):  # the fields the detector adds (issue 13)
        over_89: bool = False
        birth_date: list = dataclasses.field(default_factory=list)

    marked = mark_over_age_cap(WithAgeFields(), "1925-03-02")
    assert marked.over_89 and marked.birth_date == ["1925-03-02"] and "1925-03-02" in marked.dates
    old = {"resourceType": "Patient", "id": "o", "birthDate": "1925-03-02", "name": [{"family": "Pemberton"}]}
    enc = {"resourceType": "Encounter", "id": "e", "period": {"start": "2020-06-01"}}
    assert "Pemberton" in known_phi_for_record([old, enc], old).names
    young = {**old, "birthDate": "1960-01-01"}
    assert known_phi_for_record([young, enc], young).dates == ["1960-01-01"]  # known PHI, not marked


def test_dicom_header_gives_known_phi_and_the_age_cap():
    from pydicom.dataset import Dataset

    from transforms.deid.known import dicom_over_age, known_phi_for_patient

    ds = Dataset()
    ds.PatientName, ds.PatientID, ds.PatientAge = "Pemberton^Hortensia", "MRN-1925-0302", "095Y"
    known = known_phi_for_patient(None, False, [ds])
    assert "Hortensia Pemberton" in known.names and "MRN-1925-0302" in known.ids and dicom_over_age(ds)
    ds.PatientAge = "064Y"
    assert not dicom_over_age(ds)


def test_a_text_found_clean_for_one_patient_is_deidentified_again_for_a_patient_it_names(deid):
    from transforms.deid.stage import DeidentifyRecord

    fn = DeidentifyRecord(SECRET, {})
    fn.text = deid
    text = "Seen on the ward round; Ward family updated, stable, discharged home."
    first = fn._text_deid(5, KnownPHI(names=["Quentin Blackwood"]))(text, "en")
    second = fn._text_deid(5, KnownPHI(names=["Ward"]))(text, "en")
    assert first == (text, {}) and (text, "en") in fn.clean.keys
    assert second == deid.deidentify(text, language="en", date_shift_days=5, known=KnownPHI(names=["Ward"]))
    assert second[0] != text and "ward round" in second[0]  # the cache did not hide the second patient's name;
    # a known name that is an English word is matched as written ("Ward", not the "ward" round)


def test_note_ids_are_kept_unless_they_carry_an_identifier():
    from collections import Counter

    from transforms.deid.files import FileDeidentifier

    fd = FileDeidentifier(b"routes-test-secret-0123456789abcdef", {"text": {}})
    counts = Counter()
    assert fd._note_id("2-1", counts) == "2-1" and fd._note_id("zh-001", counts) == "zh-001"
    for carrying in ("MRN 88231-A", "note-00412345678", "John Smith 3", "555-301-2211", "MRN-4417-0093-csv",
                     "acc_12-34-5678"):
        assert fd._note_id(carrying, counts).startswith("d-"), carrying
    keyed = FileDeidentifier(b"routes-test-secret-0123456789abcdef", {"text": {"note_ids": "key"}})
    assert keyed._note_id("2-1", counts).startswith("d-")


def test_known_phi_recognizers_follow_a_value_added_after_the_first_use():
    known = KnownPHI(names=["Quentin Blackwood"])
    first = known.recognizers("en")
    assert [r.name for r in known.recognizers("en")] == [r.name for r in first]  # built once, same recognizers
    known.ids.append("MRN-4417-0093")
    assert {"KNOWN_ID"} <= {e for r in known.recognizers("en") for e in r.supported_entities}


def test_a_patient_whose_texts_are_all_known_clean_is_walked_once_with_the_same_output(deid, monkeypatch):
    import transforms.deid.fhir_deid as fhir_deid
    from transforms.deid.stage import DeidentifyRecord

    patient = {"resourceType": "Patient", "id": "p1", "gender": "female", "birthDate": "1970-02-03",
               "name": [{"family": "Blackwood", "given": ["Quentin"]}]}
    cond = {"resourceType": "Condition", "id": "c1", "subject": {"reference": "Patient/p1"},
            "code": {"coding": [{"system": "http://snomed.info/sct", "code": "38341003"}],
                     "text": "Hypertension, stable"}, "onsetDateTime": "2015-06-01"}
    record = {"patient_id": "p1", "texts": [], "dicom": [],
              "resources": [{"kind": "fhir", "source": "f", "position": f"entry {i}", "resource": r}
                            for i, r in enumerate((patient, cond))]}
    fn = DeidentifyRecord(SECRET, {})
    fn.setup()
    fn.text = deid
    walks = []
    original = fhir_deid.deidentify_patient_resources
    monkeypatch.setattr(fhir_deid, "deidentify_patient_resources",
                        lambda *a, **k: walks.append(1) or original(*a, **k))
    first = [o for o in fn.process(record) if isinstance(o, dict)]
    assert len(walks) == 2  # the probe met texts never seen: spaCy over them, then the walk again
    walks.clear()
    second = [o for o in fn.process(record) if isinstance(o, dict)]
    assert len(walks) == 1 and second == first  # every text now known clean: the probe walk is the result
