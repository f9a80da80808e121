"""medcorpus' own Presidio recognizers: Chinese identifiers, record numbers, dates, ages.

Each is a Presidio ``EntityRecognizer`` driven by a regex whose named group ``v`` (or the whole
match) is the PHI span, with an optional validator (e.g. the MOD 11-2 check digit of a Chinese
resident ID). Regex ``\\b`` does not work next to CJK characters, so digit/letter look-arounds
bound the numbers.
"""
from __future__ import annotations

import re
from typing import Callable

from presidio_analyzer import EntityRecognizer, RecognizerResult

CJK = "\u4e00-\u9fff"
ZH_SURNAMES = ("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤")
ZH_COMPOUND = ("欧阳", "司马", "上官", "诸葛", "东方", "皇甫", "令狐", "慕容")
_SURNAME = "(?:" + "|".join(ZH_COMPOUND) + "|[" + ZH_SURNAMES + "])"
ZH_NAME_BEFORE = ("患者|姓名|病人|患儿|产妇|孕妇|受检者|受检人|就诊者|就诊人|被检者|家属|联系人|监护人|陪护人|陪护|代诉人|病史陈述者|"
                  "配偶|之子|之女|其母|其父|其妻|其夫|其子|其女|其兄|其弟|其姐|其妹|母亲|父亲|妻子|丈夫|儿子|女儿|爱人|"
                  "签名|签字|主治医师|主治医生|住院医师|主管医师|经治医师|医师|医生|主任|护士|护师|记录者|记录人|报告医师|"
                  "审核医师|审核者|检查者|操作者|会诊医师|上级医师|转诊医师")
ZH_NAME_AFTER = "先生|女士|医生|医师|主任|护士|老师|同志|大夫"
#: what may follow a name right after a cue: "其母李秀英来院陪护", "受检者张伟于..."
ZH_NAME_FOLLOW = ("来|于|在|因|以|至|到|称|诉|述|说|表示|陪|签|同意|拒绝|要求|，|,|。|；|、|（|\\(|\\s|男|女|岁|患|经|为|已|现|今|"
                  "昨|自|无|有|否|曾|入|出|就|主|行|接|由|等|及|和|与|的|系|是|任|住|电|手|联")

_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"


def cn_id_checksum_ok(value: str) -> bool:
    """ISO 7064 MOD 11-2 check digit of an 18-character resident ID."""
    v = value.upper()
    if len(v) != 18 or not v[:17].isdigit():
        return False
    total = sum(int(d) * w for d, w in zip(v[:17], _ID_WEIGHTS))
    return _ID_CHECK[total % 11] == v[17]


def cn_id_check_char(first17: str) -> str:
    return _ID_CHECK[sum(int(d) * w for d, w in zip(first17, _ID_WEIGHTS)) % 11]


MONTHS = "January|February|March|April|May|June|July|August|September|October|November|December"
MONTHS_ABBR = "Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec"
ZH_NUM = "〇零一二三四五六七八九十"


class RegexRecognizer(EntityRecognizer):
    """A recognizer for one entity from regexes; group ``v`` marks the span when present."""

    def __init__(self, entity: str, patterns: list[str], *, score: float = 0.9, languages=("en", "zh"),
                 validator: Callable[[str], bool] | None = None, flags: int = 0, name: str | None = None,
                 trim_leading: str = ""):
        self._compiled = [re.compile(p, flags) for p in patterns]
        self._trim = trim_leading
        self._validator = validator
        self._score = score
        super().__init__(supported_entities=[entity], name=name or f"medcorpus_{entity.lower()}",
                         supported_language=languages[0])
        self.entity = entity

    def load(self) -> None:  # nothing to load
        return None

    def analyze(self, text, entities, nlp_artifacts=None):
        if entities and self.entity not in entities:
            return []
        results = []
        for rx in self._compiled:
            for m in rx.finditer(text):
                if "v" in rx.groupindex and m.group("v") is not None:
                    start, end = m.span("v")
                else:
                    start, end = m.span()
                while self._trim and start < end and text[start] in self._trim:
                    start += 1
                value = text[start:end]
                if not value.strip():
                    continue
                if self._validator and not self._validator(value):
                    continue
                results.append(RecognizerResult(self.entity, start, end, self._score))
        return results


