"""Read a project file, validate it against the schema, and report errors with file, key and line.

Validation happens in two passes: each key against its section's declared type, choices and
range, the keys of the fine-tuning task tables included (:func:`parse_project`,
:func:`build_project`), then the rules that relate keys to each other (model shape, batch
divisibility, vocabulary size, corpus presence: :func:`check_consistency`). Both need nothing
but the file: no file it names is looked at, no model, package or device; those checks are
the check layer's (:mod:`lmtui.checks`), which runs these rules first."""

from __future__ import annotations

import datetime
import difflib
import math
import os
import re
import sys
from dataclasses import fields
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

from lmtui.errors import ProjectError
from lmtui.numbers import range_problem
from lmtui.project import presets
from lmtui.project.lines import line_of
from lmtui.project.recipes import apply_recipe
from lmtui.project.schema import SECTIONS, Project
from lmtui.project.sections.eval import check_task_tables
from lmtui.project.sources import check_source_tables


def _suggest(name: str, options) -> str | None:
    match = difflib.get_close_matches(name, list(options), n=1, cutoff=0.6)
    return match[0] if match else None


def _type_name(value: Any) -> str:
    return {bool: "a boolean", int: "an integer", float: "a number", str: "a string",
            list: "a list", dict: "a table"}.get(type(value), type(value).__name__)


def _coerce(value: Any, annotation: str, where: dict) -> Any:
    """Check ``value`` against the field annotation; return the normalised value or raise."""
    if annotation == "list[int]":  # e.g. [distill] layers
        if isinstance(value, list) and all(isinstance(v, int) and not isinstance(v, bool) for v in value):
            return value
        raise ProjectError(f"expected a list of integers, got {value!r}", **where, hint="write e.g. [0, 2, 4]")
    expected = {"str": str, "int": int, "float": float, "bool": bool, "list": list, "dict": dict}[annotation]
    if expected is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if expected is int and isinstance(value, bool):
        raise ProjectError(f"expected an integer, got {value!r}", **where, hint="write a whole number, e.g. 128")
    if expected is list and isinstance(value, str):
        return [value]
    if expected is list and isinstance(value, list):
        if not all(isinstance(v, str) for v in value):
            raise ProjectError("expected a list of strings", **where, hint='write e.g. ["data/train.txt"]')
        return value
    if expected is float and isinstance(value, float) and not math.isfinite(value):
        raise ProjectError(f"expected a finite number, got {value!r}", **where,
                           hint="write a number such as 5e-4 (nan and inf are not values a run can use)")
    if not isinstance(value, expected):
        article = {"str": "a string", "int": "an integer", "float": "a number", "bool": "true or false",
                   "list": "a list of strings", "dict": "a table"}[annotation]
        raise ProjectError(f"expected {article}, got {_type_name(value)} ({value!r})", **where,
                           hint=f"write {article}")
    return value


def _build_section(name: str, cls: type, table: Any, text: str, file: str):
    if not isinstance(table, dict):
        raise ProjectError(f"[{name}] must be a table", file=file, key=name, line=line_of(text, name),
                           hint=f"write it as a [{name}] section")
    known = {f.name: f for f in fields(cls)}
    for k in table:
        if k not in known:
            guess = _suggest(k, known)
            hint = f"did you mean '{guess}'?" if guess else f"known keys: {', '.join(known)}"
            raise ProjectError(f"unknown key '{k}'", file=file, key=f"{name}.{k}", line=line_of(text, name, k),
                               hint=hint)
    values = {}
    for k, v in table.items():
        f = known[k]
        where = {"file": file, "key": f"{name}.{k}", "line": line_of(text, name, k)}
        v = _coerce(v, f.type if isinstance(f.type, str) else f.type.__name__, where)
        choices, lo, hi = f.metadata.get("choices"), f.metadata.get("minimum"), f.metadata.get("maximum")
        if choices and v not in choices:
            guess = _suggest(str(v), [str(c) for c in choices])
            hint = (f"did you mean '{guess}'? " if guess else "") + f"choose one of: {', '.join(choices)}"
            raise ProjectError(f"unknown value {v!r}", **where, hint=hint)
        if (lo is not None or hi is not None) and range_problem(v, lo, hi):  # finite first (lmtui.numbers)
            hint = f"use a value >= {lo}" if lo is not None and not (hi is not None and v > hi) else f"use a value <= {hi}"
            if lo is not None and hi is not None:
                hint = f"use a value from {lo} to {hi}"
            raise ProjectError(range_problem(v, lo, hi), **where, hint=hint)
        values[k] = v
    return cls(**values)


