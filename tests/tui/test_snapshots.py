"""Snapshot tests of the main screens (pytest-textual-snapshot), with time, paths and blink fixed.

Update after an intended change with ``pytest tests/tui/test_snapshots.py --snapshot-update``
and review the SVGs in tests/tui/__snapshots__/.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from support.runs import NOW, PROJECT_TOML, dead_pid, fixed_hardware, write_run
from textual.widgets import Input

from lmtui.tui.app import LmtuiApp

# Fixed folders, so that no path in a screen depends on the test run (one folder per test).
BASE = Path("/tmp/lmtui-snapshots")


@pytest.fixture
def fixed_dir(request) -> Path:
    folder = BASE / request.node.name.replace("[", "-").replace("]", "")
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def populate(folder: Path) -> Path:
    """projects/good.toml and runs/ with a live, a finished, a failed and a crashed run."""
    import psutil

    (folder / "projects").mkdir()
    (folder / "data").mkdir()
    (folder / "data" / "train.txt").write_text("a line of text\n" * 2000)
    (folder / "projects" / "good.toml").write_text(PROJECT_TOML.format(
        name="good", out="../runs", corpus="../data/train.txt", max_steps=300))
    runs = folder / "runs"
    runs.mkdir()
    write_run(runs, "good-20270115-070000", project="good", status="finished", start=NOW - 7200)
    write_run(runs, "good-20270115-071500", project="good", status="failed", steps=40, start=NOW - 6300)
    pid, started = dead_pid()
    write_run(runs, "good-20270115-074500", project="good", status="running", steps=90, start=NOW - 4500,
              pid=pid, pid_start_time=started)
    write_run(runs, "good-20270115-075900", project="good", status="running", steps=150, max_steps=400,
              start=NOW - 310, pid=os.getpid(), pid_start_time=psutil.Process(os.getpid()).create_time(), loss0=8.5)
    return runs


def make_app(folder: Path, mode: str | None = None) -> LmtuiApp:
    app = LmtuiApp([], cwd=folder, clock=lambda: NOW, hardware_sampler=fixed_hardware, poll_interval=60,
                   run_poll_interval=60, mode=mode)
    return app


async def no_blink(pilot) -> None:
    for widget in pilot.app.screen.query(Input):
        widget.cursor_blink = False
    await pilot.pause()


def test_runs_screen(snap_compare, fixed_dir):
    populate(fixed_dir)
    assert snap_compare(make_app(fixed_dir), terminal_size=(80, 24))


def test_projects_screen(snap_compare, fixed_dir):
    populate(fixed_dir)
    assert snap_compare(make_app(fixed_dir, mode="projects"), terminal_size=(80, 24))


def test_launch_dialog(snap_compare, fixed_dir):
    populate(fixed_dir)
    assert snap_compare(make_app(fixed_dir, mode="projects"), press=["r"], terminal_size=(80, 24),
                        run_before=no_blink)


@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
def test_run_screen_charts(snap_compare, fixed_dir, size):
    runs = populate(fixed_dir)

    async def open_live_run(pilot):
        pilot.app.open_run(runs / "good-20270115-075900")
        await pilot.pause(0.3)

    assert snap_compare(make_app(fixed_dir), terminal_size=size, run_before=open_live_run)


def test_crashed_run_screen(snap_compare, fixed_dir):
    runs = populate(fixed_dir)

    async def open_crashed_run(pilot):
        pilot.app.open_run(runs / "good-20270115-074500")
        await pilot.pause(0.3)

    assert snap_compare(make_app(fixed_dir), press=["2"], terminal_size=(80, 24), run_before=open_crashed_run)


def test_compare_screen(snap_compare, fixed_dir):
    populate(fixed_dir)
    assert snap_compare(make_app(fixed_dir), press=["space", "space", "c"], terminal_size=(80, 24))