def _names_a_facility(value: str) -> bool:
    """"Riverside Medical Center" names one; "Inpatient Hospital", "General Hospital" name a kind."""
    from transforms.deid.text.lexicon import lexicon

    lex = lexicon()
    generic = set(lex.cues["generic_place_words"]) | set(lex.cues["internal_places"]) | lex.cues["function_words"]
    words = re.findall(r"[A-Za-z][A-Za-z'&.-]*", value)[:-1]
    words = [w for w in words if w.lower() not in ("medical", "health", "center")]
    return any(w.lower().rstrip(".") not in generic | {"general", "emergency", "primary", "urgent", "family"}
               for w in words)


def _not_a_range(value: str) -> bool:
    """"500-1000", "800-1000": ranges of round numbers (tidal volumes, doses), not local phone numbers."""
    m = re.fullmatch(r"\(?(\d{3})-(\d{4})\)?", value.strip())
    return not (m and int(m[1]) % 50 == 0 and int(m[2]) % 50 == 0)


def _street_words_ok(value: str) -> bool:
    """A street line, not "103 SR TO ST" or "2 days with IABP in place": no function word or
    clinical abbreviation between the number and the street type."""
    from transforms.deid.text.lexicon import lexicon

    lex = lexicon()
    words = re.findall(r"[A-Za-z]+", value)[:-1]
    return bool(words) and not any(w.lower() in lex.abbreviations or w.lower() in lex.cues["function_words"]
                                   for w in words if len(w) > 1)


_STATE_CODES = ("AL|AK|AZ|AR|CA|CO|CT|DE|DC|FL|GA|HI|ID|IL|IN|IA|KS|KY|LA|ME|MD|MA|MI|MN|MS|MO|MT|NE|NV|NH|NJ|NM|NY|"
                "NC|ND|OH|OK|OR|PA|RI|SC|SD|TN|TX|UT|VT|VA|WA|WV|WI|WY|PR|GU|VI|AS|MP|FM|MH|PW|AA|AE|AP")
_UNIT_WORD = r"(?:Apt|Apartment|Suite|Ste|APT|APARTMENT|SUITE|STE|apt|suite)"
_UNIT = rf"(?:{_UNIT_WORD}\.?|Unit|UNIT|#)\s*#?\s*\w+"


def _address_after_cue(value: str) -> bool:
    """What follows "lives at" / "address:" is an address when it has a house number or is a capitalised
    name of two words or more ("lives at home with wife" and "sent to ED" are not)."""
    v = value.strip()
    words = re.findall(r"[^\W\d_]+", v)
    if not v[:1].isdigit() and not v[:1].isupper() and not v.lower().startswith("the corner"):
        return False
    if len(v.split()) > 10 or (v.isupper() and not v[:1].isdigit()):
        return False  # a clause, not an address; in capitals only what starts with a house number
    if any(c.isdigit() for c in v):
        return bool(words)
    caps = [w for w in words if w[:1].isupper()]
    return len(caps) >= 2 and len(caps) >= len(words) - 1 and not v.isupper()


def _nanp(value: str) -> bool:
    """Ten digits (or 1 + ten) that read as a North American phone number: left to the phone recognizer."""
    digits = re.sub(r"\D", "", value)
    digits = digits[1:] if len(digits) == 11 and digits[0] == "1" else digits
    return len(digits) == 10 and digits[0] in "23456789" and digits[3] in "23456789"


def _street_suffixes() -> str:
    from transforms.deid.text.lexicon import load_cues

    words = sorted(load_cues()["street_suffixes"], key=len, reverse=True)
    return "|".join(re.escape(w.capitalize()) for w in words)