def parse_project(text: str, file: str, path: str | None = None) -> Project:
    """Validate TOML ``text`` key by key and build a :class:`Project`.

    Args:
        text: the TOML source.
        file: the name used in error messages.
        path: the project file's absolute path (relative paths in it resolve against its folder).

    Raises:
        ProjectError: syntax error, or any problem of :func:`build_project`.
    """
    return build_project(read_tables(text, file), text, file, path)


def read_tables(text: str, file: str) -> dict:
    """The tables of TOML ``text``, not yet validated (the edit form shows them as they are).

    Raises:
        ProjectError: a TOML syntax error, with its line.
    """
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        m = re.search(r"line (\d+)", str(exc))
        raise ProjectError(f"TOML syntax error: {exc}", file=file, line=int(m.group(1)) if m else None,
                           hint="fix the syntax at that line (strings need quotes, tables need [brackets])") from None


def build_project(raw: dict, text: str, file: str, path: str | None = None) -> Project:
    """Validate the parsed tables ``raw`` key by key and build a :class:`Project`.

    Args:
        raw: the tables, as read from ``text`` (or with ``--set`` overrides applied).
        text: the TOML source, for line numbers in messages.
        file: the name used in error messages.
        path: the project file's absolute path.

    Raises:
        ProjectError: unknown section or key (with a did-you-mean), wrong type, value outside its
            choices or range, a fine-tuning task table with an unknown or mistyped key, or a
            project name unusable as a folder name.
    """
    for name in raw:
        if name not in SECTIONS:
            guess = _suggest(name, SECTIONS)
            hint = f"did you mean [{guess}]?" if guess else f"known sections: {', '.join(SECTIONS)}"
            raise ProjectError(f"unknown section [{name}]", file=file, key=name, line=line_of(text, name), hint=hint)
    built = {name: _build_section(name, cls, raw.get(name, {}), text, file) for name, cls in SECTIONS.items()}
    check_task_tables(built["eval"], file=file, text=text)
    built["training"] = apply_recipe(built["training"], raw.get("training", {}))  # written keys win
    project = Project(path=path, raw=raw, **built)
    if not project.project.name:
        project.project.name = Path(file).stem
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.\-]*", project.project.name):
        raise ProjectError(f"name {project.project.name!r} is not usable as a folder name", file=file,
                           key="project.name", line=line_of(text, "project", "name"),
                           hint="use letters, digits, '-', '_' and '.' only")
    return project


def load_project(path: str | os.PathLike, *, check: bool = True) -> Project:
    """Read, parse and (with ``check``) consistency-check the project file at ``path``.

    Raises:
        ProjectError: the file is missing or unreadable, or any validation rule fails.
    """
    p = Path(path)
    if not p.is_file():
        raise ProjectError("project file not found" if not p.exists() else "not a file", file=str(path),
                           hint="give the path of a .toml project file (create one with `lmtui new NAME`)")
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ProjectError(f"cannot read: {exc}", file=str(path), hint="save it as UTF-8 text") from None
    project = parse_project(text, str(path), str(p.resolve()))
    if check:
        check_consistency(project, text)
    return project


