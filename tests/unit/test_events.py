"""The events reader (bounds, partial lines, offsets, invalid lines) and the events reducer."""

from __future__ import annotations

import io
import json
import os

import psutil
from rich.console import Console
from support.runs import NOW, dead_pid, write_run

from lmtui.runs.events import RunEvents, iter_events, read_events
from lmtui.runs.rundir import RunDir
from lmtui.runs.tracker import RunTracker


def lines(*events: dict) -> str:
    return "".join(json.dumps(e) + "\n" for e in events)


def test_reader_bounds_each_call_and_offsets_continue_where_it_stopped(tmp_path):
    path = tmp_path / "events.jsonl"
    path.write_text(lines(*({"type": "train", "step": i} for i in range(500))))
    size = path.stat().st_size
    events, offset = read_events(path, 0, max_bytes=1000)
    assert 0 < len(events) < 500 and offset <= 1000
    assert path.read_bytes()[offset - 1:offset] == b"\n"  # stops after a whole line
    rest, end = read_events(path, offset, max_bytes=size)
    assert [e["step"] for e in events + rest] == list(range(500)) and end == size
    assert read_events(path, end) == ([], end)
    assert [e["step"] for e in iter_events(path, offset, max_bytes=700)] == [e["step"] for e in rest]


def test_reader_leaves_a_partial_last_line_for_the_next_call(tmp_path):
    path = tmp_path / "events.jsonl"
    path.write_text(lines({"type": "a"}) + '{"type": "b", "x": 1')
    events, offset = read_events(path, 0)
    assert [e["type"] for e in events] == ["a"] and offset == len(lines({"type": "a"}))
    assert read_events(path, offset) == ([], offset)
    with open(path, "a") as fh:
        fh.write("2}\n")
    events, end = read_events(path, offset)
    assert events == [{"type": "b", "x": 12}] and end == path.stat().st_size


def test_reader_skips_invalid_lines_and_reads_an_overlong_line_whole(tmp_path):
    path = tmp_path / "events.jsonl"
    long = {"type": "log", "message": "x" * 5000}
    path.write_text("not json\n[1, 2]\n\"text\"\n\n" + lines(long, {"type": "end"}))
    events, offset = read_events(path, 0, max_bytes=64)
    assert events == []  # the first 64 bytes hold only invalid lines, but the offset moves past them
    assert 0 < offset < path.stat().st_size
    events, offset = read_events(path, offset, max_bytes=64)
    assert events[0] == long  # longer than max_bytes: read whole, up to the newline that ends it
    assert list(iter_events(path, max_bytes=64)) == [long, {"type": "end"}]
    assert read_events(tmp_path / "missing.jsonl", 7) == ([], 7)


def test_run_dir_events_skip_lines_that_are_not_objects(tmp_path):
    run = RunDir(tmp_path / "r")
    run.path.mkdir()
    run.emit("eval", step=10, loss=3.0)
    with open(run.events_file, "a") as fh:
        fh.write('[1, 2]\n"text"\n')
    run.emit("eval", step=20, loss=2.5)
    with open(run.events_file, "a") as fh:
        fh.write('{"type": "eval", "step": 30')
    assert [e["step"] for e in run.events()] == [10, 20]
    assert run.last_event("eval")["step"] == 20
    assert run.last_event("push") is None


def fold(run: RunDir) -> RunEvents:
    summary = RunEvents()
    for event in iter_events(run.events_file):
        summary.apply(event)
    return summary


def test_reducer_on_a_finished_run(tmp_path):
    run = write_run(tmp_path, "demo-20270115-070000", status="finished", start=NOW - 7200)
    s = fold(run)
    assert s.status == "finished" and s.stage is None
    assert (s.step, s.max_steps) == (200, 200)
    assert s.final_metrics == {"loss": 2.3, "perplexity": 9.97, "accuracy": 0.31}
    assert s.last_eval["step"] == 200 and s.perplexity == s.last_eval["perplexity"]
    assert s.loss == s.last_train["loss"] and s.tokens == 200 * 1024 and s.train_seconds == 400.0
    assert s.tokens_per_s == 5000.0 and s.mfu is None
    assert s.params == 1_247_680 and s.device == "cuda"
    assert s.stage_seconds == {"tokenizer": 1.5, "dataset": 1.5}
    assert [c["step"] for c in s.checkpoint_events] == [100, 200]
    assert s.first_time == NOW - 7200 and s.error is None and not s.stopping


def test_reducer_on_running_stopped_and_failed_runs(tmp_path):
    me = psutil.Process(os.getpid())
    running = fold(write_run(tmp_path, "demo-20270115-075900", status="running", steps=150, max_steps=400,
                             pid=os.getpid(), pid_start_time=me.create_time()))
    assert running.status == "running" and running.stage == "pretrain" and running.end is None
    assert (running.step, running.max_steps) == (150, 400)
    stopped = fold(write_run(tmp_path, "wiki-20270115-073000", project="wiki", status="stopped", steps=120))
    assert stopped.status == "stopped" and stopped.stopping and stopped.step == 120
    failed = fold(write_run(tmp_path, "demo-20270115-071500", status="failed", steps=40, error="boom"))
    assert failed.status == "failed" and failed.error == "boom" and failed.final_metrics is None


