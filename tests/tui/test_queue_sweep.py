"""The run queue and sweeps in the TUI (issue 12): the runs table's queue column, moving, holding and
cancelling a waiting run, and the sweep screen (runs by the metric, best marked, loss curves overlaid).
The queue is a fake state directory (LMTUI_STATE_DIR) with one CPU slot (LMTUI_SLOTS=1)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import psutil
import pytest
from support.runs import NOW, write_run
from tui.test_app import make_app, table_keys, wait_for

from lmtui.runs.queue import Need, Queue
from lmtui.tui.screens.runs import RunsScreen
from lmtui.tui.screens.sweep import SweepScreen
from lmtui.tui.widgets.chart import Chart

SIZE = (160, 30)  # wide enough for the queue column beside the others


@pytest.fixture
def queue(tmp_path, monkeypatch) -> Queue:
    monkeypatch.setenv("LMTUI_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("LMTUI_SLOTS", "1")
    return Queue()


@pytest.fixture
def driver():
    """A process in a session of its own standing in for a waiting run's driver (cancel signals its group)."""
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"], start_new_session=True)
    yield proc
    proc.kill()
    proc.wait()


def three_queued(root, queue: Queue, driver) -> list:
    """q1 holds the slot (this process), q2 waits for it, q3 (``driver``) waits its turn after q2."""
    me = psutil.Process(os.getpid()).create_time()
    runs = []
    for i, (pid, started) in enumerate([(os.getpid(), me), (os.getpid(), me),
                                        (driver.pid, psutil.Process(driver.pid).create_time())], 1):
        run = write_run(root, f"q-20270115-08000{i}", project="q", status="running", steps=0 if i > 1 else 20,
                        start=NOW - 100 + i, pid=pid, pid_start_time=started)
        queue.enqueue(run.path, Need("slot", 1), pid, started)
        runs.append(run)
    return runs


def cell(app, key, column: str) -> str:
    table = app.screen.query_one("#runs")
    return str(table.get_cell(str(key), column)) if column in table.shown_columns else ""


async def move_to(app, pilot, path) -> None:
    keys = table_keys(app, "#runs")
    app.screen.query_one("#runs").move_cursor(row=keys.index(str(path)))
    await pilot.pause(0.1)


async def test_the_queue_column_shows_each_waiting_runs_place(tmp_path, queue, driver):
    root = tmp_path / "runs"
    root.mkdir()
    q1, q2, q3 = three_queued(root, queue, driver)
    app = make_app([root], tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: cell(app, q2.path, "queue"), 10, "the queue column")
        assert cell(app, q2.path, "queue") == f"#2 · waiting for 1 slot: slot 0 ({q1.run_id})"
        assert cell(app, q3.path, "queue") == f"#3 · waiting for its turn, after {q2.run_id}"
        assert cell(app, q1.path, "queue") == ""  # it holds the slot: running, not queued


async def test_queue_keys_move_hold_and_cancel_a_waiting_run(tmp_path, queue, driver):
    root = tmp_path / "runs"
    root.mkdir()
    q1, q2, q3 = three_queued(root, queue, driver)
    app = make_app([root], tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: cell(app, q3.path, "queue"), 10, "the queue column")
        await move_to(app, pilot, q1.path)
        assert not app.screen.check_action("queue_up", ())  # the running run has no queue keys
        await move_to(app, pilot, q3.path)
        await pilot.press("u")
        await wait_for(pilot, lambda: [e.run_id for e in queue.entries()] == [q1.run_id, q3.run_id, q2.run_id], 10,
                       "q3 to move up")
        await wait_for(pilot, lambda: cell(app, q3.path, "queue").startswith("#2 · waiting for 1 slot"), 10, "#2")
        await pilot.press("h")
        await wait_for(pilot, lambda: cell(app, q3.path, "queue") == "paused", 10, "q3 to be held")
        assert queue.find(q3.run_id).paused
        await pilot.press("h")
        await wait_for(pilot, lambda: not queue.find(q3.run_id).paused, 10, "q3 to be released")
        await pilot.press("k")
        driver.wait(10)  # SIGINT to its process group: the driver is gone
        await wait_for(pilot, lambda: q3.run_id not in [e.run_id for e in queue.entries()], 10, "q3 to leave")
        await wait_for(pilot, lambda: cell(app, q3.path, "queue") == "", 10, "its queue cell to clear")


def write_sweep(root, runs, metric: str = "loss") -> str:
    (root / "sweeps").mkdir()
    sweep_id = "demo-sweep-20270115-070000"
    points = [{"name": f"demo-learning_rate_{lr}", "values": {"training.learning_rate": lr}, "run_id": r.run_id,
               "run": str(r.path)} for lr, r in zip(("1e-4", "3e-4", "1e-3"), runs)]
    (root / "sweeps" / f"{sweep_id}.json").write_text(json.dumps(
        {"version": 1, "sweep_id": sweep_id, "project": "demo", "created": NOW, "metric": metric,
         "keys": ["training.learning_rate"], "points": points}))
    return sweep_id


