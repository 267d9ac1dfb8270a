"""Checkpoints carry exact counters: tokens and train_seconds counted at every optimizer step."""

from __future__ import annotations

import json

import pytest
from support.cli import events, lmtui, only_run, prose_bert_project

pytestmark = pytest.mark.slow


def test_checkpoints_between_logging_steps_hold_the_tokens_of_every_step(tmp_path, data_dir):
    project = prose_bert_project(tmp_path, "counters", max_steps=7, logging_steps=3, save_steps=2,
                                    extra="save_total_limit = 10")
    proc = lmtui("run", str(project), cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    run = only_run(tmp_path / "runs")
    tokens_per_step = events(run, "train_start")[0]["tokens_per_step"]
    assert tokens_per_step == 32 * 64  # packed sequences: every token is real
    states = [json.loads((run / "checkpoints" / f"step-{s}" / "trainer_state.json").read_text()) for s in (2, 4, 6, 7)]
    assert [s["step"] for s in states] == [2, 4, 6, 7]
    assert [s["tokens"] for s in states] == [s["step"] * tokens_per_step for s in states]
    assert all(s["max_steps"] == 7 for s in states)
    seconds = [s["train_seconds"] for s in states]
    assert 0 < seconds[0] < seconds[1] < seconds[2] < seconds[3]
    assert [(e["step"], e["tokens"]) for e in events(run, "train")] == [(s, s * tokens_per_step) for s in (3, 6, 7)]
