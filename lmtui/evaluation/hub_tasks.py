"""Fine-tuning tasks read with ``datasets.load_dataset``: a Hub dataset (``nyu-mll/glue``, subset
``sst2``) or a local dataset folder, turned into the example objects of
:mod:`lmtui.evaluation.readers` (:class:`TextExample`, :class:`Sentence`), so fine-tuning reads
both kinds of task alike.

Loading goes through the ``datasets`` library and its cache (``HF_HOME`` /
``HF_DATASETS_CACHE``): a Hub dataset is downloaded and prepared once, then read from the cache,
also with ``HF_DATASETS_OFFLINE=1`` (``HF_HUB_OFFLINE=1``), where ``datasets`` resolves the id
to the newest prepared copy in the cache (``datasets/load.py``: ``CachedDatasetModuleFactory``;
``datasets/packaged_modules/cache/cache.py``: ``_find_hash_in_cache``).

:func:`check_dataset_task` is the check-time probe (``lmtui check``, before ``lmtui run``
writes anything): a prepared copy in the cache answers it from its ``dataset_info.json``
(:func:`cached_copy`, no request to the Hub); otherwise ``datasets.load_dataset_builder``
(offline: the same cache lookup, failing; online: the Hub's metadata requests). No rows are
read. It checks the splits and columns the task names where the metadata lists them.

Labels: a ``ClassLabel`` column gives its names (``features["label"].names``,
``features["ner_tags"].feature.names``), in id order; a label of -1 (GLUE's hidden test labels)
is refused. Tags are read in the task's ``tag_scheme`` (CoNLL-2003 on the Hub: IOB2) and IOB1
is converted to IOB2, as for CoNLL files.

Every problem is a :class:`~lmtui.evaluation.readers.TaskDataError` naming the dataset (and
subset), the split, the row (1-based, in the ``line`` field) and the task key at fault.
"""

from __future__ import annotations

import os

from lmtui.evaluation.readers import (Sentence, TaskData, TaskDataError, TextExample, check_text_labels,
                                      iob1_to_iob2, load_file_task, text_label_list, token_label_list)


def load_task(spec) -> TaskData:
    """Read and check a :class:`~lmtui.project.sections.eval.TaskSpec`'s data, the one reader of
    either form: its dataset (:func:`load_dataset_task`) when it names one, else its files
    (:func:`lmtui.evaluation.readers.load_file_task`), each with the spec's example limits.

    Raises:
        TaskDataError: any problem of the reader.
    """
    return load_dataset_task(spec) if spec.dataset else load_file_task(spec)


def fetch_command(spec) -> str:
    """The Python one-liner that fetches a task's Hub dataset into the datasets cache."""
    args = [repr(spec.dataset)] + ([repr(spec.subset)] if spec.subset else [])
    if spec.revision:
        args.append(f"revision={spec.revision!r}")
    return f"python -c \"import datasets; datasets.load_dataset({', '.join(args)})\""


def cache_folder() -> str:
    """The datasets cache this process reads (``HF_DATASETS_CACHE``, by default ``$HF_HOME/datasets``)."""
    import datasets

    return str(datasets.config.HF_DATASETS_CACHE)


def is_offline() -> bool:
    """Whether ``datasets`` runs offline (``HF_DATASETS_OFFLINE`` / ``HF_HUB_OFFLINE``)."""
    import datasets

    return bool(datasets.config.HF_HUB_OFFLINE)


def _fail(spec, message: str, key: str = "dataset", hint: str | None = None, split: str | None = None,
          row: int | None = None) -> TaskDataError:
    where = f"{spec.source} [{split}]" if split else None  # else the message names the dataset
    return TaskDataError(message, file=where, key=f"eval.tasks.{spec.name}.{key}", line=row, hint=hint)


