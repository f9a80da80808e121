"""The run secret that keys pseudonyms and date shifts.

Read from ``MEDCORPUS_SECRET`` or ``--secret-file``; never written to outputs, logs or the
manifest (only a short fingerprint). The bundled sample uses a published demo secret and the
manifest marks the run ``"demo": true``.

Nor is it written into the pipeline graph: the stages hold a :class:`SecretBytes`, which pickles as
a reference (environment variable or file, plus the fingerprint) instead of its value. A runner
stores and ships the pickled DoFns (Dataflow keeps them in the staging bucket and shows them through
its jobs API), so each worker reads the secret itself when it unpickles a stage, and checks it
against the driver's fingerprint: a worker with a different secret fails instead of writing
pseudonyms that do not join. On Dataflow and Flink, pass ``--secret-file`` with a path every worker
can read (``gs://...``, a mounted secret volume) or set ``MEDCORPUS_SECRET`` in the worker
environment.
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
#: zxcvbn's estimate of the guesses an attacker needs (log10); 10^14 is about 47 bits. Repeats
#: (``aaaaaaaaaaaaaaaa``), sequences (``1234567890123456``), keyboard walks and repeated dictionary
#: words score far below it; ``openssl rand -hex 32`` scores 32.
MIN_GUESSES_LOG10 = 14
#: zxcvbn's run time grows with the length; a longer secret is judged on its first characters
_ESTIMATE_CHARS = 64

HOW_TO = (f"set {ENV_VAR} (at least {MIN_LENGTH} characters, e.g. `export {ENV_VAR}=$(openssl rand -hex 32)`) "
          "or pass --secret-file FILE")


class SecretError(RuntimeError):
    """A worker cannot read the run secret, or reads a different one than the driver."""


class SecretBytes(bytes):
    """The secret's bytes; pickles as where to read it and its fingerprint, never as the value."""

    def __new__(cls, value: bytes, origin: str, ref: str | None = None):
        self = super().__new__(cls, value)
        self.origin, self.ref = origin, ref
        return self

    def __reduce__(self):
        if self.origin == "demo":  # published on purpose
            return (SecretBytes, (bytes(self), "demo", None))
        return (_read_on_worker, (self.origin, self.ref, fingerprint(self)))

    def __repr__(self) -> str:
        return f"<secret from {self.origin}, fingerprint {fingerprint(self)}>"

    __str__ = __repr__


def _read(origin: str, ref: str | None) -> bytes:
    if origin == "file":
        return _read_file(ref).strip()
    return os.environ.get(ref or ENV_VAR, "").encode("utf-8").strip()


def _read_file(path: str) -> bytes:
    if "://" in path:  # gs://, s3://, hdfs://: what distributed workers can read
        from apache_beam.io.filesystems import FileSystems

        with FileSystems.open(path) as f:
            return f.read()
    return Path(path).read_bytes()


def _read_on_worker(origin: str, ref: str | None, expected: str) -> SecretBytes:
    """Unpickling a stage on a worker: read the secret where the driver read it, check the fingerprint."""
    try:
        value = _read(origin, ref)
    except Exception:  # noqa: BLE001 - the path is named, the content never is
        raise SecretError(f"this worker cannot read the secret file {ref}; on Dataflow/Flink give --secret-file "
                          "a path every worker can read (gs://..., a mounted secret)") from None
    if not value:
        raise SecretError(f"{ENV_VAR} is not set on this worker; on Dataflow/Flink pass --secret-file with a path "
                          f"every worker can read (gs://..., a mounted secret) or set {ENV_VAR} in the worker "
                          "environment")
    if fingerprint(value) != expected:
        raise SecretError(f"this worker's secret (fingerprint {fingerprint(value)}) is not the driver's "
                          f"({expected}): every worker must use the same secret")
    return SecretBytes(value, origin, ref)


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


def resolve_secret(secret_file: str | None, *, allow_demo: bool, check_strength: bool = True) -> Secret:
    """The run secret from ``--secret-file`` or the environment (or the demo secret for the sample).

    ``check_strength`` is off only where the secret must match an existing build (``forget``).
    """
    if secret_file:
        if "://" not in secret_file:
            secret_file = str(Path(secret_file).resolve())  # workers read it again
        try:
            value = _read_file(secret_file).strip()
        except Exception:  # noqa: BLE001 - OSError locally, the filesystem's own error for gs:// etc.
            raise UserError(f"cannot read --secret-file {secret_file}") from None
        origin, ref = "file", secret_file
    elif os.environ.get(ENV_VAR):
        value = os.environ[ENV_VAR].encode("utf-8").strip()
        origin, ref = "env", ENV_VAR
    elif allow_demo:
        return Secret(SecretBytes(DEMO_SECRET, "demo"), "demo")
    else:
        raise UserError(f"no secret for pseudonyms and date shifts: {HOW_TO}")
    if check_strength:
        check_secret_strength(value, allow_demo=allow_demo)
    if value == DEMO_SECRET:  # the sample built with the demo secret given by hand is still a demo run
        return Secret(SecretBytes(DEMO_SECRET, "demo"), "demo")
    return Secret(SecretBytes(value, origin, ref), origin)


def secret_weakness(value: bytes) -> str | None:
    """Why ``value`` is too weak to key pseudonyms and date shifts, or None. Never quotes the value."""
    if len(value) < MIN_LENGTH:
        return f"the secret is too short (minimum {MIN_LENGTH} characters)"
    from zxcvbn import zxcvbn

    text = value.decode("utf-8", errors="replace")[:_ESTIMATE_CHARS]
    result = zxcvbn(text)
    if float(result["guesses_log10"]) < MIN_GUESSES_LOG10:
        patterns = sorted({m.get("pattern", "") for m in result.get("sequence") or []} - {"bruteforce", ""})
        how = f" (it is made of {', '.join(patterns)} patterns)" if patterns else ""
        return (f"the secret is too easy to guess: about 10^{float(result['guesses_log10']):.0f} guesses, "
                f"at least 10^{MIN_GUESSES_LOG10} are required{how}")
    return None


def check_secret_strength(value: bytes, *, allow_demo: bool) -> None:
    """Refuse the published demo secret for real inputs and weak secrets, in one line."""
    if value == DEMO_SECRET:
        if allow_demo:
            return
        raise UserError("the published demo secret keys only the bundled sample; real inputs need a secret of "
                        f"their own: {HOW_TO}")
    problem = secret_weakness(value)
    if problem:
        raise UserError(f"{problem}: {HOW_TO}")
