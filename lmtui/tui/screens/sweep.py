"""Sweep screen: a sweep's runs as a table sorted by its metric (the best marked), and the
training-loss curves of all its runs overlaid in one chart. For an Optuna search (docs/sweeps.md)
the table adds each trial's number and state (``pruned at step N``), pruned trials' curves are
drawn faint, and the title gives the search, the controller's state and the importance of each
parameter as the controller last computed it (the record, so this screen imports no Optuna).

The sweep record and each run's metric (:func:`lmtui.runs.sweep.rows`, which reads every run's
events) are read by a thread worker every ``poll_interval``; the event loop only paints, and
polls the runs' trackers for the chart as the compare screen does.
"""

from __future__ import annotations

from pathlib import Path

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static

from lmtui.fmt import fmt_number, fmt_percent
from lmtui.tui.keys import bind, help_binding
from lmtui.tui.screens.run import SMOOTHING_STEPS
from lmtui.tui.screens.runs import STATUS_STYLE
from lmtui.tui.widgets import cursor_row_key
from lmtui.tui.widgets.chart import Chart, Curve


def metric_text(metric: str, value: float | None) -> str:
    """A metric's value as the tables show it: accuracies as percentages, the rest as numbers."""
    return fmt_percent(value) if metric.rpartition(":")[2] == "accuracy" else fmt_number(value)


PRUNED_COLOR = (75, 75, 75)  # a pruned trial's curve: faint beside the palette's colours


def sweep_title(record: dict, rows: list[dict], metric: str, controller: str | None = None) -> str:
    """``Sweep <id> · 3 runs, 2 finished · by loss · best <point> <value>`` (``no result yet`` before one);
    a search adds ``· 1 pruned · tpe, prune asha, controller running`` and a second line of importances."""
    done = sum(1 for r in rows if r["status"] == "finished")
    best = next((r for r in rows if r["best"]), None)
    out = f"Sweep {record.get('sweep_id', '?')} · {len(rows)} runs, {done} finished · by {metric}"
    out += f" · best {best['name']} {metric_text(metric, best['metric'])}" if best else " · no result yet"
    if record.get("search"):
        pruned = sum(1 for r in rows if r["status"] == "pruned" or r.get("state") == "pruned")
        out += (f" · {pruned} pruned · {record['search']} search of {record.get('trials')}, prune "
                f"{record.get('prune')}, controller {controller or '?'}")
        shares = sorted((record.get("importance") or {}).items(), key=lambda kv: -kv[1])
        if shares:
            out += "\nimportance: " + ", ".join(f"{k} {v:.0%}" for k, v in shares)
    return out


