"""Pilot tests (App.run_test) of every screen and action of the terminal UI, at 80x24."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import psutil
import pytest
from support.runs import NOW, fixed_hardware, write_run
from textual.command import CommandPalette
from textual.widgets import DataTable, Input, Log

from lmtui.runs.rundir import RunDir
from lmtui.tui.app import LmtuiApp
from lmtui.tui.screens.compare import CompareScreen
from lmtui.tui.screens.dialogs import ConfirmScreen, ErrorScreen, HelpScreen, LaunchScreen, NameScreen
from lmtui.tui.screens.edit import EditProjectScreen
from lmtui.tui.screens.projects import ProjectsScreen
from lmtui.tui.screens.run import RunScreen
from lmtui.tui.screens.runs import RunsScreen
from lmtui.tui.widgets.chart import Chart

SIZE = (80, 24)


def make_app(paths, cwd, **kw) -> LmtuiApp:
    return LmtuiApp([str(p) for p in paths], cwd=cwd, clock=lambda: NOW, hardware_sampler=fixed_hardware,
                    poll_interval=0.2, run_poll_interval=0.1, **kw)


async def wait_for(pilot, condition, timeout: float = 20.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await pilot.pause(0.05)


async def open_run(app, pilot, path) -> RunScreen:
    """Open the run screen of ``path`` and wait until it is composed."""
    app.open_run(path)
    await wait_for(pilot, lambda: isinstance(app.screen, RunScreen) and app.screen.query("#run-header")
                   and app.screen.query(Log), 5, "the run screen")
    await pilot.pause()
    return app.screen


def table_keys(app, selector: str) -> list[str]:
    table = app.screen.query_one(selector, DataTable)
    return [row.key.value for row in table.ordered_rows]


def cell(app, selector: str, row_key: str, col: str) -> str:
    return str(app.screen.query_one(selector, DataTable).get_cell(row_key, col))


def worker_process(run: RunDir, *, ignore_sigint: bool = False) -> subprocess.Popen:
    """A process that plays a run's worker: its own session, run.json pointing at it, and on
    SIGINT it does what lmtui.driver does (checkpoint, status stopped, end event) unless told
    to ignore it (a worker stuck in a long step)."""
    code = textwrap.dedent(f"""
        import signal, sys, time
        from lmtui.runs.rundir import RunDir
        run = RunDir({str(run.path)!r})
        def stop(signum, frame):
            run.emit("stopping", signal="SIGINT")
            run.update_state(status="stopped", ended=time.time(), exit_code=0)
            run.emit("end", status="stopped")
            sys.exit(0)
        signal.signal(signal.SIGINT, signal.SIG_IGN if {ignore_sigint} else stop)
        run.update_state(status="running")
        print("ready", flush=True)
        time.sleep(120)
    """)
    proc = subprocess.Popen([sys.executable, "-c", code], start_new_session=True, stdout=subprocess.PIPE)
    run.update_state(pid=proc.pid, pid_start_time=psutil.Process(proc.pid).create_time())
    assert proc.stdout.readline().strip() == b"ready"
    return proc


# runs screen ------------------------------------------------------------------------
async def test_runs_screen_shows_every_run_with_its_status(runs_root, tmp_path):
    app = make_app([runs_root], tmp_path)
    async with app.run_test(size=(160, 24)) as pilot:  # every column: at 80 the least useful drop (issue 14)
        assert isinstance(app.screen, RunsScreen)
        keys = table_keys(app, "#runs")
        assert len(keys) == 5
        status = {Path(k).name: cell(app, "#runs", k, "status") for k in keys}
        assert status == {"demo-20270115-070000": "finished", "demo-20270115-071500": "failed",
                          "wiki-20270115-073000": "stopped", "wiki-20270115-074500": "crashed",
                          "demo-20270115-075900": "running"}
        live = str(runs_root / "demo-20270115-075900")
        assert keys[0] == live  # newest first
        assert cell(app, "#runs", live, "step") == "150/400"
        assert cell(app, "#runs", live, "eta") == "8m13s"
        assert cell(app, "#runs", live, "elapsed") == "5m10s"
        assert len(cell(app, "#runs", live, "curve")) == 15


async def test_filter_and_sort_the_runs(runs_root, tmp_path):
    app = make_app([runs_root], tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("slash")
        assert isinstance(app.focused, Input)
        await pilot.press(*"wiki")
        assert [Path(k).name.split("-")[0] for k in table_keys(app, "#runs")] == ["wiki", "wiki"]
        await pilot.press("enter", "escape")
        assert len(table_keys(app, "#runs")) == 5
        await pilot.press("o")  # newest -> status
        names = [cell(app, "#runs", k, "status") for k in table_keys(app, "#runs")]
        assert names == sorted(names)


async def test_the_table_follows_a_run_that_writes_new_events(runs_root, tmp_path):
    app = make_app([runs_root], tmp_path)
    live = RunDir(runs_root / "demo-20270115-075900")
    async with app.run_test(size=SIZE) as pilot:
        live.emit("train", step=160, max_steps=400, loss=1.234, learning_rate=1e-4, tokens_per_s=6000.0, eta_s=10)
        await wait_for(pilot, lambda: cell(app, "#runs", str(live.path), "step") == "160/400", 5, "the new step")
        assert cell(app, "#runs", str(live.path), "loss") == "1.234"


async def test_mark_and_compare_runs(runs_root, tmp_path):
    app = make_app([runs_root], tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("space", "space")  # marks the first two rows
        await pilot.press("c")
        await wait_for(pilot, lambda: isinstance(app.screen, CompareScreen), 5, "the compare screen")
        chart = app.screen.query_one(Chart)
        assert len(chart.curves) == 2 and chart.title == "training loss"
        await pilot.press("m")
        assert chart.title == "evaluation loss"
        assert len(table_keys(app, "#compare-table")) == 2
        await pilot.press("escape")
        assert isinstance(app.screen, RunsScreen)


async def test_compare_needs_two_runs(runs_root, tmp_path):
    app = make_app([runs_root], tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("c")
        await pilot.pause()
        assert isinstance(app.screen, RunsScreen)


# run screen ------------------------------------------------------------------------
async def test_run_screen_charts_log_details_and_config(runs_root, tmp_path):
    app = make_app([runs_root], tmp_path)
    run = runs_root / "demo-20270115-070000"
    async with app.run_test(size=SIZE) as pilot:
        await open_run(app, pilot, run)
        screen = app.screen
        assert "demo-20270115-070000" in str(screen.query_one("#run-header").content)
        loss = screen.query_one("#chart-loss", Chart)
        assert [len(c.series) for c in loss.curves] == [20, 4]
        await pilot.press("t", "l", "right_square_bracket")
        assert loss.x_axis == "time" and loss.log_y and app.smoothing == 0.8
        assert screen.query_one("#chart-lr", Chart).smoothing == 0.0
        status = str(screen.query_one("#chart-status").content)
        assert "time" in status and "log" in status and "0.80" in status
        await pilot.press("2")
        await pilot.pause(0.2)
        assert screen.query_one(Log).lines[-1] == "run finished"
        await pilot.press("3")
        details = str(screen.query_one("#run-details").content)
        assert "step     100" in details and "final metrics" in details and "perplexity 9.97" in details
        assert "CPU" in str(screen.query_one("#hardware").content)
        await pilot.press("4")
        assert screen.query_one("#run-tabs").active == "config"
        await pilot.press("escape")
        assert isinstance(app.screen, RunsScreen)


async def test_run_header_shows_mfu_when_the_trainer_reports_it(tmp_path):
    root = tmp_path / "runs"
    root.mkdir()
    run = write_run(root, "gpu-20270115-070000", status="running", steps=100, max_steps=200, pid=os.getpid())
    run.emit("train", step=110, max_steps=200, epoch=0.5, loss=2.5, learning_rate=1e-4, grad_norm=1.0,
             tokens=110 * 1024, tokens_per_s=512_000.0, elapsed_s=220.0, eta_s=180.0, mfu=0.412)
    app = make_app([root], tmp_path)
    async with app.run_test(size=(120, 30)) as pilot:
        await open_run(app, pilot, run.path)
        header = str(app.screen.query_one("#run-header").content)
        assert "MFU 41%" in header and "512" in header


async def test_log_tab_follows_new_lines_and_partial_lines(runs_root, tmp_path):
    app = make_app([runs_root], tmp_path)
    run = RunDir(runs_root / "demo-20270115-075900")
    async with app.run_test(size=SIZE) as pilot:
        await open_run(app, pilot, run.path)
        await pilot.press("2")
        with open(run.log_file, "a") as fh:
            fh.write("step 160/400 loss 1.9\nstep 170/4")
        log = app.screen.query_one(Log)
        await wait_for(pilot, lambda: log.lines[-1] == "step 160/400 loss 1.9", 5, "the new line")
        assert str(app.screen.query_one("#partial").content) == "step 170/4"


async def test_crashed_run_shows_why_with_the_end_of_its_log(runs_root, tmp_path):
    app = make_app([runs_root], tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await open_run(app, pilot, runs_root / "wiki-20270115-074500")
        alert = str(app.screen.query_one("#run-alert").content)
        assert "crashed" in alert and "detail line" in alert
        assert not app.screen.query_one("#run-alert").has_class("hidden")
        assert app.screen.check_action("resume", ()) and not app.screen.check_action("stop", ())


async def test_stop_is_graceful_first(runs_root, tmp_path):
    run = RunDir(runs_root / "demo-20270115-075900")
    proc = worker_process(run)
    app = make_app([runs_root], tmp_path)
    try:
        async with app.run_test(size=SIZE) as pilot:
            await open_run(app, pilot, run.path)
            await pilot.press("s")
            assert isinstance(app.screen, ConfirmScreen) and "checkpoint" in app.screen.question
            await pilot.press("y")
            await wait_for(pilot, lambda: proc.poll() is not None, 10, "the worker to exit")
            await wait_for(pilot, lambda: app.tracker(run.path).status == "stopped", 5, "status stopped")
            assert app.tracker(run.path).stopping
    finally:
        proc.kill()


async def test_second_stop_kills_the_process_group(runs_root, tmp_path):
    run = RunDir(runs_root / "demo-20270115-075900")
    proc = worker_process(run, ignore_sigint=True)
    app = make_app([runs_root], tmp_path)
    try:
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("s", "y")  # from the runs table: the live run is the first row
            await pilot.pause(0.5)
            assert proc.poll() is None  # still checkpointing
            await pilot.press("s")
            assert isinstance(app.screen, ConfirmScreen) and "Kill" in app.screen.confirm_label
            await pilot.press("y")
            await wait_for(pilot, lambda: proc.poll() is not None, 10, "the kill")
            assert run.read_state()["status"] == "stopped"
    finally:
        proc.kill()


async def test_resume_restarts_the_worker_detached(runs_root, tmp_path):
    run = RunDir(runs_root / "wiki-20270115-073000")  # stopped; its corpus is gone
    app = make_app([runs_root], tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await open_run(app, pilot, run.path)
        await pilot.press("r")
        pid = run.read_state()["pid"]
        assert pid and os.getpgid(pid) == pid  # a session of its own
        await wait_for(pilot, lambda: app.tracker(run.path).status == "failed", 60, "the resumed worker to fail")
        assert "gone.txt" in str(app.screen.query_one("#run-alert").content)


async def test_delete_asks_first_and_refuses_active_runs(runs_root, tmp_path):
    app = make_app([runs_root], tmp_path)
    done = runs_root / "demo-20270115-070000"
    async with app.run_test(size=SIZE) as pilot:
        app.delete_run(runs_root / "demo-20270115-075900")  # running: refused
        await pilot.pause()
        assert not isinstance(app.screen, ConfirmScreen)
        await open_run(app, pilot, done)
        await pilot.press("x")
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("n")
        assert done.exists()
        await pilot.press("x", "y")
        await wait_for(pilot, lambda: not done.exists(), 5, "the deletion")
        assert isinstance(app.screen, RunsScreen)
        await wait_for(pilot, lambda: len(table_keys(app, "#runs")) == 4, 5, "the table to drop it")


# projects screen ---------------------------------------------------------------------
async def test_projects_screen_shows_validation_inline(project_dir):
    app = make_app([], project_dir)
    async with app.run_test(size=SIZE) as pilot:
        assert isinstance(app.screen, ProjectsScreen)  # no runs yet
        keys = table_keys(app, "#projects")
        assert [Path(k).name for k in keys] == ["broken.toml", "good.toml"]
        summary = str(app.screen.query_one("#project-summary").content)
        assert "invalid" in summary and "[corpus.train_files]" in summary and "not found" in summary
        await pilot.press("down")
        summary = str(app.screen.query_one("#project-summary").content)
        assert "tokens/step 1,024 (16 x 64)" in summary and "parameters" in summary and "run time" in summary


async def test_launching_an_invalid_project_shows_the_error(project_dir):
    app = make_app([], project_dir)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("r")  # broken.toml is first
        assert isinstance(app.screen, ErrorScreen)
        assert "corpus.train_files" in str(app.screen.query_one("#error-text").content)
        await pilot.press("escape")
        assert isinstance(app.screen, ProjectsScreen)


async def test_a_corpus_that_vanishes_before_launch_shows_the_error_not_a_crash(project_dir):
    app = make_app([], project_dir)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("down", "r")
        assert isinstance(app.screen, LaunchScreen)
        dialog = app.screen
        (project_dir / "data" / "train.txt").unlink()
        await pilot.press(*"50", "enter", "y")
        await wait_for(pilot, lambda: "not found" in str(dialog.query_one("#launch-error").content), 10,
                       "the error, in the dialog (issue 14)")
        assert not list((project_dir / "runs").glob("good-*"))


async def test_launch_dialog_builds_overrides(project_dir):
    app = make_app([], project_dir)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("down", "r")
        screen = app.screen
        await pilot.press(*"30", "tab", *"0.002", "tab", *"hardware.device=cpu")
        assert screen.overrides() == ["training.max_steps=30", "training.learning_rate=0.002", "hardware.device=cpu"]
        screen.query_one("#extra", Input).value = "oops"
        await pilot.press("ctrl+s")
        assert app.screen is screen and "section.key=value" in str(screen.query_one("#launch-error").content)
        await pilot.press("escape")
        assert isinstance(app.screen, ProjectsScreen)


async def test_new_project_from_the_template_and_duplicate(project_dir):
    app = make_app([], project_dir)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("n")
        assert isinstance(app.screen, NameScreen)
        await pilot.press(*"bad name", "enter")
        assert isinstance(app.screen, NameScreen)  # refused: a space
        app.screen.query_one(Input).value = "fresh"
        await pilot.press("enter")
        new = project_dir / "projects" / "fresh.toml"
        assert new.is_file() and 'name = "fresh"' in new.read_text()
        assert table_keys(app, "#projects").count(str(new)) == 1
        await pilot.press("home", "down")  # fresh.toml sorts after broken.toml
        await pilot.press("d")
        app.screen.query_one(Input).value = "fresh2"
        await pilot.press("enter")
        copy = project_dir / "projects" / "fresh2.toml"
        assert 'name = "fresh2"' in copy.read_text()


async def test_edit_form_saves_valid_changes_and_shows_errors_at_the_key(project_dir):
    path = project_dir / "projects" / "good.toml"
    path.write_text("# keep this comment\n" + path.read_text())
    app = make_app([], project_dir)
    async with app.run_test(size=(100, 40)) as pilot:
        await pilot.press("down", "e")
        form = app.screen
        assert isinstance(form, EditProjectScreen)
        form.query_one("#f-training-max_steps", Input).value = "abc"
        await pilot.press("ctrl+s")
        assert "integer" in str(form.query_one("#err-training-max_steps").content)
        form.query_one("#f-training-max_steps", Input).value = "50"
        form.query_one("#f-training-batch_size", Input).value = "20"
        await pilot.press("ctrl+s")
        assert "not divisible" in str(form.query_one("#err-training-batch_size").content)
        assert "max_steps = 300" in path.read_text()  # nothing written while invalid
        form.query_one("#f-training-batch_size", Input).value = "32"
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: isinstance(app.screen, ProjectsScreen), 5, "the form to close")
        text = path.read_text()
        assert "max_steps = 50" in text and "batch_size = 32" in text and "# keep this comment" in text


async def test_open_in_editor_then_revalidate(project_dir, tmp_path, monkeypatch):
    script = tmp_path / "editor.py"
    script.write_text("import sys, pathlib\np = pathlib.Path(sys.argv[1])\n"
                      "p.write_text(p.read_text().replace('missing.txt', 'train.txt'))\n")
    monkeypatch.setenv("EDITOR", f"{sys.executable} {script}")
    monkeypatch.delenv("VISUAL", raising=False)
    app = make_app([], project_dir)
    async with app.run_test(size=SIZE) as pilot:
        assert "invalid" in str(app.screen.query_one("#project-summary").content)
        await pilot.press("E")
        await wait_for(pilot, lambda: "invalid" not in str(app.screen.query_one("#project-summary").content),
                       5, "revalidation")


# app-wide ------------------------------------------------------------------------------
async def test_help_and_mode_switching(runs_root, project_dir):
    app = make_app([runs_root], project_dir)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        text = str(app.screen.query_one("#help-text").content)
        assert "Filter" in text and "Compare" in text and "Projects" in text
        await pilot.press("escape", "1")
        assert isinstance(app.screen, ProjectsScreen)
        await pilot.press("2")
        assert isinstance(app.screen, RunsScreen)


async def test_command_palette_opens_a_run(runs_root, tmp_path):
    app = make_app([runs_root], tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("ctrl+p")
        assert isinstance(app.screen, CommandPalette)
        await pilot.press(*"open run wiki-20270115-0745")
        await pilot.pause(0.5)
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, RunScreen), 5, "the run screen")
        assert app.screen.tracker.run_id == "wiki-20270115-074500"


def test_the_app_imports_neither_torch_nor_transformers(runs_root, tmp_path):
    code = textwrap.dedent(f"""
        import asyncio, sys
        from lmtui.tui.app import LmtuiApp
        async def main():
            app = LmtuiApp([{str(runs_root)!r}], cwd={str(tmp_path)!r})
            async with app.run_test(size=(80, 24)) as pilot:
                app.open_run({str(runs_root / "demo-20270115-070000")!r})
                await pilot.pause(0.5)
                await pilot.press("1")
                await pilot.pause(0.2)
        asyncio.run(main())
        heavy = sorted(m for m in sys.modules if m.split(".")[0] in ("torch", "transformers", "accelerate"))
        print(heavy)
        sys.exit(1 if heavy else 0)
    """)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.parametrize("argv", [["--help"]])
def test_run_app_has_a_help(argv, capsys):
    from lmtui.tui.app import run_app

    with pytest.raises(SystemExit) as exc:
        run_app(argv)
    assert exc.value.code == 0
    assert "PATH" in capsys.readouterr().out
