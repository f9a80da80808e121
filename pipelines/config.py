"""Build configuration: YAML defaults shipped in the package, overridden by the user's file.

Unknown keys are errors that list the valid keys, so a typo never silently changes a policy.
"""
from __future__ import annotations

import copy
import hashlib
from pathlib import Path
from typing import Any

import orjson
import yaml

from pipelines.errors import UserError

CONFIG_DIR = Path(__file__).resolve().parent / "configs"
DEFAULT_CONFIG = CONFIG_DIR / "default.yaml"

# Sections whose content is free-form (lists or user tables), not checked key by key.
_FREE_FORM = {"decontaminate_against", "terminology.maps", "tasks.builders", "tasks.labels", "link.identifier_systems",
              "split.stratify_by", "review.overrides", "deid_policy", "matrix", "quality", "leak_gate.patterns",
              "leak_gate.canaries"}


def load_yaml(path: Path) -> Any:
    try:
        with open(path, "rb") as fh:
            return yaml.safe_load(fh)
    except FileNotFoundError:
        raise UserError(f"config file not found: {path}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark else ""
        raise UserError(f"config file is not valid YAML: {path}{where}") from None


def _merge(base: dict, override: dict, prefix: str = "") -> dict:
    out = copy.deepcopy(base)
    for key, value in override.items():
        dotted = f"{prefix}{key}"
        if key not in base:
            valid = ", ".join(sorted(base))
            where = f" in section '{prefix[:-1]}'" if prefix else ""
            raise UserError(f"unknown config key '{dotted}'{where}; valid keys: {valid}")
        if isinstance(base[key], dict) and isinstance(value, dict) and dotted not in _FREE_FORM:
            out[key] = _merge(base[key], value, dotted + ".")
        else:
            out[key] = copy.deepcopy(value)
    return out


def resolve_path(value: str, relative_to: Path) -> Path:
    if value.startswith("builtin:"):
        return CONFIG_DIR / value[len("builtin:"):]
    p = Path(value).expanduser()
    return p if p.is_absolute() else (relative_to / p)


def load_config(path: str | None = None) -> dict:
    """Return the effective configuration (defaults merged with ``path``)."""
    config = load_yaml(DEFAULT_CONFIG)
    base_dir = CONFIG_DIR
    if path:
        user = load_yaml(Path(path))
        if user is None:
            user = {}
        if not isinstance(user, dict):
            raise UserError(f"config file must hold a mapping of keys: {path}")
        config = _merge(config, user)
        base_dir = Path(path).resolve().parent
    config["_base_dir"] = str(base_dir)
    config["decontaminate_against"] = [str(resolve_path(str(v), base_dir)) if "://" not in str(v) else v
                                       for v in config.get("decontaminate_against") or []]
    for section, key in (("tasks", "labels"), ("terminology", "maps"), ("terminology", "display_tables")):
        config[section][key] = [str(resolve_path(str(v), base_dir)) if "://" not in str(v) else v
                                for v in config[section].get(key) or []]
    from transforms.io.limits import Limits

    try:
        Limits.from_config(config)  # a bad limit fails here, on the driver, not on every worker
    except ValueError as exc:
        raise UserError(f"config {exc}") from None
    for key in ("deid_policy", "matrix", "quality"):
        config[key] = str(resolve_path(str(config[key]), base_dir))
        if not Path(config[key]).is_file():
            raise UserError(f"config '{key}' names a file that does not exist: {config[key]}")
    overrides = (config.get("review") or {}).get("overrides")
    if overrides and "://" not in str(overrides):
        config["review"]["overrides"] = str(resolve_path(str(overrides), base_dir))
    from pipelines.config_schema import check_config

    check_config(config)
    return config


def load_section_file(config: dict, key: str) -> dict:
    data = load_yaml(Path(config[key]))
    if not isinstance(data, dict):
        raise UserError(f"{key} file must hold a mapping: {config[key]}")
    return data


def config_hash(config: dict, extra: dict | None = None) -> str:
    """sha256 over the effective config and the content of the files it names: policies, the
    user's terminology maps and display tables, labels, review overrides, benchmarks (local files;
    a remote path counts by its name)."""
    h = hashlib.sha256()
    public = {k: v for k, v in config.items() if not k.startswith("_")}
    for key in ("deid_policy", "matrix", "quality"):
        public[key] = Path(config[key]).name
        h.update(Path(config[key]).read_bytes())
    named = [*((config.get("terminology") or {}).get("maps") or []),
             *((config.get("terminology") or {}).get("display_tables") or []),
             *((config.get("tasks") or {}).get("labels") or []),
             *([(config.get("review") or {}).get("overrides")] if (config.get("review") or {}).get("overrides")
               else []),
             *(config.get("decontaminate_against") or [])]
    for f in named:
        if "://" not in str(f) and Path(f).is_file():
            h.update(hashlib.sha256(Path(f).read_bytes()).digest())
    h.update(orjson.dumps(public, option=orjson.OPT_SORT_KEYS))
    if extra:
        h.update(orjson.dumps(extra, option=orjson.OPT_SORT_KEYS))
    return h.hexdigest()