class SweepScreen(Screen):
    """The runs of the sweep ``ref`` (a sweep id, a unique prefix of one, or a record's path)."""

    BINDINGS = [
        help_binding(),
        bind("enter", "open", label="Open run"),
        bind("escape", "back"),
        bind("t"),
        bind("l"),
        bind("left_square_bracket", show=False),
        bind("right_square_bracket", show=False),
    ]

    def __init__(self, ref: str):
        super().__init__()
        self.ref = ref
        self.record: dict | None = None
        self.rows: list[dict] = []
        self.trackers = {}

    def compose(self) -> ComposeResult:
        yield Static(f"Sweep {self.ref} · reading ...", id="sweep-title", classes="title")
        yield Chart("training loss", id="sweep-chart")
        yield DataTable(id="sweep-table", cursor_type="row", zebra_stripes=True)
        yield Footer(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        self.sub_title = f"sweep {self.ref}"
        self.query_one(Chart).smoothing = self.app.smoothing
        self.read(self.app.catalog.run_search_dirs())
        self.set_interval(self.app.poll_interval, self.poll)

    def poll(self) -> None:
        if self.app.screen is not self:
            return
        if sum(t.poll() for t in self.trackers.values()):
            self.query_one(Chart).refresh()
        self.read(self.app.catalog.run_search_dirs())

    @work(thread=True, exclusive=True, exit_on_error=False, group="sweep-read")
    def read(self, search_dirs: list[Path]) -> None:
        """Read the sweep record and its runs' metrics (a thread); the screen shows them once read."""
        from lmtui.errors import LmtuiError
        from lmtui.runs import sweep

        try:
            record_file = sweep.find_sweep(self.ref, search_dirs)
            record = sweep.read_sweep(record_file)
            rows = sweep.rows(record, record.get("metric"))
            controller = sweep.controller_state(record_file, record)
        except LmtuiError as exc:
            self.app.call_from_thread(self.notify, exc.message, severity="error")
            return
        self.app.call_from_thread(self.show, record, rows, controller)

    def show(self, record: dict, rows: list[dict], controller: str | None = None) -> None:
        """Fill the table (best first, marked) and give the chart one loss curve per run."""
        metric = record.get("metric") or "loss"
        self.record = record
        changed = [r["run"] for r in rows] != [r["run"] for r in self.rows]
        self.rows = rows
        table = self.query_one("#sweep-table", DataTable)
        keys = [k.rpartition(".")[2] for k in record.get("keys", [])]
        extra = [metric] if metric not in ("loss", "perplexity") else []
        current = cursor_row_key(table)
        table.clear(columns=True)
        trial = ["trial"] if record.get("search") else []
        for col in [" ", *trial, "point", *keys, "status", *extra, "eval loss", "ppl"]:
            table.add_column(col, key=col)
        for r in rows:
            values = [str(r["values"].get(k, "")) for k in record.get("keys", [])]
            table.add_row(Text("★" if r["best"] else " ", style="bold yellow"),
                          *([str(r.get("trial", ""))] if trial else []), r["name"], *values,
                          Text(r.get("status_text", r["status"]), style=STATUS_STYLE.get(r["status"], "")),
                          *(metric_text(metric, r["metric"]) for _ in extra),
                          fmt_number(r["loss"]), fmt_number(r["perplexity"]), key=r["run"])
        if current in [r["run"] for r in rows]:
            table.move_cursor(row=[r["run"] for r in rows].index(current), animate=False)
        self.query_one("#sweep-title", Static).update(sweep_title(record, rows, metric, controller))
        pruned = {r["run"] for r in rows if r["status"] == "pruned" or r.get("state") == "pruned"}
        if changed or pruned != getattr(self, "_pruned", set()):
            self._pruned = pruned
            chart = self.query_one(Chart)
            self.trackers = {r["run"]: self.app.tracker(r["run"]) for r in rows if Path(r["run"]).is_dir()}
            chart.set_curves([Curve(r["name"] + (" (pruned)" if r["run"] in pruned else ""), t.series["loss"],
                                    origin=t.first_time or 0.0, color=PRUNED_COLOR if r["run"] in pruned else None)
                              for r in rows if (t := self.trackers.get(r["run"])) is not None])

    # actions ---------------------------------------------------------------------
    def action_back(self) -> None:
        self.app.pop_screen()

    def action_open(self) -> None:
        if key := cursor_row_key(self.query_one("#sweep-table", DataTable)):
            self.app.open_run(key)

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        self.app.open_run(event.row_key.value)

    def action_toggle_axis(self) -> None:
        chart = self.query_one(Chart)
        chart.x_axis = "time" if chart.x_axis == "step" else "step"

    def action_toggle_log(self) -> None:
        chart = self.query_one(Chart)
        chart.log_y = not chart.log_y

    def action_smoothing(self, direction: int) -> None:
        i = min(range(len(SMOOTHING_STEPS)), key=lambda k: abs(SMOOTHING_STEPS[k] - self.app.smoothing))
        self.app.smoothing = SMOOTHING_STEPS[max(0, min(len(SMOOTHING_STEPS) - 1, i + direction))]
        self.query_one(Chart).smoothing = self.app.smoothing
