"""Corpus files: resolve paths, globs and folders, and read them as documents.

Plain text (any extension; gzip- or zstd-compressed too, ``.gz``/``.zst``) is read one document
per line or one per blank-line-separated paragraph; JSON Lines, CSV/TSV and Parquet files give
the text of one named column per row (CSV/TSV dialects: :class:`CsvDialect`); CoNLL-U files give
their ``# text = `` sentences. Empty documents are skipped; bytes that are not valid
UTF-8 are replaced (U+FFFD) and counted, never fatal. Everything is read as a stream, in blocks
of :data:`CHUNK_BYTES`; :class:`CorpusStats` counts the bytes read on disk as it goes (the
progress of :mod:`lmtui.data.stream`). Hugging Face datasets are read streaming too
(:func:`hub_documents`).
"""

from __future__ import annotations

import codecs
import csv
import fnmatch
import glob
import gzip
import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator

from lmtui.errors import CorpusError
from lmtui.project.paths import expand_placeholders

CHUNK_BYTES = 1 << 20
COMPRESSED = (".gz", ".zst")


@dataclass
class CorpusStats:
    """Counts gathered while reading: files, bytes of text, documents, lines with invalid UTF-8.

    ``disk_bytes`` is the bytes read from disk so far (compressed bytes for .gz/.zst files), the
    progress against the files' total size; ``disk_done`` the sizes of the files finished.
    """

    files: list = field(default_factory=list)
    bytes: int = 0
    documents: int = 0
    invalid_utf8_lines: int = 0
    disk_bytes: int = 0
    disk_done: int = 0


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
    seen: set[Path] = set()
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
            if p not in seen:
                seen.add(p)
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
    if suffixes and suffixes[-1] in COMPRESSED:
        suffixes = suffixes[:-1]
    ext = suffixes[-1] if suffixes else ""
    if ext == ".py":
        return "python"
    return {".jsonl": "jsonl", ".json": "jsonl", ".ndjson": "jsonl", ".csv": "csv", ".tsv": "tsv",
            ".parquet": "parquet", ".conllu": "conllu"}.get(ext, "text")


def _open_binary(path: Path):
    """``(decompressed stream, raw file)`` of ``path``: gzip, zstd (the `zstandard` package) or plain.

    Raises:
        CorpusError: a .zst file without `zstandard` installed.
    """
    try:
        raw = open(path, "rb")
    except OSError as exc:
        raise CorpusError(f"cannot open {path.name}: {exc.strerror or exc}", file=str(path),
                          hint="check that the file exists and is readable (nothing was published)") from None
    suffix = path.suffix.lower()
    if suffix == ".gz":
        return gzip.GzipFile(fileobj=raw, mode="rb"), raw
    if suffix == ".zst":
        try:
            import zstandard
        except ImportError:
            raw.close()
            raise CorpusError("reading .zst files needs the zstandard package", file=str(path),
                              hint="pip install zstandard") from None
        return zstandard.ZstdDecompressor().stream_reader(raw), raw
    return raw, raw


SNIFF_BYTES = 64 << 10
# Byte-order marks of the encodings a corpus must not be in (UTF-32 first: its LE mark starts with UTF-16's).
FOREIGN_BOMS = ((codecs.BOM_UTF32_LE, "UTF-32LE"), (codecs.BOM_UTF32_BE, "UTF-32BE"),
                (codecs.BOM_UTF16_LE, "UTF-16LE"), (codecs.BOM_UTF16_BE, "UTF-16BE"))
INVALID_SHARE = 0.2  # more than this share of invalid UTF-8 in the first bytes: not UTF-8 at all


def sniff_encoding(path: Path) -> str | None:
    """Why the text file ``path`` is not UTF-8, from its first :data:`SNIFF_BYTES` (decompressed),
    or None when it reads as UTF-8 (a UTF-8 byte-order mark is fine: it is dropped).

    Detected: a UTF-16 or UTF-32 byte-order mark; NUL bytes in more than a tenth of the bytes
    (UTF-16/32 without a mark: which half of each pair holds them gives the byte order); more than
    :data:`INVALID_SHARE` of the bytes in invalid UTF-8 sequences (a legacy 8-bit encoding such
    as Latin-1 or cp1252, or not text). Returns a phrase naming the encoding, e.g.
    ``"UTF-16LE (byte-order mark)"``.

    Raises:
        CorpusError: the file cannot be read or decompressed.
    """
    fh, raw = _open_binary(path)
    with raw, fh:
        try:
            head = fh.read(SNIFF_BYTES)
        except Exception as exc:  # OSError, gzip.BadGzipFile, EOFError, zstandard.ZstdError
            raise CorpusError(f"cannot read {path.name}: {type(exc).__name__}: {exc}", file=str(path),
                              hint="fix or remove this file") from None
    for bom, name in FOREIGN_BOMS:
        if head.startswith(bom):
            return f"{name} (byte-order mark)"
    if not head:
        return None
    nuls = head.count(0)
    if nuls > len(head) / 10:
        even = head[0::2].count(0)
        if nuls > len(head) / 3 * 2:
            return "UTF-32 (no byte-order mark; most bytes are NUL)"
        return f"UTF-16{'BE' if even > nuls - even else 'LE'} (no byte-order mark; every other byte is NUL)"
    text = codecs.getincrementaldecoder("utf-8")(errors="replace").decode(head, final=False)
    bad = text.count("\ufffd") - head.count("\ufffd".encode("utf-8"))  # less replacement characters in the file
    if bad > len(head) * INVALID_SHARE / 2:  # about one replacement per invalid sequence of 1-2 bytes
        return f"not UTF-8 ({bad:,} invalid sequences in its first {len(head):,} bytes: Latin-1, cp1252 or not text)"
    return None


