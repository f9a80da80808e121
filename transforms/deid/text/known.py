"""A patient's own identifiers from the structured record, to find in their notes (an extra layer:
the detector finds PHI without them), plus what the record says about how to replace it: the
patient's sex (surrogate names), whether the patient is over 89 (birth year removed), and the
clinical terms of the record (never replaced)."""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field

from transforms.deid.text.recognizers import RegexRecognizer

#: resource fields whose codings name clinical concepts of the patient (never PHI)
CLINICAL_FIELDS = ("code", "medicationCodeableConcept", "vaccineCode", "reasonCode", "category", "type",
                   "bodySite", "valueCodeableConcept", "substance", "route", "method")


@dataclass
class KnownPHI:
    names: list[str] = field(default_factory=list)
    ids: list[str] = field(default_factory=list)
    phones: list[str] = field(default_factory=list)
    addresses: list[str] = field(default_factory=list)
    cities: list[str] = field(default_factory=list)
    dates: list[str] = field(default_factory=list)
    #: "F", "M" or None: surrogate names of the patient follow it
    sex: str | None = None
    #: the patient is 90 or older: the birth year is an identifier too (HIPAA Safe Harbor)
    over_89: bool = False
    birth_year: str | None = None
    #: words of the record's coded displays (drugs, conditions, procedures): never replaced
    clinical_terms: list[str] = field(default_factory=list)

    def recognizers(self, language: str) -> list[RegexRecognizer]:
        """Regex recognizers of the known values for ``language``; built once per patient and language
        (kept outside the dataclass fields, rebuilt when a value changes)."""
        key = (language, self.over_89, self.birth_year) + tuple(
            tuple(v) for v in (self.names, self.ids, self.phones, self.addresses, self.cities, self.dates))
        cache = self.__dict__.setdefault("_recognizers", {})
        if key not in cache:
            cache[key] = self._recognizers_for(language)
        return list(cache[key])

    def _recognizers_for(self, language: str) -> list[RegexRecognizer]:
        out = []
        for entity, values in (("KNOWN_NAME", self.names), ("KNOWN_ID", self.ids), ("KNOWN_PHONE", self.phones),
                               ("KNOWN_ADDRESS", self.addresses), ("KNOWN_CITY", self.cities),
                               ("KNOWN_DATE", self.dates)):
            values = sorted({v for v in values if v}, key=lambda s: (-len(s), s))
            # a name that is also an English or clinical word ("White", "Will", "Rose") is matched as
            # written: "White" the maiden name, not "white" the race or "white blood cells"
            exact = [v for v in values if entity == "KNOWN_NAME" and _is_word(v)]
            folded = [v for v in values if v not in exact]
            if folded:
                out.append(RegexRecognizer(entity, ["|".join(_known_pattern(v) for v in folded)], score=1.0,
                                           languages=(language,), flags=re.IGNORECASE,
                                           name=f"known_{entity.lower()}"))
            if exact:
                out.append(RegexRecognizer(entity, ["|".join(_known_pattern(v) for v in exact)], score=1.0,
                                           languages=(language,), name=f"known_{entity.lower()}_as_written"))
        if self.over_89 and self.birth_year:
            out.append(RegexRecognizer("BIRTH_YEAR_OVER_89", [rf"(?<!\d){self.birth_year}(?!\d)"], score=1.0,
                                       languages=(language,), name="known_birth_year"))
        return out


def _is_word(value: str) -> bool:
    from transforms.deid.text.lexicon import lexicon

    lex = lexicon()
    words = value.lower().split()
    return bool(words) and all(w in lex.common or w in lex.clinical for w in words)


def _known_pattern(value: str) -> str:
    esc = re.escape(value)
    if any("\u4e00" <= c <= "\u9fff" for c in value):
        return esc
    return rf"(?<![A-Za-z0-9]){esc}(?![A-Za-z0-9])"


def _name_forms(given: list[str], family: str) -> list[str]:
    strip = lambda s: re.sub(r"\d+$", "", s)  # Synthea appends digits: Florencio463
    forms = set()
    parts = [p for p in given + [family] if p]
    for p in parts:
        forms.add(p)
        if strip(p) and len(strip(p)) >= 2:
            forms.add(strip(p))
    for g in given:
        for gf in {g, strip(g)}:
            for ff in {family, strip(family)}:
                if gf and ff:
                    forms.update({f"{gf} {ff}", f"{ff}, {gf}", f"{ff} {gf}", f"{gf[0]}. {ff}"})
    return sorted(f for f in forms if len(f) >= 2)


