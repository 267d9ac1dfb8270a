"""The corpus's check-time probes, each bounded in time and memory (the check layer,
:mod:`lmtui.checks`, runs them before anything is written):

- every corpus file of every source resolves (:func:`check_files`: a pattern that matches
  nothing, an empty file);
- every corpus file (each source of a mixture): a file of at most :data:`FULL_BYTES` on disk
  is read whole through :func:`lmtui.data.corpus.read_documents` (decompression checked to
  the gzip trailer); a larger one only up to :data:`SAMPLE_DOCUMENTS` documents or
  :data:`SAMPLE_BYTES` of text, plus, for uncompressed JSON Lines, its last record read from
  the last :data:`TAIL_BYTES`; Parquet files open through their footer (container integrity);
  a file that is not UTF-8, a file without text and a corpus of one document with no
  validation split are refused (:func:`check_corpus`);
- ``[tokenizer] path`` exists and its tokenizer.json parses with the ``tokenizers`` library
  (:func:`check_tokenizer`).

A malformed line in the middle of a large file is outside the sample: it is still reported,
with its file and line, by the run's own reader. No torch, transformers or Textual.
"""

from __future__ import annotations

import json
from itertools import islice
from pathlib import Path

from lmtui.errors import LmtuiError, ProjectError
from lmtui.project.lines import line_of
from lmtui.project.paths import resolve_path

SAMPLE_DOCUMENTS = 100
SAMPLE_BYTES = 4 << 20
FULL_BYTES = 2 << 20
FULL_TEXT_BYTES = 64 << 20
TAIL_BYTES = 64 << 10


class _SampleFull(Exception):
    """The sampled text reached its byte budget before the reader yielded enough documents."""


def _budget_stats(limit: int):
    """A :class:`lmtui.data.corpus.CorpusStats` that raises :class:`_SampleFull` once more than
    ``limit`` bytes of text have been read (the reader adds each block it reads to ``bytes``)."""
    from lmtui.data.corpus import CorpusStats

    class BudgetStats(CorpusStats):
        def __setattr__(self, name, value):
            super().__setattr__(name, value)
            if name == "bytes" and value > limit:
                raise _SampleFull

    return BudgetStats()


def _source_keys(source) -> tuple[str, str, str]:
    """(table, key of its training files, key of its validation files) of a corpus source."""
    if source.name == "corpus":
        return "corpus", "train_files", "validation_files"
    return f"corpus.sources.{source.name}", "files", "validation_files"


def tail_record(path: Path) -> str | None:
    """The last non-blank line of an uncompressed file, read from its last :data:`TAIL_BYTES`;
    None when it has none there."""
    size = path.stat().st_size
    with open(path, "rb") as fh:
        fh.seek(max(0, size - TAIL_BYTES))
        data = fh.read(TAIL_BYTES)
    lines = data.decode("utf-8", errors="replace").splitlines()
    if size > TAIL_BYTES:
        lines = lines[1:]  # the first line of the tail may be cut
    return next((line for line in reversed(lines) if line.strip()), None)


def _check_jsonl_tail(path: Path, column: str, fail) -> None:
    line = tail_record(path)
    if line is None:
        return
    try:
        row = json.loads(line)
    except ValueError as exc:
        fail(f"{path}: the last line is not valid JSON ({exc})", None,
             "each line of a JSON Lines file must be one JSON object (was the file cut short?)")
    if not isinstance(row, dict) or column not in row:
        fail(f"{path}: no column {column!r} in the last row", "text_column",
             "set text_column to the field holding the text")


def sample_corpus_file(path: Path, *, fmt: str, text_column: str, delimiter: str, fail,
                       csv_dialect=None) -> tuple[int, bool]:
    """Read a bounded sample of one corpus file (see the module docstring).

    Args:
        fail: ``fail(message, key or None, hint)`` raises the ProjectError (``key`` None: the
            file list's key; else a reading key such as ``text_column``).
        csv_dialect: the [corpus] ``csv_*`` keys (:class:`lmtui.data.corpus.CsvDialect`), for
            CSV/TSV files; ``None``: the format's own separator, a header row.

    Returns:
        (documents read, whole file read).
    """
    from lmtui.data.corpus import CsvDialect, file_format, read_documents

    kind = file_format(path, fmt)
    size = path.stat().st_size
    if kind == "python" and size > SAMPLE_BYTES:
        return 0, False  # a Python file is parsed whole (ast): only the run reads a large one
    whole = size <= FULL_BYTES
    if kind == "parquet":
        _check_parquet(path, fail)
    else:
        _check_encoding(path, fail)
    limit = None if whole else SAMPLE_DOCUMENTS
    stats = _budget_stats(FULL_TEXT_BYTES if whole else SAMPLE_BYTES) if kind != "parquet" else None
    count, full = 0, False
    try:
        for _ in islice(read_documents([path], fmt=kind, text_column=text_column, delimiter=delimiter,
                                       stats=stats, csv_dialect=csv_dialect or CsvDialect()), limit):
            count += 1
    except _SampleFull:
        whole, full = False, True
    except LmtuiError as exc:
        where = f"{exc.file}:{exc.line}" if exc.line and exc.file else (exc.file or str(path))
        message = exc.message if str(path) in exc.message else f"{where}: {exc.message}"
        fail(message, exc.key.rpartition(".")[2] if exc.key else None, exc.hint)
    except (OSError, EOFError, ValueError) as exc:  # gzip, zlib, pyarrow (ArrowInvalid is a ValueError)
        fail(f"corpus file {str(path)!r} cannot be read: {type(exc).__name__}: {exc}", None,
             "fix or replace the file (is it cut short or not the format its name says?)")
    if limit is not None and count < limit and not full:
        whole = True  # the reader ended before the sample was full
    if whole and count == 0:
        fail(f"corpus file {str(path)!r} has no text (every document is empty)", None,
             "remove it from the list or give a file with text")
    if kind == "jsonl" and not whole and not path.name.lower().endswith((".gz", ".zst")):
        _check_jsonl_tail(path, text_column, fail)
    return count, whole


