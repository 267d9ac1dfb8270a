"""Pilot tests of issue 14 (the TUI as a daily driver): whole values, burst keys, background
launches, errors kept in the dialog, the editor, stopping during start-up, one key grammar."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import psutil
import pytest
from support.runs import NOW, write_run
from textual import events
from textual.keys import _character_to_key
from textual.widgets import DataTable, Input
from tui.test_app import make_app, wait_for, worker_process

from lmtui.runs.rundir import RunDir
from lmtui.tui.screens.dialogs import ConfirmScreen, ErrorScreen, LaunchScreen, TickBox
from lmtui.tui.screens.edit import EditProjectScreen
from lmtui.tui.screens.projects import ProjectsScreen
from lmtui.tui.screens.run import RunScreen


def table_lines(table: DataTable) -> list[str]:
    """The table as drawn, one string per line."""
    return [table.render_line(y).text for y in range(table.size.height)]


def live_run(root: Path, run_id: str, **kw) -> RunDir:
    """A running run owned by this test process (so it is not taken for crashed)."""
    me = psutil.Process(os.getpid())
    return write_run(root, run_id, status="running", pid=os.getpid(), pid_start_time=me.create_time(), **kw)


# 1. the runs table never cuts values --------------------------------------------------------
async def test_runs_table_widens_a_column_when_its_values_grow(tmp_path):
    root = tmp_path / "runs"
    root.mkdir()
    run = live_run(root, "demo-20270115-075900", steps=20, max_steps=1501, start=NOW - 100)
    app = make_app([root], tmp_path)
    async with app.run_test(size=(160, 20)) as pilot:
        table = app.screen.query_one("#runs", DataTable)
        await wait_for(pilot, lambda: any("20/1501" in line for line in table_lines(table)), 15, "the first row")
        run.emit("train", step=1500, max_steps=1501, loss=8.787, learning_rate=1e-4, tokens=1500 * 1024,
                 tokens_per_s=5000.0, elapsed_s=3000.0, eta_s=2.0)
        run.emit("eval", step=1500, loss=8.787, perplexity=6548.0, accuracy=0.03, tokens=4000)
        run.update_state(step=1500)
        await wait_for(pilot, lambda: any("1500/1501" in line for line in table_lines(table)), 15,
                       "the grown step count drawn whole")
        assert any("6548" in line for line in table_lines(table))  # not cut to 654


async def test_a_narrow_runs_table_drops_whole_columns_instead_of_cutting(runs_root, tmp_path):
    app = make_app([runs_root], tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        table = app.screen.query_one("#runs", DataTable)
        assert table.virtual_size.width <= table.size.width  # no sideways scrolling, nothing cut off
        text = "\n".join(table_lines(table))
        for value in ("150/400", "running", "finished", "20270115-075900"):
            assert value in text
        shown = [str(c.label) for c in table.columns.values()]
        assert "step" in shown and "train loss" in shown and "device" not in shown
        assert "hidden" in str(app.screen.query_one("#runs-info").content)
        await pilot.resize_terminal(200, 24)
        await pilot.pause()
        assert "device" in [str(c.label) for c in table.columns.values()]
        assert "demo-20270115-075900" not in "\n".join(table_lines(table))  # the project has its own column


async def test_home_and_end_move_between_rows_not_sideways(runs_root, tmp_path):
    app = make_app([runs_root], tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        table = app.screen.query_one("#runs", DataTable)
        await pilot.press("end")
        assert table.cursor_row == table.row_count - 1
        await pilot.press("home")
        assert table.cursor_row == 0 and table.scroll_x == 0


# 2. keys typed in one burst after Tab land in the field Tab moved to -------------------------
def burst(app, *keys: str) -> None:
    """Post every key at once, as a paste or a slow SSH link delivers them (pilot.press waits
    between keys, which hides the race)."""
    for key in keys:
        char = {"tab": "\t", "enter": "\r"}.get(key, key if len(key) == 1 else None)
        app.post_message(events.Key(_character_to_key(key) if len(key) == 1 else key, char))


async def open_launch_dialog(app, pilot) -> LaunchScreen:
    await pilot.press("down", "r")  # good.toml (broken.toml sorts first)
    await wait_for(pilot, lambda: isinstance(app.screen, LaunchScreen), 5, "the launch dialog")
    return app.screen


async def test_burst_keys_after_tab_reach_the_next_field(project_dir):
    app = make_app([], project_dir)
    async with app.run_test(size=(80, 24)) as pilot:
        dialog = await open_launch_dialog(app, pilot)
        burst(app, "1", "2", "tab", "tab", *"a.b=1", "shift+tab", *"0.002")
        await pilot.pause(0.2)
        values = {k: dialog.query_one(f"#{k}", Input).value for k in ("max_steps", "learning_rate", "extra")}
        assert values == {"max_steps": "12", "learning_rate": "0.002", "extra": "a.b=1"}


async def test_launch_shows_a_one_line_summary_to_confirm(project_dir):
    app = make_app([], project_dir)
    async with app.run_test(size=(80, 24)) as pilot:
        dialog = await open_launch_dialog(app, pilot)
        await pilot.press(*"150", "tab", "tab", *"training.seed=3", "enter")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), 5, "the confirmation")
        question = str(app.screen.query_one(".question").content)
        assert "steps 150" in question and "lr 0.0005 (project)" in question
        assert "overrides training.seed=3" in question and "a new run" in question
        await pilot.press("escape")
        assert app.screen is dialog and dialog.query_one("#max_steps", Input).value == "150"


# 3 and 4. a launch never takes over the screen; its errors stay in the dialog -----------------
class FakeLaunched:
    def __init__(self, run: RunDir, finished: bool = False):
        self.run, self.resumed, self.warning, self.offset, self.finished = run, False, None, 0, finished


async def test_a_background_launch_announces_the_run_and_opens_it_only_when_asked(project_dir, monkeypatch):
    from lmtui.runs import launcher

    runs = project_dir / "runs"
    runs.mkdir()
    run = live_run(runs, "good-20270115-080000", project="good", steps=10, max_steps=50)
    monkeypatch.setattr(launcher, "launch", lambda path, fresh, overrides: FakeLaunched(run))
    app = make_app([], project_dir, mode="projects")
    async with app.run_test(size=(80, 24)) as pilot:
        await open_launch_dialog(app, pilot)
        await pilot.press("enter", "y")
        await wait_for(pilot, lambda: isinstance(app.screen, ProjectsScreen), 5, "the dialog to close")
        await pilot.pause(0.3)
        assert isinstance(app.screen, ProjectsScreen)  # nothing pushed that was not asked for
        assert any("ctrl+o opens it" in n.message for n in app._notifications)
        await pilot.press("ctrl+o")
        await wait_for(pilot, lambda: isinstance(app.screen, RunScreen), 5, "the run screen")
        await pilot.press("ctrl+o")  # again: the same run screen is replaced, not stacked
        await wait_for(pilot, lambda: isinstance(app.screen, RunScreen), 5, "the run screen")
        assert sum(isinstance(s, RunScreen) for s in app.screen_stack) == 1


async def test_launching_a_finished_run_again_says_it_is_finished_and_how_to_start_anew(project_dir, monkeypatch):
    from lmtui.runs import launcher

    runs = project_dir / "runs"
    runs.mkdir()
    run = live_run(runs, "good-20270115-080000", project="good", steps=50, max_steps=50)
    monkeypatch.setattr(launcher, "launch", lambda path, fresh, overrides: FakeLaunched(run, finished=True))
    app = make_app([], project_dir, mode="projects")
    async with app.run_test(size=(80, 24)) as pilot:
        await open_launch_dialog(app, pilot)
        await pilot.press("enter", "y")
        await wait_for(pilot, lambda: isinstance(app.screen, ProjectsScreen), 5, "the dialog to close")
        await pilot.pause(0.3)
        messages = [n.message for n in app._notifications]
        assert any("good-20270115-080000 has already finished" in m and '"fresh run"' in m for m in messages)
        assert not any(m.startswith(("started", "resumed")) for m in messages)


async def test_launch_errors_stay_in_the_dialog_and_name_the_override(project_dir):
    app = make_app([], project_dir)
    async with app.run_test(size=(80, 24)) as pilot:
        dialog = await open_launch_dialog(app, pilot)
        await pilot.press(*"40", "tab", "tab", *"training.nosuchkey=1", "enter", "y")
        await wait_for(pilot, lambda: "unknown key" in str(dialog.query_one("#launch-error").content), 20, "the error")
        assert app.screen is dialog
        message = str(dialog.query_one("#launch-error").content)
        assert message.startswith("more overrides: training.nosuchkey=1") and "--set" not in message
        assert dialog.focused is dialog.query_one("#extra") and dialog.focused.has_class("-invalid")
        assert dialog.query_one("#max_steps", Input).value == "40"
        assert dialog.query_one("#extra", Input).value == "training.nosuchkey=1"


async def test_a_changed_project_points_at_the_fresh_run_box_not_a_cli_flag(project_dir, monkeypatch):
    from lmtui.runs import launcher

    def refuse(path, fresh, overrides):
        raise launcher.ProjectChangedError("the project's [training] changed since run good-1 started, so it "
                                           "cannot be resumed", run_id="good-1", sections=["training"],
                                           hint="start a new run with --fresh (the old run is kept)")

    monkeypatch.setattr(launcher, "launch", refuse)
    app = make_app([], project_dir)
    async with app.run_test(size=(80, 24)) as pilot:
        dialog = await open_launch_dialog(app, pilot)
        await pilot.press("enter", "y")
        await wait_for(pilot, lambda: str(dialog.query_one("#launch-error").content) not in ("", "starting…"), 5,
                       "the error")
        message = str(dialog.query_one("#launch-error").content)
        assert "fresh run" in message and "--fresh" not in message
        assert app.screen is dialog and app.screen.focused is dialog.query_one("#fresh")


def test_an_unchecked_box_is_empty_not_an_x():
    box = TickBox("fresh run")
    assert "X" not in box.BUTTON_INNER
    box.value = True
    assert box.BUTTON_INNER == "X"


# 5. the editor is checked before the app steps aside ------------------------------------------
class RecordingSuspend:
    """Stands in for App.suspend: records that the screen was handed over."""

    def __init__(self):
        self.entered = 0

    def __call__(self):
        return self

    def __enter__(self):
        self.entered += 1

    def __exit__(self, *exc):
        return False


@pytest.mark.parametrize("editor, expect", [("/nonexistent/editor", "not an executable"),
                                            ("vi '", "cannot be read"), ("", "not an executable")])
async def test_a_bad_editor_shows_an_error_without_suspending(project_dir, monkeypatch, editor, expect):
    monkeypatch.setenv("EDITOR", editor)
    monkeypatch.delenv("VISUAL", raising=False)
    if not editor:
        monkeypatch.setenv("PATH", str(project_dir))  # no vi on PATH
    app = make_app([], project_dir)
    async with app.run_test(size=(80, 24)) as pilot:
        suspend = RecordingSuspend()
        monkeypatch.setattr(app, "suspend", suspend)
        await pilot.press("E")
        await wait_for(pilot, lambda: isinstance(app.screen, ErrorScreen), 5, "the error")
        assert expect in str(app.screen.query_one("#error-text").content) and suspend.entered == 0
        await pilot.press("escape")
        assert isinstance(app.screen, ProjectsScreen)


# 6. stopping ------------------------------------------------------------------------------------
async def test_stop_shows_stopping_at_once(runs_root, tmp_path):
    run = RunDir(runs_root / "demo-20270115-075900")
    proc = worker_process(run, ignore_sigint=True)
    try:
        app = make_app([runs_root], tmp_path)
        async with app.run_test(size=(120, 24)) as pilot:
            await pilot.press("s", "y")
            table = app.screen.query_one("#runs", DataTable)
            await pilot.pause()
            assert "stopping" in str(table.get_cell(str(run.path.resolve()), "status"))
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


STARTUP_DRIVER = textwrap.dedent("""
    import sys
    import lmtui.driver as driver
    import lmtui.stages as stages
    import lmtui.train.launch as launch
    trainer = "import time; print('trainer starting', flush=True); time.sleep(60)"
    launch.launch_command = lambda project, run_path: [sys.executable, "-c", trainer]
    driver.STAGES = tuple(s for s in stages.STAGES if s.name == "pretrain")
    sys.exit(driver.main(sys.argv[1]))
