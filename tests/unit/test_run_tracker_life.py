"""RunTracker beyond the events: a crashed run's last sign of life, the dataset stage's progress, peak memory."""

from __future__ import annotations

import os

from support.runs import NOW, dead_pid, write_run

from lmtui.runs.rundir import RunDir
from lmtui.runs.tracker import RunTracker


def test_a_crashed_runs_elapsed_time_reaches_its_last_write_not_its_last_event(tmp_path):
    pid, started = dead_pid()
    run = write_run(tmp_path, "demo-20270115-070000", status="running", steps=90, start=NOW - 4500, pid=pid,
                    pid_start_time=started)
    for path in (run.events_file, run.run_json):
        os.utime(path, (NOW - 4500 + 183, NOW - 4500 + 183))
    os.utime(run.log_file, (NOW - 4100, NOW - 4100))  # the trainer kept logging after its last event
    t = RunTracker(run, clock=lambda: NOW)
    t.poll()
    assert t.status == "crashed"
    assert round(t.elapsed) == 400


def test_a_write_after_the_clock_does_not_count(tmp_path):
    pid, started = dead_pid()
    run = write_run(tmp_path, "demo-20270115-070000", status="running", steps=90, start=NOW - 4500, pid=pid,
                    pid_start_time=started)
    os.utime(run.log_file, (NOW + 999, NOW + 999))
    t = RunTracker(run, clock=lambda: NOW)
    t.poll()
    assert round(t.elapsed) == 3 + 180  # the stages, then 90 steps x 2 s: the last event


def test_dataset_progress_only_while_the_dataset_stage_runs(tmp_path):
    run = RunDir(tmp_path / "r")
    run.path.mkdir()
    run.update_state(status="running", run_id="r", pid=os.getpid(), stage="dataset")
    run.emit("run_start", run_id="r")
    run.emit("stage", stage="dataset", state="start")
    t = RunTracker(run)
    t.poll()
    assert t.dataset_progress is None
    run.emit("dataset_progress", bytes_read=45, bytes_total=100, documents=10, tokens=1000, docs_per_s=5.0,
             tokens_per_s=500.0, eta_s=11.0)
    t.poll()
    assert t.dataset_progress["bytes_read"] == 45
    run.emit("stage", stage="dataset", state="done", seconds=3.0)
    run.update_state(stage="pretrain")
    t.poll()
    assert t.dataset_progress is None


def test_peak_memory_comes_from_train_end(tmp_path):
    run = RunDir(tmp_path / "r")
    run.path.mkdir()
    run.update_state(status="finished", run_id="r")
    t = RunTracker(run)
    t.poll()
    assert t.peak_memory == {}
    run.emit("train_end", status="finished", step=10, peak_rss_mb=812.5, peak_gpu_memory_mb=2048.0)
    t.poll()
    assert t.peak_memory == {"peak_rss_mb": 812.5, "peak_gpu_memory_mb": 2048.0}
