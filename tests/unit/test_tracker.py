"""RunTracker: incremental reading of run.json and events.jsonl, statuses, numbers for the tables."""

from __future__ import annotations

import json

from support.runs import NOW

from lmtui.fmt import fmt_duration, fmt_number, fmt_rate, sparkline
from lmtui.runs.events import read_events as read_event_lines
from lmtui.runs.rundir import RunDir
from lmtui.runs.tracker import RunTracker


def test_tracker_reads_the_numbers_of_a_finished_run(runs_root):
    t = RunTracker(runs_root / "demo-20270115-070000", clock=lambda: NOW)
    assert t.poll() > 0
    assert t.status == "finished"
    assert (t.step, t.max_steps) == (200, 200)
    assert t.loss == t.series["loss"].values[-1]
    assert len(t.series["loss"]) == 20 and len(t.series["eval_loss"]) == 4
    assert t.perplexity == t.last_eval["perplexity"]
    assert t.final_metrics == {"loss": 2.3, "perplexity": 9.97, "accuracy": 0.31}
    assert t.device == "cuda"
    assert t.eta is None
    assert round(t.elapsed) == 3 + 400 + 3  # stages, 200 steps x 2 s, end
    assert [c["step"] for c in t.checkpoint_events] == [100, 200]


def test_live_run_elapsed_and_eta_count_down_from_the_last_report(runs_root):
    now = {"t": NOW}
    t = RunTracker(runs_root / "demo-20270115-075900", clock=lambda: now["t"])
    t.poll()
    assert t.status == "running"
    assert round(t.elapsed) == 310
    eta = t.eta
    now["t"] += 60
    assert round(eta - t.eta) == 60


def test_a_run_whose_process_died_without_a_final_status_is_crashed(runs_root):
    t = RunTracker(runs_root / "wiki-20270115-074500")
    t.poll()
    assert t.status == "crashed"
    assert t.state["status"] == "running"
    assert t.log_tail(3)[-1].startswith("detail line")


def test_polls_take_only_new_complete_lines(tmp_path):
    run = RunDir(tmp_path / "r")
    run.path.mkdir()
    run.update_state(status="finished", run_id="r")
    t = RunTracker(run)
    run.emit("train", step=10, max_steps=100, loss=5.0, learning_rate=1e-3, tokens_per_s=100.0)
    with open(run.events_file, "a") as fh:
        fh.write('{"v":1,"time":1,"type":"train","step":20,"loss":4.')
    assert t.poll() == 1
    assert t.loss == 5.0
    with open(run.events_file, "a") as fh:
        fh.write('0,"max_steps":100}\nnot json\n{"v":1,"time":2,"type":"future_type","x":1}\n')
    assert t.poll() == 2  # the completed line and the unknown type; the bad line is skipped
    assert t.loss == 4.0 and t.step == 20
    assert t.extra["future_type"]["x"] == 1


def test_read_event_lines_bounds_the_work_per_call(tmp_path):
    path = tmp_path / "events.jsonl"
    path.write_text("".join(json.dumps({"type": "train", "step": i}) + "\n" for i in range(1000)))
    events, offset = read_event_lines(path, 0, max_bytes=4096)
    assert 0 < len(events) < 1000
    total = list(events)
    while True:
        more, offset = read_event_lines(path, offset, max_bytes=4096)
        if not more:
            break
        total += more
    assert [e["step"] for e in total] == list(range(1000))


def test_formatting_helpers():
    assert fmt_duration(None) == "-"
    assert fmt_duration(59) == "59s"
    assert fmt_duration(245) == "4m05s"
    assert fmt_duration(3 * 3600 + 7 * 60) == "3h07m"
    assert fmt_duration(2 * 86400 + 4 * 3600) == "2d04h"
    assert fmt_number(None) == "-" and fmt_number(2.34567) == "2.346" and fmt_number(123456.0) == "1.23e+05"
    assert fmt_rate(845) == "845" and fmt_rate(12_300) == "12.3k" and fmt_rate(1_200_000) == "1.2M"
    assert sparkline([]) == ""
    line = sparkline([9, 8, 7, 6, 5, 4, 3, 2], 8)
    assert line[0] == "█" and line[-1] == "▁" and len(line) == 8
    assert len(sparkline(list(range(100)), 16)) == 16


def test_hardware_reading_of_this_machine():
    from lmtui import hardware
    from lmtui.tui.widgets.hardware import describe

    hardware.sample()
    reading = hardware.sample()
    assert 0.0 <= reading.cpu_percent <= 100.0
    assert 0 < reading.memory_used <= reading.memory_total
    assert len(reading.gpus) == hardware.gpu_count()
    for gpu in reading.gpus:
        assert 0 <= gpu.utilization <= 100 and 0 < gpu.memory_total
    text = describe(reading).plain
    assert "CPU" in text and "RAM" in text and all(f"GPU{g.index}" in text for g in reading.gpus)


def test_tracker_keeps_the_loss_components_a_distillation_logs(tmp_path):
    from lmtui.distill.loss import COMPONENTS
    from lmtui.runs.tracker import DISTILL_CURVES

    assert DISTILL_CURVES == COMPONENTS  # the names the training loop logs (lmtui.distill.loss)
    run = RunDir(tmp_path / "student-20270115-070000")
    run.path.mkdir()
    run.emit("train", step=10, loss=30.0, loss_ce=4.0, loss_mlm=5.5, loss_cos=0.25)
    run.emit("train", step=20, loss=28.0)
    t = RunTracker(run)
    t.poll()
    assert [list(t.series[name].values) for name in COMPONENTS] == [[4.0], [5.5], [0.25]]
    assert len(t.series["loss"]) == 2
