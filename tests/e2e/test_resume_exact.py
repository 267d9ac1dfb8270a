"""A run killed mid-way and resumed gives, with dropout on, the very losses of an uninterrupted run."""

from __future__ import annotations

import json
import os
import signal
import time

import pytest
from support.cli import events, lmtui, only_run, wait_for, prose_bert_project


@pytest.mark.long
def test_a_resumed_run_with_dropout_is_bit_exact(tmp_path, data_dir):
    dropout = "config_overrides = { hidden_size = 64, num_attention_heads = 2, intermediate_size = 128, " \
              "hidden_dropout_prob = 0.1, attention_probs_dropout_prob = 0.1 }"
    runs = []
    for name in ("straight", "killed"):
        (tmp_path / name).mkdir()
        project = prose_bert_project(tmp_path / name, "exact", max_steps=16, logging_steps=1, save_steps=8)
        text = project.read_text()
        text = text.replace(next(line for line in text.splitlines() if "config_overrides" in line), dropout)
        if runs:  # the same tokenizer: WordPiece can break a tie at the vocabulary cut-off differently
            text = text.replace("[tokenizer]\n", f"[tokenizer]\npath = \"{runs[0] / 'tokenizer'}\"\n")
        project.write_text(text)
        if not runs:
            assert lmtui("run", str(project), cwd=project.parent).returncode == 0
            runs.append(only_run(project.parent / "runs"))
            continue
        assert lmtui("run", str(project), "--detach", cwd=project.parent).returncode == 0
        run = only_run(project.parent / "runs")
        wait_for(lambda: (run / "checkpoints" / "step-8" / "trainer_state.json").is_file(), 300, "a checkpoint")
        os.killpg(json.loads((run / "run.json").read_text())["pid"], signal.SIGKILL)
        time.sleep(0.5)
        proc = lmtui("run", str(project), cwd=project.parent)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        runs.append(run)
    straight, resumed = ({e["step"]: e["loss"] for e in events(run, "train")} for run in runs)
    assert events(runs[1], "train_start")[-1]["start_step"] >= 8
    assert [resumed[s] for s in range(9, 17)] == [straight[s] for s in range(9, 17)]
