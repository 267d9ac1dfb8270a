"""Elapsed and training time of a run trained over several sessions: one figure each, from the reducer,
the same in `lmtui runs`, the TUI's run screen and the model card (issue 17, item 3)."""

from __future__ import annotations

import argparse
import json
import os
from unittest import mock

import psutil
from support.runs import NOW, Clock, write_run

from lmtui.fmt import fmt_duration, fmt_duration_words
from lmtui.runs.events import RunEvents
from lmtui.runs.rundir import RunDir
from lmtui.runs.tracker import RunTracker

START = NOW - 7200
RESUMED = NOW - 3600  # the second session starts an hour after the first one stopped


def resume_run(run: RunDir, start: float, *, from_step: int = 100, to_step: int = 200, step_seconds: float = 2.0,
               status: str = "finished") -> float:
    """Append a second session as the driver and the trainer write it: resumed at ``from_step`` (the
    checkpoint carries tokens and training seconds), trained to ``to_step``, ended with ``status``.
    Returns the time of its ``end``."""
    clock = Clock(start)
    with mock.patch("time.time", clock):
        run.update_state(status="running", started=start, ended=None)
        run.emit("run_start", run_id=run.run_id, resumed=True, host="gpu-box")
        for stage in ("tokenizer", "dataset"):
            run.emit("stage", stage=stage, state="skipped")
        run.emit("stage", stage="pretrain", state="start")
        clock.t += 1
        run.emit("train_start", max_steps=to_step, start_step=from_step, batch_size=16, micro_batch_size=16,
                 gradient_accumulation_steps=1, num_processes=1, device="cuda", mixed_precision="bf16",
                 params=1_247_680, non_embedding_params=419_904, tokens_per_step=1024)
        t0 = clock.t
        for step in range(from_step + 10, to_step + 1, 10):
            clock.t = t0 + (step - from_step) * step_seconds
            run.emit("train", step=step, max_steps=to_step, epoch=step / 240, loss=3.0, learning_rate=1e-4,
                     grad_norm=1.0, tokens=step * 1024, tokens_per_s=5000.0, elapsed_s=step * step_seconds,
                     eta_s=(to_step - step) * step_seconds)
        run.emit("stage", stage="pretrain", state="done", seconds=round(clock.t - start, 3))
        clock.t += 2
        run.emit("end", status=status)
        run.update_state(status=status, ended=clock.t, stage=None)
    return clock.t


def two_sessions(root) -> tuple[RunDir, float]:
    """A run stopped at step 100 (session 1: 206 s) and resumed to step 200 (session 2); its events'
    total wall time."""
    run = write_run(root, "demo-20270115-070000", status="stopped", steps=100, max_steps=200, start=START)
    end = resume_run(run, RESUMED)
    first = [e for e in run.events() if e["type"] == "end"][0]["time"] - START
    return run, first + (end - RESUMED)


def test_runs_listing_elapsed_sums_every_session(tmp_path, monkeypatch, capsys):
    from lmtui.commands.runs import cmd_runs

    root = tmp_path / "runs"
    run, total = two_sessions(root)
    assert total == 206 + 203  # 3 s of stages, 100 steps x 2 s, 3 s; then 1 s, 100 steps x 2 s, 2 s
    monkeypatch.chdir(tmp_path)
    assert cmd_runs(argparse.Namespace(dir=[str(root)], status=None, json=True)) == 0
    (row,) = json.loads(capsys.readouterr().out)
    assert row["elapsed_s"] == total  # not the second session's 203 s alone, nor the hour stopped in between
    tracker = RunTracker(run, clock=lambda: NOW)
    tracker.poll()
    assert tracker.elapsed == total and tracker.session_count == 2


def test_tui_and_card_state_the_same_training_time_and_tokens(tmp_path):
    from lmtui.hub.card import card_hardware, collect
    from lmtui.tui.screens.run import details_text

    run, total = two_sessions(tmp_path)
    tracker = RunTracker(run, clock=lambda: NOW)
    tracker.poll()
    assert tracker.train_seconds == 400.0  # both sessions' optimizer steps
    details = details_text(tracker).plain
    assert f"training time {fmt_duration(400.0)} of optimizer steps" in " ".join(details.split())
    assert f"elapsed {fmt_duration(total)}, 2 sessions" in " ".join(details.split())

    facts = collect(run)
    card = "\n".join(card_hardware(facts))
    assert f"| training time | {fmt_duration_words(400.0)} (optimizer steps" in card
    assert f"| wall clock | {fmt_duration_words(total)} (the whole run, 2 sessions) |" in card
    # no second "training time": the pretrain stage of the second session alone (201 s) is not stated
    assert fmt_duration_words(201.0) not in card and card.count("training time") == 1
    assert f"| tokens seen | {200 * 1024:,} |" in card and facts.events.tokens == tracker.tokens == 200 * 1024


def test_a_crashed_session_counts_to_its_last_event_and_a_live_one_to_now():
    s = RunEvents()
    assert s.wall_seconds() is None and s.session_count == 0
    for e in ({"type": "run_start", "time": 100.0}, {"type": "train", "time": 150.0},  # crashed: no end
              {"type": "run_start", "time": 1000.0}, {"type": "stage", "time": 1010.0},
              {"type": "end", "time": 1020.0, "status": "stopped"},
              {"type": "eval_start", "time": 5000.0},  # a later `lmtui eval`: not a session of the run
              {"type": "run_start", "time": 9000.0}, {"type": "train", "time": 9005.0}):
        s.apply(e)
    assert s.sessions == [(100.0, 150.0), (1000.0, 1020.0)] and s.session_count == 3
    assert s.wall_seconds() == 50 + 20 + 5  # the open session to its last event: no clock
    assert s.wall_seconds(now=9030.0) == 50 + 20 + 30


def test_a_live_resumed_run_counts_up_from_both_sessions(tmp_path):
    run = write_run(tmp_path, "demo-20270115-070000", status="stopped", steps=100, max_steps=200, start=START)
    first = [e for e in run.events() if e["type"] == "end"][0]["time"] - START
    with mock.patch("time.time", Clock(NOW - 60)):  # this test process plays the live driver
        run.update_state(status="running", started=NOW - 60, ended=None, pid=os.getpid(),
                         pid_start_time=psutil.Process(os.getpid()).create_time())
        run.emit("run_start", run_id=run.run_id, resumed=True, host="gpu-box")
    tracker = RunTracker(run, clock=lambda: NOW)
    tracker.poll()
    assert tracker.status == "running"
    assert tracker.elapsed == first + 60
