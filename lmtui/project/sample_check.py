"""Check-time probes of what a run will read and write, each bounded in time and memory.

:func:`sample_check` runs before anything is written (``lmtui check`` and the launch path,
through :func:`lmtui.project.deep_check.deep_check`) and turns what would otherwise fail at run
time, after the run directory exists, into one :class:`~lmtui.errors.ProjectError` naming the
project file, the key and its line, with the user's data file in the message:

- the output and cache folders: created (when missing) and written with a probe file, then
  removed again, so a folder under ``/proc``, under a regular file or on a read-only
  filesystem is refused (:func:`check_writable`);
- every corpus file (each source of a mixture): a file of at most :data:`FULL_BYTES` on disk
  is read whole through :func:`lmtui.data.corpus.read_documents` (decompression checked to
  the gzip trailer); a larger one only up to :data:`SAMPLE_DOCUMENTS` documents or
  :data:`SAMPLE_BYTES` of text, plus, for uncompressed JSON Lines, its last record read from
  the last :data:`TAIL_BYTES`; Parquet files open through their footer (container integrity);
  a file without text and a corpus of one document with no validation split are refused;
- ``[tokenizer] path`` (and the ``init_from`` model's tokenizer.json) parsed with the
  ``tokenizers`` library; the ``init_from`` model's weights checked by their safetensors header;
- ``[hub] repo_id`` by ``huggingface_hub.utils.validate_repo_id``;
- every fine-tuning file of ``[eval.tasks.*]``: the first :data:`SAMPLE_DOCUMENTS` examples
  through :mod:`lmtui.evaluation.readers`, and the last line of TSV and CoNLL files; every
  dataset task (``dataset``, or a preset without ``data_dir``): in the datasets cache or
  reachable on the Hub, with its splits and columns (:mod:`lmtui.evaluation.hub_tasks`, no
  rows read).

A malformed line in the middle of a large file is outside the sample: it is still reported,
with its file and line, by the run's own reader. No torch, transformers or Textual.
"""

from __future__ import annotations

import json
import os
from itertools import islice
from pathlib import Path

from lmtui.errors import LmtuiError, ProjectError
from lmtui.project.lines import line_of
from lmtui.project.paths import cache_dir, output_dir, resolve_path

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


def check_writable(folder: str, *, file: str, key: str, line: int | None) -> None:
    """Create ``folder`` (with its missing parents), write and delete a probe file in it, and
    remove the folders created, so nothing is left behind.

    Raises:
        ProjectError: a part of the path is a regular file, or the folder cannot be created or
            written (``/proc``, a read-only filesystem, no permission), naming ``key``.
    """
    target = Path(folder)
    missing, existing = [], target
    while not existing.exists() and existing != existing.parent:
        missing.append(existing)
        existing = existing.parent
    name = key.rpartition(".")[2]
    if not existing.is_dir():
        raise ProjectError(f"{name} {folder!r} cannot be created: {str(existing)!r} is a file", file=file, key=key,
                           line=line, hint="choose a folder path, or move that file away")
    created = []
    try:
        for part in reversed(missing):
            part.mkdir()
            created.append(part)
        probe = target / f".lmtui-probe-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise ProjectError(f"{name} {folder!r} cannot be written: {exc.strerror or exc}", file=file, key=key,
                           line=line, hint="choose a folder on a writable filesystem where you may write") from None
    finally:
        for part in reversed(created):
            try:
                part.rmdir()
            except OSError:
                pass


def _source_keys(source) -> tuple[str, str, str]:
    """(table, key of its training files, key of its validation files) of a corpus source."""
    if source.name == "corpus":
        return "corpus", "train_files", "validation_files"
    return f"corpus.sources.{source.name}", "files", "validation_files"


def _tail_record(path: Path) -> str | None:
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
    line = _tail_record(path)
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


