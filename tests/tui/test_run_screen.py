"""The run screen as a daily driver (issue 14): polling off the event loop and drawing only the visible
tab; charts people can read (shared x range, whole-step ticks, best eval, one point, empty); zoom, cursor,
export; the process group's resources; details, log focus, wrap and search; the dataset stage's progress."""

from __future__ import annotations

import csv
import os
import re
import subprocess
import sys
import threading

import psutil
import pytest
from support.runs import NOW
from textual import events
from textual.widgets import DataTable, Input, Log
from tui.test_app import make_app, open_run, wait_for

from lmtui import hardware
from lmtui.evaluation import results as res
from lmtui.runs.rundir import RunDir
from lmtui.tui.widgets.chart import Chart

LIVE = "demo-20270115-075900"  # running, 150 of 400 steps, its pid is this test process
WIDE = (120, 40)


def strip_text(strip) -> str:
    return "".join(segment.text for segment in strip)


def chart_lines(chart: Chart) -> list[str]:
    return [strip_text(s) for s in chart._strips[1]]


def drawn(screen) -> bool:
    return all(c.frame_key is not None for c in screen.charts.values())


async def test_polls_run_in_a_worker_thread_and_hidden_charts_are_not_redrawn(runs_root, tmp_path):
    app = make_app([runs_root], tmp_path)
    run = RunDir(runs_root / LIVE)
    async with app.run_test(size=WIDE) as pilot:
        screen = await open_run(app, pilot, run.path)
        await wait_for(pilot, lambda: drawn(screen), 10, "the first frames")
        threads = []
        poll = screen.tracker.poll
        screen.tracker.poll = lambda *a: threads.append(threading.current_thread()) or poll(*a)
        await pilot.press("2")
        keys = {cid: c.frame_key for cid, c in screen.charts.items()}
        run.emit("train", step=160, max_steps=400, loss=1.5, learning_rate=1e-4, tokens_per_s=6000.0, eta_s=10)
        await wait_for(pilot, lambda: "160/400" in str(screen.query_one("#run-header").content), 10, "step 160")
        await pilot.pause(0.3)
        assert threads and all(t is not threading.main_thread() for t in threads)
        assert {cid: c.frame_key for cid, c in screen.charts.items()} == keys  # the Log tab is shown
        await pilot.press("1")
        await wait_for(pilot, lambda: screen.charts["chart-loss"].frame_key != keys["chart-loss"], 10, "a redraw")
        assert "160" in str(screen.charts["chart-loss"].frame_key)


async def test_charts_share_the_x_range_use_whole_steps_and_mark_the_best_eval(runs_root, tmp_path):
    app = make_app([runs_root], tmp_path)
    async with app.run_test(size=WIDE) as pilot:
        screen = await open_run(app, pilot, runs_root / "demo-20270115-070000")
        await wait_for(pilot, lambda: drawn(screen), 10, "the first frames")
        ranges = {c.frame_key[1] for c in screen.charts.values()}
        assert ranges == {(10.0, 200.0)}  # eval curves start at 50, the training ones at 10: one range
        loss = chart_lines(screen.charts["chart-loss"])
        assert "━ train" in loss[0] and "best" in loss[0]  # the legend is the line above the plot
        assert not any("train" in line for line in loss[1:])
        ticks = loss[next(i for i, line in enumerate(loss) if "└" in line) + 1].split()
        assert ticks and all(t.replace(",", "").isdigit() for t in ticks)
        lr_labels = [line.split("┤")[0].strip() for line in chart_lines(screen.charts["chart-lr"]) if "┤" in line]
        assert lr_labels and all(re.fullmatch(r"0|\d(\.\d+)?e-\d", label) for label in lr_labels), lr_labels


