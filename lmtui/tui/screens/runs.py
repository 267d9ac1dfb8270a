"""Runs screen: every run found with its live status and numbers, its place in the run queue;
filter, sort, mark, act; move, hold or cancel a waiting run; open the sweep a run belongs to.

The run queue (:mod:`lmtui.runs.queue`, a locked state file) and the sweep records
(``<run folder>/sweeps/*.json``) are read by a thread worker at each refresh, off the event loop.
"""

from __future__ import annotations

import json
from pathlib import Path

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Input, Static

from lmtui.fmt import fmt_duration, fmt_number, fmt_rate, sparkline
from lmtui.runs.resources import table_cells
from lmtui.runs.tracker import RunTracker
from lmtui.tui.keys import bind, help_binding
from lmtui.tui.widgets import cursor_row_key
from lmtui.tui.widgets.rowtable import ColumnSpec, RowTable

STATUS_STYLE = {"running": "bold green", "queued": "cyan", "finished": "dim", "failed": "bold red",
                "crashed": "bold red", "stopped": "yellow", "pruned": "magenta"}

COLUMNS = [ColumnSpec("mark", " ", 0), ColumnSpec("status", "status", 1), ColumnSpec("queue", "queue", 2),
           ColumnSpec("run", "run", 0),
           ColumnSpec("step", "step", 2), ColumnSpec("loss", "train loss", 3),
           ColumnSpec("ppl", "eval ppl", 6),
           ColumnSpec("tps", "tok/s", 7), ColumnSpec("eta", "ETA", 4), ColumnSpec("elapsed", "elapsed", 8),
           ColumnSpec("curve", "loss curve", 10), ColumnSpec("project", "project", 5),
           ColumnSpec("stage", "stage", 9), ColumnSpec("device", "device", 11),
           ColumnSpec("cpu", "CPU", 12), ColumnSpec("mem", "RSS", 13), ColumnSpec("gpu", "GPU", 14)]
"""Display order; the priority says which go first when the terminal is narrow (higher first)."""

# Sort orders: name -> key function over a tracker (ascending), and whether to reverse.
SORTS = {
    "newest": (lambda t: t.created, True),
    "status": (lambda t: (t.status, -t.created), False),
    "project": (lambda t: (t.project_name, -t.created), False),
    "loss": (lambda t: (t.loss is None, t.loss or 0.0), False),
    "progress": (lambda t: ((t.step or 0) / t.max_steps if t.max_steps else 0.0), True),
}


def compact_run_id(run_id: str, project: str) -> str:
    """The run id without its ``project-`` prefix (the project has a column of its own)."""
    prefix = f"{project}-"
    return run_id[len(prefix):] if run_id.startswith(prefix) and len(run_id) > len(prefix) else run_id


def row_cells(t: RunTracker, marked: bool, *, project_shown: bool = True, stopping: bool = False) -> dict[str, object]:
    """The cells of ``t``'s row by column key; the run id is compact while the project column shows.
    ``stopping``: a stop was asked for (the status says so until the run has stopped)."""
    step = f"{t.step}/{t.max_steps}" if t.max_steps else (str(t.step) if t.step is not None else "-")
    run = compact_run_id(t.run_id, t.project_name) if project_shown else t.run_id
    status = Text(t.status, style=STATUS_STYLE.get(t.status, ""))
    if (stopping or t.stopping) and t.status in ("queued", "running"):
        status = Text("stopping…", style="yellow")
    return {"mark": Text("●" if marked else " ", style="bold magenta"), "status": status, "run": run,
            "step": Text(step, justify="right"), "loss": Text(fmt_number(t.loss), justify="right"),
            "ppl": Text(fmt_number(t.perplexity), justify="right"),
            "tps": Text(fmt_rate(t.tokens_per_s), justify="right"), "eta": fmt_duration(t.eta),
            "elapsed": fmt_duration(t.elapsed), "curve": Text(sparkline(t.series["loss"].values, 16), style="cyan"),
            "project": t.project_name, "stage": t.stage or "-", "device": t.device or "-",
            **table_cells(t.status, t.state)}  # the process group's CPU, RSS and GPU now (lmtui.runs.resources)


