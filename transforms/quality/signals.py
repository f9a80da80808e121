"""Per-record quality signals and the policy decision (keep, drop, or keep-and-review)."""
from __future__ import annotations

import re
import unicodedata
from collections import Counter
from functools import lru_cache
from pathlib import Path

import orjson
import yaml

POLICY = Path(__file__).resolve().parents[2] / "pipelines" / "configs" / "quality.yaml"
MOJIBAKE = re.compile(r"Ã[\x80-\xBF]|â€|Â[\xa0-\xbf]|ï»¿|锟斤拷|烫烫烫|屯屯屯")


def _is_cjk(ch: str) -> bool:
    return "\u4e00" <= ch <= "\u9fff" or "\u3400" <= ch <= "\u4dbf"


@lru_cache(maxsize=1)
def default_policy() -> dict:
    return yaml.safe_load(POLICY.read_text(encoding="utf-8"))


def _tokens(text: str) -> list[str]:
    tokens = []
    for word in text.split():
        buf = ""
        for ch in word:
            if _is_cjk(ch):
                if buf:
                    tokens.append(buf)
                    buf = ""
                tokens.append(ch)
            else:
                buf += ch
        if buf:
            tokens.append(buf)
    return tokens


def _dup_ngram_frac(tokens: list[str], n: int) -> float:
    if len(tokens) < n + 1:
        return 0.0
    grams = [tuple(tokens[i:i + n]) for i in range(len(tokens) - n + 1)]
    counts = Counter(grams)
    dup = sum(c for c in counts.values() if c > 1)
    return round(dup / len(grams), 4)


def text_signals(text: str, language: str = "en", doc_type: str = "default", policy: dict | None = None) -> dict:
    policy = policy or default_policy()
    chars = len(text)
    tokens = _tokens(text)
    letters = sum(1 for c in text if c.isalpha())
    cjk = sum(1 for c in text if _is_cjk(c))
    digits = sum(1 for c in text if c.isdigit())
    punct = sum(1 for c in text if unicodedata.category(c).startswith("P"))
    nonspace = max(1, sum(1 for c in text if not c.isspace()))
    lines = [l.strip() for l in text.splitlines() if l.strip()]
    line_counts = Counter(lines)
    dup_lines = sum(c for c in line_counts.values() if c > 1)
    boiler = [b.casefold() for b in policy.get("boilerplate_lines") or []]
    boiler_lines = sum(1 for l in lines if any(b in l.casefold() for b in boiler))
    n = 5 if cjk > letters / 2 else 3
    if letters:
        top = max(cjk, sum(1 for c in text if c.isascii() and c.isalpha()))
        lang_conf = round(top / letters, 4)
    else:
        lang_conf = 0.0
    return {
        "chars": chars,
        "tokens": len(tokens),
        "alpha_share": round(letters / nonspace, 4),
        "digit_share": round(digits / nonspace, 4),
        "punct_share": round(punct / nonspace, 4),
        "dup_line_frac": round(dup_lines / len(lines), 4) if lines else 0.0,
        "dup_ngram_frac": _dup_ngram_frac(tokens, n),
        "mojibake": len(MOJIBAKE.findall(text)),
        "replacement_chars": text.count("\ufffd"),
        "boilerplate_share": round(boiler_lines / len(lines), 4) if lines else 0.0,
        "language_confidence": lang_conf,
    }


CHECKS = {  # rule -> (signal, direction)
    "min_chars": ("chars", "min"),
    "max_replacement_chars": ("replacement_chars", "max"),
    "max_mojibake": ("mojibake", "max"),
    "max_dup_line_frac": ("dup_line_frac", "max"),
    "max_dup_ngram_frac": ("dup_ngram_frac", "max"),
    "min_alpha_share": ("alpha_share", "min"),
}


def decide(signals: dict, doc_type: str, policy: dict | None = None) -> tuple[bool, str | None, bool]:
    """(keep, reason, review): drop outside the drop band, review between the bands."""
    policy = policy or default_policy()
    profiles = policy.get("profiles") or {}
    profile = profiles.get(doc_type) or profiles.get("default") or {}
    review_reason = None
    for rule, bands in profile.items():
        signal, direction = CHECKS[rule]
        value = signals.get(signal)
        if value is None:
            continue
        bad = (lambda limit: value < limit) if direction == "min" else (lambda limit: value > limit)
        if "drop" in bands and bad(bands["drop"]):
            return False, f"quality:{rule}", False
        if "review" in bands and bad(bands["review"]) and review_reason is None:
            review_reason = f"review:{rule}"
    return True, review_reason, review_reason is not None