async def test_a_single_point_and_no_points_read_sensibly(tmp_path):
    root = tmp_path / "runs"
    run = RunDir(root / "one-20270115-070000")
    run.path.mkdir(parents=True)
    run.update_state(status="finished", run_id=run.run_id, project_name="one", created=NOW)
    run.emit("train", step=10, max_steps=100, loss=6548.0, learning_rate=3e-4, tokens_per_s=1123.3)
    app = make_app([root], tmp_path)
    async with app.run_test(size=WIDE) as pilot:
        screen = await open_run(app, pilot, run.path)
        await wait_for(pilot, lambda: drawn(screen), 10, "the first frames")
        loss = chart_lines(screen.charts["chart-loss"])
        assert any(line.lstrip().startswith("6548┤") for line in loss)  # one tick, at the value
        assert loss[next(i for i, line in enumerate(loss) if "└" in line) + 1].split() == ["10"]
        assert not any(t in "\n".join(loss) for t in ("-1.0", "3,274", "9,822"))
        assert "3e-4" in "\n".join(chart_lines(screen.charts["chart-lr"]))
        assert "no data yet" in "\n".join(chart_lines(screen.charts["chart-ppl"]))


def test_zoom_box_grammar():
    from lmtui.tui.screens.run import parse_zoom

    assert parse_zoom("") == ("all", None) and parse_zoom("all") == ("all", None)
    assert parse_zoom("500") == ("last", 500)
    assert parse_zoom("1,000-2,000") == ("range", (1000, 2000))
    assert parse_zoom("100-") == ("range", (100, None)) and parse_zoom("-50") == ("range", (None, 50))
    for bad in ("abc", "0", "20-10", "1.5-3"):
        with pytest.raises(ValueError):
            parse_zoom(bad)


async def test_zoom_cursor_readout_and_export(runs_root, tmp_path):
    app = make_app([runs_root], tmp_path)
    run = runs_root / "demo-20270115-070000"
    async with app.run_test(size=WIDE) as pilot:
        screen = await open_run(app, pilot, run)
        await wait_for(pilot, lambda: drawn(screen), 10, "the first frames")
        for key, char in [("z", "z"), ("5", "5"), ("0", "0"), ("enter", None)]:  # one burst, as a paste sends it
            app.post_message(events.Key(key, char))
        loss = screen.charts["chart-loss"]
        await wait_for(pilot, lambda: loss.frame_key[0][0].steps == (150.0, None), 10, "the zoomed frame")
        assert "last 50 steps" in str(screen.chart_status.content)
        assert loss.frame_key[1] == (150.0, 200.0)
        await pilot.press("comma", "comma")  # the first puts the cursor on the last point (200), then 190
        await wait_for(pilot, lambda: chart_lines(loss)[-1].startswith("step 190:"), 10, "the readout")
        assert "train " in chart_lines(loss)[-1]
        await pilot.press("ctrl+s")
        exports = run / "exports"
        await wait_for(pilot, lambda: len(list(exports.glob("*"))) == 2, 60, "the exported files")
        png = exports / "demo-20270115-070000-steps-150-end.png"
        assert png.read_bytes()[:4] == b"\x89PNG"
        rows = list(csv.DictReader((exports / "demo-20270115-070000-steps-150-end.csv").open()))
        assert rows and all(int(r["step"]) >= 150 for r in rows)
        assert {r["chart"] for r in rows} == {"loss (train, eval)", "eval perplexity", "learning rate", "tokens/s"}


async def test_header_and_details_show_the_process_groups_resources_and_peak_memory(runs_root, tmp_path,
                                                                                       monkeypatch):
    run = RunDir(runs_root / LIVE)
    proc = subprocess.Popen([sys.executable, "-c", "import time\nx = bytearray(40_000_000)\ntime.sleep(60)"],
                            start_new_session=True)
    try:
        run.update_state(pid=proc.pid, pid_start_time=psutil.Process(proc.pid).create_time())
        monkeypatch.setattr(hardware, "gpu_processes",
                            lambda: [hardware.GpuProcess(proc.pid, 0, 3 << 30, 87.0)])
        run.emit("train_end", status="finished", step=150, peak_rss_mb=812.5, peak_gpu_memory_mb=2048.0)
        app = make_app([runs_root], tmp_path)
        async with app.run_test(size=WIDE) as pilot:
            screen = await open_run(app, pilot, run.path)
            header = screen.query_one("#run-header")
            await wait_for(pilot, lambda: "RSS" in str(header.content), 10, "the resources")
            assert "CPU " in str(header.content) and "GPU 87% 3.0 GB" in str(header.content)
            await pilot.press("3")
            details = screen.query_one("#run-details")
            await wait_for(pilot, lambda: "resources" in str(details.content), 10, "the details")
            text = str(details.content)
            assert "peak memory" in text and "RSS 812.5 MB" in text and "GPU 2.0 GB" in text
    finally:
        proc.kill()
        proc.wait()


