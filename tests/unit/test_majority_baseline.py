"""A fine-tuning run that stays at chance says so: the majority-class floor beside every
classification score, in the log line, the printed results and the comparison table."""

from __future__ import annotations

from types import SimpleNamespace

from lmtui.commands.evaluate import describe
from lmtui.evaluation.finetune import score
from lmtui.evaluation.metrics import CHANCE_NOTE, majority_accuracy, no_better_than_majority
from lmtui.evaluation.results import comparison


def test_majority_accuracy_is_the_share_of_the_training_majority_label():
    assert majority_accuracy(["1", "1", "0", "1"], ["0", "0", "1"]) == 0.25  # training majority is "0"
    assert majority_accuracy(["1", "1", "0", "1"], ["1", "1", "0"]) == 0.75


def test_two_standard_errors_above_the_majority_is_the_bar():
    # 1,000 examples at a 56% majority: the standard error is 1.57 points, the bar 59.14%
    assert no_better_than_majority(0.59, 0.56, 1000)
    assert not no_better_than_majority(0.60, 0.56, 1000)
    assert no_better_than_majority(0.50, 0.56, 1000)  # below the floor


def _spec():
    return SimpleNamespace(kind="classification", metrics=["accuracy"], positive_label="1")


def test_a_model_answering_one_label_is_flagged_and_a_learning_one_is_not():
    examples = [SimpleNamespace(label=lab) for lab in ["1"] * 60 + ["0"] * 40]
    labels = ["0", "1"]
    always_one, _ = score(_spec(), examples, None, [1] * 100, labels, ["1"] * 7 + ["0"] * 3)
    assert always_one["accuracy"] == 0.6 and always_one["majority_accuracy"] == 0.6
    assert always_one["no_better_than_majority"] is True
    right = [1] * 60 + [0] * 30 + [1] * 10  # 90% right
    learned, _ = score(_spec(), examples, None, right, labels, ["1"] * 7 + ["0"] * 3)
    assert learned["accuracy"] == 0.9 and learned["no_better_than_majority"] is False


def test_the_printed_result_names_the_floor():
    line = describe({"type": "eval_result", "task": "sst2", "seed": 42, "split": "validation",
                     "metrics": {"accuracy": 0.51, "majority_accuracy": 0.51, "no_better_than_majority": True,
                                 "examples": 872}})
    assert line == f"sst2 seed 42 validation: accuracy 51.00% (872 examples); {CHANCE_NOTE} (51.00%)"
    fine = describe({"type": "eval_result", "task": "sst2", "seed": 42, "split": "validation",
                     "metrics": {"accuracy": 0.8, "majority_accuracy": 0.51, "no_better_than_majority": False,
                                 "examples": 872}})
    assert CHANCE_NOTE not in fine and "majority" not in fine
    summary = describe({"type": "eval_result", "task": "sst2", "split": "validation", "summary": True,
                        "seeds": [42, 43], "metrics": {"accuracy": {"mean": 0.5, "std": 0.01}},
                        "note": CHANCE_NOTE})
    assert summary.endswith(f"; {CHANCE_NOTE}")


def test_the_comparison_shows_the_floor_without_calling_it_best():
    entry = {"tasks": {"sst2": {"metrics_order": ["accuracy"], "splits": {"validation": {
        "accuracy": {"mean": 0.8, "std": 0.0, "values": [0.8]}, "majority_accuracy": 0.51}}}}}
    other = {"tasks": {"sst2": {"metrics_order": ["accuracy"], "splits": {"validation": {
        "accuracy": {"mean": 0.5, "std": 0.0, "values": [0.5]}, "majority_accuracy": 0.51}}}}}
    _, rows = comparison([("a", entry), ("b", other)])
    by_title = {title: (cells, best) for title, cells, best in rows}
    assert by_title["sst2 accuracy (validation)"] == (["80.00%", "50.00%"], 0)
    assert by_title["sst2 majority-class accuracy (validation; the floor to clear)"] == (["51.00%", "51.00%"], None)
