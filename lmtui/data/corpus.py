"""Corpus files: resolve paths, globs and folders, and read them as documents.

Plain text (any extension, gzip-compressed or not) is read one document per line or one per
blank-line-separated paragraph; JSON Lines, CSV/TSV and Parquet files give the text of one
named column per row. Empty documents are skipped; bytes that are not valid UTF-8 are
replaced (U+FFFD) and counted, never fatal.
"""

from __future__ import annotations

import csv
import fnmatch
import glob
import gzip
import json
import os
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator

from lmtui.errors import CorpusError
from lmtui.project.paths import expand_placeholders

CHUNK_BYTES = 16 << 20


@dataclass
class CorpusStats:
    """Counts gathered while reading: files, bytes, documents, lines with invalid UTF-8."""

    files: list = field(default_factory=list)
    bytes: int = 0
    documents: int = 0
    invalid_utf8_lines: int = 0


def resolve_files(patterns: list[str], base: str | os.PathLike, *, file: str | None = None,
                  key: str | None = None, line: int | None = None) -> list[Path]:
    """Expand paths, globs (``**`` allowed) and folders (every file below, hidden ones skipped).

    Relative patterns resolve against ``base``. ``**`` and folder walks do not descend into
    symbolic links to folders (a link back to a parent would make the walk endless); a link
    named in a pattern, and links to files, are followed. Returns sorted, de-duplicated absolute
    paths.

    Raises:
        CorpusError: a pattern matches nothing, or a matched file is empty.
    """
    out: list[Path] = []
    for pattern in patterns:
        expanded = os.path.expanduser(expand_placeholders(pattern))
        full = expanded if os.path.isabs(expanded) else os.path.join(str(base), expanded)
        matches = sorted(_glob(full)) if glob.has_magic(full) else [full]
        found = []
        for m in matches:
            p = Path(m)
            if p.is_dir():
                found.extend(sorted(q for q in _walk(p) if q.is_file()))
            elif p.is_file():
                found.append(p)
        if not found:
            raise CorpusError(f"corpus file {pattern!r} not found (looked for {full})", file=file, key=key,
                              line=line, hint="fix the path (relative paths start at the project file's folder)")
        for p in found:
            if p.stat().st_size == 0:
                raise CorpusError(f"corpus file {str(p)!r} is empty", file=file, key=key, line=line,
                                  hint="remove it from the list or give a file with text")
            p = p.resolve()
            if p not in out:
                out.append(p)
    return out


def _walk(top: Path) -> Iterator[Path]:
    """Every entry below ``top`` whose path from ``top`` has no hidden part; links to folders
    are listed, not entered (``os.walk(followlinks=False)``)."""
    for folder, dirs, files in os.walk(top, followlinks=False):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        for name in dirs + files:
            if not name.startswith("."):
                yield Path(folder, name)


def _glob(pattern: str) -> list[str]:
    """``glob.glob(pattern, recursive=True)``, except that ``**`` does not enter links to folders.

    Without ``**`` this is :func:`glob.glob` (no recursion, so no loop). With it, the folders
    under the pattern's literal prefix are walked by :func:`_walk` (hidden names skipped, as
    :mod:`glob`'s wildcards skip them) and each path is matched part by part: ``**`` stands for
    any number of folders, every other part is matched with :func:`fnmatch.fnmatchcase`.
    """
    if "**" not in pattern:
        return glob.glob(pattern)
    parts = Path(pattern).parts
    literal = next(i for i, part in enumerate(parts) if glob.has_magic(part))
    top = Path(*parts[:literal])
    rest = parts[literal:]
    if not top.is_dir():
        return []
    return [str(p) for p in _walk(top) if _match(p.relative_to(top).parts, rest)]


def _match(parts: tuple[str, ...], pattern: tuple[str, ...]) -> bool:
    """Whether path ``parts`` match glob ``pattern`` parts (``**``: zero or more parts)."""
    if not pattern:
        return not parts
    if pattern[0] == "**":
        return any(_match(parts[i:], pattern[1:]) for i in range(len(parts) + 1))
    return bool(parts) and fnmatch.fnmatchcase(parts[0], pattern[0]) and _match(parts[1:], pattern[1:])


def file_format(path: Path, fmt: str) -> str:
    """The reader for ``path``: ``fmt`` unless it is ``auto``, else from the extension (``.gz`` stripped)."""
    if fmt != "auto":
        return fmt
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] == ".gz":
        suffixes = suffixes[:-1]
    ext = suffixes[-1] if suffixes else ""
    if ext == ".py":
        return "python"
    return {".jsonl": "jsonl", ".json": "jsonl", ".ndjson": "jsonl", ".csv": "csv", ".tsv": "tsv",
            ".parquet": "parquet"}.get(ext, "text")


def _open_binary(path: Path):
    return gzip.open(path, "rb") if path.suffix.lower() == ".gz" else open(path, "rb")


