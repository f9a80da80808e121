"""The task-builder plug-in contract and its small public helper API.

Write a builder in your own module and list the module under ``tasks.builders`` in the build
config; a matrix task (``pipelines/configs/matrix.yaml``, or your ``matrix:`` file) runs it with
``builder: <name>``::

    from transforms.tasks.plugin import chat, new_example, register_builder

    @register_builder("allergy_list")
    def allergy_list(record, task, ctx):
        allergies = sorted(r["code"]["text"] for r in record["resources"]
                           if r.get("resourceType") == "AllergyIntolerance" and (r.get("code") or {}).get("text"))
        if allergies:
            ex = new_example(record, task, key=["allergies"], language="en", set="sft")
            ex["messages"] = chat("List this patient's allergies.", "\\n".join(allergies))
            yield ex

The contract:

* ``fn(record, task, ctx)`` returns or yields example dicts. ``record`` is one de-identified, coded
  patient record (``docs/ARCHITECTURE.md``, "De-identified patient record": ``patient_key``,
  ``resources`` (FHIR R4 dicts), ``documents``, ``images``, ``disease_codes``); ``task`` is the
  matrix task (``id``, ``disease``, ``scenario``, ``sets``, ``annotation_level``, ``quota``,
  ``languages``, the matched ``disease_ids``/``disease_names`` and every disease's ICD-10
  ``disease_patterns``); ``ctx`` is a dict reserved for future use.
* Each example comes from ``new_example`` (a deterministic id from the task, the patient and
  ``key``) and names the ICD-10 codes its answer is about in ``answer_codes``: tasks are cell-true,
  so the example's ``disease_ids``/``disease_codes`` are derived from them, and a disease-specific
  task (``disease: <id>``, not ``"*"``) keeps only the examples whose ``answer_codes`` fall under
  its disease (an example without them counts for no disease). It gets either ``messages`` (``set`` ``sft`` or ``evaluation``; use ``chat``) or
  ``prompt``/``chosen``/``rejected`` strings and a ``corruption`` kind (``set`` ``preference``; the
  writer turns them into TRL's conversational format). ``images`` holds ``{bytes, path}`` PNG
  structs from ``record["images"]``; an example with images lands in the ``*_multimodal`` table.
* Deterministic and side-effect free: same record -> same examples, no file or network access. The
  examples are sorted by id and cut to the task's ``quota.max`` per language.
* Errors: an exception is caught per builder call and counted as a reject (``rejected/``,
  ``error_kind`` ``builder_error:<builder>:<ExceptionType>``, the message withheld because it may
  quote the record); the patient's other builders still run and the console names the builder.
* At start-up every module in ``tasks.builders`` is imported and every builder the matrix names
  must be registered with a ``(record, task, ctx)`` signature, before anything is written; the
  source files of the registered builders are hashed into the config hash, so editing a builder
  invalidates ``--skip-unchanged``.
"""
from __future__ import annotations

import hashlib
import importlib
import inspect
from typing import Callable, Iterable

from transforms.tasks.registry import BUILDERS, register_builder

__all__ = ["register_builder", "new_example", "chat", "example_id", "BuilderError", "load_builders",
           "check_builders", "builders_fingerprint"]


class BuilderError(Exception):
    """A builder module or registration that cannot work (raised before any data is read)."""


def example_id(task_id: str, patient_key: str | None, *key: str) -> str:
    """The deterministic id of an example: ``x-`` + 24 hex digits of sha256(task, patient, key...)."""
    return "x-" + hashlib.sha256("\x1f".join([task_id, patient_key or "", *key]).encode()).hexdigest()[:24]


def new_example(record: dict, task: dict, *, key: Iterable[str], language: str, set: str,  # noqa: A002
                answer_codes: Iterable[str] = (), source_kind: str = "fhir", modality: str = "text") -> dict:
    """A new example of ``task`` for ``record``; ``key`` tells apart the examples of one patient;
    ``answer_codes`` are the ICD-10 codes the answer is about (they place the example in its cells)."""
    if set not in ("sft", "preference", "evaluation"):
        raise ValueError("set must be sft, preference or evaluation")
    return {"example_id": example_id(task["id"], record.get("patient_key"), *key), "set": set,
            "patient_key": record.get("patient_key"), "language": language, "source_kind": source_kind,
            "modality": modality, "answer_codes": sorted(_code_set(answer_codes)), "images": []}


def _code_set(codes: Iterable[str]) -> frozenset:
    if isinstance(codes, str):
        raise ValueError("answer_codes must be a list of ICD-10 codes, not one string")
    return frozenset(str(c) for c in codes)


def chat(prompt: str, answer: str, system: str | None = None) -> list[dict]:
    """A two-turn conversation (optionally after a system turn) in the ``messages`` format."""
    turns = [{"role": "system", "content": system}] if system else []
    return turns + [{"role": "user", "content": prompt}, {"role": "assistant", "content": answer}]


def load_builders(modules: list[str]) -> None:
    """Import the user's builder modules (which register their builders)."""
    for name in modules:
        try:
            importlib.import_module(name)
        except ModuleNotFoundError as exc:
            raise BuilderError(f"tasks.builders: cannot import '{name}' ({exc}); is it installed or on "
                               "PYTHONPATH?") from None
        except Exception as exc:  # noqa: BLE001 - any failure while importing user code
            first = str(exc).splitlines()[0][:160] if str(exc) else ""
            raise BuilderError(f"tasks.builders: importing '{name}' failed with {type(exc).__name__}"
                               f"{': ' + first if first else ''}") from None


def check_builders(task_builders: dict[str, str]) -> None:
    """Every builder the matrix names (task id -> builder name) is registered and takes (record, task, ctx)."""
    for task_id, name in sorted(task_builders.items()):
        fn: Callable | None = BUILDERS.get(name)
        if fn is None:
            raise BuilderError(f"matrix task '{task_id}' names builder '{name}', which no module registers "
                               "(add its module to tasks.builders)")
        try:
            inspect.signature(fn).bind(None, None, None)
        except TypeError:
            raise BuilderError(f"builder '{name}' must take (record, task, ctx)") from None
        except ValueError:
            continue  # no signature to inspect (a builtin or C callable)


def builders_fingerprint() -> str:
    """sha256 over the source files of every registered builder (name, module, file content)."""
    h = hashlib.sha256()
    for name in sorted(BUILDERS):
        fn = BUILDERS[name]
        h.update(f"{name}\x1f{getattr(fn, '__module__', '')}\x1e".encode())
        try:
            path = inspect.getsourcefile(fn)
        except TypeError:
            path = None
        if path:
            with open(path, "rb") as fh:
                h.update(hashlib.sha256(fh.read()).digest())
    return h.hexdigest()
