"""The sources of a project's corpus: one (the [corpus] keys) or a mixture of named tables.

A mixture is written as one table per source under ``[corpus.sources.NAME]``::

    [corpus.sources.wiki]
    files = ["data/wiki/*.txt.gz"]
    weight = 0.7

    [corpus.sources.news]
    hf_dataset = "json"
    hf_data_files = ["data/news.jsonl"]
    text_column = "body"
    weight = 0.3

Named tables (rather than a ``[[corpus.sources]]`` array) give each source the name that the
dataset event and the model card report its tokens under, and a header that
:func:`lmtui.project.lines.line_of` finds, so an error points at the source's own line. A source
table takes the reading keys of [corpus] (``format``, ``text_column``, ``document_delimiter``,
``hf_*``), which default to the [corpus] values, plus ``weight`` (its share of the training
tokens) or ``epochs`` (passes over it per pass over the stream, so its share is
epochs x its tokens). Without either, every source weighs its own size (``epochs = 1``).

This module reads the tables only (no file is looked at): the loader checks them with
:func:`check_source_tables`; :mod:`lmtui.data.sources` resolves their files.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from lmtui.errors import ProjectError
from lmtui.numbers import range_problem
from lmtui.project.lines import line_of

SOURCE_KEYS = {"files": list, "validation_files": list, "format": str, "text_column": str,
               "document_delimiter": str, "hf_dataset": str, "hf_dataset_config": str, "hf_split": str,
               "hf_data_files": list, "weight": (int, float), "epochs": (int, float)}


@dataclass
class Source:
    """One corpus source: where its documents come from and how they are read.

    Attributes:
        name: the table name (``corpus`` for a project without ``[corpus.sources]``).
        files, validation_files: resolved absolute paths (empty for a Hub dataset).
        hf_data_files: resolved local files given to ``load_dataset(..., data_files=...)``.
        weight: share of training tokens (None when ``epochs`` or neither is given).
        epochs: passes over this source per pass over the stream (None when not given).
    """

    name: str
    files: list = field(default_factory=list)
    validation_files: list = field(default_factory=list)
    format: str = "auto"
    text_column: str = "text"
    document_delimiter: str = "line"
    hf_dataset: str = ""
    hf_dataset_config: str = ""
    hf_split: str = "train"
    hf_data_files: list = field(default_factory=list)
    weight: float | None = None
    epochs: float | None = None

    @property
    def label(self) -> str:
        """Where the documents come from, for messages and the model card."""
        if self.hf_dataset:
            return self.hf_dataset + (f" ({self.hf_dataset_config})" if self.hf_dataset_config else "")
        return ", ".join(Path(p).name for p in self.files[:3]) + (" ..." if len(self.files) > 3 else "")


def _where(project, text: str, name: str | None, key: str | None) -> dict:
    section = "corpus" if name is None else f"corpus.sources.{name}"
    return {"file": project.path or "<project>", "key": f"{section}.{key}" if key else section,
            "line": line_of(text, section, key)}


def source_tables(project, text: str = "", files=None) -> list[Source]:
    """The sources of ``project``: its ``[corpus.sources.*]`` tables, else one from [corpus].

    Args:
        text: the project's TOML text, for the lines of errors.
        files: ``files(patterns, where) -> list`` turns a file list as written into paths
            (:func:`lmtui.data.sources.project_sources` resolves them); None keeps them as written.

    Raises:
        ProjectError: a source table with an unknown key or a value of the wrong type.
        CorpusError: what ``files`` raises (a pattern that matches nothing, an empty file).
    """
    c = project.corpus
    resolve = files

    def files(patterns, name, key):
        if not patterns or resolve is None:
            return list(patterns or [])
        return resolve(patterns, _where(project, text, name, key))

    defaults = dict(format=c.format, text_column=c.text_column, document_delimiter=c.document_delimiter,
                    hf_dataset="", hf_dataset_config=c.hf_dataset_config, hf_split=c.hf_split)
    if not c.sources:
        return [Source("corpus", files=files(c.train_files, None, "train_files"),
                       validation_files=files(c.validation_files, None, "validation_files"),
                       hf_data_files=files(c.hf_data_files, None, "hf_data_files"),
                       **dict(defaults, hf_dataset=c.hf_dataset))]
    out = []
    for name, table in c.sources.items():
        if not isinstance(table, dict):
            raise ProjectError(f"[corpus.sources.{name}] must be a table", **_where(project, text, name, None),
                               hint=f"write it as a [corpus.sources.{name}] table with files and a weight")
        values = dict(defaults)
        for k, v in table.items():
            w = _where(project, text, name, k)
            if k not in SOURCE_KEYS:
                raise ProjectError(f"unknown key '{k}' in a corpus source", **w,
                                   hint=f"known keys: {', '.join(SOURCE_KEYS)}")
            kind = SOURCE_KEYS[k]
            if kind is list and isinstance(v, str):
                v = [v]
            strings = kind is not list or all(isinstance(x, str) for x in v)
            if isinstance(v, bool) or not isinstance(v, kind) or not strings:
                want = {list: "a list of strings", str: "a string"}.get(kind, "a number")
                raise ProjectError(f"expected {want}, got {v!r}", **w, hint=f"write {want}")
            values[k] = v
        out.append(Source(name, files=files(values.pop("files", []), name, "files"),
                          validation_files=files(values.pop("validation_files", []), name, "validation_files"),
                          hf_data_files=files(values.pop("hf_data_files", []), name, "hf_data_files"),
                          weight=None if values.get("weight") is None else float(values.pop("weight")),
                          epochs=None if values.get("epochs") is None else float(values.pop("epochs")),
                          **{k: v for k, v in values.items() if k not in ("weight", "epochs")}))
    return out


def check_source_tables(project, text: str) -> None:
    """The cross-key rules of [corpus] and its sources, from the file alone (no file is looked at).

    Raises:
        ProjectError: no corpus at all; ``train_files``/``hf_dataset`` beside ``[corpus.sources]``;
            a source with neither files nor hf_dataset, or with both; a ``format`` or
            ``document_delimiter`` outside its choices; a weight or epochs of 0 or below; weight
            on some sources and epochs on others; a mixture whose weights are all 0.
    """
    from lmtui.project.sections.core import CorpusSection

    c = project.corpus
    file = project.path or "<project>"
    if c.sources and (c.train_files or c.hf_dataset):
        key = "train_files" if c.train_files else "hf_dataset"
        raise ProjectError(f"[corpus] has both {key} and [corpus.sources] tables", file=file, key=f"corpus.{key}",
                           line=line_of(text, "corpus", key),
                           hint=f"move {key} into a [corpus.sources.NAME] table, or remove the sources")
    if not c.sources and not c.train_files and not c.hf_dataset:
        raise ProjectError("no training corpus", file=file, key="corpus.train_files",
                           line=line_of(text, "corpus", "train_files"),
                           hint='list your text files, e.g. train_files = ["data/*.txt"], or set hf_dataset, '
                                'or name several sources as [corpus.sources.NAME] tables')
    check_csv_dialect(project, text)
    sources = source_tables(project, text)
    choices = {f: CorpusSection.__dataclass_fields__[f].metadata["choices"] for f in ("format", "document_delimiter")}
    for s in sources:
        if not c.sources:
            break
        if not s.files and not s.hf_dataset:
            raise ProjectError(f"source {s.name!r} has no documents: neither files nor hf_dataset",
                               **_where(project, text, s.name, None),
                               hint="give files = [...] (paths, globs or folders) or hf_dataset")
        if s.files and s.hf_dataset:
            raise ProjectError(f"source {s.name!r} has both files and hf_dataset",
                               **_where(project, text, s.name, "files"),
                               hint="keep one of them (split it into two sources to mix both)")
        for key, allowed in choices.items():
            if getattr(s, key) not in allowed:
                raise ProjectError(f"unknown value {getattr(s, key)!r}", **_where(project, text, s.name, key),
                                   hint=f"choose one of: {', '.join(allowed)}")
        for key in ("weight", "epochs"):
            value = getattr(s, key)
            if value is not None and (range_problem(value) or value <= 0):  # nan <= 0 is False: finite first
                what = "a finite number" if range_problem(value) else "positive"
                raise ProjectError(f"{key} {value:g} of source {s.name!r} is not {what}",
                                   **_where(project, text, s.name, key),
                                   hint=f"give a {key} above 0, or remove the source to leave it out")
    if c.sources:
        weighted = [s for s in sources if s.weight is not None]
        by_epochs = [s for s in sources if s.epochs is not None]
        if weighted and by_epochs:
            raise ProjectError(f"source {by_epochs[0].name!r} gives epochs while {weighted[0].name!r} gives weight",
                               **_where(project, text, by_epochs[0].name, "epochs"),
                               hint="give every source a weight, or every source a number of epochs")
        if weighted and len(weighted) < len(sources):
            missing = next(s for s in sources if s.weight is None)
            raise ProjectError(f"source {missing.name!r} has no weight while others do",
                               **_where(project, text, missing.name, None), hint="give every source a weight")


def check_csv_dialect(project, text: str) -> None:
    """The [corpus] ``csv_delimiter`` and ``csv_quotechar``, blamed on the key the user wrote.

    Raises:
        ProjectError: a separator that is not one character ("" keeps the format's own), a quote
            that is not one character, either of them a line break (rows end at line breaks), or
            the two the same character.
    """
    c = project.corpus
    file = project.path or "<project>"

    def fail(key, message, hint):
        raise ProjectError(message, file=file, key=f"corpus.{key}", line=line_of(text, "corpus", key), hint=hint)

    for key, value, allow_empty in (("csv_delimiter", c.csv_delimiter, True), ("csv_quotechar", c.csv_quotechar, False)):
        if (value or not allow_empty) and len(value) != 1:
            fail(key, f"{key} {value!r} is not one character", 'write one character, e.g. ";" or "\\t"'
                 + (' (or "" for the format\'s own)' if allow_empty else ""))
        if value in ("\n", "\r"):
            fail(key, f"{key} {value!r} is a line break: rows of a CSV/TSV file end at line breaks",
                 'choose another character, e.g. ";" or "|"')
    if c.csv_delimiter and c.csv_delimiter == c.csv_quotechar:
        fail("csv_quotechar", f"csv_quotechar {c.csv_quotechar!r} is also the csv_delimiter",
             "give the quote and the separator different characters")


def is_mixture(project) -> bool:
    """Whether the project names several sources (or one under [corpus.sources])."""
    return bool(project.corpus.sources)

