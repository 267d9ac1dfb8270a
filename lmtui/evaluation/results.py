"""``<run>/eval/results.json`` and ``<run>/eval/state.json``: reading, writing, and the tables built
from them (the run screen's results, ``lmtui compare`` and the TUI's comparison view).

Plain Python (json only): the TUI imports it. Layout of results.json (version 1)::

    {"version": 1, "run_id": "...",
     "models": {
       "final" | "step-N" | "model": {
         "label", "model" (folder), "step" (or null), "model_fingerprint", "updated" (Unix s),
         "perplexity": {"loss", "perplexity", "accuracy", "tokens", "sequences", "seq_length",
                        "mask_seed", "fingerprint"},
         "pseudo_perplexity": {"pseudo_perplexity", "tokens", "samples", "fingerprint"},
         "probes": {"top_k", "fingerprint", "items": [{"text", "predictions": [[{"token", "score"}]]}]},
         "tasks": {NAME: {"kind", "preset", "main_metric", "seeds", "train_examples", "epochs",
                          "learning_rate", "batch_size", "max_seq_length", "seconds", "fingerprint",
                          "splits": {SPLIT: {"examples", METRIC: {"mean", "std", "values"}}},
                          "per_type": {SPLIT: {TYPE: {"f1": {"mean", "std", ...}, "support"}}}}}}}}

state.json: ``{"pid", "pid_start_time", "label", "request_id", "status", "started", "ended",
"error"}`` of the latest evaluation process of the run (status ``running`` while it works).
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from lmtui.fmt import fmt_count, fmt_percent
from lmtui.fsutil import atomic_write_json
from lmtui.procs import pid_alive

RESULTS_VERSION = 1

SPLIT_ORDER = ("validation", "test")
LOWER_IS_BETTER = ("perplexity", "loss", "pseudo_perplexity", "params")
PERCENT_METRICS = ("accuracy", "f1", "precision", "recall", "majority_accuracy")  # shares, shown by lmtui.fmt.fmt_percent
CORRELATION_METRICS = ("matthews_correlation",)  # in [-1, 1], shown x100 as GLUE reports it (Wang et al. 2019)
METRIC_NAMES = {"accuracy": "accuracy", "f1": "F1", "precision": "precision", "recall": "recall",
                "matthews_correlation": "MCC"}


def results_file(run_path: str | os.PathLike) -> Path:
    return Path(run_path) / "eval" / "results.json"


def state_file(run_path: str | os.PathLike) -> Path:
    return Path(run_path) / "eval" / "state.json"


def load_results(run_path: str | os.PathLike) -> dict:
    """results.json of a run (an empty document when missing or unreadable)."""
    try:
        data = json.loads(results_file(run_path).read_text(encoding="utf-8"))
        if isinstance(data, dict) and isinstance(data.get("models"), dict):
            return data
    except (OSError, ValueError):
        pass
    return {"version": RESULTS_VERSION, "run_id": Path(run_path).name, "models": {}}


def update_entry(run_path: str | os.PathLike, label: str, changes: dict, *, model_fingerprint: str | None = None) -> dict:
    """Merge ``changes`` into the entry ``label`` of results.json and rewrite it atomically.

    An entry whose model fingerprint differs from ``model_fingerprint`` (the model was retrained)
    is replaced instead of merged. ``changes["tasks"]`` merges task by task. Returns the entry.
    """
    data = load_results(run_path)
    entry = data["models"].get(label, {})
    if model_fingerprint is not None and entry.get("model_fingerprint") not in (None, model_fingerprint):
        entry = {}
    changes = dict(changes)
    tasks = changes.pop("tasks", None)
    entry.update(changes)
    if tasks:
        entry.setdefault("tasks", {}).update(tasks)
    entry["label"] = label
    entry["updated"] = round(time.time(), 3)
    if model_fingerprint is not None:
        entry["model_fingerprint"] = model_fingerprint
    data["models"][label] = entry
    data["version"] = RESULTS_VERSION
    atomic_write_json(results_file(run_path), data)
    return entry


def entry_order(label: str) -> tuple:
    """Sort key of entry labels: checkpoints by step, then ``final``, then other models."""
    if label.startswith("step-") and label[5:].isdigit():
        return (0, int(label[5:]), label)
    return (1 if label == "final" else 2, 0, label)


def default_label(results: dict) -> str | None:
    """The entry a run is represented by: ``final`` if evaluated, else the latest updated one."""
    models = results.get("models", {})
    if "final" in models:
        return "final"
    if not models:
        return None
    return max(models, key=lambda k: models[k].get("updated", 0))


# ----------------------------------------------------------------------------- state.json

def read_state(run_path: str | os.PathLike) -> dict:
    """eval/state.json ({} when missing, unreadable, or not a JSON object)."""
    try:
        state = json.loads(state_file(run_path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return state if isinstance(state, dict) else {}


def write_state(run_path: str | os.PathLike, **changes) -> dict:
    state = read_state(run_path)
    state.update(changes)
    atomic_write_json(state_file(run_path), state)
    return state


def eval_status(run_path: str | os.PathLike) -> str | None:
    """Status of the run's latest evaluation: running, finished, failed, stopped, crashed, or None."""
    state = read_state(run_path)
    status = state.get("status")
    if status == "running" and not pid_alive(state.get("pid"), state.get("pid_start_time")):
        return "crashed"
    return status


# ----------------------------------------------------------------------------- tables