def check_weights(folder: Path, *, file: str, key: str, line: int | None) -> None:
    """The model folder holds weights whose safetensors headers (tensor table and offsets
    covering the file) read, checked by the ``safetensors`` library without loading a tensor.

    Raises:
        ProjectError: no weights file, or one that is cut short or not safetensors.
    """
    from safetensors import safe_open

    weights = sorted(folder.glob("*.safetensors"))
    if not weights and not any((folder / n).is_file() for n in ("pytorch_model.bin", "pytorch_model.bin.index.json")):
        raise ProjectError(f"no model weights in {folder} (no *.safetensors, no pytorch_model.bin)", file=file,
                           key=key, line=line, hint="point it at a folder saved with save_pretrained")
    for path in weights:
        try:
            with safe_open(str(path), framework="numpy"):
                pass
        except Exception as exc:  # safetensors_rust.SafetensorError derives from Exception only
            raise ProjectError(f"{path} is not a readable safetensors file: {exc}", file=file, key=key, line=line,
                               hint="the model folder is damaged: save it again with save_pretrained") from None


def check_models(project, text: str) -> None:
    """``[tokenizer] path`` and the ``init_from`` model folder: tokenizer.json and weights.

    Raises:
        ProjectError: from :func:`check_tokenizer_file` or :func:`check_weights`.
    """
    file = project.path or "<project>"
    t = project.tokenizer
    if t.path:
        check_tokenizer_file(Path(resolve_path(project, t.path)), file=file, key="tokenizer.path",
                             line=line_of(text, "tokenizer", "path"))
    if project.model.init_from:
        from lmtui.project.init_from import resolve_init_from

        folder = resolve_init_from(project, text).folder
        where = dict(file=file, key="model.init_from", line=line_of(text, "model", "init_from"))
        if not t.path:
            check_tokenizer_file(folder, **where)
        check_weights(folder, **where)


def check_repo_id(project, text: str) -> None:
    """``[hub] repo_id``, when set, is a valid Hub repository id (``huggingface_hub``'s validator).

    Raises:
        ProjectError: naming ``hub.repo_id`` and its line.
    """
    repo_id = project.hub.repo_id
    if not repo_id:
        return
    from huggingface_hub.errors import HFValidationError
    from huggingface_hub.utils import validate_repo_id

    try:
        validate_repo_id(repo_id)
    except HFValidationError as exc:
        raise ProjectError(f"{repo_id!r} is not a valid Hub repository id: {str(exc).splitlines()[0]}",
                           file=project.path or "<project>", key="hub.repo_id", line=line_of(text, "hub", "repo_id"),
                           hint="write NAMESPACE/NAME with letters, digits, '-', '_' and '.', e.g. alice/my-bert") \
            from None


