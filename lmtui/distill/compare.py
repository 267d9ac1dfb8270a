"""A distillation's student against its teacher: retention of each score and the speed-up.

Reads the run's ``eval/results.json`` entries ``final`` (the student) and ``teacher``
(:mod:`lmtui.evaluation.teacher`). Retention is the student's score as a share of the teacher's
(DistilBERT's "retains 97% of BERT's performance", Sanh et al. 2019); the speed-up is the ratio of
inference throughputs measured on the same device, batch and sequence length. Plain json: the
CLI and the TUI read it.
"""

from __future__ import annotations

import os

from lmtui.evaluation import results as res
from lmtui.fmt import fmt_percent


def _number(value) -> float | None:
    value = value.get("mean") if isinstance(value, dict) else value
    return float(value) if isinstance(value, (int, float)) else None


def retention_rows(teacher: dict, student: dict) -> list[tuple[str, str]]:
    """(metric title, the student against the teacher) for every metric both entries have.

    Scores (accuracy, F1, MCC): the student's share of the teacher's (``97.1% retained``). Losses
    and perplexities: the difference (``+0.210``). Inference sequences/s: the speed-up (``2.04x``).
    Parameters: the student's share.
    """
    theirs = {key: value for key, _, value in res.metric_rows(teacher)}
    out = []
    for key, title, value in res.metric_rows(student):
        a, b = _number(theirs.get(key)), _number(value)
        if a is None or b is None or a == 0:
            continue
        metric = key.split(":")[3] if key.startswith("task:") else key
        if key == "sequences_per_s":
            out.append((title, f"{b / a:.2f}x the teacher's (speed-up)"))
        elif key == "params":
            out.append((title, f"{fmt_percent(b / a, digits=1)} of the teacher's"))
        elif metric in res.LOWER_IS_BETTER:
            out.append((title, f"{b - a:+.3f} against the teacher's {a:.3f}"))
        else:
            out.append((title, f"{fmt_percent(b / a, digits=1)} retained"))
    return out


def run_retention(run_path: str | os.PathLike) -> list[tuple[str, str]]:
    """:func:`retention_rows` of a run's ``teacher`` and ``final`` entries; [] when it has not both."""
    models = res.load_results(run_path).get("models", {})
    if "teacher" not in models or "final" not in models:
        return []
    return retention_rows(models["teacher"], models["final"])
