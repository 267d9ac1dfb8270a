"""A truncated newest checkpoint does not block a run for good: `lmtui run` sets it aside, says
so in events and resumes from the previous intact one (issue 15, item 1)."""

from __future__ import annotations

import json
import os
import signal

from support.cli import events, lmtui, only_run, wait_for, prose_bert_project

from lmtui.runs.rundir import RunDir


def test_a_truncated_newest_checkpoint_is_skipped_and_the_previous_one_resumed(tmp_path, data_dir):
    project = prose_bert_project(tmp_path, "torn", max_steps=60, save_steps=10)
    proc = lmtui("run", str(project), "--detach", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    run = RunDir(only_run(tmp_path / "runs"))
    wait_for(lambda: len(run.checkpoints()) >= 2, 300, "two checkpoints")
    os.killpg(run.read_state()["pid"], signal.SIGKILL)
    wait_for(lambda: run.status() == "crashed", 10, "the run to read as crashed")
    (previous_step, previous), (newest_step, newest) = run.checkpoints()[-2:]
    weights = newest / "model.safetensors"  # accelerate's copy of the model's weights
    with open(weights, "r+b") as fh:
        fh.truncate(weights.stat().st_size // 2)

    proc = lmtui("run", str(project), cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "damaged" in proc.stdout  # the warning's log event, shown by `lmtui run`
    log = run.log_file.read_text()
    assert f"warning: checkpoint {newest} is damaged (model.safetensors has " in log
    assert f"resumed from {previous} at step {previous_step}" in log
    [invalid] = events(run.path, "checkpoint_invalid")
    assert (invalid["step"], invalid["path"]) == (newest_step, str(newest))
    assert invalid["moved_to"] == str(run.checkpoints_dir / f"invalid-step-{newest_step}")
    assert (run.checkpoints_dir / f"invalid-step-{newest_step}" / "trainer_state.json").is_file()
    assert events(run.path, "train_start")[-1]["start_step"] == previous_step
    assert events(run.path, "train")[-1]["step"] == 60
    assert json.loads(run.run_json.read_text())["status"] == "finished"
    assert all((folder / "manifest.json").is_file() for _, folder in run.checkpoints())
