"""Build the bundled sample's text documents and deliberately broken inputs (output committed).

All names, ID numbers, phone numbers, record numbers, addresses and hospitals are fictitious;
resident ID numbers carry a valid MOD 11-2 check digit so the de-identifier must find them.

    python -m pipelines.sample.build_text
"""
from __future__ import annotations

import gzip
import json
import random
import shutil
from pathlib import Path

from transforms.deid.text.recognizers import cn_id_check_char

SAMPLE = Path(__file__).resolve().parent / "data"
TEXT = SAMPLE / "text"
BROKEN_FHIR = SAMPLE / "fhir" / "broken"


def cn_id(area: str, birth: str, seq: str) -> str:
    first17 = area + birth + seq
    return first17 + cn_id_check_char(first17)


def patient_ids() -> list[str]:
    ids = []
    for f in sorted((SAMPLE / "fhir" / "synthea").glob("*.json.gz")):
        bundle = json.loads(gzip.decompress(f.read_bytes()))
        ids.append(next(e["resource"]["id"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Patient"))
    return ids


ZH_NOTES = [
    ("门诊病历", "患者张伟，男，58岁，身份证号{id0}，联系电话13812345678，病案号：MZ20190221001。"
                 "住址：江苏省南京市鼓楼区中山路128号2单元301室。2019年2月21日于南京市第一人民医院心内科就诊。"
                 "主诉：反复头晕3年，加重1周。既往高血压病史5年，最高血压170/100mmHg，规律口服氨氯地平5mg qd。"
                 "否认糖尿病史。查体：血压152/94mmHg，心率78次/分。诊断：原发性高血压2级。建议低盐饮食，继续降压治疗，一月后复诊。"),
    ("门诊病历", "患者张伟，男，58岁，身份证号{id0}，联系电话13812345678，病案号：MZ20190221001。"
                 "住址：江苏省南京市鼓楼区中山路128号2单元301室。2019年3月21日于南京市第一人民医院心内科复诊。"
                 "主诉：反复头晕3年，加重1周。既往高血压病史5年，最高血压170/100mmHg，规律口服氨氯地平5mg qd。"
                 "否认糖尿病史。查体：血压138/86mmHg，心率74次/分。诊断：原发性高血压2级。建议低盐饮食，继续降压治疗，一月后复诊。"),
    ("出院小结", "姓名：李秀英，女，66岁，住院号：ZY2020-08812，身份证号{id1}。入院日期：2020年6月3日，出院日期：2020年6月12日。"
                 "入院诊断：2型糖尿病，糖尿病肾病。患者糖尿病病史10年，近期血糖控制差，空腹血糖11.2mmol/L，HbA1c 9.1%。"
                 "住院期间予胰岛素强化治疗，血糖逐渐平稳。出院医嘱：门冬胰岛素8U tid，甘精胰岛素12U qn，监测血糖。"
                 "主治医师：王建国。联系电话：025-83456789。"),
    ("影像报告", "检查号：CT20210715033。患者刘强，男，61岁。胸部CT平扫：右肺上叶见一直径约8mm磨玻璃结节，边界清楚。"
                 "左肺未见结节。纵隔淋巴结未见肿大。印象：右肺上叶磨玻璃结节，建议3个月后复查胸部CT。报告医师：陈静。"),
    ("门诊病历", "患者赵敏，女，45岁，手机15900001111。主诉：心悸2天。心电图示心房颤动，心室率112次/分。"
                 "既往甲状腺功能正常，否认高血压、冠心病。诊断：阵发性房颤。予美托洛尔25mg bid，华法林抗凝，2周后复查INR。"),
    ("门诊病历", "患者孙丽，女，34岁，病案号：MZ2022-10451。近3月情绪低落，兴趣减退，失眠，PHQ-9评分17分。"
                 "诊断：抑郁症（中度）。予舍曲林50mg qd，心理咨询，2周后随访。家属联系人：孙建华，电话13700002222。"),
    ("门诊病历", "患者周杰，男，72岁。突发右侧肢体无力4小时，头颅MRI示左侧基底节区急性脑梗死。既往房颤病史。"
                 "诊断：急性缺血性脑卒中。收入神经内科。住址：浙江省杭州市西湖区文三路77号。"),
    ("体检报告", "受检者：吴刚，男，50岁，身份证号{id2}。2023年4月18日体检。血压128/82mmHg，空腹血糖6.4mmol/L，"
                 "糖尿病前期，建议饮食控制和运动。胸部CT未见结节。否认吸烟史。"),
    ("门诊病历", "患者马娜，女，81岁，住院号：ZY2021-00937。慢性阻塞性肺疾病病史12年，近1周咳嗽咳痰加重，"
                 "诊断：慢阻肺急性加重。予抗感染、雾化治疗。出院后社区卫生服务中心随访。"),
    ("门诊病历", "患者何平，男，93岁，身份证号{id3}。因记忆力下降2年就诊，诊断：阿尔茨海默病。家属陪同，电话0571-87654321。"),
]

EN_NOTES = [
    ("clinical_note", "Patient: Maria Gonzalez, DOB 04/12/1961, MRN: 4471-2290. SSN 123-45-6789. Phone (619) 555-0142. "
                      "Address: 4821 Harbor View Drive, San Diego, CA 92101. Seen on Feb 21, 2019 for follow-up of "
                      "type 2 diabetes and hypertension. HbA1c 8.2%, BP 148/92. Denies chest pain. Metformin increased "
                      "to 1000 mg twice daily. Return in 3 months."),
    ("clinical_note", "John Whitaker is a 94 year-old man seen at Mercy General Hospital on 3/2/2020. Medical record number "
                      "MR-88123. History of atrial fibrillation on apixaban 5 mg bid. No evidence of stroke. "
                      "Daughter Ellen Whitaker can be reached at 916-555-0199 or ellen.whitaker@example.com."),
    ("report", "Accession number: RAD-20211103-77. CT chest without contrast, 11/03/2021. Findings: a 7 mm solid "
               "pulmonary nodule in the right lower lobe. No lymphadenopathy. Impression: indeterminate lung nodule; "
               "recommend follow-up CT in 6 months. Dictated by Dr. Samuel Osei."),
    ("clinical_note", "Patient Anita Desai (MRN 55-10293) reports low mood and poor sleep for two months. PHQ-9 score 15. "
                      "Assessment: moderate depression. Started sertraline 50 mg daily. Follow up on the 21st of March."),
]

GUIDELINES = {
    "hypertension_management.md": "# Hypertension management in primary care\n\nHypertension is diagnosed when repeated office "
        "blood pressure readings are at or above 140/90 mmHg, or home readings are at or above 135/85 mmHg. Lifestyle "
        "measures come first for every patient: reduce salt intake below five grams a day, keep a healthy weight, be "
        "physically active on most days, limit alcohol and stop smoking.\n\nDrug treatment starts with a thiazide-like "
        "diuretic, a calcium channel blocker, an ACE inhibitor or an angiotensin receptor blocker. Most patients need "
        "two drugs to reach a target below 130/80 mmHg. Review adherence and home readings before adding a third drug, "
        "and look for secondary causes when hypertension is resistant or starts before the age of thirty.\n",
    "2型糖尿病诊疗要点.md": "# 2型糖尿病诊疗要点\n\n2型糖尿病的诊断依据空腹血糖≥7.0mmol/L、口服葡萄糖耐量试验2小时血糖≥11.1mmol/L"
        "或糖化血红蛋白≥6.5%。生活方式干预是所有患者的基础治疗，包括控制总热量、增加膳食纤维、规律运动和戒烟限酒。\n\n"
        "药物治疗首选二甲双胍，若无禁忌应长期使用。合并动脉粥样硬化性心血管疾病或慢性肾脏病的患者，优先选用具有心肾获益证据的"
        "SGLT2抑制剂或GLP-1受体激动剂。血糖控制目标一般为糖化血红蛋白<7.0%，老年及低血糖高风险患者可适当放宽。"
        "应定期筛查视网膜病变、糖尿病肾病和周围神经病变，并每年评估足部情况。\n",
    "lung_nodule_follow_up.txt": "Incidental pulmonary nodules are common on chest CT. Solid nodules smaller than six "
        "millimetres in low-risk adults need no routine follow-up, while nodules of six to eight millimetres should be "
        "re-imaged at six to twelve months. Larger nodules, growing nodules and part-solid nodules with a solid "
        "component deserve a multidisciplinary review, with PET-CT or tissue sampling where the probability of "
        "malignancy is intermediate or high. Document size, density, location and the recommended interval in every "
        "report so that follow-up is not lost.\n",
}


def main() -> None:
    if TEXT.exists():
        shutil.rmtree(TEXT)
    (TEXT / "guidelines").mkdir(parents=True)
    (TEXT / "broken").mkdir()
    pids = patient_ids()
    ids = [cn_id("320106", "19610314", "123"), cn_id("320102", "19540709", "246"), cn_id("330106", "19730118", "357"),
           cn_id("330102", "19300502", "414")]
    with open(TEXT / "notes_zh.jsonl", "w", encoding="utf-8") as fh:
        for i, (doc_type, body) in enumerate(ZH_NOTES):
            pid = pids[i % len(pids)] if i % 2 == 0 else f"HIS-{100200 + i}"
            if i == 1:
                pid = pids[0]  # the copy-forward note belongs to the same patient as note 0
            rec = {"id": f"zh-{i + 1:03d}", "text": body.format(id0=ids[0], id1=ids[1], id2=ids[2], id3=ids[3]),
                   "patient_id": pid, "language": "zh", "doc_type": "clinical_note" if doc_type != "影像报告" else "report",
                   "date": f"20{19 + i % 5}-0{1 + i % 9}-1{i % 9}"}
            fh.write(json.dumps(rec, ensure_ascii=False) + "\n")
    with open(TEXT / "notes_en.jsonl", "w", encoding="utf-8") as fh:
        for i, (doc_type, body) in enumerate(EN_NOTES):
            rec = {"id": f"en-{i + 1:03d}", "text": body, "patient_id": f"EXT-{5500 + i}", "language": "en",
                   "doc_type": doc_type, "date": f"202{i}-0{2 + i}-21"}
            fh.write(json.dumps(rec) + "\n")
        fh.write("{\"id\": \"en-broken\", \"text\": \"truncated line\n")  # a broken line: rejected alone
    for name, body in GUIDELINES.items():
        (TEXT / "guidelines" / name).write_text(body, encoding="utf-8")
    gbk = ("门诊记录：患者黄磊，男，47岁，电话13698765432。高血压病史3年，血压控制可，继续服用缬沙坦80mg每日一次。"
           "2022年9月5日复诊。")
    (TEXT / "clinic_note_gb18030.txt").write_bytes(gbk.encode("gb18030"))
    utf16 = ("Clinic note, 7/14/2022. Patient Robert Chen (MRN 7730-114) has hyperlipidemia treated with "
             "atorvastatin 20 mg nightly. LDL 96 mg/dL. Continue current therapy.")
    (TEXT / "clinic_note_utf16.txt").write_bytes(utf16.encode("utf-16"))
    rng = random.Random(20261123)
    (TEXT / "broken" / "garbage.txt").write_bytes(bytes(rng.randrange(256) for _ in range(2048)))
    (TEXT / "broken" / "empty.txt").write_bytes(b"")

    BROKEN_FHIR.mkdir(parents=True, exist_ok=True)
    bundle = json.dumps({"resourceType": "Bundle", "type": "collection", "entry": [
        {"fullUrl": "urn:uuid:1", "resource": {"resourceType": "Patient", "id": "1"}}]})
    (BROKEN_FHIR / "truncated_bundle.json").write_text(bundle[: len(bundle) // 2], encoding="utf-8")
    lines = [
        json.dumps({"resourceType": "Condition", "id": "orphan-1", "subject": {"reference": "Patient/not-in-input"},
                    "code": {"coding": [{"system": "http://snomed.info/sct", "code": "59621000"}]}}),
        "{\"resourceType\": \"Observation\", \"id\": \"cut",  # broken line
        json.dumps({"resourceType": "Spaceship", "id": "x1"}),  # unknown resourceType
        json.dumps({"resourceType": "Organization", "id": "org-1", "name": "Example Clinic"}),
    ]
    (BROKEN_FHIR / "mixed.ndjson").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"wrote text sample to {TEXT} and broken FHIR inputs to {BROKEN_FHIR}")


if __name__ == "__main__":
    main()