def _decoded_lines(path: Path, stats: CorpusStats) -> Iterator[str]:
    """Lines of ``path`` without line endings, invalid UTF-8 replaced and counted, a UTF-8 byte
    order mark at the start of the file dropped (Windows editors write one; kept, it would become
    tokens of the first document).

    ``stats.disk_bytes`` follows the lines: the on-disk position of a block of lines is spread
    over them in proportion to their length (exact for plain ASCII, close otherwise).

    Raises:
        CorpusError: the file cannot be read (or decompressed), naming it.
    """
    fh, raw = _open_binary(path)
    with raw, fh:
        rest, first = b"", True
        while True:
            before = raw.tell()
            try:
                chunk = fh.read(CHUNK_BYTES)
            except Exception as exc:  # OSError, gzip.BadGzipFile, EOFError, zstandard.ZstdError
                raise CorpusError(f"cannot read {path.name}: {type(exc).__name__}: {exc}", file=str(path),
                                  hint="fix or remove this file (nothing was published)") from None
            if not chunk:
                break
            stats.bytes += len(chunk)
            if first and chunk.startswith(codecs.BOM_UTF8):
                chunk = chunk[len(codecs.BOM_UTF8):]
            first = False
            data = rest + chunk
            cut = data.rfind(b"\n")
            if cut < 0:
                rest = data
                continue
            rest = data[cut + 1:]
            position = float(stats.disk_done + before)
            scale = (raw.tell() - before) / max(cut + 1, 1)
            for line in _decode_block(data[:cut], stats):
                position += (len(line) + 1) * scale
                stats.disk_bytes = int(position)
                yield line
        if rest:
            yield from _decode_block(rest, stats)
        stats.disk_bytes = stats.disk_done + raw.tell()


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


@dataclass(frozen=True)
class CsvDialect:
    """How CSV/TSV files are read, from the [corpus] ``csv_*`` keys: ``delimiter`` (one character;
    "" for the format's own, ``,`` or a tab), ``quotechar``, ``header`` (the first row names the
    columns, ``text_column`` picks one) and ``column`` (the 0-based text column without a header)."""

    delimiter: str = ""
    quotechar: str = '"'
    header: bool = True
    column: int = 0

    @classmethod
    def of(cls, corpus) -> "CsvDialect":
        """The dialect of a project's [corpus] section."""
        return cls(corpus.csv_delimiter, corpus.csv_quotechar, corpus.csv_header, corpus.csv_column)


DIALECT_HINT = ("a file with another separator, quote or no header row is read with [corpus] csv_delimiter "
                "(e.g. \";\"), csv_quotechar (e.g. \"'\") and csv_header = false with csv_column (the text's "
                "0-based column number)")


def _csv_documents(path: Path, column: str, delimiter: str, stats: CorpusStats,
                   dialect: CsvDialect = CsvDialect()) -> Iterator[str]:
    """The text column of each row of a CSV/TSV file, read by the standard ``csv`` module with
    ``dialect`` (``delimiter``: the format's separator when the dialect names none).

    Raises:
        CorpusError: a separator or quote that is not one character, no ``column`` in the
            header, or a row without the text column (naming the file, the key and the line).
    """
    lines = (line + "\n" for line in _decoded_lines(path, stats))  # quoted fields may hold line breaks
    try:
        reader = csv.reader(lines, delimiter=dialect.delimiter or delimiter, quotechar=dialect.quotechar)
    except TypeError as exc:
        key = "corpus.csv_quotechar" if "quotechar" in str(exc) else "corpus.csv_delimiter"
        raise CorpusError(f"{key.split('.')[1]} must be one character", file=str(path), key=key,
                          hint="write one character, e.g. \";\" or \"\\t\"") from None
    index = dialect.column
    if dialect.header:
        names = next(reader, None)
        if names is None or column not in names:
            shown = [n if len(n) <= 40 else n[:37] + "..." for n in (names or [])[:6]]
            raise CorpusError(f"no column {column!r} in the header {shown}", file=str(path), line=1,
                              key="corpus.text_column",
                              hint=f"set [corpus] text_column to one of the header's columns; {DIALECT_HINT}")
        index = names.index(column)
    for row in reader:
        if not row:
            continue
        if index >= len(row):
            raise CorpusError(f"row {reader.line_num} has {len(row)} field(s), no column {index}", file=str(path),
                              line=reader.line_num, key="corpus.csv_column" if not dialect.header else
                              "corpus.text_column", hint=DIALECT_HINT)
        value = row[index]
        if value.strip():
            yield value.strip()