def test_reducer_resume_clears_the_end_and_keeps_the_last_of_each_type():
    s = RunEvents()
    assert s.status == "queued" and s.step is None and s.device is None
    s.apply({"type": "run_start", "time": 5.0})
    s.apply({"type": "train_start", "max_steps": 50, "start_step": 0, "device": "cpu", "num_processes": 2})
    assert s.status == "running" and s.step == 0 and s.max_steps == 50 and s.device == "cpu x2"
    s.apply({"type": "stopping", "signal": "SIGTERM"})
    s.apply({"type": "end", "status": "stopped"})
    assert s.status == "stopped"
    s.apply({"type": "run_start", "resumed": True})
    assert s.status == "running" and s.end is None and not s.stopping and s.first_time == 5.0
    s.apply({"type": "push", "status": "done", "repo_id": "me/x"})
    s.apply({"type": "future_type", "x": 1})
    s.apply({"type": ["not", "a", "type"]})
    s.apply({"type": "stage", "stage": "pretrain", "state": "done", "seconds": 2.0})
    s.apply({"type": "stage", "stage": "pretrain", "state": "done", "seconds": 3.0})
    assert s.push["repo_id"] == "me/x" and s.extra == {"future_type": {"type": "future_type", "x": 1}}
    assert s.stage_seconds == {"pretrain": 5.0}


def test_tracker_and_card_state_the_reducers_numbers(tmp_path):
    from lmtui.hub.card import collect, training_seconds, wall_seconds

    run = write_run(tmp_path, "demo-20270115-070000", status="finished", start=NOW - 7200)
    tracker = RunTracker(run, clock=lambda: NOW)
    assert tracker.catch_up(max_bytes=2048) == len(run.events())
    facts = collect(run)
    for name in ("step", "max_steps", "perplexity", "tokens_per_s", "final_metrics", "params", "tokens"):
        assert getattr(facts.events, name) == getattr(tracker, name), name
    assert facts.events.device == tracker.device == "cuda"
    assert training_seconds(facts) == 400.0 and wall_seconds(facts) == tracker.elapsed
    assert facts.project.model.architecture == "roberta"  # read through the project loader
    assert facts.section("training")["max_steps"] == 200 and facts.section("training")["seed"] == 42


def test_follow_prints_progress_and_returns_the_final_status(tmp_path):
    from lmtui.commands.run import follow

    out = io.StringIO()
    finished = write_run(tmp_path, "demo-20270115-070000", status="finished", start=NOW - 7200)
    assert follow(finished, Console(file=out, width=200), stop_on_interrupt=False) == "finished"
    text = out.getvalue()
    assert "stage tokenizer: done in 1.5 s" in text and "eval step 200: loss" in text
    assert "step 200/200 train loss " in text and "eval ppl " in text and " @ step 150 " in text  # the eval before it
    pid, started = dead_pid()
    crashed = write_run(tmp_path, "wiki-20270115-074500", status="running", steps=90, pid=pid,
                        pid_start_time=started)
    assert follow(crashed, Console(file=io.StringIO()), stop_on_interrupt=False) == "crashed"


def test_runs_listing_reads_past_a_chunk_without_valid_events(tmp_path, monkeypatch, capsys):
    import argparse

    from lmtui.commands.runs import cmd_runs
    from lmtui.runs.events import POLL_BYTES

    runs = tmp_path / "runs"
    run = write_run(runs, "demo-20270115-070000", status="finished", start=NOW - 7200)
    expected = fold(run)
    events = run.events_file.read_bytes()
    broken = b"x" * 999 + b"\n"
    run.events_file.write_bytes(broken * (POLL_BYTES // len(broken) + 10) + events)  # a poll's worth of broken lines
    monkeypatch.chdir(tmp_path)
    assert cmd_runs(argparse.Namespace(dir=[str(runs)], status=None, json=True)) == 0
    (row,) = json.loads(capsys.readouterr().out)
    assert (row["perplexity"], row["loss"]) == (expected.perplexity, expected.loss)


def test_a_pruned_event_after_the_end_makes_the_run_pruned_until_it_is_resumed():
    from lmtui.runs.events import RunEvents

    folded = RunEvents()
    for e in ({"type": "run_start"}, {"type": "end", "status": "stopped"}, {"type": "pruned", "step": 40}):
        folded.apply(dict(e, v=1, time=1.0))
    assert folded.status == "pruned"
    folded.apply({"v": 1, "time": 2.0, "type": "run_start"})  # `lmtui resume` of the pruned trial
    assert folded.status == "running"