async def test_details_labels_never_run_into_their_values(runs_root, tmp_path):
    app = make_app([runs_root], tmp_path)
    async with app.run_test(size=WIDE) as pilot:
        screen = await open_run(app, pilot, runs_root / "demo-20270115-070000")
        await pilot.press("3")
        text = str(screen.query_one("#run-details").content)
        assert "stage tokenizer  done in 1.5 s" in text
        assert "run directory    " in text  # every label padded to the longest one


async def test_log_tab_is_focused_wraps_and_searches(runs_root, tmp_path):
    run = RunDir(runs_root / "demo-20270115-070000")
    with open(run.log_file, "a") as fh:
        fh.write("x" * 300 + " the end\n")
    app = make_app([runs_root], tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_run(app, pilot, run.path)
        await pilot.press("2")
        log = screen.query_one(Log)
        assert app.focused is log
        cut = len(log.lines)
        await pilot.press("w")
        assert len(log.lines) > cut and max(len(line) for line in log.lines) <= log.size.width
        assert log.lines[-1].endswith("the end")
        for key, char in [("slash", "/")] + [(c if c != " " else "space", c) for c in "detail line 3"]:
            app.post_message(events.Key(key, char))  # one burst: the keys after `/` belong to the search box
        await pilot.pause(0.3)
        assert screen.query_one("#log-search", Input).value == "detail line 3"
        status = str(screen.query_one("#log-search-status").content)
        assert status.startswith("match 1 of") and "detail line 3" in status
        await pilot.press("escape")
        assert app.focused is log and screen.query_one("#log-search").has_class("hidden")
        assert app.screen is screen


async def test_dataset_stage_progress_line(tmp_path):
    root = tmp_path / "runs"
    run = RunDir(root / "data-20270115-070000")
    run.path.mkdir(parents=True)
    run.update_state(status="running", run_id=run.run_id, project_name="data", created=NOW, started=NOW - 30,
                     pid=os.getpid(), pid_start_time=psutil.Process(os.getpid()).create_time(), stage="dataset")
    run.emit("run_start", run_id=run.run_id)
    run.emit("stage", stage="dataset", state="start")
    run.emit("dataset_progress", phase="dataset", bytes_done=45 << 20, bytes_total=100 << 20, documents=12_345,
             tokens=3_400_000, docs_per_s=2100.0, tokens_per_s=1.2e6, eta_s=65.0)
    app = make_app([root], tmp_path)
    async with app.run_test(size=WIDE) as pilot:
        screen = await open_run(app, pilot, run.path)
        line = screen.query_one("#run-progress")
        assert not line.has_class("hidden")
        text = str(line.content)
        assert "45%" in text and "45.0 MB / 100.0 MB" in text and "12.3k documents" in text and "ETA 1m05s" in text
        run.emit("stage", stage="dataset", state="done", seconds=30.0)
        run.update_state(stage="pretrain")
        await wait_for(pilot, lambda: line.has_class("hidden"), 10, "the line to go")


async def test_eval_tab_shows_accuracy_as_a_percentage(runs_root, tmp_path):
    run = runs_root / "demo-20270115-070000"
    res.update_entry(run, "final", {"perplexity": {"loss": 3.2, "perplexity": 24.5, "accuracy": 0.03943}},
                     model_fingerprint="m")
    app = make_app([runs_root], tmp_path)
    async with app.run_test(size=WIDE) as pilot:
        screen = await open_run(app, pilot, run)
        await pilot.press("5")
        table = screen.query_one("#eval-table", DataTable)
        await wait_for(pilot, lambda: table.row_count > 0, 10, "the results")
        assert "3.94%" in [str(table.get_cell("masked-token accuracy", "c0"))]


async def test_runs_table_shows_the_resources_of_active_runs(runs_root, tmp_path):
    run = RunDir(runs_root / LIVE)
    proc = subprocess.Popen([sys.executable, "-c", "import time\nx = bytearray(40_000_000)\ntime.sleep(60)"],
                            start_new_session=True)
    try:
        run.update_state(pid=proc.pid, pid_start_time=psutil.Process(proc.pid).create_time())
        app = make_app([runs_root], tmp_path)
        async with app.run_test(size=(220, 24)) as pilot:
            table = app.screen.query_one("#runs", DataTable)
            await wait_for(pilot, lambda: str(table.get_cell(str(run.path), "mem")).endswith("MB"), 10, "the RSS")
            assert str(table.get_cell(str(run.path), "cpu")).endswith("%")
            assert str(table.get_cell(str(runs_root / "demo-20270115-070000"), "mem")) == "-"  # finished
    finally:
        proc.kill()
        proc.wait()


def footer_labels(screen) -> list[str]:
    from textual.widgets._footer import FooterKey

    keys = sorted(screen.query(FooterKey), key=lambda k: k.region.x)
    return [k.description for k in keys if k.region.width]


async def test_digits_pick_the_tabs_and_the_footer_shows_the_tab_keys_first(runs_root, tmp_path):
    app = make_app([runs_root], tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_run(app, pilot, runs_root / "demo-20270115-070000")
        title = screen.query_one("#run-title")
        assert title.has_class("title") and str(title.content).startswith("Run demo-20270115-070000")
        assert footer_labels(screen)[:4] == ["Help", "Step/time", "Log scale", "Zoom"]
        for key, tab in zip("12345", ("charts", "log", "details", "config", "eval")):
            await pilot.press(key)
            await pilot.pause(0.1)
            assert screen.query_one("#run-tabs").active == tab and tab.capitalize() in str(title.content)
            labels = footer_labels(screen)
            assert labels[0] == "Help" and ("Step/time" in labels) == (tab == "charts")
            assert ("Search" in labels) == (tab == "log")
            if tab == "log":
                assert labels[1:3] == ["Search", "Wrap"]
        await pilot.press("t")  # a chart key off the Charts tab does nothing
        assert screen.charts["chart-loss"].x_axis == "step"


async def test_below_60_columns_the_header_drops_fields(runs_root, tmp_path):
    app = make_app([runs_root], tmp_path)
    async with app.run_test(size=(50, 20)) as pilot:
        screen = await open_run(app, pilot, runs_root / LIVE)
        header = screen.query_one("#run-header")
        await wait_for(pilot, lambda: "ETA" in str(header.content) and "ppl" not in str(header.content), 10,
                       "the narrow header")
        text = str(header.content)
        assert "project demo" not in text and "tok/s" not in text and "step 150/400" in text
        assert header.region.height == 2 and all(len(line) <= 50 for line in text.splitlines()[:1])


def test_details_show_the_tensorboard_command(runs_root):
    from lmtui.runs.tracker import RunTracker
    from lmtui.tui.screens.run import details_text

    run = RunDir(runs_root / "demo-20270115-070000")
    assert "tensorboard" not in str(details_text(RunTracker(run)))
    run.emit("tracking", trackers=["tensorboard"], tensorboard_dir=str(run.path / "tb"),
             tensorboard_command=f"tensorboard --logdir {run.path / 'tb'}")
    t = RunTracker(run)
    t.poll()
    assert f"tensorboard      tensorboard --logdir {run.path / 'tb'}" in str(details_text(t))


async def test_events_read_soon_after_a_drawing_are_drawn_without_waiting_for_the_next_event(runs_root, tmp_path):
    app = make_app([runs_root], tmp_path)
    run = RunDir(runs_root / LIVE)
    async with app.run_test(size=WIDE) as pilot:
        screen = await open_run(app, pilot, run.path)
        await wait_for(pilot, lambda: drawn(screen), 10, "the first frames")
        run.emit("train", step=160, max_steps=400, loss=1.5, learning_rate=1e-4, tokens_per_s=6000.0, eta_s=10)
        await wait_for(pilot, lambda: "160" in str(screen.charts["chart-loss"].frame_key), 5, "step 160 drawn")
