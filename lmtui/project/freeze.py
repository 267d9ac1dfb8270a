"""Freeze a project for a run: apply overrides, make paths absolute, write it back as TOML."""

from __future__ import annotations

import copy
import json
import math
from dataclasses import asdict

from lmtui.errors import ProjectError
from lmtui.project.paths import cache_dir, output_dir, resolve_path
from lmtui.project.schema import SECTIONS, Project


def apply_overrides(raw: dict, overrides: list[str], file: str) -> dict:
    """A copy of ``raw`` with ``section.key=value`` overrides applied (value parsed as TOML).

    Raises:
        ProjectError: an override is not of the form ``section.key=value``.
    """
    import sys

    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover
        import tomli as tomllib
    out = copy.deepcopy(raw)
    for item in overrides:
        name, sep, value = item.partition("=")
        parts = name.strip().split(".")
        if not sep or len(parts) < 2:
            raise ProjectError(f"override {item!r} is not section.key=value", file=file,
                               hint="write e.g. training.max_steps=100")
        try:
            parsed = tomllib.loads(f"v = {value.strip()}")["v"]
        except tomllib.TOMLDecodeError:
            parsed = value.strip()
        table = out
        for part in parts[:-1]:
            table = table.setdefault(part, {})
        table[parts[-1]] = parsed
    return out


def toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int,)):
        return str(value)
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else ("inf" if value > 0 else "nan")
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {toml_value(v)}" for k, v in value.items()) + " }"
    raise TypeError(f"cannot write {type(value).__name__} as TOML")


def dump_toml(tables: dict[str, dict]) -> str:
    """TOML text for ``{section: {key: value}}`` (scalars, lists and inline tables)."""
    lines = []
    for section, values in tables.items():
        lines.append(f"[{section}]")
        lines.extend(f"{k} = {toml_value(v)}" for k, v in values.items())
        lines.append("")
    return "\n".join(lines)


def resolved_tables(project: Project) -> dict[str, dict]:
    """Every section with every key (defaults filled in) and paths made absolute."""
    tables = {}
    for name in SECTIONS:
        section = project.section(name)
        tables[name] = section.resolved(project) if hasattr(section, "resolved") else asdict(section)
    p, c, t, m = tables["project"], tables["corpus"], tables["tokenizer"], tables["model"]
    p["output_dir"] = output_dir(project)
    p["cache_dir"] = cache_dir(project)
    c["train_files"] = [resolve_path(project, f) for f in c["train_files"]]
    c["validation_files"] = [resolve_path(project, f) for f in c["validation_files"]]
    if t["path"]:
        t["path"] = resolve_path(project, t["path"])
    if m["init_from"]:
        m["init_from"] = resolve_path(project, m["init_from"])
    return tables


def frozen_text(project: Project) -> str:
    """The project as a self-contained TOML file for a run directory."""
    header = f"# Frozen by lmtui from {project.path or '<memory>'}; edit the source project, not this file.\n"
    return header + dump_toml(resolved_tables(project))