def _conllu_documents(path: Path, delimiter: str, stats: CorpusStats) -> Iterator[str]:
    """The sentences of a CoNLL-U file (Universal Dependencies), from their ``# text = `` comments.

    ``line``: one document per sentence; ``blank_line``: the sentences between ``# newdoc`` (or
    ``# newpar``) comments joined into one document (the whole file when it has none).
    Format: https://universaldependencies.org/format.html
    """
    group: list[str] = []
    for line in _decoded_lines(path, stats):
        if line.startswith("# text ="):
            sentence = line[len("# text ="):].strip()
            if not sentence:
                continue
            if delimiter == "line":
                yield sentence
            else:
                group.append(sentence)
        elif delimiter != "line" and line.startswith(("# newdoc", "# newpar")) and group:
            yield " ".join(group)
            group = []
    if group:
        yield " ".join(group)


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
                   delimiter: str = "line", stats: CorpusStats | None = None,
                   csv_dialect: CsvDialect = CsvDialect()) -> Iterator[str]:
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
            docs = _csv_documents(path, text_column, "\t" if kind == "tsv" else ",", stats, csv_dialect)
        elif kind == "conllu":
            docs = _conllu_documents(path, delimiter, stats)
        else:
            docs = _parquet_documents(path, text_column, stats)
        for doc in docs:
            stats.documents += 1
            yield doc
        stats.disk_done += _size(path)
        stats.disk_bytes = stats.disk_done


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def hub_documents(name: str, config: str, split: str, text_column: str, stats: CorpusStats,
                  file: str | None = None, *, data_files: list | None = None,
                  key: str = "corpus.hf_dataset") -> Iterator[str]:
    """Documents of a Hugging Face dataset, streamed (``load_dataset(..., streaming=True)``).

    A Hub dataset needs the internet (or a local ``datasets`` cache); a packaged builder with
    local ``data_files`` (``json``, ``text``, ``parquet``, ``csv``) reads them offline through the
    same code. Rows are read one at a time, so memory does not grow with the dataset.

    Raises:
        CorpusError: the dataset cannot be reached or loaded (offline, unknown name), fails while
            streaming, or a row lacks ``text_column``.
    """
    import datasets

    where = repr(name) + (f" ({config})" if config else "")
    hint = ("a Hub dataset needs the internet (or a local datasets cache): check the name and the connection, "
            "or read local files with train_files or hf_data_files")
    try:
        ds = datasets.load_dataset(name, config or None, split=split, streaming=True,
                                   data_files=[str(f) for f in data_files] if data_files else None)
    except Exception as exc:  # datasets raises many types (ConnectionError, FileNotFoundError, DatasetNotFoundError)
        raise CorpusError(f"cannot load Hugging Face dataset {where}: {type(exc).__name__}: {exc}",
                          file=file, key=key, hint=hint) from None
    stats.files.append(f"hf://{name}/{config}/{split}")
    rows = iter(ds)
    number = 0
    while True:
        try:
            row = next(rows)
        except StopIteration:
            break
        except Exception as exc:
            raise CorpusError(f"cannot read Hugging Face dataset {where} at row {number}: {type(exc).__name__}: "
                              f"{exc}", file=file, key=key, hint=hint) from None
        number += 1
        if text_column not in row:
            raise CorpusError(f"dataset {where} has no column {text_column!r} (columns: {', '.join(row)})",
                              file=file, key=key.rsplit(".", 1)[0] + ".text_column", hint="set text_column")
        value = row[text_column]
        if isinstance(value, str) and value.strip():
            stats.documents += 1
            stats.bytes += len(value.encode("utf-8"))
            yield value.strip()


def split_documents(docs: Iterable[str], fraction: float, seed: int) -> tuple[list[str], list[str]]:
    """The in-memory form of the validation rule of :mod:`lmtui.data.stream`: document ``i`` goes to
    validation when :func:`lmtui.data.stream.is_validation` says so for (``seed``, ``i``).

    At least one document goes to each side when there are two or more documents (the one
    whose hash is the lowest moves to validation, the highest to training).
    """
    docs = list(docs)
    hashes = [split_hash(seed, "", i) for i in range(len(docs))]
    valid_mask = [h < fraction for h in hashes]
    if fraction > 0 and not any(valid_mask) and len(docs) > 1:
        valid_mask[min(range(len(docs)), key=hashes.__getitem__)] = True
    if all(valid_mask) and len(docs) > 1:
        valid_mask[max(range(len(docs)), key=hashes.__getitem__)] = False
    train = [d for d, v in zip(docs, valid_mask) if not v]
    valid = [d for d, v in zip(docs, valid_mask) if v]
    return train, valid


def split_hash(seed: int, key: str, index: int) -> float:
    """A uniform number in [0, 1) from (``seed``, ``key``, ``index``): the first 8 bytes of their
    BLAKE2b digest over 2**64."""
    digest = hashlib.blake2b(f"{seed}\0{key}\0{index}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") / 2.0 ** 64