def _decoded_lines(path: Path, stats: CorpusStats) -> Iterator[str]:
    """Lines of ``path`` without line endings, invalid UTF-8 replaced and counted."""
    with _open_binary(path) as fh:
        rest = b""
        while True:
            chunk = fh.read(CHUNK_BYTES)
            if not chunk:
                break
            stats.bytes += len(chunk)
            data = rest + chunk
            cut = data.rfind(b"\n")
            if cut < 0:
                rest = data
                continue
            rest = data[cut + 1:]
            yield from _decode_block(data[:cut], stats)
        if rest:
            yield from _decode_block(rest, stats)


def _decode_block(block: bytes, stats: CorpusStats) -> Iterator[str]:
    try:
        text = block.decode("utf-8")
    except UnicodeDecodeError:
        for raw in block.split(b"\n"):
            try:
                yield raw.decode("utf-8").rstrip("\r")
            except UnicodeDecodeError:
                stats.invalid_utf8_lines += 1
                yield raw.decode("utf-8", errors="replace").rstrip("\r")
        return
    for line in text.split("\n"):
        yield line.rstrip("\r")


def _text_documents(path: Path, delimiter: str, stats: CorpusStats) -> Iterator[str]:
    if delimiter == "line":
        for line in _decoded_lines(path, stats):
            if line.strip():
                yield line.strip()
        return
    paragraph: list[str] = []
    for line in _decoded_lines(path, stats):
        if line.strip():
            paragraph.append(line.strip())
        elif paragraph:
            yield " ".join(paragraph)
            paragraph = []
    if paragraph:
        yield " ".join(paragraph)


def _python_documents(path: Path, delimiter: str, stats: CorpusStats) -> Iterator[str]:
    """The text in the string literals of a Python file, parsed with ``ast`` (never executed).

    Adjacent literals are already joined by the parser; each literal is split into documents
    like a text file. CPython ships its language reference this way (pydoc_data/topics.py).
    """
    import ast

    source = path.read_bytes()
    stats.bytes += len(source)
    try:
        tree = ast.parse(source.decode("utf-8", errors="replace"), filename=str(path))
    except SyntaxError as exc:
        raise CorpusError(f"not a valid Python file: {exc.msg}", file=str(path), line=exc.lineno,
                          key="corpus.format", hint="use format = \"text\" for plain text files") from None
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and len(node.value) > 40:
            lines = node.value.split("\n")
            if delimiter == "line":
                yield from (line.strip() for line in lines if line.strip())
                continue
            paragraph: list[str] = []
            for line in lines + [""]:
                if line.strip():
                    paragraph.append(line.strip())
                elif paragraph:
                    yield " ".join(paragraph)
                    paragraph = []


