"""Fine-tuning progress (issue 17, item 2): the worker reports task, seed, epoch, step of max_steps,
loss, training accuracy and ETA at a bounded rate, and `lmtui run` and `lmtui eval` show a row (or,
without a terminal, a line) per task and seed, as pretraining is shown."""

from __future__ import annotations

import io
import re
from unittest import mock

import pytest
from rich.console import Console
from support.cli import DATA, events, lmtui, only_run
from support.projects import write_project
from support.runs import NOW, Clock, write_run

from lmtui.runs.rundir import RunDir

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def append_evaluation(run: RunDir, request_id: str = "req-1") -> None:
    """The evaluate stage of a run as the driver and the worker write it: sst2 with seeds 42 and 43,
    20 steps each over 2 epochs, a progress event every 10 steps; then the run's end."""
    clock = Clock(NOW - 100)
    ids = dict(label="final", request_id=request_id)
    with mock.patch("time.time", clock):
        run.emit("stage", stage="evaluate", state="start")
        run.emit("eval_start", model=str(run.model_dir), step=200, parts=["task:sst2"], device="cpu",
                 mixed_precision="no", **ids)
        for seed in (42, 43):
            where = dict(task="sst2", seed=seed, **ids)
            run.emit("finetune", state="start", max_steps=20, epochs=2.0, train_examples=160, labels=["0", "1"],
                     **where)
            for step in (10, 20):
                clock.t += 5
                run.emit("finetune", state="step", step=step, max_steps=20, epoch=step / 10, epochs=2.0,
                         loss=0.69 - step / 1000, train_accuracy=0.5 + step / 100, learning_rate=1e-4,
                         elapsed_s=step / 2, eta_s=(20 - step) / 2, **where)
            run.emit("finetune", state="end", seconds=11.5, **where)
            run.emit("eval_result", task="sst2", seed=seed, split="validation",
                     metrics={"accuracy": 0.75, "examples": 64}, **ids)
        run.emit("eval_end", status="finished", error=None, results=str(run.eval_dir / "results.json"), **ids)
        run.emit("stage", stage="evaluate", state="done", seconds=30.0)
        run.emit("end", status="finished")


def test_run_follow_prints_a_progress_line_per_finetune_report(tmp_path):
    from lmtui.commands.run import follow

    run = write_run(tmp_path, "demo-20270115-070000", status="running", start=NOW - 7200)
    append_evaluation(run)
    out = io.StringIO()
    assert follow(run, Console(file=out, width=200), stop_on_interrupt=False) == "finished"
    text = out.getvalue()
    assert "sst2 seed 42: fine-tuning on 160 examples, 20 steps" in text
    for seed in (42, 43):
        assert f"sst2 seed {seed}: step 10/20  epoch 1.00/2  loss 0.6800  train accuracy" in text
        assert re.search(rf"sst2 seed {seed}: step 20/20  epoch 2\.00/2  loss 0\.6700  .*ETA 0:00", text)
        assert f"sst2 seed {seed}: fine-tuned and scored in 11.5 s" in text


def test_run_follow_on_a_terminal_shows_a_row_per_task_and_seed(tmp_path):
    from lmtui.commands.run import follow

    run = write_run(tmp_path, "demo-20270115-070000", status="running", start=NOW - 7200)
    append_evaluation(run)
    out = io.StringIO()
    console = Console(file=out, width=200, force_terminal=True)
    assert follow(run, console, stop_on_interrupt=False) == "finished"
    text = ANSI.sub("", out.getvalue())
    assert re.search(r"sst2 seed 42 .*20/20\s+done in 11\.5 s", text)
    assert re.search(r"sst2 seed 43 .*20/20\s+done in 11\.5 s", text)


def test_eval_follow_shows_the_same_progress(tmp_path):
    from lmtui.commands.evaluate import follow

    run = write_run(tmp_path, "demo-20270115-070000", status="running", start=NOW - 7200)
    append_evaluation(run, request_id="req-2")
    out = io.StringIO()
    assert follow(run, "req-2", Console(file=out, width=200), 0) == "finished"
    text = out.getvalue()
    assert "sst2 seed 43: step 10/20  epoch 1.00/2  loss 0.6800  train accuracy" in text
    assert "sst2 seed 43: fine-tuned and scored in 11.5 s" in text


@pytest.mark.slow
def test_lmtui_run_reports_finetuning_progress(tmp_path):
    project = write_project(tmp_path, "progress", {"tokenizer.kind": "wordpiece", "tokenizer.lowercase": True},
                            model={"architecture": "bert", "config_overrides": {
                                "hidden_size": 32, "num_attention_heads": 2, "intermediate_size": 64}},
                            training={"batch_size": 16, "micro_batch_size": 16, "logging_steps": 5, "eval_steps": 10,
                                      "save_steps": 10, "max_eval_samples": 32},
                            eval={"perplexity": False, "seeds": 2, "epochs": 2, "batch_size": 8, "max_seq_length": 64,
                                  "max_train_examples": 160, "max_eval_examples": 32,
                                  "tasks": {"sst2": {"preset": "sst2", "data_dir": f"{DATA}/glue/SST-2"}}})
    proc = lmtui("run", str(project), cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    run = only_run(tmp_path / "runs")
    for seed in (42, 43):
        steps = [e for e in events(run, "finetune") if e["state"] == "step" and e["seed"] == seed]
        assert all(e["task"] == "sst2" and e["max_steps"] == 40 and e["epochs"] == 2 for e in steps)
        numbers = [e["step"] for e in steps]
        assert numbers == sorted(set(numbers)) and numbers[-1] == 40 and 20 in numbers  # the epoch ends
        assert all(0 <= e["train_accuracy"] <= 1 and e["loss"] > 0 and e["eta_s"] >= 0 for e in steps)
        assert steps[-1]["eta_s"] == 0 and steps[-1]["epoch"] == 2
        # bounded: every max(1, max_steps // 50) = 1 step, the epoch ends, and at most one more per 2 s
        assert len(steps) <= 40 // 1 + 2 + steps[-1]["elapsed_s"] / 2 + 1
        assert f"sst2 seed {seed}: step 40/40  epoch 2.00/2  loss" in proc.stdout
        assert f"sst2 seed {seed}: step 20/40  epoch 1.00/2  loss" in proc.stdout
        assert f"[sst2 seed {seed}] epoch 2.00/2 step 40/40 loss" in run.joinpath("train.log").read_text()
    assert "ETA 0:00" in proc.stdout
