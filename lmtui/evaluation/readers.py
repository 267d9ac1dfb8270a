"""Read fine-tuning data: GLUE-style TSV, CSV and JSON Lines (text, optional text pair, label) and
CoNLL-format files (one word per line, blank lines between sentences, ``-DOCSTART-`` skipped).

Pure Python (no torch): the CLI checks a task's files before it starts a worker. Every problem is
a :class:`TaskDataError` naming the file and the line: wrong number of columns, unknown column,
malformed tag, label missing from the training split.

CoNLL-2003 ships IOB1 tags (``I-PER`` opens an entity unless it follows one of the same type;
``B-`` only separates two adjacent entities of one type); :func:`iob1_to_iob2` converts them to
IOB2 (every entity opens with ``B-``), the scheme seqeval scores by default.
"""

from __future__ import annotations

import csv
import difflib
import json
from dataclasses import dataclass
from pathlib import Path

from lmtui.errors import LmtuiError

csv.field_size_limit(1 << 30)


class TaskDataError(LmtuiError):
    """A task's data file is malformed or does not match the task's settings."""


@dataclass
class TextExample:
    """One classification example: text, optional second text, label (as a string), 1-based line."""

    text: str
    text_pair: str | None
    label: str
    line: int


@dataclass
class Sentence:
    """One token-classification example: words, their tags, the 1-based line of the first word."""

    words: list[str]
    tags: list[str]
    line: int


# ----------------------------------------------------------------------------- CoNLL

def iob1_to_iob2(tags: list[str]) -> list[str]:
    """Convert one sentence's IOB1 tags to IOB2: an ``I-X`` that opens an entity becomes ``B-X``."""
    out = []
    previous = "O"
    for tag in tags:
        if tag.startswith("I-") and (previous == "O" or previous[2:] != tag[2:]):
            tag = "B-" + tag[2:]
        out.append(tag)
        previous = tag
    return out


def read_conll(path: str | Path, *, token_column: int = 0, label_column: int = -1, tag_scheme: str = "iob2",
               limit: int = 0) -> list[Sentence]:
    """Sentences of a CoNLL-format file, tags in IOB2.

    Args:
        path: the file (UTF-8; fields separated by spaces or tabs).
        token_column, label_column: 0-based field numbers of the word and the tag (negative counts
            from the end).
        tag_scheme: ``iob1`` (converted) or ``iob2``.
        limit: stop after this many sentences (0: all).

    Raises:
        TaskDataError: the file is missing or empty, a line has a different number of fields than
            the first, a column number is outside the fields, or a tag is not O / B-X / I-X.
    """
    path = Path(path)
    sentences: list[Sentence] = []
    words: list[str] = []
    tags: list[str] = []
    start = 0
    width = None
    first_line = 0

    def flush():
        nonlocal words, tags
        if words:
            sentences.append(Sentence(words, iob1_to_iob2(tags) if tag_scheme == "iob1" else tags, start))
        words, tags = [], []

    try:
        fh = open(path, encoding="utf-8-sig")
    except OSError as exc:
        raise TaskDataError(f"cannot read: {exc.strerror}", file=str(path), hint="check the task's data_dir and file names") from None
    with fh:
        for number, raw in enumerate(fh, start=1):
            fields = raw.split()
            if not fields:
                flush()
                if limit and len(sentences) >= limit:
                    break
                continue
            if fields[0] == "-DOCSTART-":
                flush()
                continue
            if width is None:
                width, first_line = len(fields), number
                for name, col in (("label_column", label_column), ("token_column", token_column)):
                    if not -width <= col < width:
                        raise TaskDataError(f"{name} {col} is outside the {width} fields of this file",
                                            file=str(path), line=number,
                                            hint=f"use a field number from 0 to {width - 1} (or -1 for the last)")
            elif len(fields) != width:
                raise TaskDataError(f"expected {width} fields (as on line {first_line}), found {len(fields)}: "
                                    f"{raw.strip()!r}", file=str(path), line=number,
                                    hint="CoNLL files have one word per line with the same fields on every line "
                                         "and a blank line between sentences")
            tag = fields[label_column]
            if tag != "O" and not (len(tag) > 2 and tag[:2] in ("B-", "I-")):
                raise TaskDataError(f"tag {tag!r} is not O, B-TYPE or I-TYPE", file=str(path), line=number,
                                    hint="check label_column (the field of the entity tag) and the tag scheme")
            if not words:
                start = number
            words.append(fields[token_column])
            tags.append(tag)
        else:
            flush()
    if not sentences:
        raise TaskDataError("no sentences", file=str(path), hint="a CoNLL file has one word and its tags per line")
    return sentences[:limit] if limit else sentences


def entity_types(tags: list[str]) -> set[str]:
    """Entity types (``PER``) of IOB tags."""
    return {t[2:] for t in tags if t != "O"}