def _jsonl_documents(path: Path, column: str, stats: CorpusStats) -> Iterator[str]:
    for number, line in enumerate(_decoded_lines(path, stats), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError as exc:
            raise CorpusError(f"invalid JSON: {exc}", file=str(path), line=number,
                              hint="each line of a JSON Lines file must be one JSON object") from None
        if not isinstance(row, dict) or column not in row:
            raise CorpusError(f"no column {column!r} in this row", file=str(path), line=number,
                              key="corpus.text_column", hint="set [corpus] text_column to the field holding the text")
        if isinstance(row[column], str) and row[column].strip():
            yield row[column].strip()


def _csv_documents(path: Path, column: str, delimiter: str, stats: CorpusStats) -> Iterator[str]:
    lines = _decoded_lines(path, stats)
    reader = csv.DictReader(lines, delimiter=delimiter)
    if reader.fieldnames is None or column not in reader.fieldnames:
        raise CorpusError(f"no column {column!r} in the header {reader.fieldnames}", file=str(path), line=1,
                          key="corpus.text_column", hint="set [corpus] text_column to one of the header's columns")
    for row in reader:
        value = row.get(column)
        if value and value.strip():
            yield value.strip()


def _parquet_documents(path: Path, column: str, stats: CorpusStats) -> Iterator[str]:
    import pyarrow.parquet as pq

    schema = pq.read_schema(path)
    if column not in schema.names:
        raise CorpusError(f"no column {column!r} (columns: {', '.join(schema.names)})", file=str(path),
                          key="corpus.text_column", hint="set [corpus] text_column to the column holding the text")
    stats.bytes += path.stat().st_size
    parquet = pq.ParquetFile(path)
    for batch in parquet.iter_batches(columns=[column]):
        for value in batch.column(0).to_pylist():
            if isinstance(value, str) and value.strip():
                yield value.strip()


def read_documents(paths: Iterable[Path], *, fmt: str = "auto", text_column: str = "text",
                   delimiter: str = "line", stats: CorpusStats | None = None) -> Iterator[str]:
    """Yield the non-empty documents of ``paths`` in file order.

    Raises:
        CorpusError: a structured file lacks ``text_column`` or has a malformed row.
    """
    stats = stats if stats is not None else CorpusStats()
    for path in paths:
        stats.files.append(str(path))
        kind = file_format(path, fmt)
        if kind == "text":
            docs = _text_documents(path, delimiter, stats)
        elif kind == "jsonl":
            docs = _jsonl_documents(path, text_column, stats)
        elif kind == "python":
            docs = _python_documents(path, delimiter, stats)
        elif kind in ("csv", "tsv"):
            docs = _csv_documents(path, text_column, "\t" if kind == "tsv" else ",", stats)
        else:
            docs = _parquet_documents(path, text_column, stats)
        for doc in docs:
            stats.documents += 1
            yield doc


def hub_documents(name: str, config: str, split: str, text_column: str, stats: CorpusStats,
                  file: str | None = None) -> Iterator[str]:
    """Documents of a Hugging Face dataset (needs the internet or a local ``datasets`` cache).

    Raises:
        CorpusError: the dataset cannot be loaded (offline, unknown name) or lacks ``text_column``.
    """
    import datasets

    try:
        ds = datasets.load_dataset(name, config or None, split=split)
    except Exception as exc:  # datasets raises many types (ConnectionError, FileNotFoundError, ...)
        raise CorpusError(f"cannot load Hugging Face dataset {name!r}: {type(exc).__name__}: {exc}",
                          file=file, key="corpus.hf_dataset",
                          hint="this needs the internet (or a local datasets cache); offline, use train_files") from None
    if text_column not in ds.column_names:
        raise CorpusError(f"dataset {name!r} has no column {text_column!r} (columns: {ds.column_names})",
                          file=file, key="corpus.text_column", hint="set [corpus] text_column")
    stats.files.append(f"hf://{name}/{config}/{split}")
    for value in ds[text_column]:
        if isinstance(value, str) and value.strip():
            stats.documents += 1
            stats.bytes += len(value.encode("utf-8"))
            yield value.strip()


def split_documents(docs: Iterable[str], fraction: float, seed: int) -> tuple[list[str], list[str]]:
    """Assign each document to validation with probability ``fraction`` (seeded), else to training.

    At least one document goes to each side when there are two or more documents.
    """
    rng = random.Random(seed)
    train, valid = [], []
    for doc in docs:
        (valid if rng.random() < fraction else train).append(doc)
    if fraction > 0 and not valid and len(train) > 1:
        valid.append(train.pop(rng.randrange(len(train))))
    if not train and len(valid) > 1:
        train.append(valid.pop())
    return train, valid


def corpus_files(project) -> tuple[list[Path], list[Path]]:
    """Resolved (training files, validation files) of a project's [corpus] section."""
    from lmtui.project.paths import project_dir

    c = project.corpus
    base = project_dir(project)
    train = resolve_files(c.train_files, base, file=project.path, key="corpus.train_files") if c.train_files else []
    valid = resolve_files(c.validation_files, base, file=project.path,
                          key="corpus.validation_files") if c.validation_files else []
    return train, valid


def corpus_fingerprint(project, cache_dir: str) -> str:
    """Fingerprint of the corpus contents and every [corpus] setting that changes the documents."""
    from dataclasses import asdict

    from lmtui.data.fingerprint import digest_bytes, files_digest

    train, valid = corpus_files(project)
    settings = asdict(project.corpus)
    settings.pop("train_files")
    settings.pop("validation_files")
    return digest_bytes("corpus-v1", files_digest(train, cache_dir), files_digest(valid, cache_dir), settings)


def corpus_documents(project, stats: CorpusStats | None = None) -> tuple[list[str], list[str]]:
    """The project's (training documents, validation documents).

    Validation documents come from validation_files, else from a seeded random split of the
    training documents (``validation_split``, ``split_seed``). ``max_documents`` caps training.

    Raises:
        CorpusError: files missing or unreadable, no documents at all, or no validation documents.
    """
    c = project.corpus
    stats = stats if stats is not None else CorpusStats()
    train_files, valid_files = corpus_files(project)
    read = dict(fmt=c.format, text_column=c.text_column, delimiter=c.document_delimiter, stats=stats)
    if c.hf_dataset:
        docs = hub_documents(c.hf_dataset, c.hf_dataset_config, c.hf_split, c.text_column, stats, project.path)
    else:
        docs = read_documents(train_files, **read)
    if valid_files:
        train = list(docs)
        valid = list(read_documents(valid_files, **read))
    else:
        train, valid = split_documents(docs, c.validation_split, c.split_seed)
    if c.max_documents:
        train = train[: c.max_documents]
    if not train:
        raise CorpusError("the training corpus has no text (every document is empty)", file=project.path,
                          key="corpus.train_files", hint="point train_files at files with text")
    if not valid:
        raise CorpusError("no validation documents", file=project.path, key="corpus.validation_split",
                          hint="give validation_files, or a validation_split above 0 with more than one document")
    return train, valid