def queue_cell(position: int, entry) -> Text:
    """A waiting run's place in the run queue: ``#2 · waiting for <what>``, or ``paused``."""
    if entry.paused:
        return Text("paused", style="yellow")
    return Text(f"#{position} · waiting for {entry.waiting_for or 'its turn'}", style="cyan")


def waiting_entries(entries: list) -> dict[str, tuple[int, object]]:
    """The queue's waiting entries (not yet given devices) by run directory, with their 1-based place."""
    return {e.run: (i, e) for i, e in enumerate(entries, 1) if not e.assigned}


def sweep_members(search_dirs: list[Path]) -> dict[str, str]:
    """Run directory (resolved) -> the sweep id it belongs to, from the records in ``<dir>/sweeps/``."""
    out: dict[str, str] = {}
    for d in search_dirs:
        for f in sorted(Path(d, "sweeps").glob("*.json")):
            try:
                record = json.loads(f.read_text(encoding="utf-8"))
                points = record["points"] if isinstance(record, dict) else []
            except (OSError, ValueError, KeyError):
                continue
            for point in points if isinstance(points, list) else []:
                if isinstance(point, dict) and isinstance(point.get("run"), str):
                    out.setdefault(str(Path(point["run"]).resolve()), f.stem)
    return out


def matches(t: RunTracker, query: str) -> bool:
    """Whether every word of ``query`` occurs in the run's id, project, status, stage or device."""
    hay = " ".join(str(x) for x in (t.run_id, t.project_name, t.status, t.stage or "", t.device)).lower()
    return all(word in hay for word in query.lower().split())