def _age_years(birth: dt.date, at: dt.date) -> int:
    return at.year - birth.year - ((at.month, at.day) < (birth.month, birth.day))


def known_phi_from_patient_resource(patient: dict | None, *, today: dt.date | None = None) -> KnownPHI:
    known = KnownPHI()
    if not patient:
        return known
    for name in patient.get("name") or []:
        if not isinstance(name, dict):
            continue
        given = [g for g in (name.get("given") or []) if isinstance(g, str)]
        family = name.get("family") if isinstance(name.get("family"), str) else ""
        known.names += _name_forms(given, family)
        if isinstance(name.get("text"), str):
            known.names.append(name["text"])
    for ident in patient.get("identifier") or []:
        value = ident.get("value") if isinstance(ident, dict) else None
        if isinstance(value, str) and len(value.strip()) >= 4:
            known.ids.append(value.strip())
            digits = re.sub(r"\D", "", value)
            if len(digits) >= 6 and digits != value:
                known.ids.append(digits)
    for tel in patient.get("telecom") or []:
        value = tel.get("value") if isinstance(tel, dict) else None
        if isinstance(value, str) and value.strip():
            (known.ids if tel.get("system") == "email" else known.phones).append(value.strip())
            digits = re.sub(r"\D", "", value)
            if tel.get("system") != "email" and len(digits) >= 7:
                known.phones.append(digits)
    for addr in patient.get("address") or []:
        if not isinstance(addr, dict):
            continue
        known.addresses += [l for l in addr.get("line") or [] if isinstance(l, str) and l.strip()]
        if isinstance(addr.get("city"), str) and addr["city"].strip():
            known.cities.append(addr["city"].strip())
        if isinstance(addr.get("postalCode"), str) and addr["postalCode"].strip():
            known.ids.append(addr["postalCode"].strip())
    for contact in patient.get("contact") or []:
        name = (contact.get("name") if isinstance(contact, dict) else None) or {}
        if isinstance(name, dict):
            known.names += _name_forms([g for g in name.get("given") or [] if isinstance(g, str)],
                                       name.get("family") if isinstance(name.get("family"), str) else "")
    birth = patient.get("birthDate")
    if isinstance(birth, str):
        known.dates.append(birth)
        try:
            born = dt.date.fromisoformat(birth[:10]) if len(birth) >= 10 else dt.date(int(birth[:4]), 1, 1)
        except ValueError:
            born = None
        if born:
            end = today or dt.date.today()
            death = patient.get("deceasedDateTime")
            if isinstance(death, str):
                try:
                    end = dt.date.fromisoformat(death[:10])
                except ValueError:
                    pass
            known.birth_year = f"{born.year:04d}"
            known.over_89 = _age_years(born, end) >= 90
    gender = patient.get("gender")
    known.sex = {"female": "F", "male": "M"}.get(gender) if isinstance(gender, str) else None
    for ext in patient.get("extension") or []:
        if isinstance(ext, dict) and isinstance(ext.get("valueString"), str) and "MaidenName" in str(ext.get("url") or ""):
            known.names += _name_forms([], ext["valueString"].split()[-1]) + ext["valueString"].split()
    return known


def clinical_terms_from_resources(resources: list[dict]) -> list[str]:
    """Words of the coded displays of a record's clinical resources (drugs, conditions, procedures)."""
    terms = set()
    for r in resources:
        if not isinstance(r, dict) or r.get("resourceType") in ("Patient", "RelatedPerson", "Practitioner",
                                                                  "Organization", "Location"):
            continue
        for f in CLINICAL_FIELDS:
            for cc in r.get(f) if isinstance(r.get(f), list) else [r.get(f)]:
                if not isinstance(cc, dict):
                    continue
                for c in cc.get("coding") or []:
                    if isinstance(c, dict) and isinstance(c.get("display"), str):
                        terms.update(w.lower() for w in re.findall(r"[A-Za-z][A-Za-z'-]{2,}", c["display"]))
    return sorted(terms)