def project_text(project: Project) -> str:
    """The source text of the project file, or an empty string for an in-memory project."""
    if project.path and Path(project.path).is_file():
        return Path(project.path).read_text(encoding="utf-8")
    return ""


# Tokens per sequence of each architecture's standard position table (max_position_embeddings of
# bert-base-uncased, roberta-base less its 2 offset positions, distilbert-base-uncased, and
# answerdotai/ModernBERT-base): a longer max_seq_length needs max_position_embeddings set on purpose.
STANDARD_POSITIONS = {"bert": 512, "roberta": 512, "distilbert": 512, "modernbert": 8192}


def _json_value(value: Any) -> bool:
    """Whether ``value`` is a finite JSON value (config.json holds no TOML dates, nan or inf)."""
    if isinstance(value, (datetime.date, datetime.time)):
        return False
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, list):
        return all(_json_value(v) for v in value)
    if isinstance(value, dict):
        return all(_json_value(v) for v in value.values())
    return True


def _check_overrides(project: Project, text: str, file: str) -> None:
    """``config_overrides`` values a config.json can hold, and sizes (layers, hidden size, heads,
    feed-forward size, positions) that are whole numbers of at least 1, checked before the shape
    arithmetic divides by them. Their types against the architecture's config fields are
    checked by :func:`lmtui.train.checks.check_override_types`."""
    reverse = {v: k for k, v in presets.DISTILBERT_NAMES.items()}
    sizes = ("num_hidden_layers", "hidden_size", "num_attention_heads", "intermediate_size", "max_position_embeddings")
    for k, v in (project.model.config_overrides or {}).items():
        where = {"file": file, "key": f"model.config_overrides.{k}",
                 "line": line_of(text, "model.config_overrides", k) or line_of(text, "model", "config_overrides")}
        if not _json_value(v):
            raise ProjectError(f"{v!r} is not a value a model config holds", **where,
                               hint="write a number, a string, true/false or a list of them (config.json is JSON)")
        if reverse.get(k, k) in sizes and (isinstance(v, bool) or not isinstance(v, int) or v < 1):
            raise ProjectError(f"{k} must be a whole number of at least 1, got {v!r}", **where,
                               hint=f"write a positive whole number, or remove {k} to keep the "
                                    f"{project.model.size} preset's value")


def _check_shape(project: Project, fail) -> None:
    """The new model's shape (preset, overrides, derived positions) holds together, and a
    sequence longer than the architecture's standard positions (:data:`STANDARD_POSITIONS`)
    is asked for only with ``max_position_embeddings`` set."""
    shape = presets.resolve_shape(project.model, project.training.max_seq_length)
    if shape["hidden_size"] % shape["num_attention_heads"]:
        fail(f"hidden size {shape['hidden_size']} is not divisible by the {shape['num_attention_heads']} "
             "attention heads", "model", "config_overrides",
             "choose num_attention_heads that divides hidden_size (head size 64 is standard)")
    positions = shape["max_position_embeddings"] - presets.position_offset(project.model.architecture)
    if project.training.max_seq_length > positions:
        fail(f"max_seq_length {project.training.max_seq_length} is longer than the model's "
             f"{positions} positions (max_position_embeddings {shape['max_position_embeddings']})",
             "training", "max_seq_length",
             "lower max_seq_length or remove max_position_embeddings from config_overrides (it is derived)")
    standard = STANDARD_POSITIONS.get(project.model.architecture)
    if standard and project.training.max_seq_length > standard and \
            "max_position_embeddings" not in (project.model.config_overrides or {}):
        fail(f"max_seq_length {project.training.max_seq_length} is longer than the {standard} positions of a "
             f"standard {project.model.architecture} model", "training", "max_seq_length",
             f"use max_seq_length <= {standard}, or set config_overrides max_position_embeddings to train "
             "longer positions on purpose (attention memory grows with its square)")