def _unavailable(spec, exc: Exception) -> TaskDataError:
    """The error of a dataset that ``datasets`` could not open, by the exception it raised."""
    from datasets.exceptions import DataFilesNotFoundError, DatasetNotFoundError

    text = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else type(exc).__name__
    if "Dataset scripts are no longer supported" in text:
        return _fail(spec, f"dataset {spec.source} is a loading script, which datasets no longer runs",
                     "revision", "read its Parquet conversion: revision = \"refs/convert/parquet\", or use a "
                                 "copy stored as data files")
    full = " ".join(str(exc).split())
    if "Couldn't find cache" in full:
        cached = full.split("Available configs in the cache:", 1)
        return _not_cached(spec, f"; the cache holds the subsets {cached[1].strip()}" if len(cached) > 1 else "")
    if "BuilderConfig" in full and "not found" in full:
        available = full.split("Available:", 1)
        return _fail(spec, f"dataset {spec.dataset} has no subset {spec.subset!r}"
                     + (f" (available: {available[1].strip()})" if len(available) > 1 else ""),
                     "subset", "set subset to one of the dataset's configurations (a local folder's are the "
                               "config_name entries of its README.md; none: leave subset out)")
    if os.path.isdir(spec.dataset):
        return _fail(spec, f"dataset folder {spec.dataset} cannot be read: {type(exc).__name__}: {text}",
                     hint="give a folder of data files named by split (train.parquet, validation.jsonl, "
                          "or sst2/train-*.parquet with subset), or a Hub id")
    if isinstance(exc, (ConnectionError, TimeoutError)) or "Couldn't reach" in full:
        return _not_cached(spec, "")
    if isinstance(exc, DatasetNotFoundError):
        return _fail(spec, f"dataset {spec.dataset} does not exist on the Hub or cannot be accessed: {text}",
                     hint="check the id (namespace/name); for a gated or private dataset log in with "
                          "`hf auth login`; for a local folder write a path (./data/my_task)")
    if isinstance(exc, (DataFilesNotFoundError, FileNotFoundError)):
        return _fail(spec, f"dataset {spec.source} cannot be found: {text}",
                     hint="check the id and subset, or give a local dataset folder")
    return _fail(spec, f"dataset {spec.source} cannot be opened: {type(exc).__name__}: {text}",
                 hint=f"try it by hand: {fetch_command(spec)}")


def _not_cached(spec, detail: str) -> TaskDataError:
    reason = "offline mode is on (HF_DATASETS_OFFLINE / HF_HUB_OFFLINE)" if is_offline() else \
        "the Hub cannot be reached"
    return _fail(spec, f"dataset {spec.source} is not in the datasets cache ({cache_folder()}) and {reason}{detail}",
                 hint=f"fetch it once where the Hub is reachable: {fetch_command(spec)}; on a machine "
                      "without network, copy that machine's datasets cache (~/.cache/huggingface/datasets, or "
                      "HF_DATASETS_CACHE) here, or give a local dataset folder")


def _quiet() -> None:
    """Keep ``datasets``' cache notices and ``huggingface_hub``'s retry warnings out of the output
    (the error raised says what went wrong)."""
    from datasets.utils import logging as ds_logging
    from huggingface_hub.utils import logging as hub_logging

    ds_logging.set_verbosity_error()
    hub_logging.set_verbosity_error()


def cached_copy(spec):
    """The newest prepared copy of a Hub dataset task's dataset and subset in the datasets cache,
    or None: the folder ``<cache>/<namespace>___<name>/<subset>/<version>/<hash>/`` whose
    ``dataset_info.json`` names that subset, the lookup ``datasets`` makes offline
    (``datasets/packaged_modules/cache/cache.py``: ``_find_hash_in_cache``). Without a subset,
    the dataset's only cached configuration. A local dataset folder has no cached copy (None).
    """
    import glob
    import json

    from datasets.naming import camelcase_to_snakecase

    if os.path.isdir(spec.dataset) or spec.dataset.count("/") > 1:
        return None
    parts = spec.dataset.split("/")
    parts[-1] = camelcase_to_snakecase(parts[-1])
    root = os.path.join(cache_folder(), "___".join(parts))
    found = []
    config = glob.escape(spec.subset) if spec.subset else "*"
    for folder in glob.glob(os.path.join(glob.escape(root), config, "*", "*")):
        if folder.endswith(".incomplete"):  # a preparation under way or interrupted
            continue
        info = os.path.join(folder, "dataset_info.json")
        try:
            with open(info, encoding="utf-8") as fh:
                name = json.load(fh).get("config_name")
        except (OSError, ValueError):
            continue
        if name == os.path.basename(os.path.dirname(os.path.dirname(folder))):
            found.append(folder)
    if not spec.subset and len({os.path.basename(os.path.dirname(os.path.dirname(f))) for f in found}) > 1:
        return None  # several subsets cached: datasets asks for one (so does the error of open_builder)
    return max(found, key=os.path.getmtime) if found else None


def _columns(spec) -> list[tuple[str, str]]:
    """(task key, column) of every column the task reads."""
    if spec.kind == "token_classification":
        return [("tokens_column", spec.tokens_column), ("tags_column", spec.tags_column)]
    cols = [("text_column", spec.text_column), ("label_column", spec.label_column)]
    if spec.text_pair_column:
        cols.append(("text_pair_column", spec.text_pair_column))
    return cols


def _check_splits(spec, available: list[str]) -> None:
    wanted = [("train_split", spec.train_split)] + [(f"{s}_split", n) for s, n in spec.splits.items()]
    for key, split in wanted:
        if split not in available:
            raise _fail(spec, f"dataset {spec.source} has no split {split!r} (splits: {', '.join(available)})",
                        key, f"set {key} to one of: {', '.join(available)}")


