"""The project file's ``[eval]`` section and its fine-tuning tasks (``[eval.tasks.NAME]`` tables).

Imports nothing heavy (no torch, transformers, numpy): the schema, the loader, ``lmtui keys``
and the TUI read it cheaply.

The top-level keys are validated by the project loader like every section. The task tables
are free-form in the schema (one ``dict`` key) and validated here, with the same kind of
messages: file, ``eval.tasks.NAME.key``, line, did-you-mean. Their keys, types and choices
(:func:`check_task_tables`) whenever a project is read; presets, files and metrics
(:func:`task_specs`) when it is checked before a run.

Example::

    [eval]
    probes = ["The capital of France is <mask>."]
    pseudo_perplexity_samples = 100
    seeds = 3

    [eval.tasks.sst2]              # GLUE SST-2 from the Hub (nyu-mll/glue, subset sst2)
    preset = "sst2"

    [eval.tasks.ner]               # CoNLL-2003 from local files (IOB1)
    preset = "conll2003"
    data_dir = "data/conll2003"
    epochs = 3

A task reads either local files (``data_dir`` / ``*_file`` keys, :mod:`lmtui.evaluation.readers`)
or a dataset loaded with ``datasets.load_dataset`` (``dataset``, ``subset``, ``*_split`` keys,
:mod:`lmtui.evaluation.hub_tasks`); a preset without ``data_dir`` names its Hub dataset.
"""

from __future__ import annotations

import difflib
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

from lmtui.errors import ProjectError
from lmtui.project.lines import line_of
from lmtui.project.paths import resolve_path
from lmtui.project.sections import key

MASK_PLACEHOLDERS = ("<mask>", "[MASK]")


@dataclass
class EvalSection:
    after_pretraining: bool = key(True, "Run the evaluate stage at the end of `lmtui run` when this section "
                                  "asks for probes, pseudo-perplexity or tasks (held-out perplexity alone is "
                                  "already measured by pretraining). false: only on demand with `lmtui eval`.")
    perplexity: bool = key(True, "Held-out MLM loss, perplexity and masked-token accuracy, masked with the fixed "
                           "mask_seed so two evaluations of the same model give the same numbers.")
    text_files: list = key(None, "Held-out text for perplexity and pseudo-perplexity (same forms as "
                           "[corpus] train_files, read with the [corpus] format). Empty: the project's "
                           "validation documents.", factory=list)
    max_sequences: int = key(2000, "Held-out sequences of max_seq_length tokens scored for perplexity (0: all).",
                             minimum=0)
    mask_seed: int = key(1234, "Seed of the evaluation masks (perplexity, masked accuracy).")
    pseudo_perplexity_samples: int = key(0, "Held-out documents (seeded sample, each cut to max_seq_length "
                                         "tokens) scored by pseudo-perplexity: every token masked in turn "
                                         "(Salazar et al. 2020). 0: skip.", minimum=0)
    probes: list = key(None, "Fill-mask probe sentences, the mask written as <mask> or [MASK] whatever the "
                       "tokenizer; the top_k predictions are stored and shown.", factory=list)
    top_k: int = key(5, "Predictions stored per probe mask.", minimum=1, maximum=100)
    seed: int = key(42, "First fine-tuning seed (head initialisation, data order, dropout).")
    seeds: int = key(1, "Fine-tuning runs per task, with seeds seed, seed+1, ...; metrics report mean and "
                     "standard deviation.", minimum=1)
    epochs: float = key(3.0, "Fine-tuning epochs (default of every task).", minimum=0.0)
    learning_rate: float = key(1e-4, "Peak AdamW learning rate of fine-tuning (default of every task).",
                               minimum=0.0)
    batch_size: int = key(32, "Fine-tuning batch size (default of every task).", minimum=1)
    max_seq_length: int = key(128, "Fine-tuning sequence length in tokens, capped at the model's positions "
                              "(default of every task).", minimum=8)
    warmup_ratio: float = key(0.1, "Linear warmup as a fraction of the fine-tuning steps, then linear decay.",
                              minimum=0.0, maximum=1.0)
    weight_decay: float = key(0.01, "AdamW weight decay of fine-tuning.", minimum=0.0)
    max_train_examples: int = key(0, "Use the first N training examples of each task (0: all). For quick runs.",
                                  minimum=0)
    max_eval_examples: int = key(0, "Score the first N examples of each evaluation split (0: all).", minimum=0)
    tasks: dict = key(None, "Fine-tuning tasks, one table each: [eval.tasks.NAME] with preset (sst2, cola, "
                      "mrpc, qnli, rte, wnli, qqp, mnli, conll2003: its Hub dataset, or local files with "
                      "data_dir), or kind and files or dataset; keys in docs/evaluation.md.",
                      factory=dict)

    def check(self, project, text: str = "") -> None:
        """Validate the task tables and probes of this section from the file alone (called by the
        loader's checks; whether the files exist is :func:`lmtui.evaluation.checks.check_eval`'s).

        Raises:
            ProjectError: unknown or mistyped task key, unknown preset, probe without a mask.
        """
        validate(self, file=project.path or "<project>", text=text, resolve=_resolver(project), check_files=False)

    def resolved(self, project) -> dict:
        """This section as a table with every path made absolute (for freezing into a run)."""
        resolve = _resolver(project)
        table = asdict(self)
        table["text_files"] = [resolve(f) for f in self.text_files]
        tasks = {}
        for name, t in self.tasks.items():
            t = dict(t) if isinstance(t, dict) else t
            if isinstance(t, dict):
                for k in ("data_dir", "train_file", "validation_file", "test_file"):
                    if isinstance(t.get(k), str) and t[k] and (k == "data_dir" or not t.get("data_dir")):
                        t[k] = resolve(t[k])
                if isinstance(t.get("dataset"), str) and is_local_dataset(t["dataset"], resolve):
                    t["dataset"] = resolve(t["dataset"])
            tasks[name] = t
        table["tasks"] = tasks
        return table