class RunsScreen(Screen):
    """The table of runs, refreshed every second."""

    AUTO_FOCUS = "#runs"

    BINDINGS = [
        help_binding(),
        bind("enter", "open", show=False),
        bind("slash", "filter"),
        bind("r", "resume", label="Resume"),
        bind("s"),
        bind("space"),
        bind("c"),
        bind("o"),
        bind("x"),
        bind("delete", show=False),
        bind("escape", "clear_filter", show=False),
        bind("u"),
        bind("h"),
        bind("k"),
        bind("S"),
    ]

    def __init__(self):
        super().__init__()
        self.query_text = ""
        self.sort_name = "newest"
        self.marked: set[str] = set()
        self.rows: list[str] = []
        self.back_to: str | None = None
        self.waiting: dict[str, tuple[int, object]] = {}  # resolved run directory -> (queue place, entry)
        self.sweeps: dict[str, str] = {}  # resolved run directory -> sweep id

    def compose(self) -> ComposeResult:
        yield Static("", id="runs-info", classes="title")
        yield Input(placeholder="filter runs: words in id, project, status, stage, device", id="runs-filter",
                    classes="hidden")
        yield RowTable(COLUMNS, id="runs")
        yield Footer(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        self.sub_title = "runs"
        self.show_filter()
        self.refresh_runs()
        self.read_queue(self.app.catalog.run_search_dirs())
        self.set_interval(self.app.poll_interval, self.poll)

    def poll(self) -> None:
        """Refresh while this screen is shown. Hidden under a run's screen it leaves the shared
        trackers to that screen, whose poll then reads and draws each change in one go."""
        if self.app.screen is self:  # not `is_current`, which also counts a screen drawn behind another
            self.refresh_runs()
            self.read_queue(self.app.catalog.run_search_dirs())

    @work(thread=True, exclusive=True, exit_on_error=False, group="runs-queue")
    def read_queue(self, search_dirs: list[Path]) -> None:
        """Read the run queue and the sweep records (a thread); the table shows them once read."""
        from lmtui.runs.queue import Queue

        try:
            waiting = waiting_entries(Queue().entries())
        except OSError as exc:
            self.app.call_from_thread(self.notify, f"could not read the run queue: {exc}", severity="error")
            waiting = {}
        sweeps = sweep_members(search_dirs)
        self.app.call_from_thread(self._queue_read, waiting, sweeps)

    def _queue_read(self, waiting: dict, sweeps: dict[str, str]) -> None:
        changed = {k: (i, e.paused, e.waiting_for) for k, (i, e) in waiting.items()} != {
            k: (i, e.paused, e.waiting_for) for k, (i, e) in self.waiting.items()} or sweeps != self.sweeps
        self.waiting, self.sweeps = waiting, sweeps
        if changed and self.is_mounted:
            self.refresh_runs()
            self.refresh_bindings()

    def on_screen_resume(self) -> None:
        if self.is_mounted:
            self.refresh_runs()
            self.read_queue(self.app.catalog.run_search_dirs())

    def trackers(self) -> list[RunTracker]:
        shown = [t for t in self.app.poll_runs() if matches(t, self.query_text)]
        key, reverse = SORTS[self.sort_name]
        return sorted(shown, key=key, reverse=reverse)

    def refresh_runs(self) -> None:
        table = self.query_one("#runs", RowTable)
        trackers = self.trackers()
        self.marked &= set(str(t.path) for t in self.app.poll_runs(poll=False))
        stopping = self.app.stop_requested
        cells = {str(t.path): row_cells(t, str(t.path) in self.marked, stopping=t.path in stopping) for t in trackers}
        if "project" not in table.fit(cells):  # the run id must say which project then
            cells = {str(t.path): row_cells(t, str(t.path) in self.marked, project_shown=False,
                                            stopping=t.path in stopping) for t in trackers}
        places = {key: self.waiting.get(str(Path(key).resolve())) for key in cells}
        if any(places.values()):  # the queue column shows only while some run shown waits
            for key, row in cells.items():
                row["queue"] = queue_cell(*places[key]) if places[key] else ""
        table.show(cells)
        self.rows = list(cells)
        total = len(self.app.poll_runs(poll=False))
        active = sum(1 for t in trackers if t.status in ("queued", "running"))
        info = f"Runs · {len(self.rows)} of {total}, {active} active · sort {self.sort_name}"
        if self.query_text:
            info += f" · filter {self.query_text!r}"
        if self.marked:
            info += f" · {len(self.marked)} marked (c: compare)"
        if table.hidden_columns:
            info += f" · hidden: {', '.join(table.hidden_columns)}"
        if not total:
            info = "Runs · none yet. Launch one from the projects screen (1, then r), or `lmtui run PROJECT.toml`."
        self.query_one("#runs-info", Static).update(info)

    def current_key(self) -> str | None:
        return cursor_row_key(self.query_one("#runs", DataTable))

    def current_waiting(self):
        """The queue entry of the run under the cursor while it waits for its devices, else None."""
        key = self.current_key()
        place = self.waiting.get(str(Path(key).resolve())) if key else None
        return place[1] if place else None

    def current_sweep(self) -> str | None:
        key = self.current_key()
        return self.sweeps.get(str(Path(key).resolve())) if key else None

    def check_action(self, action: str, parameters: tuple) -> bool | None:
        """The queue keys only on a waiting run, the sweep key only on a run of a sweep (hidden elsewhere)."""
        if action in ("queue_up", "queue_hold", "queue_cancel"):
            return self.current_waiting() is not None
        if action == "sweep":
            return self.current_sweep() is not None
        return True

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self.refresh_bindings()

    # actions ---------------------------------------------------------------------
    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        self.app.open_run(event.row_key.value)

    def action_open(self) -> None:
        key = self.current_key()
        if key:
            self.app.open_run(key)

    def action_filter(self) -> None:
        box = self.query_one("#runs-filter", Input)
        box.remove_class("hidden")
        box.focus()

    def on_input_changed(self, event: Input.Changed) -> None:
        self.query_text = event.value
        self.refresh_runs()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.query_one("#runs", DataTable).focus()
        if not event.value:
            event.input.add_class("hidden")

    def action_clear_filter(self) -> None:
        """Esc: clear the filter, and go back to the projects screen when that is where it came from."""
        box = self.query_one("#runs-filter", Input)
        if self.back_to:
            self.app.switch_mode(self.back_to)
        box.value = ""
        box.add_class("hidden")
        self.back_to = None
        self.query_one("#runs", DataTable).focus()

    def show_project(self, name: str, back_to: str) -> None:
        """Drill into the runs of project ``name`` (a filter); Esc clears it and returns to ``back_to``."""
        self.query_text = name
        self.back_to = back_to
        if self.is_mounted:
            self.show_filter()
            self.refresh_runs()

    def show_filter(self) -> None:
        box = self.query_one("#runs-filter", Input)
        box.value = self.query_text
        box.set_class(not self.query_text, "hidden")
        self.query_one("#runs", DataTable).focus()

    def action_sort(self) -> None:
        names = list(SORTS)
        self.sort_name = names[(names.index(self.sort_name) + 1) % len(names)]
        self.refresh_runs()

    def action_mark(self) -> None:
        key = self.current_key()
        if key:
            self.marked ^= {key}
            self.refresh_runs()
            table = self.query_one("#runs", DataTable)
            if table.cursor_row < table.row_count - 1:
                table.move_cursor(row=table.cursor_row + 1)

    def action_compare(self) -> None:
        paths = [k for k in self.rows if k in self.marked] or ([self.current_key()] if self.current_key() else [])
        if len(paths) < 2:
            self.app.notify("mark two or more runs with space, then press c", severity="warning")
            return
        self.app.compare(paths)

    def action_stop(self) -> None:
        if key := self.current_key():
            self.app.stop_run(key)

    def action_resume(self) -> None:
        if key := self.current_key():
            self.app.resume_run(key)

    def action_delete(self) -> None:
        if key := self.current_key():
            self.app.delete_run(key)

    def action_queue_up(self) -> None:
        if entry := self.current_waiting():
            self.queue_act("up", entry.run)

    def action_queue_hold(self) -> None:
        if entry := self.current_waiting():
            self.queue_act("unpause" if entry.paused else "pause", entry.run)

    def action_queue_cancel(self) -> None:
        if entry := self.current_waiting():
            self.queue_act("cancel", entry.run)

    @work(thread=True, exit_on_error=False, group="runs-queue-act")
    def queue_act(self, action: str, run: str) -> None:
        """Move a waiting run up, hold or release it, or cancel it (as `lmtui queue ACTION RUN`), in a thread."""
        from lmtui.errors import LmtuiError
        from lmtui.runs import launcher
        from lmtui.runs.queue import Queue
        from lmtui.runs.rundir import RunDir

        queue = Queue()
        try:
            if action == "up":
                entry = queue.move_up(run)
                place = [e.run for e in queue.entries()].index(entry.run) + 1
                message = f"{entry.run_id} moved up to #{place} in the queue"
            elif action in ("pause", "unpause"):
                entry = queue.set_paused(run, action == "pause")
                message = f"{entry.run_id} {'held: later runs pass it' if entry.paused else 'waits again in its place'}"
            else:
                entry = queue.find(run)
                if entry.assigned:
                    raise LmtuiError(f"run {entry.run_id} is running, not waiting", hint="stop it with s")
                if launcher.stop(RunDir(entry.run)):
                    message = f"cancelled {entry.run_id}: it leaves the queue, stopped"
                else:
                    queue.release(entry.run)
                    message = f"removed {entry.run_id} from the queue (its driver was gone)"
        except (LmtuiError, OSError) as exc:
            self.app.call_from_thread(self.notify, getattr(exc, "message", str(exc)), severity="error")
            return
        self.app.call_from_thread(self.notify, message)
        self.app.call_from_thread(lambda: self.read_queue(self.app.catalog.run_search_dirs()))

    def action_sweep(self) -> None:
        if sweep_id := self.current_sweep():
            self.app.open_sweep(sweep_id)
