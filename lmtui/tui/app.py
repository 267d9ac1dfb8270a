"""The `lmtui` terminal app: projects and runs, keyboard first.

Runs never depend on the app: it starts them detached through :mod:`lmtui.runs.launcher` (the
same call as `lmtui run --detach`), reads their run directories, and signals their process
groups to stop them. Quitting, closing the terminal or losing the SSH connection leaves
every run going; the next `lmtui` shows them live again.
"""

from __future__ import annotations

import argparse
import shutil
import time
from pathlib import Path
from typing import Callable

from textual.app import App
from textual.binding import Binding

from lmtui import hardware
from lmtui.errors import LmtuiError
from lmtui.runs.catalog import Catalog
from lmtui.runs.tracker import RunTracker
from lmtui.tui.keys import bind
from lmtui.tui.palette import LmtuiCommands
from lmtui.tui.screens.dialogs import ConfirmScreen, ErrorScreen, HelpScreen, LaunchScreen
from lmtui.tui.screens.projects import ProjectsScreen
from lmtui.tui.screens.runs import RunsScreen

ACTIVE = ("queued", "running")


class LmtuiApp(App):
    """The app.

    Args:
        paths: command-line paths (project files, folders of projects or runs, run directories).
        cwd: working directory for ./projects and ./runs (default: the process's).
        clock: "now" in Unix seconds for elapsed times and ETAs (tests fix it).
        hardware_sampler: reads this machine's load (tests pass a fixed reading).
        poll_interval: seconds between refreshes of the runs table.
        run_poll_interval: seconds between reads of an open run's events.
        mode: the first screen, ``projects`` or ``runs`` (default: runs when there are any).
    """

    CSS_PATH = "lmtui.tcss"
    TITLE = "lmtui"
    MODES = {"projects": ProjectsScreen, "runs": RunsScreen}
    COMMANDS = App.COMMANDS | {LmtuiCommands}
    BINDINGS = [
        bind("question_mark", "help"),
        Binding("1", "switch_mode('projects')", "Projects"),
        Binding("2", "switch_mode('runs')", "Runs"),
        bind("ctrl+p", "command_palette", show=False, priority=True),
        bind("colon", "command_palette", show=False),
        bind("ctrl+o", "open_launched", show=False),
        bind("q", "quit", show=False),
    ]

    def __init__(self, paths: list[str] | None = None, *, cwd: str | Path | None = None,
                 clock: Callable[[], float] = time.time,
                 hardware_sampler: Callable[[], hardware.HardwareSample] = hardware.sample,
                 poll_interval: float = 1.0, run_poll_interval: float = 0.5, mode: str | None = None):
        super().__init__()
        self.catalog = Catalog(paths, cwd)
        self.clock = clock
        self.hardware_sampler = hardware_sampler
        self.poll_interval = poll_interval
        self.run_poll_interval = run_poll_interval
        self.start_mode = mode
        self.smoothing = 0.6
        self.trackers: dict[Path, RunTracker] = {}
        self.run_list: list[RunTracker] = []
        self.stop_requested: set[Path] = set()
        self.last_launched: Path | None = None

    def on_mount(self) -> None:
        self.switch_mode(self.start_mode or ("runs" if self.poll_runs() else "projects"))

    # runs ------------------------------------------------------------------------
    def tracker(self, path: str | Path) -> RunTracker:
        """The shared tracker of the run at ``path`` (created and read on first use)."""
        path = Path(path).resolve()
        if path not in self.trackers:
            self.trackers[path] = RunTracker(path, clock=self.clock, smoothing=self.smoothing)
            self.trackers[path].poll()
        return self.trackers[path]

    def poll_runs(self, poll: bool = True) -> list[RunTracker]:
        """Every run found, newest first, each brought up to date (``poll``) or as last read."""
        if poll:
            self.run_list = []
            for run in self.catalog.runs():
                t = self.tracker(run.path)
                t.poll()
                self.run_list.append(t)
        return self.run_list

    def trackers_of_project(self, name: str) -> list[RunTracker]:
        return [t for t in self.poll_runs(poll=False) if t.project_name == name]

    def open_run(self, path: str | Path) -> None:
        """Show the run at ``path`` on the runs screen; an open run screen is replaced, never stacked."""
        from lmtui.tui.screens.run import RunScreen

        if self.current_mode != "runs":
            self.switch_mode("runs")
        while isinstance(self.screen, RunScreen):
            self.pop_screen()
        self.push_screen(RunScreen(path))

    def show_project_runs(self, name: str) -> None:
        """The runs screen filtered to project ``name``; Esc there returns to the projects screen."""
        self.switch_mode("runs")
        while len(self.screen_stack) > 1:  # a run or compare screen left open on the runs side
            self.pop_screen()
        self.screen.show_project(name, back_to="projects")

    def action_open_launched(self) -> None:
        """Open the run launched last (the key its notification names)."""
        if self.last_launched is None:
            self.notify("no run was launched from here yet", severity="warning")
            return
        self.open_run(self.last_launched)

    def open_sweep(self, ref: str) -> None:
        """Show the sweep ``ref`` (a sweep id, prefix or record path): its runs by the metric, curves overlaid."""
        from lmtui.tui.screens.sweep import SweepScreen

        self.push_screen(SweepScreen(ref))

    def compare(self, paths: list[str]) -> None:
        from lmtui.tui.screens.compare import CompareScreen

        self.push_screen(CompareScreen(paths))

    def launch_dialog(self, project_path: str | Path) -> None:
        """Ask for launch options, then launch (invalid projects show their error instead)."""
        from lmtui.runs.catalog import load_entry

        entry = load_entry(Path(project_path))
        if entry.error is not None:
            self.push_screen(ErrorScreen(f"{entry.name} is invalid; fix it before launching", entry.error))
            return
        tr = entry.project.training
        runs = self.trackers_of_project(entry.name)
        dialog = LaunchScreen(entry.name, max_steps=tr.max_steps, learning_rate=tr.learning_rate,
                              latest_run=runs[0].run_id if runs else None,
                              start=lambda overrides, fresh: self.launch(entry.path, overrides=overrides, fresh=fresh,
                                                                         dialog=dialog))
        self.push_screen(dialog)

    def launch(self, project_path: str | Path, *, overrides: list[str] | None = None, fresh: bool = False,
               dialog: LaunchScreen | None = None) -> None:
        """Start a run of the project detached, in a thread, and announce it (a notification; ctrl+o opens it).

        Why it could not start goes to ``dialog`` (under the field at fault) while that is open, else
        to a notification: the screen the user is on is never replaced by one they did not ask for.
        """

        def work() -> None:
            from lmtui.runs import launcher

            try:
                launched = launcher.launch(str(project_path), fresh=fresh, overrides=overrides or [])
            except Exception as exc:  # shown to the user, never a crash of the app
                self.call_from_thread(self._launch_failed, exc, dialog)
                return
            if launched.finished:
                self.call_from_thread(self._already_finished, launched.run, dialog)
                return
            if launched.warning:
                self.call_from_thread(self.notify, launched.warning, severity="warning", timeout=15)
            self.call_from_thread(self._launched, launched.run.path, launched.resumed, dialog)

        self.run_worker(work, thread=True, exit_on_error=False, group="launch")

    def _launch_failed(self, exc: BaseException, dialog: LaunchScreen | None) -> None:
        if dialog is not None and dialog.is_attached:
            dialog.failed(exc)
        else:
            self.notify(f"the run could not start: {getattr(exc, 'message', exc)}", severity="error", timeout=20)

    def _already_finished(self, run, dialog: LaunchScreen | None) -> None:
        """The latest run of the project finished with this very project: nothing started."""
        if dialog is not None and dialog.is_attached:
            dialog.started()
        self.last_launched = Path(run.path)
        self.notify(f"run {run.run_id} has already finished; its model is in {run.model_dir}\n"
                    "tick \"fresh run\" to start a new one; ctrl+o opens it", timeout=15)

    def _launched(self, path: Path, resumed: bool, dialog: LaunchScreen | None) -> None:
        if dialog is not None and dialog.is_attached:
            dialog.started()
        self.last_launched = Path(path)
        self.notify(f"{'resumed' if resumed else 'started'} run {Path(path).name}\nctrl+o opens it", timeout=15)
        self.catalog.forget(path)
        self.poll_runs()

    def stop_run(self, path: str | Path) -> None:
        """Stop gracefully (the run checkpoints and exits); asked again while it stops, kill it."""
        from lmtui.runs import launcher

        t = self.tracker(path)
        t.poll()
        if t.status not in ACTIVE:
            self.notify(f"run {t.run_id} is not running ({t.status})", severity="warning")
            return
        if t.path in self.stop_requested or t.stopping:
            def kill(yes: bool | None) -> None:
                if yes:
                    launcher.stop(t.run, force=True)
                    self.notify(f"killed run {t.run_id}")

            self.push_screen(ConfirmScreen(f"Run {t.run_id} is already stopping.\nKill every process of it now, "
                                           "without a checkpoint?", confirm="Kill", danger=True), kill)
            return

        def stop(yes: bool | None) -> None:
            if not yes:
                return
            self.stop_requested.add(t.path)  # "stopping…" shows at once, before the run answers
            if launcher.stop(t.run):
                self.notify(f"stopping {t.run_id}…: it writes a checkpoint and exits (s again to kill it)")
            else:
                self.stop_requested.discard(t.path)
                self.notify(f"run {t.run_id} had already ended", severity="warning")
            refresh = getattr(self.screen, "refresh_runs", None)
            if refresh is not None:
                refresh()

        self.push_screen(ConfirmScreen(f"Stop run {t.run_id}?\nIt writes a checkpoint and exits; resume it later "
                                       "with r.", confirm="Stop"), stop)

    def resume_run(self, path: str | Path) -> None:
        from lmtui.runs import launcher

        t = self.tracker(path)
        t.poll()
        if t.status in ACTIVE or t.status == "finished":
            self.notify(f"run {t.run_id} is {t.status}; nothing to resume", severity="warning")
            return
        try:
            launcher.resume(t.run)
        except LmtuiError as exc:
            self.push_screen(ErrorScreen("the run could not resume", exc))
            return
        self.stop_requested.discard(t.path)
        self.notify(f"resumed run {t.run_id}")

    def delete_run(self, path: str | Path) -> None:
        t = self.tracker(path)
        t.poll()
        if t.status in ACTIVE:
            self.notify(f"run {t.run_id} is {t.status}: stop it first (s)", severity="warning")
            return

        def delete(yes: bool | None) -> None:
            if not yes:
                return
            shutil.rmtree(t.path, ignore_errors=True)
            self.trackers.pop(t.path, None)
            self.notify(f"deleted run {t.run_id}")
            screen = self.screen
            if getattr(screen, "run_path", None) is not None and Path(screen.run_path).resolve() == t.path:
                self.pop_screen()
            self.poll_runs()

        self.push_screen(ConfirmScreen(f"Delete run {t.run_id}?\n{t.path}\nIts checkpoints, model and logs are "
                                       "removed for good.", confirm="Delete", danger=True), delete)

    # help ------------------------------------------------------------------------
    def action_help(self) -> None:
        """The keys of the screen at hand first, then the app's; each action once, with all its keys."""
        screen_rows: dict[str, tuple[list[str], str]] = {}
        app_rows: dict[str, tuple[list[str], str]] = {}
        widget_rows: dict[str, tuple[list[str], str]] = {}
        own = {b.key for item in type(self.screen).BINDINGS for b in Binding.make_bindings([item])}
        for active in self.screen.active_bindings.values():
            binding = active.binding
            if not binding.description:
                continue
            if active.node is self or binding.action.startswith("app.") or (
                    active.node is self.screen and binding.key not in own):
                rows = app_rows
            else:
                rows = screen_rows if active.node is self.screen else widget_rows
            keys, _ = rows.setdefault(binding.action.removeprefix("app."), ([], binding.description))
            key = self.get_key_display(binding)
            if key not in keys:
                keys.append(key)
        for action, key, description in (("command_palette", "ctrl+p", "Commands"), ("quit", "ctrl+q", "Quit")):
            keys, _ = app_rows.setdefault(action, ([], description))
            key = self.get_key_display(Binding(key, action))
            if key not in keys:
                keys.append(key)
        sections = [(title, [(", ".join(keys), text) for keys, text in rows.values()])
                    for title, rows in ((self.screen.sub_title or "this screen", screen_rows),
                                        ("everywhere", app_rows), ("moving around", widget_rows)) if rows]
        self.push_screen(HelpScreen(sections))


def run_app(argv: list[str]) -> int:
    """Run the app over the projects and runs of ``argv`` (paths); returns the exit code."""
    parser = argparse.ArgumentParser(
        prog="lmtui", description="The lmtui terminal UI. Paths: project files, folders of projects or runs, "
        "run directories (default: ./projects and ./runs). Run `lmtui --help` for the headless commands.")
    parser.add_argument("paths", nargs="*", metavar="PATH")
    args = parser.parse_args(argv)
    app = LmtuiApp(args.paths)
    app.run()
    return app.return_code or 0
