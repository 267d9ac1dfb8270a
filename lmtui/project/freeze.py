"""Freeze a project for a run: apply overrides, make paths absolute, write it back as TOML."""

from __future__ import annotations

import copy
import sys
from dataclasses import asdict

import tomli_w

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

from lmtui.errors import ProjectError
from lmtui.project.paths import cache_dir, output_dir, resolve_path
from lmtui.project.schema import SECTIONS, Project


def apply_overrides(raw: dict, overrides: list[str], file: str) -> dict:
    """A copy of ``raw`` with ``section.key=value`` overrides applied.

    The value is read as a TOML value (``100``, ``true``, ``"text"``, ``[1, 2]``); what is not
    one is taken as a string (``abc``), which the loader then checks like any value.

    Raises:
        ProjectError: an override is not of the form ``section.key=value``, or its path runs
            through a key that is not a table.
    """
    out = copy.deepcopy(raw)
    for item in overrides:
        name, sep, value = item.partition("=")
        parts = name.strip().split(".")
        if not sep or len(parts) < 2 or not all(parts):
            raise ProjectError(f"override {item!r} is not section.key=value", file=file,
                               hint="write e.g. training.max_steps=100")
        try:
            parsed = tomllib.loads(f"v = {value.strip()}")["v"]
        except tomllib.TOMLDecodeError:
            parsed = value.strip()
        table = out
        for i, part in enumerate(parts[:-1]):
            table = table.setdefault(part, {})
            if not isinstance(table, dict):
                raise ProjectError(f"override {item!r}: {'.'.join(parts[:i + 1])} is not a table", file=file,
                                   hint="set a key of a section, e.g. training.max_steps=100")
        table[parts[-1]] = parsed
    return out


def toml_value(value) -> str:
    """``value`` as one line of TOML (for ``key = value`` lines of the edit form and templates).

    Scalars and keys are written by tomli-w; lists and tables are written inline (tomli-w would
    spread them over lines). Floats keep their sign when not finite (``-inf``).

    Raises:
        TypeError: ``value`` is not a str, int, float, bool, list, tuple or dict (None included).
    """
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        if not value:
            return "{}"
        return "{ " + ", ".join(f"{_toml_key(k)} = {toml_value(v)}" for k, v in value.items()) + " }"
    return tomli_w.dumps({"v": value}).removeprefix("v = ").removesuffix("\n")


def _toml_key(name: str) -> str:
    """``name`` as a TOML key: bare when it can be, else quoted (by tomli-w)."""
    return tomli_w.dumps({name: 0}).removesuffix(" = 0\n")


def dump_toml(tables: dict[str, dict]) -> str:
    """TOML text for ``{section: {key: value}}``, written by tomli-w: any key (quoted when it is
    not a bare key, e.g. ``[eval.tasks."glue sst2"]``), nested tables, non-finite floats.

    Raises:
        TypeError: a value TOML cannot hold (None included).
    """
    return tomli_w.dumps(tables)


def resolved_tables(project: Project) -> dict[str, dict]:
    """Every section with every key (defaults filled in) and paths made absolute.

    ``init_from`` and ``[distill] teacher`` are written as they are in ``project`` (a path is
    made absolute): the launcher freezes a project whose references it resolved to model
    folders first (:func:`lmtui.runs.modelref.resolved_references`), since a run id or project
    name would name another model once a newer run finishes."""
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
    if m["init_from"] and _is_path(m["init_from"]):
        m["init_from"] = resolve_path(project, m["init_from"])
    d = tables["distill"]
    if d["teacher"] and _is_path(d["teacher"]):
        d["teacher"] = resolve_path(project, d["teacher"])
    return tables


def _is_path(ref: str) -> bool:
    """Whether a model reference is written as a path (absolute, ``~``, ``./``, ``../``), not a run
    id, project name or Hub id, which only the resolver above project/ can tell apart."""
    return ref.startswith(("/", "~", "./", "../", "{"))


def frozen_text(project: Project) -> str:
    """The project as a self-contained TOML file for a run directory."""
    header = f"# Frozen by lmtui from {project.path or '<memory>'}; edit the source project, not this file.\n"
    return header + dump_toml(resolved_tables(project))