def load_review_overrides(path: Path) -> dict:
    """Reviewed JSONL from a previous run's review/ queue: {"id", "decision": keep|drop, "reviewer"}."""
    from pipelines.errors import UserError

    if not Path(path).is_file():
        raise UserError(f"review overrides file not found: {path}")
    out = {}
    for n, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            obj = orjson.loads(line)
        except orjson.JSONDecodeError:
            raise UserError(f"review overrides {path} line {n} is not JSON") from None
        if obj.get("decision") not in ("keep", "drop") or not obj.get("id"):
            raise UserError(f"review overrides {path} line {n}: needs an id and decision keep|drop")
        out[str(obj["id"])] = obj["decision"]
    return out


def apply_review_overrides(doc_id: str, decision: tuple, overrides: dict) -> tuple[bool, str | None, bool]:
    if doc_id not in overrides:
        return decision
    if overrides[doc_id] == "drop":
        return False, "review_override_drop", False
    return True, None, False


COMPLETENESS = Path(__file__).resolve().parent / "data" / "completeness.yaml"


@lru_cache(maxsize=1)
def completeness_table() -> dict:
    return yaml.safe_load(COMPLETENESS.read_text(encoding="utf-8"))["expected"]


def _present(resource: dict, spec: str) -> bool:
    return any(resource.get(f) not in (None, "", [], {}) for f in spec.split("|"))


def _before(a: str, b: str) -> bool:
    """Is FHIR dateTime ``a`` strictly before ``b``? Offsets count (a DST change is not time travel)."""
    import datetime as dt

    try:
        da, db = dt.datetime.fromisoformat(a.replace("Z", "+00:00")), dt.datetime.fromisoformat(b.replace("Z", "+00:00"))
        if (da.tzinfo is None) != (db.tzinfo is None):
            da, db = da.replace(tzinfo=None), db.replace(tzinfo=None)
        return da < db
    except ValueError:
        return len(a) >= 10 and len(b) >= 10 and a[:10] < b[:10]


def _period_inverted(node) -> int:
    count = 0
    stack = [node]
    while stack:
        n = stack.pop()
        if isinstance(n, dict):
            start, end = n.get("start"), n.get("end")
            if isinstance(start, str) and isinstance(end, str) and _before(end, start):
                count += 1
            stack.extend(n.values())
        elif isinstance(n, list):
            stack.extend(n)
    return count


def record_signals(resources: list[dict], observations: list[dict] | None = None,
                   coding_stats: dict | None = None) -> dict:
    """Record-level signals for one patient: completeness, code/unit validity, plausibility, timeliness."""
    table = completeness_table()
    scores = []
    before_birth = 0
    birth = next((r.get("birthDate") for r in resources if r.get("resourceType") == "Patient"), None)
    for r in resources:
        expected = table.get(r.get("resourceType"))
        if expected:
            scores.append(sum(_present(r, f) for f in expected) / len(expected))
        if birth and r.get("resourceType") != "Patient":
            for key in ("effectiveDateTime", "onsetDateTime", "authoredOn", "performedDateTime", "recordedDate"):
                v = r.get(key)
                if isinstance(v, str) and len(v) >= 10 and len(str(birth)) >= 10 and v[:10] < str(birth)[:10]:
                    before_birth += 1
    obs = observations or []
    stats = coding_stats or {}
    return {
        "record_completeness": round(sum(scores) / len(scores), 4) if scores else None,
        "invalid_codes": int(sum(v for k, v in stats.items() if k.endswith(".invalid"))),
        "invalid_units": sum(1 for o in obs if o.get("unit") and not o.get("ucum_valid")),
        "implausible_values": sum(1 for o in obs if "implausible" in (o.get("flags") or [])),
        "timeliness_flags": sum(_period_inverted(r) for r in resources) + before_birth,
    }
