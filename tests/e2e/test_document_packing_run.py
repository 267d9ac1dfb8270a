"""A run with packing = "document" and the modernbert recipe trains, and train_start names the kernel."""

from __future__ import annotations

import math

import pytest
from support.cli import events, lmtui, only_run, prose_bert_project


@pytest.mark.slow
def test_document_packed_run_with_a_recipe_trains_and_reports_its_kernel(tmp_path):
    project = prose_bert_project(tmp_path, "docpack", max_steps=10, save_steps=10,
                                    extra='packing = "document"\nrecipe = "modernbert"')
    proc = lmtui("run", str(project), cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    run = only_run(tmp_path / "runs")
    start = events(run, "train_start")[0]
    assert start["attention"] == "sdpa (block-diagonal mask)"
    assert (run / "project.toml").read_text().count('lr_scheduler = "wsd"') == 1
    train = events(run, "train")
    assert train[-1]["step"] == 10 and math.isfinite(train[-1]["loss"])
    assert train[-1]["learning_rate"] < train[0]["learning_rate"]  # the 1-sqrt decay has run
    assert math.isfinite(events(run, "eval")[-1]["loss"])