# --------------------------------------------------------------------------- tasks

TASK_KINDS = ("classification", "token_classification")
PRESET_NAMES = ("sst2", "cola", "mrpc", "qnli", "rte", "wnli", "qqp", "mnli", "conll2003")
FORMATS = ("auto", "tsv", "csv", "jsonl", "conll")
TAG_SCHEMES = ("iob1", "iob2")
METRICS = {
    "classification": ("accuracy", "f1", "matthews_correlation"),
    "token_classification": ("f1", "precision", "recall", "accuracy"),
}
HYPERPARAMETERS = ("epochs", "learning_rate", "batch_size", "max_seq_length", "warmup_ratio", "weight_decay",
                   "max_train_examples", "max_eval_examples", "seeds")

# key: (accepted types, meaning, allowed values)
TASK_KEYS: dict[str, tuple[tuple[type, ...], str, tuple | None]] = {
    "preset": ((str,), "Built-in task: the GLUE tasks sst2, cola, mrpc, qnli, rte, wnli, qqp, mnli (Hub "
               "dataset nyu-mll/glue, or GLUE TSV files in data_dir) or conll2003 (CoNLL-2003 NER: Hub "
               "dataset lhoestq/conll2003 in IOB2, or the original IOB1 files in data_dir); fills in kind, "
               "dataset or files, columns and metrics.", PRESET_NAMES),
    "kind": ((str,), "classification (one text or a text pair per example) or token_classification "
             "(one label per word: CoNLL-format files, or a dataset's tokens and tags columns).", TASK_KINDS),
    "data_dir": ((str,), "Folder of the task's files; the *_file keys are relative to it. Excludes dataset.",
                 None),
    "dataset": ((str,), "A dataset read with datasets.load_dataset instead of files: a Hub id "
                "(nyu-mll/glue, fetched once into the datasets cache, then read offline) or a local dataset "
                "folder (a path starting with ./, ../, / or ~, or an existing folder; Parquet, JSON Lines, "
                "CSV files by split name). Excludes data_dir and the *_file keys.", None),
    "subset": ((str,), "The dataset's configuration (subset) name, e.g. sst2 of nyu-mll/glue.", None),
    "revision": ((str,), "Branch, tag or commit of a Hub dataset (e.g. refs/convert/parquet).", None),
    "train_split": ((str,), "Dataset split of the training examples (default train).", None),
    "validation_split": ((str,), "Dataset split scored after fine-tuning as validation (default validation; "
                         "empty: none).", None),
    "test_split": ((str,), "Dataset split scored as test (default: none; it needs labels: GLUE's test split "
                   "has none).", None),
    "tokens_column": ((str,), "Token classification from a dataset: the column of word lists (default "
                      "tokens).", None),
    "tags_column": ((str,), "Token classification from a dataset: the column of tag lists, ClassLabel ids "
                    "(names from the dataset's features) or strings (default ner_tags).", None),
    "train_file": ((str,), "Training examples.", None),
    "validation_file": ((str,), "Examples scored after fine-tuning (a dev set).", None),
    "test_file": ((str,), "Further examples scored after fine-tuning (needs labels).", None),
    "format": ((str,), "File format: auto (by extension; .txt and CoNLL names read as conll), tsv, csv, jsonl "
               "or conll.", FORMATS),
    "header": ((bool,), "TSV/CSV: the first row names the columns (false: columns are 0-based numbers).", None),
    "text_column": ((str, int), "Column (name or 0-based number) holding the text.", None),
    "text_pair_column": ((str, int), "Column of the second text of a sentence pair (empty: single text).", None),
    "label_column": ((str, int), "Column of the label; in CoNLL files a 0-based field number (-1: last).", None),
    "token_column": ((int,), "CoNLL files: field number of the word (default 0).", None),
    "tag_scheme": ((str,), "Tag scheme of the CoNLL file or dataset, iob1 (the original CoNLL-2003 files) "
                   "or iob2 (CoNLL-2003 on the Hub); iob1 is converted to iob2.", TAG_SCHEMES),
    "metrics": ((list,), "Metrics reported, the first is the headline: classification: accuracy, f1 "
                "(of positive_label), matthews_correlation; token_classification: f1, precision, recall "
                "(entity level, seqeval), accuracy (per word).", None),
    "positive_label": ((str, int), "The label whose F1 is reported by the f1 metric of classification.", None),
    "labels": ((list,), "The label set, in order (default: a dataset's ClassLabel names, else the labels of "
               "the training examples).", None),
    "epochs": ((float, int), "Fine-tuning epochs (default: [eval] epochs).", None),
    "learning_rate": ((float, int), "Peak learning rate (default: [eval] learning_rate).", None),
    "batch_size": ((int,), "Batch size (default: [eval] batch_size).", None),
    "max_seq_length": ((int,), "Sequence length in tokens (default: [eval] max_seq_length).", None),
    "warmup_ratio": ((float, int), "Warmup fraction (default: [eval] warmup_ratio).", None),
    "weight_decay": ((float, int), "Weight decay (default: [eval] weight_decay).", None),
    "max_train_examples": ((int,), "First N training examples only (default: [eval] max_train_examples).", None),
    "max_eval_examples": ((int,), "First N examples of each scored split (default: [eval] max_eval_examples).",
                          None),
    "seeds": ((int,), "Fine-tuning runs with seeds seed, seed+1, ... (default: [eval] seeds).", None),
}