def _check_encoding(path: Path, fail) -> None:
    """Refuse a text file that is not UTF-8 (:func:`lmtui.data.corpus.sniff_encoding`): read as
    UTF-8, a UTF-16 file would train on NUL-interleaved replacement characters."""
    from lmtui.data.corpus import sniff_encoding

    try:
        found = sniff_encoding(path)
    except LmtuiError as exc:
        fail(f"corpus file {str(path)!r}: {exc.message}", None, exc.hint)
    if found:
        source = found.split(" ")[0] if found[:3] == "UTF" else "LATIN1"
        fail(f"corpus file {str(path)!r} is {found}, but corpus files are read as UTF-8", None,
             f"convert it to UTF-8, e.g. `iconv -f {source} -t UTF-8 {path.name} > {path.stem}.utf8{path.suffix}`, "
             "and list the converted file")


def _check_parquet(path: Path, fail) -> None:
    """Open a Parquet file through its footer (magic bytes and metadata) without reading its rows."""
    try:
        import pyarrow.parquet as pq

        pq.ParquetFile(path).close()
    except (OSError, ValueError) as exc:  # pyarrow.ArrowInvalid is a ValueError
        fail(f"corpus file {str(path)!r} is not a readable Parquet file: {exc}", None,
             "fix or replace the file (is it cut short?)")


def check_corpus(project, text: str) -> None:
    """Sample every corpus file of every source (:func:`sample_corpus_file`); refuse a corpus
    whose training files, read whole, hold fewer than two documents when the validation split
    has to come out of them.

    Raises:
        ProjectError: naming the project file, the source's key and line, and the corpus file.
    """
    from lmtui.data.corpus import CsvDialect
    from lmtui.data.sources import project_sources

    file = project.path or "<project>"
    for source in project_sources(project, text):
        table, train_key, valid_key = _source_keys(source)
        totals = []
        for key, paths in ((train_key, source.files), (valid_key, source.validation_files)):
            for path in paths:
                def fail(message, reading_key, hint, _key=key):
                    k = reading_key or _key
                    line = line_of(text, table, k) or line_of(text, table, _key) or line_of(text, table)
                    raise ProjectError(message, file=file, key=f"{table}.{k}", line=line, hint=hint)

                counted = sample_corpus_file(Path(path), fmt=source.format, text_column=source.text_column,
                                             delimiter=source.document_delimiter, fail=fail,
                                             csv_dialect=CsvDialect.of(project.corpus))
                if key == train_key:
                    totals.append(counted)
        if totals and not source.validation_files and all(whole for _, whole in totals) \
                and sum(n for n, _ in totals) < 2 and not project.corpus.sources:
            raise ProjectError(f"the training files hold {sum(n for n, _ in totals)} document(s): no validation "
                               "split can be taken from them", file=file, key=f"{table}.{train_key}",
                               line=line_of(text, table, train_key),
                               hint="give validation_files, or more documents (document_delimiter = \"line\" "
                                    "makes each line one)")


def check_tokenizer_file(folder: Path, *, file: str, key: str, line: int | None) -> None:
    """Parse ``folder/tokenizer.json`` with the ``tokenizers`` library (no model is loaded).

    Raises:
        ProjectError: the file is missing or not a tokenizer, naming it and ``key``.
    """
    from tokenizers import Tokenizer

    path = folder / "tokenizer.json"
    if not path.is_file():
        raise ProjectError(f"no tokenizer.json in {folder}", file=file, key=key, line=line,
                           hint="point it at a folder saved with save_pretrained (tokenizer.json inside)")
    try:
        Tokenizer.from_file(str(path))
    except Exception as exc:  # tokenizers raises plain Exception for a malformed file
        raise ProjectError(f"{path} is not a tokenizer: {str(exc).splitlines()[0][:200]}", file=file, key=key,
                           line=line, hint="point it at a folder saved with save_pretrained") from None


def check_files(project, text: str = "") -> None:
    """Every file pattern of every corpus source resolves (:func:`lmtui.data.sources.project_sources`).

    Raises:
        CorpusError: a pattern that matches nothing, or an empty file, naming its key and line.
    """
    from lmtui.data.sources import project_sources

    project_sources(project, text)


def check_tokenizer(project, text: str = "") -> None:
    """``[tokenizer] path``, when set, exists and holds a tokenizer.json the ``tokenizers`` library
    parses (:func:`check_tokenizer_file`).

    Raises:
        ProjectError: naming ``tokenizer.path`` and its line.
    """
    t = project.tokenizer
    if not t.path:
        return
    file = project.path or "<project>"
    line = line_of(text, "tokenizer", "path")
    if not Path(resolve_path(project, t.path)).exists():
        raise ProjectError(f"tokenizer path {t.path!r} does not exist", file=file, key="tokenizer.path", line=line,
                           hint="point it at a folder with tokenizer.json, or remove it to train a tokenizer")
    check_tokenizer_file(Path(resolve_path(project, t.path)), file=file, key="tokenizer.path", line=line)


def check_data(project, text: str = "") -> None:
    """The corpus and the tokenizer, in the order a run reads them: :func:`check_files`,
    :func:`check_tokenizer`, :func:`check_corpus`.

    Raises:
        ProjectError, CorpusError: the first problem found.
    """
    check_files(project, text)
    check_tokenizer(project, text)
    check_corpus(project, text)
