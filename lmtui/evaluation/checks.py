"""``[eval]``'s check-time probes (the check layer, :mod:`lmtui.checks`, runs them before
anything is written):

- every held-out text file, task data file and local dataset folder exists
  (:func:`lmtui.project.sections.eval.validate` with ``check_files``);
- every fine-tuning file of ``[eval.tasks.*]``: the first
  :data:`lmtui.data.checks.SAMPLE_DOCUMENTS` examples through :mod:`lmtui.evaluation.readers`,
  and the last line of TSV and CoNLL files; every dataset task (``dataset``, or a preset
  without ``data_dir``): in the datasets cache or reachable on the Hub, with its splits and
  columns (:mod:`lmtui.evaluation.hub_tasks`, no rows read).

No torch, transformers or Textual.
"""

from __future__ import annotations

from pathlib import Path

from lmtui.data.checks import SAMPLE_DOCUMENTS, tail_record
from lmtui.errors import ProjectError
from lmtui.project.lines import line_of
from lmtui.project.paths import resolve_path

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
    line = tail_record(path) if width is not None else None
    if line is None:
        return
    found = len(line.split(delimiter)) if delimiter else len(line.split())
    if found != width:
        fail(f"{path}: the last line has {found} fields, the first {width}: {line.strip()[:80]!r}",
             "every line needs the same fields (was the file cut short, or does a field hold a stray tab?)")


def check_eval(project, text: str = "") -> None:
    """The files of ``[eval]`` exist (:func:`lmtui.project.sections.eval.validate`), then their
    samples (:func:`check_eval_files`).

    Raises:
        ProjectError: the first problem found, naming ``eval.*`` and its line.
    """
    from lmtui.project.sections.eval import validate

    validate(project.eval, file=project.path or "<project>", text=text,
             resolve=lambda p: resolve_path(project, p), check_files=True)
    check_eval_files(project, text)