# The local layouts: GLUE TSV files as the GLUE benchmark distributes them (Wang et al. 2019,
# https://gluebenchmark.com/tasks), CoNLL-2003 as the shared task's eng.* files (IOB1).
PRESETS: dict[str, dict[str, Any]] = {
    "sst2": dict(kind="classification", format="tsv", header=True, train_file="train.tsv",
                 validation_file="dev.tsv", text_column="sentence", label_column="label", metrics=["accuracy"]),
    "cola": dict(kind="classification", format="tsv", header=False, train_file="train.tsv",
                 validation_file="dev.tsv", text_column=3, label_column=1,
                 metrics=["matthews_correlation", "accuracy"]),
    "mrpc": dict(kind="classification", format="tsv", header=True, train_file="train.tsv",
                 validation_file="dev.tsv", text_column="#1 String", text_pair_column="#2 String",
                 label_column="Quality", metrics=["f1", "accuracy"], positive_label="1"),
    "qnli": dict(kind="classification", format="tsv", header=True, train_file="train.tsv",
                 validation_file="dev.tsv", text_column="question", text_pair_column="sentence",
                 label_column="label", metrics=["accuracy"]),
    "rte": dict(kind="classification", format="tsv", header=True, train_file="train.tsv",
                validation_file="dev.tsv", text_column="sentence1", text_pair_column="sentence2",
                label_column="label", metrics=["accuracy"]),
    "wnli": dict(kind="classification", format="tsv", header=True, train_file="train.tsv",
                 validation_file="dev.tsv", text_column="sentence1", text_pair_column="sentence2",
                 label_column="label", metrics=["accuracy"]),
    "qqp": dict(kind="classification", format="tsv", header=True, train_file="train.tsv",
                validation_file="dev.tsv", text_column="question1", text_pair_column="question2",
                label_column="is_duplicate", metrics=["f1", "accuracy"], positive_label="1"),
    "mnli": dict(kind="classification", format="tsv", header=True, train_file="train.tsv",
                 validation_file="dev_matched.tsv", text_column="sentence1", text_pair_column="sentence2",
                 label_column="gold_label", metrics=["accuracy"]),
    "conll2003": dict(kind="token_classification", format="conll", train_file="eng.train",
                      validation_file="eng.testa", test_file="eng.testb", token_column=0, label_column=-1,
                      tag_scheme="iob1", metrics=["f1", "precision", "recall"]),
}

