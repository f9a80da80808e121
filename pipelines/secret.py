"""The run secret that keys pseudonyms and date shifts.

Read from ``MEDCORPUS_SECRET`` or ``--secret-file``; never written to outputs, logs or the
manifest (only a short fingerprint). The bundled sample uses a published demo secret and the
manifest marks the run ``"demo": true``.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from pipelines.errors import UserError
from transforms.deid.keys import fingerprint

ENV_VAR = "MEDCORPUS_SECRET"
#: Public on purpose: it only ever keys the synthetic bundled sample.
DEMO_SECRET = b"medcorpus-demo-secret-for-the-bundled-synthetic-sample-only"
MIN_LENGTH = 16

HOW_TO = (f"set {ENV_VAR} (at least {MIN_LENGTH} characters, e.g. `export {ENV_VAR}=$(openssl rand -hex 32)`) "
          "or pass --secret-file FILE")


@dataclass(frozen=True)
class Secret:
    value: bytes
    origin: str  # "env" | "file" | "demo"

    @property
    def demo(self) -> bool:
        return self.origin == "demo"

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.value)

    def __repr__(self) -> str:  # never print the value
        return f"Secret(origin={self.origin!r}, fingerprint={self.fingerprint!r})"


def resolve_secret(secret_file: str | None, *, allow_demo: bool) -> Secret:
    if secret_file:
        try:
            value = Path(secret_file).read_bytes().strip()
        except OSError:
            raise UserError(f"cannot read --secret-file {secret_file}") from None
        origin = "file"
    elif os.environ.get(ENV_VAR):
        value = os.environ[ENV_VAR].encode("utf-8").strip()
        origin = "env"
    elif allow_demo:
        return Secret(DEMO_SECRET, "demo")
    else:
        raise UserError(f"no secret for pseudonyms and date shifts: {HOW_TO}")
    if len(value) < MIN_LENGTH:
        raise UserError(f"the secret is too short (minimum {MIN_LENGTH} characters): {HOW_TO}")
    return Secret(value, origin)
