"""Find the resources that make a patient's structural de-identification fail, so that only they
are rejected and the rest of the patient goes on (a bad resource inside a good bundle is one reject)."""
from __future__ import annotations

from typing import Callable


def deidentify_isolating(resources: list[dict], deidentify: Callable[[list[dict]], tuple[list[dict], dict]]):
    """``(outputs, counts, kept indices, [(index, exception name)])``.

    ``deidentify`` is run on the whole list; when it raises, each resource is tried on its own, the
    ones that fail alone are set aside and the rest is de-identified together again (so references,
    the age cap and surrogates still see the whole patient). When no single resource fails alone,
    or the rest still fails, the first exception propagates and the caller rejects the patient.
    """
    try:
        outputs, counts = deidentify(resources)
        return outputs, counts, list(range(len(resources))), []
    except Exception as exc:  # noqa: BLE001 - re-raised below when it cannot be isolated
        first = exc
    bad = []
    for i, resource in enumerate(resources):
        try:
            deidentify([resource])
        except Exception as exc:  # noqa: BLE001
            bad.append((i, type(exc).__name__))
    if not bad:
        raise first
    failed = {i for i, _ in bad}
    kept = [i for i in range(len(resources)) if i not in failed]
    try:
        outputs, counts = deidentify([resources[i] for i in kept]) if kept else ([], {})
    except Exception:  # noqa: BLE001
        raise first from None
    return outputs, counts, kept, bad


def first_that_works(*candidates):
    """The result of the first candidate (a callable) that does not raise; None when all do.

    Used for the known PHI of a record: a Patient resource too malformed to read it from (a string
    identifier, an object name) must not fail the whole record; the Patient itself is then rejected
    by the structural walk and the rest of the patient's notes still go through the text
    de-identifier (with the PHI of their DICOM headers when there are any)."""
    for candidate in candidates:
        try:
            return candidate()
        except Exception:  # noqa: BLE001 - malformed shapes
            continue
    return None