# The Hub layouts, used when the task has no data_dir (nor files): GLUE as nyu-mll/glue (one
# subset per task, ClassLabel labels, Parquet; its test splits have label -1, so tasks are
# scored on validation), CoNLL-2003 as lhoestq/conll2003 (Parquet copy of the datasets
# library's conll2003: tokens and ner_tags, ClassLabel IOB2 tags O, B-PER, I-PER, ...).
_GLUE = dict(kind="classification", dataset="nyu-mll/glue", train_split="train", validation_split="validation",
             label_column="label")
HUB_PRESETS: dict[str, dict[str, Any]] = {
    "sst2": dict(_GLUE, subset="sst2", text_column="sentence", metrics=["accuracy"]),
    "cola": dict(_GLUE, subset="cola", text_column="sentence", metrics=["matthews_correlation", "accuracy"]),
    "mrpc": dict(_GLUE, subset="mrpc", text_column="sentence1", text_pair_column="sentence2",
                 metrics=["f1", "accuracy"], positive_label="equivalent"),
    "qnli": dict(_GLUE, subset="qnli", text_column="question", text_pair_column="sentence", metrics=["accuracy"]),
    "rte": dict(_GLUE, subset="rte", text_column="sentence1", text_pair_column="sentence2", metrics=["accuracy"]),
    "wnli": dict(_GLUE, subset="wnli", text_column="sentence1", text_pair_column="sentence2", metrics=["accuracy"]),
    "qqp": dict(_GLUE, subset="qqp", text_column="question1", text_pair_column="question2",
                metrics=["f1", "accuracy"], positive_label="duplicate"),
    "mnli": dict(_GLUE, subset="mnli", validation_split="validation_matched", text_column="premise",
                 text_pair_column="hypothesis", metrics=["accuracy"]),
    "conll2003": dict(kind="token_classification", dataset="lhoestq/conll2003", train_split="train",
                      validation_split="validation", test_split="test", tokens_column="tokens",
                      tags_column="ner_tags", tag_scheme="iob2", metrics=["f1", "precision", "recall"]),
}
REFUSED_PRESETS = {
    "stsb": "STS-B is a regression task (a similarity score from 0 to 5); lmtui fine-tunes classification "
            "and token classification only",
}
FILE_KEYS = ("train_file", "validation_file", "test_file")
DATASET_KEYS = ("subset", "revision", "train_split", "validation_split", "test_split", "tokens_column",
                "tags_column")


def is_local_dataset(value: str, resolve: Callable[[str], str]) -> bool:
    """Whether a task's ``dataset`` names a local folder (a path: ``./``, ``../``, ``/``, ``~``, or an
    existing folder relative to the project file) rather than a Hub id (``namespace/name``)."""
    return value.startswith((".", "/", "~")) or os.path.isdir(resolve(value))