def check_consistency(project: Project, text: str | None = None) -> None:
    """Check the rules that relate keys to each other, from the file alone, before anything runs
    (the check layer, :mod:`lmtui.checks`, runs them first; it looks at the files, models and
    machine after).

    Raises:
        ProjectError: no corpus, or a bad mixture of sources
            (:func:`lmtui.project.sources.check_source_tables`); model shape inconsistent
            (hidden size not divisible by heads, sequence longer than the positions or than the
            architecture's standard positions), a ``config_overrides`` value no config.json holds
            or a size below 1 (:func:`_check_overrides`); vocabulary too small for the special
            tokens; batch size not divisible by micro-batch times processes; ``init_from`` beside
            ``[distill] teacher``; the three distillation weights 0; a probe without a mask or a
            task table that cannot work (:func:`lmtui.project.sections.eval.validate`); an
            unknown tracker name.
    """
    text = project_text(project) if text is None else text
    file = project.path or "<project>"

    def fail(message, section, key, hint):
        raise ProjectError(message, file=file, key=f"{section}.{key}", line=line_of(text, section, key), hint=hint)

    check_source_tables(project, text)

    t = project.tokenizer
    if not t.path and not project.model.init_from:  # with init_from no tokenizer is trained
        need = presets.minimum_vocab_size(t.kind)
        if t.vocab_size < need:
            fail(f"vocab_size {t.vocab_size} is too small for {t.kind}: the special tokens"
                 f"{' and the 256 byte symbols' if t.kind == 'byte_level_bpe' else ''} alone need {need}",
                 "tokenizer", "vocab_size", f"use vocab_size >= {need} (typical: 8000 to 50000)")
    if project.distill.teacher and project.model.init_from:
        fail("init_from and [distill] teacher both initialise the model: a distillation's student starts from "
             "the teacher's layers or at random", "model", "init_from",
             'remove init_from, and choose [distill] init = "teacher_layers" or "random"')
    if not project.model.init_from:  # else the loaded model's config.json decides (lmtui.train.init_from)
        _check_overrides(project, text, file)
        _check_shape(project, fail)

    tr, hw = project.training, project.hardware
    world = hw.num_processes * hw.num_machines
    unit = tr.micro_batch_size * world
    if tr.batch_size % unit:
        lower = max(unit, tr.batch_size // unit * unit)
        fail(f"batch_size {tr.batch_size} is not divisible by micro_batch_size {tr.micro_batch_size} x "
             f"{world} process(es)", "training", "batch_size",
             f"use a multiple of {unit}, e.g. {lower} or {lower + unit}")
    if tr.mask_replace_prob + tr.random_replace_prob > 1.0:
        fail("mask_replace_prob + random_replace_prob exceeds 1", "training", "random_replace_prob",
             "keep their sum at most 1 (BERT: 0.8 and 0.1)")
    if tr.packing == "document" and tr.line_by_line:
        fail("packing = \"document\" applies to packed blocks, but line_by_line = true", "training", "packing",
             "line_by_line already keeps one document per sequence: drop packing, or set line_by_line = false")
    if tr.packing == "document" and project.distill.teacher:
        fail("packing = \"document\" is not supported with [distill]: the teacher and the student would attend "
             "across documents", "training", "packing", "use packing = \"concat\" for a distillation")
    if tr.max_steps == 0 and tr.epochs <= 0:
        fail("neither max_steps nor epochs is set", "training", "max_steps", "set max_steps, or epochs > 0")
    d = project.distill
    if d.teacher and not (d.alpha_ce or d.alpha_mlm or d.alpha_cos):
        fail("alpha_ce, alpha_mlm and alpha_cos are all 0: nothing would train", "distill", "alpha_ce",
             "keep at least one weight above 0 (DistilBERT: alpha_ce = 5, alpha_mlm = 2, alpha_cos = 1)")
    project.eval.check(project, text)
    project.tracking.check(project, text)
