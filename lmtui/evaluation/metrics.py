"""Task metrics, computed offline: scikit-learn for classification, seqeval for entities.

Never ``evaluate.load`` (it downloads metric code from the Hub). Every metric is a fraction in
[0, 1] (Matthews correlation in [-1, 1]); the tables show them multiplied by 100, as GLUE does.
"""

from __future__ import annotations

import math

CHANCE_NOTE = "no better than the majority class"


def classification_metrics(gold: list[str], predicted: list[str], names: list[str], positive_label: str) -> dict:
    """The requested metrics (``accuracy``, ``f1`` of ``positive_label``, ``matthews_correlation``)."""
    from sklearn.metrics import accuracy_score, f1_score, matthews_corrcoef

    out = {}
    for name in names:
        if name == "accuracy":
            out[name] = float(accuracy_score(gold, predicted))
        elif name == "f1":
            out[name] = float(f1_score(gold, predicted, pos_label=positive_label, average="binary", zero_division=0)
                              if len(set(gold) | set(predicted) | {positive_label}) <= 2 else
                              f1_score(gold, predicted, average="macro", zero_division=0))
        elif name == "matthews_correlation":
            out[name] = float(matthews_corrcoef(gold, predicted))
    return out


def majority_accuracy(gold: list[str], train_labels: list[str]) -> float:
    """Accuracy on ``gold`` of always predicting the most frequent label of ``train_labels``
    (the majority-class baseline; ties go to the label first seen), a fraction in [0, 1]."""
    counts: dict[str, int] = {}
    for label in train_labels:
        counts[label] = counts.get(label, 0) + 1
    majority = max(counts, key=counts.get) if counts else None
    return sum(g == majority for g in gold) / max(len(gold), 1)


def no_better_than_majority(accuracy: float, majority: float, examples: int) -> bool:
    """Whether ``accuracy`` on ``examples`` scored examples is within two standard errors of the
    majority-class accuracy (binomial standard error sqrt(p (1 - p) / n) at p = ``majority``):
    a model that learned nothing the label counts do not already tell."""
    se = math.sqrt(max(majority * (1 - majority), 1e-12) / max(examples, 1))
    return accuracy <= majority + 2 * se


def entity_metrics(gold: list[list[str]], predicted: list[list[str]], names: list[str]) -> tuple[dict, dict]:
    """Entity-level precision/recall/F1 (seqeval, CoNLL evaluation rules on IOB2 tags) and word accuracy.

    Returns:
        (metrics: the requested ``f1``/``precision``/``recall``/``accuracy``,
         per_type: ``{TYPE: {"precision", "recall", "f1", "support"}}``).
    """
    from seqeval.metrics import accuracy_score, classification_report, f1_score, precision_score, recall_score

    funcs = {"f1": f1_score, "precision": precision_score, "recall": recall_score}
    out = {}
    for name in names:
        if name == "accuracy":
            out[name] = float(accuracy_score(gold, predicted))
        else:
            out[name] = float(funcs[name](gold, predicted, zero_division=0))
    report = classification_report(gold, predicted, output_dict=True, zero_division=0)
    per_type = {t: {"precision": float(v["precision"]), "recall": float(v["recall"]), "f1": float(v["f1-score"]),
                    "support": int(v["support"])}
                for t, v in report.items() if not t.endswith(" avg")}
    return out, per_type


def mean_std(values: list[float]) -> dict:
    """``{"mean", "std", "values"}``; std is the sample standard deviation (0 for one value)."""
    n = len(values)
    mean = sum(values) / n
    std = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1)) if n > 1 else 0.0
    return {"mean": mean, "std": std, "values": list(values)}