@dataclass
class TaskSpec:
    """One fine-tuning task, fully resolved: absolute paths, defaults and preset filled in."""

    name: str
    kind: str
    train_file: str = ""
    validation_file: str = ""
    test_file: str = ""
    format: str = "auto"
    header: bool = True
    text_column: str | int = "text"
    text_pair_column: str | int = ""
    label_column: str | int = "label"
    token_column: int = 0
    tag_scheme: str = "iob2"
    metrics: list = field(default_factory=list)
    positive_label: str = "1"
    labels: list = field(default_factory=list)
    epochs: float = 3.0
    learning_rate: float = 1e-4
    batch_size: int = 32
    max_seq_length: int = 128
    warmup_ratio: float = 0.1
    weight_decay: float = 0.01
    max_train_examples: int = 0
    max_eval_examples: int = 0
    seeds: int = 1
    preset: str = ""
    dataset: str = ""
    subset: str = ""
    revision: str = ""
    train_split: str = "train"
    validation_split: str = ""
    test_split: str = ""
    tokens_column: str = "tokens"
    tags_column: str = "ner_tags"

    @property
    def splits(self) -> dict[str, str]:
        """The scored splits: {"validation": file or dataset split, "test": ...}, those set only."""
        if self.dataset:
            return {s: n for s, n in (("validation", self.validation_split), ("test", self.test_split)) if n}
        return {s: f for s, f in (("validation", self.validation_file), ("test", self.test_file)) if f}

    @property
    def source(self) -> str:
        """The dataset and subset of a dataset task, as written in messages (``nyu-mll/glue (sst2)``)."""
        return f"{self.dataset} ({self.subset})" if self.subset else self.dataset

    @property
    def file_format(self) -> str:
        """The format of the task's files (``auto`` resolved by the training file's extension)."""
        if self.format != "auto":
            return self.format
        if self.kind == "token_classification":
            return "conll"
        ext = Path(self.train_file).suffix.lower()
        return {".tsv": "tsv", ".csv": "csv", ".jsonl": "jsonl", ".json": "jsonl"}.get(ext, "tsv")


def _line(text: str, section: str, name: str | None = None) -> int | None:
    """Line of ``name`` in table ``section`` of ``text``; :func:`line_of` reads table headers without
    their quotes and spaces (``[eval.tasks."glue sst2"]`` is ``eval.tasks.gluesst2``), so the
    name is looked up the same way."""
    return line_of(text, section.replace(" ", ""), name) if text else None


def _resolver(project) -> Callable[[str], str]:
    if project.path is None:
        return lambda p: str(Path(os.path.expanduser(p)).resolve())
    return lambda p: resolve_path(project, p)


def _type_ok(value: Any, types: tuple[type, ...]) -> bool:
    if isinstance(value, bool) and bool not in types:
        return False
    return isinstance(value, types)


def validate(section: EvalSection, *, file: str | None, text: str = "", resolve: Callable[[str], str],
             check_files: bool = True) -> list[TaskSpec]:
    """Check the probes, held-out text files and tasks of ``section``; return the task specs.

    Raises:
        ProjectError: a probe without a mask, a missing text file, or any problem of :func:`task_specs`.
    """
    for i, probe in enumerate(section.probes):
        if not any(m in probe for m in MASK_PLACEHOLDERS):
            raise ProjectError(f"probe {i + 1} ({probe!r}) has no mask", file=file, key="eval.probes",
                               line=_line(text, "eval", "probes"),
                               hint="write the masked word as <mask> (or [MASK]), e.g. \"Paris is the <mask> of "
                                    "France.\"")
    if check_files:
        for f in section.text_files:
            if not any(ch in f for ch in "*?[") and not os.path.exists(resolve(f)):
                raise ProjectError(f"held-out text file {f!r} not found", file=file, key="eval.text_files",
                                   line=_line(text, "eval", "text_files"),
                                   hint="point it at text files, or leave it empty to use the validation split")
    return task_specs(section, file=file, text=text, resolve=resolve, check_files=check_files)


def _task_failure(name: str, file: str | None, text: str) -> Callable[..., None]:
    """``fail(message, key=None, hint=None)`` raising for task ``name``, with key ``eval.tasks.NAME.key``
    and the line of the key (else of the task's table, else of ``[eval] tasks``)."""
    task = f"eval.tasks.{name}"

    def fail(message: str, k: str | None = None, hint: str | None = None) -> None:
        line = _line(text, task, k) or _line(text, task) or _line(text, "eval", "tasks")
        raise ProjectError(message, file=file, key=f"{task}.{k}" if k else task, line=line, hint=hint)

    return fail