def build_recognizers(language: str) -> list[EntityRecognizer]:
    """Our recognizers for one Presidio language code."""
    L = (language,)
    suffix = _street_suffixes()
    rec = [
        RegexRecognizer("CN_RESIDENT_ID", [r"(?<![0-9A-Za-z])[1-9]\d{5}(?:18|19|20)\d{2}(?:0[1-9]|1[0-2])"
                                           r"(?:0[1-9]|[12]\d|3[01])\d{3}[\dXx](?![0-9A-Za-z])"],
                        score=0.99, languages=L, validator=cn_id_checksum_ok),
        RegexRecognizer("CN_PHONE", [r"(?<![\d.])(?:\+?86[- ]?)?1[3-9]\d(?:[- ]?\d{4}){2}(?![\d.])",
                                     r"(?<![\d.])0\d{2,3}-\d{7,8}(?![\d.])",
                                     r"(?<![\d.])\(0\d{2,3}\)\s?\d{7,8}(?![\d.])"], score=0.95, languages=L),
        RegexRecognizer("MEDICAL_RECORD_NUMBER", [
            r"(?:病案号|住院号|门诊号|医保卡号|医保号|病历号|就诊卡号|检查号|影像号|登记号|床号|卡号|账号|账户|车牌号|车牌|设备编号|序列号|执业证号|证书编号|"
            r"护照号|驾驶证号|社保卡号|社保号|工号)\s*[:：]?\s*(?P<v>[A-Za-z0-9\u4e00-\u9fff][A-Za-z0-9-]{2,24})",
            r"(?i)(?<![A-Za-z])(?:MRN|medical record (?:number|no\.?|#)|record (?:number|no\.?|#)|accession (?:number|no\.?|#)|"
            r"acc(?:ession)?#|patient id|pt id|unit (?:number|no\.?|#)|chart (?:number|no\.?|#)|encounter (?:number|no\.?|#)|"
            r"member id|member (?:number|no\.?|#)|policy (?:number|no\.?|#)|insurance id|subscriber id|beneficiary (?:number|no\.?|id|#)|"
            r"health plan (?:number|no\.?|id|#)|claim (?:number|no\.?|#)|account (?:number|no\.?|#)|acct\.? ?(?:no\.?|#)?|"
            r"licen[cs]e (?:number|no\.?|#)|lic\.? ?(?:no\.?|#)|certificate (?:number|no\.?|#)|serial (?:number|no\.?|#)|"
            r"s/n|device id|udi|implant id|vin|vehicle id|license plate|plate (?:number|no\.?|#)|badge (?:number|no\.?|#)|"
            r"employee id|NPI|DEA)(?![A-Za-z])\s*[:#-]?\s*(?P<v>[A-Za-z0-9][A-Za-z0-9-]{3,24})"],
            score=0.95, languages=L, validator=lambda v: any(c.isdigit() for c in v)),
        RegexRecognizer("VEHICLE_ID", [r"(?<![A-Za-z0-9])(?=[A-HJ-NPR-Z0-9]*\d)(?=[A-HJ-NPR-Z0-9]*[A-HJ-NPR-Z])[A-HJ-NPR-Z0-9]{17}(?![A-Za-z0-9])"],
                        score=0.85, languages=L),
        RegexRecognizer("IP_ANY", [r"(?<![\d.])(?:(?:25[0-5]|2[0-4]\d|1?\d?\d)\.){3}(?:25[0-5]|2[0-4]\d|1?\d?\d)(?![\d.])"],
                        score=0.9, languages=L),
        RegexRecognizer("US_SSN_ANY", [r"(?<![\d-])\d{3}-\d{2}-\d{4}(?![\d-])"], score=0.9, languages=L),
        RegexRecognizer("CN_NAME", [
            rf"(?:{ZH_NAME_BEFORE})\s*[:：]?\s*(?P<v>{_SURNAME}[{CJK}]{{1,2}})(?=[，,。；;：:\s（(、]|$|男|女|岁)",
            rf"(?P<v>{_SURNAME}[{CJK}]{{0,2}}?)(?:{ZH_NAME_AFTER})",
            rf"(?<![{CJK}])(?P<v>{_SURNAME}[{CJK}]{{1,2}})\s*[，,]\s*[男女]\s*[，,]\s*\d{{1,3}}\s*岁",
            rf"(?:{ZH_NAME_BEFORE})\s*[:：]?\s*(?P<v>{_SURNAME}[{CJK}](?:[{CJK}](?=(?:{ZH_NAME_FOLLOW})))?)"],
            score=0.9, languages=L),
        RegexRecognizer("CN_RESIDENT_ID", [r"(?<![0-9A-Za-z])[1-9]\d{5}\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\d{3}(?![0-9A-Za-z])"],
                        score=0.9, languages=L, name="medcorpus_cn_resident_id_15",
                        validator=lambda v: bool(re.search(r"(?:身份证|证件|公民身份)", v)) or len(v) == 15),
        RegexRecognizer("CN_SOCIAL_ID", [
            r"(?i)(?:微信号?|wechat(?:\s*id)?|weixin|vx|v信)\s*[:：]?\s*(?P<v>[A-Za-z][-_A-Za-z0-9]{5,19})",
            r"(?i)(?:QQ号?|QQ号码)\s*[:：]?\s*(?P<v>[1-9]\d{4,11})"], score=0.95, languages=L),
        RegexRecognizer("CN_ADDRESS", [
            rf"(?:住址|地址|家住|现住|居住于|户籍地|户籍)\s*[:：]?\s*(?P<v>[{CJK}0-9A-Za-z\-]{{4,40}}?(?:号|室|村|组|栋|楼|单元|弄|巷)(?:[0-9A-Za-z\-]{{1,6}}(?:室|号|楼))?)",
            rf"(?P<v>[{CJK}]{{2,8}}(?:省|自治区)[{CJK}]{{2,8}}市[{CJK}]{{1,8}}(?:区|县|市)(?:[{CJK}0-9]{{1,20}}?(?:路|街|道|巷|村|镇|乡))?(?:\d{{1,5}}号)?(?:\d{{1,5}}室)?)",
            rf"(?P<v>[{CJK}]{{2,6}}市[{CJK}]{{1,6}}(?:区|县)[{CJK}0-9]{{1,20}}?(?:路|街|道|巷)\d{{1,5}}号(?:[{CJK}0-9]{{0,8}}\d{{1,5}}室)?)"],
            score=0.9, languages=L),
        RegexRecognizer("CN_HOSPITAL", [rf"(?P<v>(?:(?![我本该你贵]院)(?![于在到至从去往赴经转送诊年])[{CJK}]){{2,16}}?(?:人民医院|中心医院|医院|卫生院|卫生服务中心|社区卫生服务站|医疗中心|妇幼保健院))"],
                        score=0.85, languages=L, trim_leading="年月日号于在到至从去往赴经转送入住就诊曾并及和与患者来我本该"),
        RegexRecognizer("HOSPITAL", [r"(?P<v>(?:[A-Z][A-Za-z'&.-]+ ){1,5}(?:Hospital|Medical Center|Health Center|Clinic|Infirmary))"],
                        score=0.85, languages=L, validator=_names_a_facility),
        RegexRecognizer("CN_DATE", [
            r"(?<!\d)(?:18|19|20)\d{2}\s*年\s*\d{1,2}\s*月(?:\s*\d{1,2}\s*[日号])?",
            r"(?<![\d.])(?:18|19|20)\d{2}[./]\d{1,2}[./]\d{1,2}(?![\d.])",
            rf"[{ZH_NUM}]{{4}}年(?:[{ZH_NUM}]{{1,2}}月)?(?:[{ZH_NUM}]{{1,3}}[日号])?",
            r"(?<![\d年])(?:1[0-2]|0?[1-9])\s*月\s*(?:3[01]|[12]\d|0?[1-9])\s*[日号]",
            rf"(?<![{ZH_NUM}年])(?:十[一二]?|[一二三四五六七八九])月(?:三十[一]?|二?十[一二三四五六七八九]?|[一二三四五六七八九])[日号]"],
            score=0.95, languages=L),
        RegexRecognizer("AGE_OVER_89", [
            r"(?i)(?<![\d.])(?P<v>(?:9\d|1[0-4]\d))(?=\s*-?\s*(?:years?|yrs?|y/?o|y\.\s?o\.?|yo[mf]?\b|year-old|岁|歲|周岁))",
            r"(?i)(?<![A-Za-z])(?:age|aged)\s*[:=]?\s*(?P<v>(?:9\d|1[0-4]\d))(?![\d.])",
            r"(?:年龄|年齡)\s*[:：]?\s*(?P<v>(?:9\d|1[0-4]\d))"], score=0.95, languages=L),
        RegexRecognizer("EMAIL_ANY", [r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}"], score=0.95, languages=L),
        RegexRecognizer("US_PHONE", [
            r"(?<!\d)(?<!\d-)(?:\+?1[-. ]?)?(?:\(\d{3}\)[-. /]?|\d{3}[-. /])\s?\d{3}[-. /]\s?\d{4}(?!\d|-\d)"
            r"(?:\s*(?:x|ext\.?|extension)\s*\d{1,5}(?!\d))?",
            r"(?<![\d/.-])\(?\d{3}-\d{4}\)?(?![\d-]|[A-Za-z])",
            # international prefix and bare ten digits: "001-513-290-9960", "call me on 7047743957"
            r"(?<![\d+])00?1[-. ]\(?\d{3}\)?[-. ]?\d{3}[-. ]?\d{4}(?![\d-])(?:\s*(?:x|ext\.?)\s*\d{1,5}(?!\d))?",
            r"(?<![\w.-])(?<!\d,)1?[2-9]\d{2}[2-9]\d{6}(?![\w]|[.,]\d)",
            r"(?<![\d-])\(\d{3}-\d{3}-\d{4}\)",
            r"(?<![\w+])\+(?:[2-9]\d{0,2})[\s.-]?\(?\d{1,4}\)?(?:[\s.-]?\d{2,4}){2,4}(?![\d-])",
            r"(?<![\d.-])\d{3} \d{7}(?![\d-])", r"(?<![\d.-])\d{6}-\d{4}(?![\d-])",
            r"(?i)(?<![A-Za-z])(?:pager|pgr|pg|beeper|bpr|beep|ext|extension|phone|ph|tel|telephone|cell|mobile|fax|"
            r"call(?:\s+back)?(?:\s+at)?|contact(?:\s+number)?|number|#)\s*(?:#|no\.?|number|:)?\s*(?P<v>\d{4,11})(?![\d/.]\d)",
            # grouped digits after a phone cue, any national format: "Desk: 07700 316 475", "call me on 06-82237745"
            r"(?i)(?:(?<![A-Za-z])|(?<=\\n))(?:phone|ph|tel|telephone|cell|mobile|fax|desk|pager|home|work|call|"
            r"call\s+me\s+(?:on|at)|reach\s+me\s+(?:on|at)|text\s+me\s+(?:on|at)|answering\s+at|contact\s+me\s+(?:on|at)|"
            r"messages\s+to|registered|whatsapp|sms)\s*(?:#|no\.?|number|:)?\s*"
            r"(?P<v>\+?\(?\d[\d ().-]{5,18}\d)(?![\d/]|\.\d)"],
                        score=0.9, languages=L, validator=lambda v: _not_a_range(v) and 7 <= sum(c.isdigit() for c in v) <= 15
                        or bool(re.fullmatch(r"\d{4,6}", v))),
        RegexRecognizer("US_STREET", [
            rf"(?<![\w.,/-])\d{{1,6}}(?:\s+[A-Z][a-z]+|\s+[NSEW]\.?){{1,4}}\s+(?:{suffix})\b\.?(?:,?\s+{_UNIT})?",
            # in capitals only the usual street types ("2 TOL WELL" is no street)
            r"(?<![\w.,/-])\d{1,6}(?:\s+[A-Z]{2,}){1,4}\s+(?:STREET|ST|AVENUE|AVE|ROAD|RD|BOULEVARD|BLVD|LANE|LN|DRIVE|"
            r"DR|COURT|CT|WAY|PLACE|PL|TERRACE|PARKWAY|PKWY|CIRCLE|CIR|HIGHWAY|HWY|PIKE)\b\.?"
            r"(?:,?\s+(?:UNIT|APT|SUITE|#)\s*\w+)?"],
                        score=0.85, languages=L, validator=_street_words_ok),
        RegexRecognizer("US_STREET", [
            # military and box addresses: "PSC 9868, Box 2828", "Unit 7617 Box 4093", "APO AE 79105", "P.O. Box 255"
            r"(?<![A-Za-z])(?:PSC|CMR|Unit|UNIT)\s+\d{3,5},?\s+Box\s+\d{1,5}",
            r"(?<![A-Za-z])(?:APO|FPO|DPO)\s+(?:AA|AE|AP)(?:\s+\d{5})?(?!\d)",
            r"(?<![A-Za-z])(?:USNS|USNV|USS|USCGC)\s+[A-Z][a-z]+",
            r"(?i)(?<![A-Za-z])P\.?\s?O\.?\s+Box\s+\d{1,6}"],
                        score=0.85, languages=L, name="medcorpus_us_box"),
        # after an address cue, the address in any national format ("lives at Via Leopardi 83",
        # "address: Strojírenská 1006, Praha"), up to the end of the clause
        RegexRecognizer("US_STREET", [
            r"(?i:(?:home\s+|postal\s+|mailing\s+|billing\s+)?address(?:\s+is)?\s*[:-]?|lives\s+(?:at|on)|living\s+at|"
            r"located\s+at|resides\s+at|residing\s+at)\s+(?P<v>(?:the\s+corner\s+of\s+)?[^\W_][^\n.;!?]{2,80}?)"
            r"(?=\s*(?:[.;!?](?:\s|$)|\n|\\n|$)|\s+(?:with|who|for|after|since|until|in\s+case|and\s+(?:his|her|their|is|was))\b)",
            # after "send to" only what starts with a house number ("sent to 42 Elm St", not "sent to rehab")
            r"(?i:send\s+(?:it\s+|them\s+)?to|sent\s+to|mail(?:ed)?\s+to|ship(?:ped)?\s+to|deliver(?:ed)?\s+to)\s+"
            r"(?P<v>(?:the\s+corner\s+of\s+)?\d[^\n.;!?]{2,80}?)"
            r"(?=\s*(?:[.;!?](?:\s|$)|\n|\\n|$)|\s+(?:with|who|for|after|since|until|in\s+case|and\s+(?:his|her|their|is|was))\b)"],
                        score=0.85, languages=L, name="medcorpus_address_cue", validator=_address_after_cue),
        # an apartment or suite number on its own: "Apt. 269", "Suite 610" (the number only)
        RegexRecognizer("ADDRESS_UNIT", [rf"(?<![A-Za-z]){_UNIT_WORD}\.?\s*#?\s*(?P<v>\d{{1,6}}[A-Za-z]?)(?![\w])"],
                        score=0.85, languages=L, name="medcorpus_us_unit"),
        RegexRecognizer("US_ZIP", [
            rf"(?<![A-Za-z])(?:{_STATE_CODES}),?\s{{1,2}}(?P<v>\d{{5}}(?:-\d{{4}})?)(?!\d)",
            r"(?i)(?:(?<![A-Za-z])|(?<=\\n))(?:zip|postal|post)(?:\s*code)?\s*(?:is|:|#|no\.?)?\s*"
            r"(?P<v>\d{3,5}(?:[- ]\d{2,4})?|[A-Z]{1,2}\d[A-Z\d]?\s?\d[A-Z]{2})(?![\w-])",
            # the last line of an address: a place name and a five-digit code ("South Moore, 09328")
            # (lines also end at an escaped "\\n", as in text exported from JSON or CSV)
            r"(?m)(?:^|\\n)[^\S\n]*(?:>\s*)?[A-Z][A-Za-z'.-]+(?:[^\S\n]+[A-Z][A-Za-z'.-]+){0,3},?[^\S\n]+"
            r"(?P<v>\d{5}(?:-\d{4})?)[^\S\n]*(?=$|\\n)"],
                        score=0.85, languages=L),
        # account and card numbers written bare: 12-19 digits, alone or in groups of four
        RegexRecognizer("ACCOUNT_NUMBER", [r"(?<![\w.,/-])\d{9,19}(?![\w/%-]|[.,]\d)",
                                           r"(?<![\w-])\d{4}(?:[ -]\d{4}){2,3}(?:[ -]\d{1,4})?(?![\w-])"],
                        score=0.8, languages=L, validator=lambda v: not _nanp(v)),
    ]
    if language == "en":
        rec += [EnglishContextRecognizer(), EnglishDateRecognizer()]
    else:
        rec.append(EnglishDateRecognizer(language=language))  # Chinese notes quote English dates too
    return rec


class EnglishContextRecognizer(EntityRecognizer):
    """Names, places and hospitals from context and word lists (``en_context.py``)."""

    ENTITIES = ["NAME", "NAME_F", "NAME_M", "NAME_L", "NAME_F_L", "NAME_M_L", "PLACE", "FACILITY"]

    def __init__(self):
        super().__init__(supported_entities=self.ENTITIES, name="medcorpus_en_context", supported_language="en")

    def load(self) -> None:
        return None

    def analyze(self, text, entities, nlp_artifacts=None):
        if entities and not set(entities) & set(self.ENTITIES):
            return []
        from transforms.deid.text.en_context import detector

        out = []
        for start, end, kind, score, sex, rule in detector().find(text):
            entity = {"PERSON": "NAME", "LOCATION": "PLACE", "HOSPITAL": "FACILITY"}[kind]
            if entity == "NAME" and sex:
                entity = f"NAME_{sex}"
            if entity.startswith("NAME") and rule == "title" and " " not in text[start:end].strip():
                entity += "_L"  # "Dr. Phelps", "MR DEXTER": a family name
            out.append(RecognizerResult(entity, start, end, score))
        return out


class EnglishDateRecognizer(EntityRecognizer):
    """Dates written in English (``en_dates.py``), short forms and ratios told apart."""

    def __init__(self, language: str = "en"):
        super().__init__(supported_entities=["EN_DATE"], name=f"medcorpus_en_date_{language}",
                         supported_language=language)
        self.entity = "EN_DATE"

    def load(self) -> None:
        return None

    def analyze(self, text, entities, nlp_artifacts=None):
        if entities and "EN_DATE" not in entities:
            return []
        from transforms.deid.text.en_dates import find_dates

        return [RecognizerResult("EN_DATE", s, e, 0.95) for s, e in find_dates(text)]