async def test_the_sweep_screen_sorts_by_the_metric_marks_the_best_and_overlays_the_curves(tmp_path):
    root = tmp_path / "runs"
    root.mkdir()
    runs = [write_run(root, f"demo-20270115-07{m}00", status="finished", start=NOW - 9000 + 600 * i, loss0=loss0)
            for i, (m, loss0) in enumerate([("00", 9.0), ("10", 5.0), ("20", 7.0)])]
    write_run(root, "other-20270115-080000", project="other", status="finished", start=NOW - 100)
    sweep_id = write_sweep(root, runs)
    app = make_app([root], tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await move_to(app, pilot, root / "other-20270115-080000")
        await wait_for(pilot, lambda: app.screen.sweeps, 10, "the sweep records")
        assert not app.screen.check_action("sweep", ())  # not a run of a sweep
        await move_to(app, pilot, runs[0].path)
        await pilot.press("S")
        await wait_for(pilot, lambda: isinstance(app.screen, SweepScreen) and app.screen.rows, 10, "the sweep screen")
        screen = app.screen
        assert [r["run"] for r in screen.rows] == [str(runs[i].path) for i in (1, 2, 0)]  # lowest eval loss first
        table = screen.query_one("#sweep-table")
        first = table.get_row_at(0)
        assert str(first[0]) == "★" and first[1] == "demo-learning_rate_3e-4" and first[2] == "3e-4"
        assert str(table.get_row_at(1)[0]) == " "
        title = str(screen.query_one(".title").content)
        assert title.startswith(f"Sweep {sweep_id} · 3 runs, 3 finished · by loss") and "best demo-learning_rate_3e-4" in title
        chart = screen.query_one(Chart)
        assert [c.label for c in chart.curves] == [r["name"] for r in screen.rows]
        assert all(len(c.series) == 20 for c in chart.curves)
        await pilot.press("enter")
        await wait_for(pilot, lambda: type(app.screen).__name__ == "RunScreen", 5, "the run screen")
        assert app.screen.run_path == runs[1].path
        await pilot.press("escape", "escape")
        await wait_for(pilot, lambda: isinstance(app.screen, RunsScreen), 5, "the runs screen")


async def test_a_search_sweep_shows_trials_pruned_faint_and_importances(tmp_path):
    from lmtui.tui.screens.sweep import PRUNED_COLOR

    root = tmp_path / "runs"
    root.mkdir()
    runs = [write_run(root, f"demo-sweep-20270115-070000-t{i}", status=status, start=NOW - 9000 + 600 * i,
                      loss0=loss0, steps=steps)
            for i, (status, loss0, steps) in enumerate([("finished", 6.0, 200), ("stopped", 9.0, 40),
                                                        ("finished", 5.0, 200)])]
    runs[1].update_state(status="pruned", pruned_step=40)  # as the controller marks a trial it stopped
    runs[1].emit("pruned", step=40, reason="ASHA (SuccessiveHalvingPruner): held-out loss 7.9 at step 40",
                 sweep_id="demo-sweep-20270115-070000", trial=1)
    sweep_id = write_sweep(root, runs)
    record_file = root / "sweeps" / f"{sweep_id}.json"
    record = json.loads(record_file.read_text())
    for i, (point, state) in enumerate(zip(record["points"], ("complete", "pruned", "complete"))):
        point.update(trial=i, state=state, pruned_step=40 if state == "pruned" else None)
    record.update(search="tpe", prune="asha", trials=3, importance={"training.learning_rate": 0.8, "model.size": 0.2},
                  controller={"state": "finished"})
    record_file.write_text(json.dumps(record))
    app = make_app([root], tmp_path)
    async with app.run_test(size=(140, 40)) as pilot:
        app.open_sweep(sweep_id)
        await wait_for(pilot, lambda: isinstance(app.screen, SweepScreen) and app.screen.rows, 10, "the sweep screen")
        screen = app.screen
        assert [r["trial"] for r in screen.rows] == [2, 0, 1]  # the pruned trial last, never the best
        table = screen.query_one("#sweep-table")
        assert [str(table.get_row_at(i)[1]) for i in range(3)] == ["2", "0", "1"]
        assert str(table.get_row_at(2)[4]) == "pruned at step 40" and str(table.get_row_at(0)[0]) == "★"
        title = str(screen.query_one(".title").content)
        assert "1 pruned · tpe search of 3, prune asha, controller finished" in title
        assert "importance: training.learning_rate 80%, model.size 20%" in title
        chart = screen.query_one(Chart)
        faint = [c for c in chart.curves if c.color == PRUNED_COLOR]
        assert [c.label for c in faint] == [f"{record['points'][1]['name']} (pruned)"]