def check_task_tables(section: EvalSection, *, file: str | None, text: str = "") -> None:
    """Check that every task is a table whose keys are known and of the right type and choices
    (the loader calls this for every project read, the frozen copies of runs included).

    Raises:
        ProjectError: a task that is not a table, an unknown key (did-you-mean), a value of the
            wrong type or outside its choices; naming file, ``eval.tasks.NAME.key`` and line.
    """
    for name, table in section.tasks.items():
        fail = _task_failure(name, file, text)
        if not isinstance(table, dict):
            fail(f"task {name!r} must be a table", hint=f"write it as an [eval.tasks.{name}] section")
        for k, v in table.items():
            if k not in TASK_KEYS:
                guess = difflib.get_close_matches(k, list(TASK_KEYS), n=1, cutoff=0.6)
                fail(f"unknown task key '{k}'", k,
                     f"did you mean '{guess[0]}'?" if guess else f"known keys: {', '.join(TASK_KEYS)}")
            types, _, choices = TASK_KEYS[k]
            if not _type_ok(v, types):
                names = " or ".join({str: "a string", int: "an integer", float: "a number", bool: "true or false",
                                     list: "a list"}[t] for t in types if not (t is int and float in types))
                fail(f"expected {names}, got {v!r}", k, f"write {names}")
            if k == "preset" and v in REFUSED_PRESETS:
                fail(f"preset {v!r} is not available: {REFUSED_PRESETS[v]}", k,
                     f"choose one of: {', '.join(choices)}, or remove the task")
            if choices and v not in choices:
                guess = difflib.get_close_matches(str(v), list(choices), n=1, cutoff=0.5)
                fail(f"unknown value {v!r}", k, (f"did you mean '{guess[0]}'? " if guess else "")
                     + f"choose one of: {', '.join(choices)}")