def fmt_metric(metric: str, value: float | None, std: float | None = None) -> str:
    """One metric value as people read it, ``± std`` when given (both in the metric's own units).

    :data:`PERCENT_METRICS` as percentages (``81.65%``, :func:`lmtui.fmt.fmt_percent`), the
    Matthews correlation x100, anything else with two decimals; ``-`` for None.
    """
    if value is None:
        return "-"
    if metric in PERCENT_METRICS:
        return fmt_percent(value, std)
    if metric == "params":
        return fmt_count(value)
    scale = 100.0 if metric in CORRELATION_METRICS else 1.0
    return f"{value * scale:.2f}" + ("" if std is None else f" ± {std * scale:.2f}")


def fmt_value(metric: str, value: dict | float | None) -> str:
    """A metric for a table (:func:`fmt_metric`): a value, or ``mean ± std`` over two or more seeds."""
    if isinstance(value, dict):
        n = len(value.get("values", [])) or 1
        return fmt_metric(metric, value.get("mean"), value.get("std", 0.0) if n > 1 else None)
    return fmt_metric(metric, value)


def _number(value) -> float | None:
    if isinstance(value, dict):
        return value.get("mean")
    return value if isinstance(value, (int, float)) else None


def metric_rows(entry: dict) -> list[tuple[str, str, object]]:
    """(row key, row title, raw value) of every metric of one results entry, in display order."""
    rows: list[tuple[str, str, object]] = []
    p = entry.get("perplexity")
    if p:
        rows += [("perplexity", "MLM perplexity", p.get("perplexity")), ("loss", "MLM loss", p.get("loss")),
                 ("accuracy", "masked-token accuracy", p.get("accuracy"))]
    speed = entry.get("throughput")
    if speed:
        rows += [("sequences_per_s", f"inference sequences/s (batch {speed.get('batch_size')}, length "
                                     f"{speed.get('seq_length')})", speed.get("sequences_per_s")),
                 ("params", "parameters", speed.get("params"))]
    pp = entry.get("pseudo_perplexity")
    if pp:
        rows.append(("pseudo_perplexity", "pseudo-perplexity", pp.get("pseudo_perplexity")))
    for name, task in sorted((entry.get("tasks") or {}).items()):
        metrics = task.get("metrics_order") or []
        splits = task.get("splits") or {}
        for split in sorted(splits, key=lambda s: (SPLIT_ORDER.index(s) if s in SPLIT_ORDER else len(SPLIT_ORDER), s)):
            values = splits[split]
            for metric in metrics or [k for k in values if isinstance(values[k], dict)]:
                if metric in values:
                    rows.append((f"task:{name}:{split}:{metric}", f"{name} {METRIC_NAMES.get(metric, metric)} ({split})",
                                 values[metric]))
            if "majority_accuracy" in values:
                rows.append((f"task:{name}:{split}:majority_accuracy",
                             f"{name} majority-class accuracy ({split}; the floor to clear)", values["majority_accuracy"]))
            for etype, stats in sorted(((task.get("per_type") or {}).get(split) or {}).items()):
                rows.append((f"task:{name}:{split}:f1:{etype}", f"{name} F1 {etype} ({split})", stats.get("f1")))
    return rows


def _metric_of(row_key: str) -> str:
    if row_key.startswith("task:"):
        parts = row_key.split(":")
        return parts[3]
    return row_key


def comparison(columns: list[tuple[str, dict]]) -> tuple[list[str], list[tuple[str, list[str], int | None]]]:
    """A side-by-side table of results entries.

    Args:
        columns: (column title, results entry) pairs.

    Returns:
        (titles, rows): rows are (row title, formatted cells, index of the best cell or None);
        the best is the highest value, or the lowest for perplexities and losses, among two or
        more columns that have the metric.
    """
    order: list[str] = []
    titles: dict[str, str] = {}
    values: dict[str, dict[int, object]] = {}
    for i, (_, entry) in enumerate(columns):
        for key, title, value in metric_rows(entry):
            if key not in values:
                order.append(key)
                titles[key] = title
                values[key] = {}
            values[key][i] = value
    rows = []
    for key in order:
        metric = _metric_of(key)
        cells = [fmt_value(metric, values[key].get(i)) for i in range(len(columns))]
        numbers = {i: _number(v) for i, v in values[key].items() if _number(v) is not None}
        best = None
        if len(numbers) > 1 and metric != "majority_accuracy":  # a property of the data, not of a model
            pick = min if metric in LOWER_IS_BETTER else max
            best = pick(numbers, key=numbers.get)
        rows.append((titles[key], cells, best))
    return [title for title, _ in columns], rows


def entries_for(run_path: str | os.PathLike, *, all_models: bool = False) -> list[tuple[str, dict]]:
    """(column title, entry) for a run: its default entry, or every entry with ``all_models``."""
    results = load_results(run_path)
    name = Path(run_path).name
    models = results.get("models", {})
    if all_models:
        return [(f"{name} {label}", models[label]) for label in sorted(models, key=entry_order)]
    label = default_label(results)
    if label is None:
        return [(name, {})]
    if label == "final" and "teacher" in models:  # a distillation run: its teacher beside the student
        return [(f"{name} teacher", models["teacher"]), (f"{name} student", models["final"])]
    return [(name if label == "final" else f"{name} {label}", models[label])]


def probe_lines(entry: dict) -> list[tuple[str, str]]:
    """(probe sentence, its top predictions as ``word (p%) · ...``) for each probe of an entry."""
    out = []
    for item in (entry.get("probes") or {}).get("items", []):
        per_mask = [" · ".join(f"{p['token']} ({p['score'] * 100:.0f}%)" for p in preds)
                    for preds in item.get("predictions", [])]
        out.append((item.get("text", ""), " | ".join(per_mask) or "-"))
    return out