def _check_columns(spec, names: list[str], split: str | None = None) -> None:
    import difflib

    for key, col in _columns(spec):
        if col not in names:
            guess = difflib.get_close_matches(str(col), names, n=1, cutoff=0.5)
            raise _fail(spec, f"dataset {spec.source} has no column {col!r} (columns: {', '.join(names)})", key,
                        f"did you mean '{guess[0]}'?" if guess else f"set {key} to one of the dataset's columns",
                        split=split)


def open_builder(spec):
    """``datasets.load_dataset_builder`` of the task's dataset, subset and revision (no rows read).

    Raises:
        TaskDataError: the dataset is neither cached nor reachable, does not exist, has no such
            subset, or is a loading script.
    """
    import datasets

    _quiet()
    try:
        return datasets.load_dataset_builder(spec.dataset, spec.subset or None, revision=spec.revision or None)
    except Exception as exc:  # noqa: BLE001 - datasets raises ValueError, ConnectionError, RuntimeError, ...
        raise _unavailable(spec, exc) from None


def check_dataset_task(spec) -> None:
    """The check-time probe of a dataset task: the dataset opens (from the cache, or the Hub when
    online) and has the task's splits and columns, where its metadata lists them.

    Raises:
        TaskDataError: see :func:`open_builder`; a split or column that the dataset lacks.
    """
    cached = cached_copy(spec)
    if cached is not None:  # a lookup in the cache answers: no request to the Hub
        from datasets import DatasetInfo

        info = DatasetInfo.from_directory(cached)
        splits, features = list(info.splits or []), info.features
    else:
        builder = open_builder(spec)
        splits = list(builder.info.splits) if builder.info.splits else []
        if not splits and getattr(builder.config, "data_files", None):
            splits = list(builder.config.data_files)
        features = builder.info.features
    if splits:
        _check_splits(spec, splits)
    if features:
        _check_columns(spec, list(features))


def _label_names(feature) -> list[str] | None:
    """The names of a ``ClassLabel`` feature, or of the ``ClassLabel`` inside a list feature."""
    from datasets import ClassLabel

    if isinstance(feature, ClassLabel):
        return list(feature.names)
    inner = getattr(feature, "feature", None)
    return list(inner.names) if isinstance(inner, ClassLabel) else None


def _rows(ds, columns: list[str], limit: int) -> dict[str, list]:
    """The first ``limit`` rows (0: all) of ``ds``'s ``columns``, column-wise."""
    if limit and limit < len(ds):
        ds = ds.select(range(limit))
    return {c: list(ds[c]) for c in columns}


def _split_key(spec, split: str) -> str:
    """The task key that names ``split`` (train_split, validation_split or test_split)."""
    return next(k for k, n in (("train_split", spec.train_split), ("validation_split", spec.validation_split),
                               ("test_split", spec.test_split)) if n == split)


def _check_tags(spec, sentences: list[Sentence], labels: list[str], split: str, name: str) -> None:
    """Every tag of a split's sentences is in ``labels`` (the error names the split and row).

    Raises:
        TaskDataError: naming the first row with a tag that the label list lacks.
    """
    known = set(labels)
    for s in sentences:
        unknown = [t for t in s.tags if t not in known]
        if unknown:
            raise _fail(spec, f"tag {unknown[0]!r} of row {s.line} of the {name} split does not occur in the "
                              f"training split (labels: {', '.join(labels)})", "labels",
                        "train on more examples (max_train_examples) or list the labels in the task's labels key",
                        split, s.line)


def _text_examples(spec, ds, split: str, limit: int) -> tuple[list[TextExample], list[str] | None]:
    names = _label_names(ds.features[spec.label_column])
    cols = [spec.text_column, spec.label_column] + ([spec.text_pair_column] if spec.text_pair_column else [])
    data = _rows(ds, cols, limit)
    out = []
    for i, label in enumerate(data[spec.label_column]):
        row = i + 1
        text = data[spec.text_column][i]
        pair = data[spec.text_pair_column][i] if spec.text_pair_column else None
        if not isinstance(text, str) or (pair is not None and not isinstance(pair, str)):
            raise _fail(spec, "the text is not a string", "text_column", split=split, row=row)
        if names is not None:
            if label == -1:
                raise _fail(spec, f"row {row} of split {split!r} has no label (-1: GLUE's test labels are hidden)",
                            _split_key(spec, split), "score a labelled split (GLUE: validation), e.g. "
                                                     "test_split = \"\"", split, row)
            if not isinstance(label, int) or not 0 <= label < len(names):
                raise _fail(spec, f"label {label!r} is not an id of {names}", "label_column", split=split, row=row)
            label = names[label]
        elif isinstance(label, bool) or label is None or not isinstance(label, (str, int)):
            raise _fail(spec, f"label {label!r} is not a string or an integer", "label_column",
                        "classification needs a label per example (regression is not supported)", split, row)
        label = str(label).strip()
        if not label:
            raise _fail(spec, "empty label", "label_column", "every example needs a label", split, row)
        out.append(TextExample(text.strip(), pair.strip() if pair is not None else None, label, row))
    return out, names