def task_specs(section: EvalSection, *, file: str | None = None, text: str = "",
               resolve: Callable[[str], str] = lambda p: p, check_files: bool = True) -> list[TaskSpec]:
    """The section's tasks as :class:`TaskSpec` objects, validated.

    Args:
        section: the ``[eval]`` section.
        file: the project file, for messages.
        text: the project file's text, for line numbers.
        resolve: makes a path from the project file absolute.
        check_files: require the data files to exist.

    Raises:
        ProjectError: a task table is not a table, has an unknown key (did-you-mean), a value of
            the wrong type or outside its choices, no kind or preset, no training file, no scored
            split, a metric unknown for its kind, or a data file that does not exist.
    """
    check_task_tables(section, file=file, text=text)
    specs = []
    for name, table in section.tasks.items():
        fail = _task_failure(name, file, text)
        values: dict[str, Any] = {h: getattr(section, h) for h in HYPERPARAMETERS}
        files = [k for k in ("data_dir", *FILE_KEYS) if table.get(k)]
        if table.get("dataset") and files:
            fail(f"{files[0]} and dataset exclude each other", "dataset",
                 f"keep dataset (read with datasets.load_dataset) or {files[0]} (local files), not both")
        if table.get("preset"):
            values.update(PRESETS[table["preset"]] if files else HUB_PRESETS[table["preset"]])
        values.update({k: v for k, v in table.items() if k != "data_dir"})
        if "kind" not in values:
            fail(f"task {name!r} has neither preset nor kind", "kind",
                 f"set preset ({', '.join(PRESET_NAMES)}) or kind (classification, token_classification)")
        kind = values["kind"]
        if values.get("dataset"):
            for k in ("format", "header", "token_column"):
                if k in table:
                    fail(f"{k} is a key of file tasks, and task {name!r} reads a dataset", k,
                         f"remove {k}: datasets.load_dataset reads the dataset's own files and columns")
            _check_dataset_task(values, table, fail, resolve, check_files)
        else:
            for k in DATASET_KEYS:
                if k in table:
                    fail(f"{k} is a key of dataset tasks, and task {name!r} has no dataset", k,
                         f"set dataset (a Hub id or a dataset folder), or remove {k} (local files are named "
                         "by train_file, validation_file, test_file)")
            if not values.get("train_file"):
                fail(f"task {name!r} has no train_file", "train_file",
                     "give the file of training examples, or a dataset (a Hub id or a dataset folder)")
            if not values.get("validation_file") and not values.get("test_file"):
                fail(f"task {name!r} has no validation_file or test_file", "validation_file",
                     "give a file of labelled examples to score the fine-tuned model on")
        values.setdefault("metrics", list(METRICS[kind][:1]) if kind == "classification" else
                          ["f1", "precision", "recall"])
        for m in values["metrics"]:
            if m not in METRICS[kind]:
                fail(f"metric {m!r} is not available for {kind}", "metrics",
                     f"choose from: {', '.join(METRICS[kind])}")
        if kind == "token_classification" and not values.get("dataset"):
            values.setdefault("label_column", -1)
            if not isinstance(values["label_column"], int):
                fail("label_column of a CoNLL file is a field number", "label_column",
                     "write the 0-based field number of the tag, e.g. 3 (or -1 for the last field)")
        for k in ("epochs", "learning_rate", "warmup_ratio", "weight_decay"):
            values[k] = float(values[k])
            if values[k] < 0 or (k == "warmup_ratio" and values[k] > 1):
                fail(f"{k} {values[k]!r} is out of range", k, "use a value >= 0 (warmup_ratio <= 1)")
        for k in ("batch_size", "seeds", "max_seq_length"):
            if values[k] < (8 if k == "max_seq_length" else 1):
                fail(f"{k} {values[k]!r} is too small", k, f"use {k} >= {8 if k == 'max_seq_length' else 1}")
        for k in ("max_train_examples", "max_eval_examples"):
            if values[k] < 0:
                fail(f"{k} {values[k]!r} is negative", k, "use 0 (all) or a positive count")
        values["positive_label"] = str(values.get("positive_label", "1"))
        values["labels"] = [str(v) for v in values.get("labels", [])]
        data_dir = table.get("data_dir", "")
        for k in ("train_file", "validation_file", "test_file"):
            rel = values.get(k) or ""
            if not rel:
                continue
            path = resolve(os.path.join(data_dir, rel)) if data_dir else resolve(rel)
            if check_files and not os.path.isfile(path):
                fail(f"{k.replace('_', ' ')} {path} not found", k if k in table else "data_dir",
                     "check data_dir and the file names (GLUE: <glue>/SST-2, CoNLL-2003: eng.train ...)")
            values[k] = path
        specs.append(TaskSpec(name=name, **values))
    return specs


def _check_dataset_task(values: dict[str, Any], table: dict, fail: Callable[..., None],
                        resolve: Callable[[str], str], check_files: bool) -> None:
    """The dataset keys of a task read with ``datasets.load_dataset``: splits and column names;
    a local dataset folder made absolute (and required to exist with ``check_files``).

    Raises:
        ProjectError: (through ``fail``) no training split, no scored split, a column given as a
            number, a local dataset folder that does not exist.
    """
    values.setdefault("train_split", "train")
    values.setdefault("validation_split", "validation")
    if not values.get("train_split"):
        fail("train_split is empty", "train_split", "name the dataset split of the training examples, e.g. train")
    if not values.get("validation_split") and not values.get("test_split"):
        fail("the task scores no split: validation_split and test_split are empty", "validation_split",
             "name a labelled split of the dataset, e.g. validation")
    for k in ("text_column", "text_pair_column", "label_column"):
        if k in values and not isinstance(values[k], str):
            fail(f"{k} {values[k]!r} is a number, but a dataset's columns have names", k,
                 "write the column's name as a string, e.g. \"sentence\" or \"label\"")
    dataset = values["dataset"]
    if is_local_dataset(dataset, resolve):
        path = resolve(dataset)
        if check_files and not os.path.isdir(path):
            fail(f"dataset folder {path} not found", "dataset" if "dataset" in table else "preset",
                 "give a folder of data files (e.g. train.parquet, validation.parquet), or a Hub id such as "
                 "nyu-mll/glue")
        values["dataset"] = path