def check_eval_files(project, text: str) -> None:
    """Sample every fine-tuning file of ``[eval.tasks.*]``: the first examples through the
    readers of :mod:`lmtui.evaluation.readers`, and the last line of TSV and CoNLL files (the
    same number of fields as the header or the first word line).

    Raises:
        ProjectError: naming ``eval.tasks.NAME.<file key>`` and the data file and line.
    """
    from lmtui.evaluation.readers import TaskDataError, read_conll, read_text_examples
    from lmtui.project.sections.eval import task_specs

    file = project.path or "<project>"
    specs = task_specs(project.eval, file=file, text=text, resolve=lambda p: resolve_path(project, p))
    for spec in specs:
        task = f"eval.tasks.{spec.name}"
        table = project.eval.tasks.get(spec.name, {})
        if spec.dataset:
            _check_dataset(spec, table, file=file, text=text)
            continue
        for key, path in (("train_file", spec.train_file), ("validation_file", spec.validation_file),
                          ("test_file", spec.test_file)):
            if not path:
                continue
            written = key if key in table else ("data_dir" if "data_dir" in table else None)
            section = task.replace(" ", "")  # line_of reads [eval.tasks."a b"] as eval.tasks.ab
            line = line_of(text, section, written) if written else line_of(text, section)

            def fail(message, hint, _key=written or key, _line=line):
                raise ProjectError(message, file=file, key=f"{task}.{_key}", line=_line, hint=hint)

            try:
                if spec.file_format == "conll":
                    read_conll(path, token_column=spec.token_column, label_column=spec.label_column,
                               tag_scheme=spec.tag_scheme, limit=SAMPLE_DOCUMENTS)
                    width = None
                    with open(path, encoding="utf-8-sig") as fh:
                        for raw in fh:
                            if raw.split() and raw.split()[0] != "-DOCSTART-":
                                width = len(raw.split())
                                break
                    _check_last_fields(Path(path), width, None, fail)
                else:
                    read_text_examples(path, fmt=spec.file_format, text_column=spec.text_column,
                                       label_column=spec.label_column, text_pair_column=spec.text_pair_column,
                                       header=spec.header, limit=SAMPLE_DOCUMENTS)
                    if spec.file_format == "tsv" and spec.header:
                        with open(path, encoding="utf-8-sig") as fh:
                            width = len(fh.readline().rstrip("\r\n").split("\t"))
                        _check_last_fields(Path(path), width, "\t", fail)
            except TaskDataError as exc:
                where = f"{exc.file}:{exc.line}" if exc.line else exc.file
                fail(f"{where}: {exc.message}", exc.hint)


def _check_dataset(spec, table: dict, *, file: str, text: str) -> None:
    """A dataset task's probe (:func:`lmtui.evaluation.hub_tasks.check_dataset_task`: cached or
    reachable, its splits and columns), its error turned into a ProjectError naming the key at
    fault (``eval.tasks.NAME.dataset``, ``.subset``, ``.validation_split``, ...) and the line of
    that key, else of ``dataset``, else of ``preset`` (which names the dataset of a preset)."""
    from lmtui.evaluation.hub_tasks import check_dataset_task
    from lmtui.evaluation.readers import TaskDataError

    try:
        check_dataset_task(spec)
    except TaskDataError as exc:
        task = f"eval.tasks.{spec.name}"
        key = exc.key.rpartition(".")[2] if exc.key else "dataset"
        section = task.replace(" ", "")
        written = next((k for k in (key, "dataset", "preset") if k in table), None)
        line = (line_of(text, section, written) if written else None) or line_of(text, section)
        where = f"{exc.file}: " if exc.file and exc.file not in exc.message else ""
        raise ProjectError(f"{where}{exc.message}", file=file, key=f"{task}.{key}", line=line,
                           hint=exc.hint) from None


def _check_last_fields(path: Path, width: int | None, delimiter: str | None, fail) -> None:
    """The last non-blank line of ``path`` has ``width`` fields (split on ``delimiter``, or on
    whitespace for None)."""
    line = _tail_record(path) if width is not None else None
    if line is None:
        return
    found = len(line.split(delimiter)) if delimiter else len(line.split())
    if found != width:
        fail(f"{path}: the last line has {found} fields, the first {width}: {line.strip()[:80]!r}",
             "every line needs the same fields (was the file cut short, or does a field hold a stray tab?)")


def sample_check(project, text: str = "") -> None:
    """Every probe of the module docstring, cheapest first: folders, repo id, models, corpus,
    fine-tuning files.

    Raises:
        ProjectError: the first problem found, naming the project file, the key and its line.
    """
    file = project.path or "<project>"
    check_writable(output_dir(project), file=file, key="project.output_dir",
                   line=line_of(text, "project", "output_dir"))
    cache_line = line_of(text, "project", "cache_dir") or line_of(text, "project", "output_dir")
    check_writable(cache_dir(project), file=file,
                   key="project.cache_dir" if project.project.cache_dir else "project.output_dir", line=cache_line)
    check_repo_id(project, text)
    check_models(project, text)
    check_corpus(project, text)
    check_eval_files(project, text)
