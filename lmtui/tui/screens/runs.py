"""Runs screen: every run found with its live status and numbers; filter, sort, mark, act."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Input, Static

from lmtui.fmt import fmt_duration, fmt_number, fmt_rate, sparkline
from lmtui.runs.tracker import RunTracker
from lmtui.tui.widgets import cursor_row_key

STATUS_STYLE = {"running": "bold green", "queued": "cyan", "finished": "dim", "failed": "bold red",
                "crashed": "bold red", "stopped": "yellow"}

COLUMNS = [("mark", " "), ("status", "status"), ("run", "run"), ("step", "step"), ("loss", "loss"), ("ppl", "ppl"),
           ("tps", "tok/s"), ("eta", "ETA"), ("elapsed", "elapsed"), ("curve", "loss curve"), ("project", "project"),
           ("stage", "stage"), ("device", "device")]

# Sort orders: name -> key function over a tracker (ascending), and whether to reverse.
SORTS = {
    "newest": (lambda t: t.created, True),
    "status": (lambda t: (t.status, -t.created), False),
    "project": (lambda t: (t.project_name, -t.created), False),
    "loss": (lambda t: (t.loss is None, t.loss or 0.0), False),
    "progress": (lambda t: ((t.step or 0) / t.max_steps if t.max_steps else 0.0), True),
}


def row_cells(t: RunTracker, marked: bool) -> list:
    """The cells of ``t``'s row, in COLUMNS order."""
    step = f"{t.step}/{t.max_steps}" if t.max_steps else (str(t.step) if t.step is not None else "-")
    return [Text("●" if marked else " ", style="bold magenta"), Text(t.status, style=STATUS_STYLE.get(t.status, "")),
            t.run_id, Text(step, justify="right"), Text(fmt_number(t.loss), justify="right"),
            Text(fmt_number(t.perplexity), justify="right"), Text(fmt_rate(t.tokens_per_s), justify="right"),
            fmt_duration(t.eta), fmt_duration(t.elapsed), Text(sparkline(t.series["loss"].values, 16), style="cyan"),
            t.project_name, t.stage or "-", t.device or "-"]


def matches(t: RunTracker, query: str) -> bool:
    """Whether every word of ``query`` occurs in the run's id, project, status, stage or device."""
    hay = " ".join(str(x) for x in (t.run_id, t.project_name, t.status, t.stage or "", t.device)).lower()
    return all(word in hay for word in query.lower().split())


class RunsScreen(Screen):
    """The table of runs, refreshed every second."""

    AUTO_FOCUS = "#runs"

    BINDINGS = [
        Binding("enter", "open", "Open", show=False),
        Binding("slash", "filter", "Filter"),
        Binding("o", "sort", "Sort"),
        Binding("space", "mark", "Mark"),
        Binding("c", "compare", "Compare"),
        Binding("s", "stop", "Stop"),
        Binding("r", "resume", "Resume"),
        Binding("delete,x", "delete", "Delete"),
        Binding("escape", "clear_filter", "Clear filter", show=False),
    ]

    def __init__(self):
        super().__init__()
        self.query_text = ""
        self.sort_name = "newest"
        self.marked: set[str] = set()
        self.rows: list[str] = []
        self.shown: dict[str, list] = {}

    def compose(self) -> ComposeResult:
        yield Static("", id="runs-info")
        yield Input(placeholder="filter runs: words in id, project, status, stage, device", id="runs-filter",
                    classes="hidden")
        yield DataTable(id="runs", cursor_type="row", zebra_stripes=True)
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = "runs"
        table = self.query_one("#runs", DataTable)
        for key, label in COLUMNS:
            table.add_column(label, key=key)
        self.refresh_runs()
        self.set_interval(self.app.poll_interval, self.poll)

    def poll(self) -> None:
        """Refresh while this screen is shown. Hidden under a run's screen it leaves the shared
        trackers to that screen, whose poll then reads and draws each change in one go."""
        if self.app.screen is self:  # not `is_current`, which also counts a screen drawn behind another
            self.refresh_runs()

    def on_screen_resume(self) -> None:
        if self.is_mounted:
            self.refresh_runs()

    def trackers(self) -> list[RunTracker]:
        shown = [t for t in self.app.poll_runs() if matches(t, self.query_text)]
        key, reverse = SORTS[self.sort_name]
        return sorted(shown, key=key, reverse=reverse)

    def refresh_runs(self) -> None:
        table = self.query_one("#runs", DataTable)
        trackers = self.trackers()
        keys = [str(t.path) for t in trackers]
        self.marked &= set(str(t.path) for t in self.app.poll_runs(poll=False))
        current = self.current_key()
        cells = {str(t.path): row_cells(t, str(t.path) in self.marked) for t in trackers}
        if keys == self.rows:
            for key in keys:
                for (col, _), new, old in zip(COLUMNS, cells[key], self.shown[key]):
                    if str(new) != str(old) or (isinstance(new, Text) and isinstance(old, Text) and new.style != old.style):
                        table.update_cell(key, col, new)
        else:
            table.clear()
            for key in keys:
                table.add_row(*cells[key], key=key)
            if current in keys:
                table.move_cursor(row=keys.index(current), animate=False)
        self.rows, self.shown = keys, cells
        total = len(self.app.poll_runs(poll=False))
        active = sum(1 for t in trackers if t.status in ("queued", "running"))
        info = f"{len(keys)} of {total} runs, {active} active · sort: {self.sort_name}"
        if self.query_text:
            info += f" · filter: {self.query_text!r}"
        if self.marked:
            info += f" · {len(self.marked)} marked (c: compare)"
        if not total:
            info = "No runs yet. Launch one from the projects screen (1), or `lmtui run PROJECT.toml`."
        self.query_one("#runs-info", Static).update(info)

    def current_key(self) -> str | None:
        return cursor_row_key(self.query_one("#runs", DataTable))

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
        box = self.query_one("#runs-filter", Input)
        box.value = ""
        box.add_class("hidden")
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