""")


def test_a_run_stopped_during_start_up_is_stopped_not_failed(project_dir):
    from lmtui.project.load import load_project
    from lmtui.runs import launcher

    run, _ = launcher.prepare_run(load_project(str(project_dir / "projects" / "good.toml")))
    with open(run.log_file, "ab") as log:
        proc = subprocess.Popen([sys.executable, "-c", STARTUP_DRIVER, str(run.path)], stdout=log,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while "trainer starting" not in run.log_file.read_text():
            assert time.monotonic() < deadline and proc.poll() is None, run.log_file.read_text()
            time.sleep(0.1)
        run.update_state(pid=proc.pid, pid_start_time=psutil.Process(proc.pid).create_time())
        assert launcher.stop(run)
        assert proc.wait(timeout=60) == 0
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    state = run.read_state()
    assert state["status"] == "stopped", (state, run.log_file.read_text())
    assert not state.get("error")
    assert not [line for line in run.log_file.read_text().splitlines() if line.startswith("error:")]


# 14. smaller defects outside the run screen ----------------------------------------------------
async def test_the_projects_summary_counts_runs_that_start_while_it_is_shown(project_dir):
    app = make_app([], project_dir, mode="projects")
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("down")  # good.toml
        summary = app.screen.query_one("#project-summary")
        assert "runs        0" in str(summary.content)
        (project_dir / "runs").mkdir()
        write_run(project_dir / "runs", "good-20270115-080000", project="good")
        await wait_for(pilot, lambda: "runs        1, latest good-20270115-080000" in str(summary.content), 10,
                       "the new run in the summary, the cursor unmoved")


async def test_the_edit_form_opens_on_its_first_field_and_says_when_nothing_changed(project_dir):
    app = make_app([], project_dir, mode="projects")
    async with app.run_test(size=(100, 40)) as pilot:
        await pilot.press("down", "e")
        form = app.screen
        assert isinstance(form, EditProjectScreen) and form.focused is form.query_one("#f-project-name")
        await pilot.press("ctrl+s")
        assert app.screen is form and "nothing changed" in str(form.query_one("#form-error").content)