def _sentences(spec, ds, split: str, limit: int) -> tuple[list[Sentence], list[str] | None]:
    names = _label_names(ds.features[spec.tags_column])
    data = _rows(ds, [spec.tokens_column, spec.tags_column], limit)
    if names is None and spec.labels:
        names = list(spec.labels)
    out = []
    for i, (words, tags) in enumerate(zip(data[spec.tokens_column], data[spec.tags_column])):
        row = i + 1
        if not words or words == ["-DOCSTART-"]:
            continue
        if len(words) != len(tags):
            raise _fail(spec, f"row {row} has {len(words)} tokens and {len(tags)} tags", "tags_column",
                        "tokens_column and tags_column must be lists of the same length", split, row)
        if tags and isinstance(tags[0], int):
            if names is None:
                raise _fail(spec, f"the tags of column {spec.tags_column!r} are numbers without names", "tags_column",
                            "give the tag names in id order in the task's labels key", split, row)
            try:
                tags = [names[t] for t in tags]
            except IndexError:
                raise _fail(spec, f"a tag id of row {row} is outside the {len(names)} names {names}", "tags_column",
                            split=split, row=row) from None
        for tag in tags:
            if not isinstance(tag, str) or tag != "O" and not (len(tag) > 2 and tag[:2] in ("B-", "I-")):
                raise _fail(spec, f"tag {tag!r} of row {row} is not O, B-TYPE or I-TYPE", "tags_column",
                            "check tags_column (the column of entity tags)", split, row)
        tags = iob1_to_iob2(list(tags)) if spec.tag_scheme == "iob1" else list(tags)
        out.append(Sentence([str(w) for w in words], tags, row))
    if not out:
        raise _fail(spec, f"split {split!r} has no sentences", "tokens_column", split=split)
    return out, names


def load_dataset_task(spec) -> TaskData:
    """Read a dataset task's training split and scored splits (with its example limits).

    Returns:
        :class:`~lmtui.evaluation.readers.TaskData`: examples in the shape the file readers
        give, labels from ``spec.labels``, else the dataset's ClassLabel names (IOB2 tags), else
        those of the training examples.

    Raises:
        TaskDataError: the dataset cannot be opened (see :func:`open_builder`), lacks a split or
            column, has an unlabelled or malformed row, or a scored label that training lacks.
    """
    import datasets

    _quiet()
    try:
        loaded = datasets.load_dataset(spec.dataset, spec.subset or None, revision=spec.revision or None)
    except Exception as exc:  # noqa: BLE001 - see open_builder
        raise _unavailable(spec, exc) from None
    _check_splits(spec, list(loaded))
    for split in [spec.train_split, *spec.splits.values()]:
        _check_columns(spec, list(loaded[split].column_names), split)
    where = {name: f"{spec.source} [{split}]" for name, split in
             [("training", spec.train_split), *spec.splits.items()]}
    if spec.kind == "token_classification":
        train, names = _sentences(spec, loaded[spec.train_split], spec.train_split, spec.max_train_examples)
        labels = token_label_list(train, spec.labels or (names if spec.tag_scheme == "iob2" else None))
        _check_tags(spec, train, labels, spec.train_split, "training")
        splits = {}
        for name, split in spec.splits.items():
            splits[name], _ = _sentences(spec, loaded[split], split, spec.max_eval_examples)
            _check_tags(spec, splits[name], labels, split, name)
        return TaskData(train, splits, labels)

    train, names = _text_examples(spec, loaded[spec.train_split], spec.train_split, spec.max_train_examples)
    labels = list(spec.labels) if spec.labels else (names or text_label_list(train))
    check_text_labels(train, labels, where["training"], "training")
    if len(labels) < 2:
        raise _fail(spec, f"the training split has a single label ({labels[0]!r})", "label_column",
                    "check label_column, or use more training examples (max_train_examples)", spec.train_split)
    splits = {}
    for name, split in spec.splits.items():
        splits[name], _ = _text_examples(spec, loaded[split], split, spec.max_eval_examples)
        check_text_labels(splits[name], labels, where[name], name)
    return TaskData(train, splits, labels)