def token_label_list(train: list[Sentence], given: list[str] | None = None) -> list[str]:
    """The tag inventory: ``O`` then ``B-X``, ``I-X`` for every type of the training sentences (or ``given``)."""
    if given:
        return list(given)
    types = sorted(set().union(*(entity_types(s.tags) for s in train)))
    return ["O"] + [f"{p}-{t}" for t in types for p in ("B", "I")]


def check_token_labels(sentences: list[Sentence], labels: list[str], path: str | Path, split: str) -> None:
    """Every tag of ``sentences`` must be in ``labels``.

    Raises:
        TaskDataError: naming the file and line of the first tag that is not.
    """
    known = set(labels)
    for s in sentences:
        for i, tag in enumerate(s.tags):
            if tag not in known:
                raise TaskDataError(f"label {tag!r} of the {split} split does not occur in the training split "
                                    f"(labels: {', '.join(labels)})", file=str(path), line=s.line + i,
                                    hint="train on more examples (max_train_examples) or list the labels in the "
                                         "task's labels key")


# ----------------------------------------------------------------------------- TSV / CSV / JSONL

def _column_index(col: str | int, header: list[str] | None, path: Path, key: str) -> int:
    if header is None:
        if isinstance(col, str) and not col.lstrip("-").isdigit():
            raise TaskDataError(f"{key} {col!r} names a column but the file has no header", file=str(path), line=1,
                                hint="give the 0-based column number, or set header = true")
        return int(col)
    if isinstance(col, int):
        if not -len(header) <= col < len(header):
            raise TaskDataError(f"{key} {col} is outside the {len(header)} columns {header}", file=str(path), line=1,
                                hint="use a column name of the header")
        return col
    if col not in header:
        guess = difflib.get_close_matches(col, header, n=1, cutoff=0.5)
        raise TaskDataError(f"unknown {key.replace('_', ' ')} {col!r}: the header has {header}", file=str(path),
                            line=1, hint=f"did you mean '{guess[0]}'?" if guess else "use one of the header's names")
    return header.index(col)


def read_text_examples(path: str | Path, *, fmt: str, text_column: str | int, label_column: str | int,
                       text_pair_column: str | int = "", header: bool = True, limit: int = 0) -> list[TextExample]:
    """Classification examples of a TSV (GLUE: no quoting), CSV or JSON Lines file.

    Args:
        fmt: ``tsv``, ``csv`` or ``jsonl``.
        text_column, text_pair_column, label_column: names (header / JSON keys) or 0-based numbers;
            an empty text_pair_column means single-text examples.
        header: TSV/CSV only: the first row names the columns.
        limit: stop after this many examples (0: all).

    Raises:
        TaskDataError: file missing or empty, unknown column, a row with too few columns, a JSON
            line that is not an object or lacks a key, an empty label.
    """
    path = Path(path)
    pair = text_pair_column not in ("", None)
    try:
        fh = open(path, encoding="utf-8-sig", newline="")
    except OSError as exc:
        raise TaskDataError(f"cannot read: {exc.strerror}", file=str(path), hint="check the task's data_dir and file names") from None
    examples: list[TextExample] = []
    with fh:
        if fmt == "jsonl":
            for number, raw in enumerate(fh, start=1):
                if not raw.strip():
                    continue
                try:
                    obj = json.loads(raw)
                except ValueError as exc:
                    raise TaskDataError(f"not valid JSON: {exc}", file=str(path), line=number,
                                        hint="JSON Lines files hold one object per line") from None
                if not isinstance(obj, dict):
                    raise TaskDataError("a JSON Lines row must be an object", file=str(path), line=number)
                values = []
                for key, col in (("text_column", text_column), ("label_column", label_column),
                                 ("text_pair_column", text_pair_column)):
                    if key == "text_pair_column" and not pair:
                        values.append(None)
                        continue
                    if str(col) not in obj:
                        guess = difflib.get_close_matches(str(col), list(obj), n=1, cutoff=0.5)
                        raise TaskDataError(f"unknown {key.replace('_', ' ')} {col!r}: the object has keys "
                                            f"{list(obj)}", file=str(path), line=number,
                                            hint=f"did you mean '{guess[0]}'?" if guess else f"set the task's {key}")
                    values.append(obj[str(col)])
                text, label, text_pair = values
                examples.append(_example(text, text_pair, label, path, number))
                if limit and len(examples) >= limit:
                    break
        else:
            reader = csv.reader(fh, delimiter="\t" if fmt == "tsv" else ",",
                                quoting=csv.QUOTE_NONE if fmt == "tsv" else csv.QUOTE_MINIMAL)
            names = None
            if header:
                names = next(reader, None)
                if names is None:
                    raise TaskDataError("empty file", file=str(path), hint="the first row should name the columns")
                names = [n.strip() for n in names]
            cols = [_column_index(text_column, names, path, "text_column"),
                    _column_index(label_column, names, path, "label_column")]
            if pair:
                cols.append(_column_index(text_pair_column, names, path, "text_pair_column"))
            need = max(c if c >= 0 else -c - 1 for c in cols) + 1
            width = len(names) if names else None
            for row in reader:
                number = reader.line_num
                if not row or (len(row) == 1 and not row[0].strip()):
                    continue
                if len(row) < need or (width and len(row) != width):
                    expected = f"{width} (as the header)" if width else f"at least {need}"
                    raise TaskDataError(f"expected {expected} columns, found {len(row)}", file=str(path),
                                        line=number, hint="check the delimiter (format) and that no field holds a "
                                                          "stray tab or quote")
                examples.append(_example(row[cols[0]], row[cols[2]] if pair else None, row[cols[1]], path, number))
                if limit and len(examples) >= limit:
                    break
    if not examples:
        raise TaskDataError("no examples", file=str(path), hint="the file holds no rows after the header")
    return examples


