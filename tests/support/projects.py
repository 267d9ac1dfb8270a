"""One builder for the project files tests write: keyword changes on a base project.

A test names only what its case is about::

    write_project(tmp_path, "probe", {"training.max_steps": 5}, eval={"probes": ["a <mask> b"]})
    project_text({"corpus.train_files": ["corpus.jsonl"], "corpus.format": "jsonl"})

``changes`` (a dict, the positional argument) takes dotted keys (``"eval.tasks.my task.kind"``:
a key of a table holding spaces is one part, split on dots only); the keyword arguments take a
section each, as a table merged into the base (nested tables merged too). ``None`` removes a key
(or a whole section). The text is written by tomli-w, so lines come in a fixed order: a test
that needs a line number asks :func:`line_of_key` instead of counting.

:data:`BASE` is a tiny RoBERTa on the docstring prose of ``support.textdata`` (train and
validation files), 10 steps: a project every check passes.
"""

from __future__ import annotations

import copy
from pathlib import Path

import tomli_w
from support.textdata import DATA

BASE: dict = {
    "project": {"name": "demo", "output_dir": "runs"},
    "corpus": {"train_files": [f"{DATA}/prose/train.txt"], "validation_files": [f"{DATA}/prose/valid.txt"]},
    "tokenizer": {"vocab_size": 2000},
    "model": {"architecture": "roberta", "size": "tiny"},
    "training": {"max_seq_length": 64, "batch_size": 32, "micro_batch_size": 16, "max_steps": 10},
}


def _merge(into: dict, table: dict) -> None:
    for key, value in table.items():
        if value is None:
            into.pop(key, None)
        elif isinstance(value, dict) and isinstance(into.get(key), dict) and value:
            _merge(into[key], value)
        else:
            into[key] = copy.deepcopy(value)


def _set(tables: dict, dotted: str, value) -> None:
    *path, last = dotted.split(".")
    table = tables
    for part in path:
        table = table.setdefault(part, {})
    if value is None:
        table.pop(last, None)
    elif isinstance(value, dict) and isinstance(table.get(last), dict):
        _merge(table[last], value)
    else:
        table[last] = copy.deepcopy(value)


def project_tables(changes: dict | None = None, *, base: dict | None = None, **sections) -> dict:
    """The tables of :data:`BASE` (or ``base``) with ``changes`` (dotted keys) and ``sections``
    (a table per section, merged) applied; ``None`` removes."""
    tables = copy.deepcopy(BASE if base is None else base)
    for name, table in sections.items():
        if table is None:
            tables.pop(name, None)
        else:
            _merge(tables.setdefault(name, {}), table)
    for dotted, value in (changes or {}).items():
        _set(tables, dotted, value)
    return tables


def project_text(changes: dict | None = None, *, base: dict | None = None, **sections) -> str:
    """The TOML text of :func:`project_tables`."""
    return tomli_w.dumps(project_tables(changes, base=base, **sections))


def write_project(folder: Path, name: str, changes: dict | None = None, *, base: dict | None = None,
                  **sections) -> Path:
    """Write ``folder/NAME.toml`` (:func:`project_text`) and return its path; ``[project] name``
    is ``name`` unless the changes set it."""
    named = "project.name" in (changes or {}) or "name" in (sections.get("project") or {})
    tables = project_tables(changes, base=base, **sections)
    if not named and sections.get("project", {}) is not None:
        tables.setdefault("project", {})["name"] = name
    path = Path(folder) / f"{name}.toml"
    path.write_text(tomli_w.dumps(tables))
    return path


def line_of_key(text: str, key: str) -> int:
    """The 1-based line of the ``key = ...`` line of ``text`` (the first one written as ``key``)."""
    for number, line in enumerate(text.splitlines(), 1):
        if line.split("=", 1)[0].strip() == key:
            return number
    raise AssertionError(f"no line '{key} = ...' in:\n{text}")
