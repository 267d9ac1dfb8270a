"""Accuracy-like metrics read as percentages with two decimals and a ``%`` wherever a person reads them
(the CLI's lines, the comparison table, the TUI, the model card); results.json and events keep the fraction."""

from __future__ import annotations

import math

from lmtui.commands.evaluate import describe as describe_evaluation
from lmtui.commands.run import describe as describe_run
from lmtui.evaluation import results as res
from lmtui.fmt import fmt_percent
from lmtui.hub.card import EvalRow, RunFacts, card_results, eval_value
from lmtui.runs.events import RunEvents


def test_fmt_percent_two_decimals_and_a_percent_sign():
    assert fmt_percent(0.8165) == "81.65%"
    assert fmt_percent(0.3) == "30.00%"
    assert fmt_percent(1.0) == "100.00%" and fmt_percent(0.0) == "0.00%"
    assert fmt_percent(0.8, 0.01) == "80.00% ± 1.00%"
    assert fmt_percent(0.81234, digits=1) == "81.2%"
    assert fmt_percent(None) == "-" and fmt_percent(math.nan) == "nan"


def test_tables_show_shares_as_percentages_and_mcc_times_100():
    assert res.fmt_value("accuracy", 0.4) == "40.00%"
    assert res.fmt_value("accuracy", {"mean": 0.81, "std": 0.01, "values": [0.8, 0.82]}) == "81.00% ± 1.00%"
    assert res.fmt_value("accuracy", {"mean": 0.7, "std": 0.0, "values": [0.7]}) == "70.00%"
    assert res.fmt_value("f1", 0.705) == "70.50%"
    assert res.fmt_value("matthews_correlation", 0.452) == "45.20"
    assert res.fmt_value("perplexity", 20.0) == "20.00" and res.fmt_value("accuracy", None) == "-"


def test_cli_lines_show_masked_and_task_accuracy_as_percentages():
    assert describe_run({"type": "eval", "step": 50, "loss": 2.5, "perplexity": 12.18, "accuracy": 0.3}) == \
        "eval step 50: loss 2.5000, perplexity 12.18, masked accuracy 30.00%"
    line = describe_evaluation({"type": "eval_result", "task": "perplexity",
                                "metrics": {"loss": 3.0, "perplexity": 20.09, "accuracy": 0.4123, "tokens": 900}})
    assert "masked accuracy 41.23%," in line
    line = describe_evaluation({"type": "eval_result", "task": "sst2", "seed": 1, "split": "validation",
                                "metrics": {"accuracy": 0.8165, "matthews_correlation": 0.5, "examples": 872}})
    assert line == "sst2 seed 1 validation: accuracy 81.65%, matthews_correlation 50.00 (872 examples)"
    line = describe_evaluation({"type": "eval_result", "task": "sst2", "split": "validation", "summary": True,
                                "seeds": [1, 2], "metrics": {"accuracy": {"mean": 0.8, "std": 0.01}}})
    assert line == "sst2 validation over seeds [1, 2]: accuracy 80.00% ± 1.00%"


def test_the_card_shows_masked_and_task_accuracy_as_percentages():
    assert eval_value(EvalRow("perplexity", "accuracy", 0.31, task_type="fill-mask")) == "31.00%"
    assert eval_value(EvalRow("perplexity", "loss", 5.5, task_type="fill-mask")) == "5.5000"
    assert eval_value(EvalRow("perplexity", "perplexity", 244.69, task_type="fill-mask")) == "244.69"
    assert eval_value(EvalRow("sst2", "accuracy", 0.8, std=0.01, seeds=2)) == "80.00% ± 1.00% (2 seeds)"
    assert eval_value(EvalRow("cola", "matthews_correlation", 0.45)) == "45.00"
    events = RunEvents()
    events.apply({"v": 1, "time": 0.0, "type": "eval", "step": 30, "loss": 5.7, "perplexity": 298.87,
                  "accuracy": 0.3, "tokens": 500})
    assert "| masked-token accuracy | 30.00% |" in card_results(RunFacts(run_id="r", events=events), False)


def test_the_run_screen_shows_the_final_accuracy_as_a_percentage(tmp_path):
    from support.runs import write_run

    from lmtui.runs.tracker import RunTracker
    from lmtui.tui.screens.run import details_text

    tracker = RunTracker(write_run(tmp_path, "demo-20270115-070000"))  # final metrics: accuracy 0.31
    tracker.catch_up()
    assert "accuracy 31.00%" in details_text(tracker).plain