def _example(text, text_pair, label, path: Path, number: int) -> TextExample:
    if not isinstance(text, str) or (text_pair is not None and not isinstance(text_pair, str)):
        raise TaskDataError("the text is not a string", file=str(path), line=number)
    if isinstance(label, bool) or label is None or not isinstance(label, (str, int, float)):
        raise TaskDataError(f"label {label!r} is not a string or number", file=str(path), line=number)
    label = str(label).strip()
    if not label:
        raise TaskDataError("empty label", file=str(path), line=number, hint="every example needs a label")
    return TextExample(text.strip(), text_pair.strip() if text_pair is not None else None, label, number)


def text_label_list(train: list[TextExample], given: list[str] | None = None) -> list[str]:
    """The label set: ``given``, else the training labels sorted (numerically when all are integers)."""
    if given:
        return list(given)
    labels = set(e.label for e in train)
    if all(lab.lstrip("-").isdigit() for lab in labels):
        return sorted(labels, key=int)
    return sorted(labels)


def check_text_labels(examples: list[TextExample], labels: list[str], path: str | Path, split: str) -> None:
    """Every label of ``examples`` must be in ``labels``.

    Raises:
        TaskDataError: naming the file and line of the first example whose label is not.
    """
    known = set(labels)
    for e in examples:
        if e.label not in known:
            raise TaskDataError(f"label {e.label!r} of the {split} split does not occur in the training split "
                                f"(labels: {', '.join(labels)})", file=str(path), line=e.line,
                                hint="check label_column, train on more examples (max_train_examples) or list the "
                                     "labels in the task's labels key")


# ----------------------------------------------------------------------------- a task's splits

@dataclass
class TaskData:
    """A task's examples: training examples, scored splits by name, and the label list."""

    train: list
    splits: dict[str, list]
    labels: list[str]


def load_file_task(spec) -> TaskData:
    """Read and check a :class:`~lmtui.project.sections.eval.TaskSpec`'s files (with its example
    limits); a task that names a dataset is read by :func:`lmtui.evaluation.hub_tasks.load_task`.

    Raises:
        TaskDataError: any problem of :func:`read_conll` / :func:`read_text_examples`, or a label of
            a scored split (or of the given label list's complement) missing from training.
    """
    fmt = spec.file_format
    if spec.kind == "token_classification":
        def read(path, limit):
            return read_conll(path, token_column=spec.token_column, label_column=spec.label_column,
                              tag_scheme=spec.tag_scheme, limit=limit)
        train = read(spec.train_file, spec.max_train_examples)
        labels = token_label_list(train, spec.labels)
        check_token_labels(train, labels, spec.train_file, "training")
        splits = {}
        for split, path in spec.splits.items():
            splits[split] = read(path, spec.max_eval_examples)
            check_token_labels(splits[split], labels, path, split)
        return TaskData(train, splits, labels)

    def read(path, limit):
        return read_text_examples(path, fmt=fmt, text_column=spec.text_column, label_column=spec.label_column,
                                  text_pair_column=spec.text_pair_column, header=spec.header, limit=limit)
    train = read(spec.train_file, spec.max_train_examples)
    labels = text_label_list(train, spec.labels)
    check_text_labels(train, labels, spec.train_file, "training")
    if len(labels) < 2:
        raise TaskDataError(f"the training split has a single label ({labels[0]!r})", file=spec.train_file,
                            hint="check label_column, or use more training examples (max_train_examples)")
    splits = {}
    for split, path in spec.splits.items():
        splits[split] = read(path, spec.max_eval_examples)
        check_text_labels(splits[split], labels, path, split)
    return TaskData(train, splits, labels)
