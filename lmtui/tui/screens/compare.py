"""Compare screen: one metric of two or more runs overlaid, and their numbers side by side; for a
distillation run, its student against its teacher (retention and speed-up, :mod:`lmtui.distill.compare`,
what `lmtui compare` prints)."""

from __future__ import annotations

import os
from pathlib import Path

from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static

from lmtui.distill.compare import run_retention
from lmtui.evaluation import results as res
from lmtui.fmt import fmt_count, fmt_duration, fmt_number, fmt_percent, fmt_rate
from lmtui.tui.keys import bind, help_binding
from lmtui.tui.screens.run import SMOOTHING_STEPS
from lmtui.tui.widgets.chart import Chart, Curve
from lmtui.tui.widgets.eval_view import CompareTable

METRICS = [("loss", "training loss"), ("eval_loss", "evaluation loss"), ("perplexity", "evaluation perplexity"),
           ("accuracy", "masked-token accuracy"), ("learning_rate", "learning rate"), ("tokens_per_s", "tokens/s")]
RETENTION_INTERVAL = 2.0  # seconds between looks at the runs' eval/results.json (their size and mtime)


def results_stamp(run_path: Path) -> tuple | None:
    """(size, mtime) of the run's eval/results.json; None when there is none."""
    try:
        st = os.stat(res.results_file(run_path))
    except OSError:
        return None
    return st.st_size, st.st_mtime_ns


class CompareScreen(Screen):
    """Curves of ``paths`` (run directories) overlaid; ``m`` picks the metric. Below the evaluation
    results, each distillation run's student against its teacher (hidden when no run has both)."""

    DEFAULT_CSS = """
    #compare-retention-title { height: auto; text-style: bold; }
    #compare-retention { height: auto; max-height: 30%; }
    """

    BINDINGS = [
        help_binding(),
        bind("escape", "back"),
        bind("m"),
        bind("t"),
        bind("l"),
        bind("left_square_bracket", show=False),
        bind("right_square_bracket", show=False),
    ]

    def __init__(self, paths: list[str | Path]):
        super().__init__()
        self.paths = [Path(p) for p in paths]
        self.trackers = [self.app.tracker(p) for p in self.paths]
        self.metric = 0
        self._retention_stamps: list | None = None

    def compose(self) -> ComposeResult:
        yield Static("", id="compare-status", classes="title")
        yield Chart("", id="compare-chart")
        yield DataTable(id="compare-table", cursor_type="row", zebra_stripes=True)
        yield CompareTable([str(p) for p in self.paths])
        yield Static("student against teacher (retention, speed-up)", id="compare-retention-title", classes="hidden")
        yield DataTable(id="compare-retention", cursor_type="row", zebra_stripes=True, classes="hidden")
        yield Footer(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        self.sub_title = f"compare {len(self.paths)} runs"
        table = self.query_one("#compare-table", DataTable)
        for col in ("run", "status", "step", "loss", "eval loss", "ppl", "accuracy", "tok/s", "params", "elapsed"):
            table.add_column(col, key=col)
        self.query_one(Chart).smoothing = self.app.smoothing
        self.show_metric()
        self.set_interval(self.app.run_poll_interval, self.poll)
        retention = self.query_one("#compare-retention", DataTable)
        for col in ("run", "metric", "student"):
            retention.add_column(col, key=col)
        self.fill_retention()
        self.set_interval(RETENTION_INTERVAL, self.fill_retention)

    def poll(self) -> None:
        if sum(t.poll() for t in self.trackers):
            self.query_one(Chart).refresh()
        self.fill_table()

    def fill_table(self) -> None:
        table = self.query_one("#compare-table", DataTable)
        table.clear()
        for t in self.trackers:
            ev = t.last_eval or {}
            params = (t.train_start or {}).get("params")
            table.add_row(t.run_id, t.status, str(t.step or "-"), fmt_number(t.loss), fmt_number(ev.get("loss")),
                          fmt_number(ev.get("perplexity")), fmt_percent(ev.get("accuracy")), fmt_rate(t.tokens_per_s),
                          fmt_count(params), fmt_duration(t.elapsed), key=str(t.path))

    def fill_retention(self) -> None:
        """Each distillation run's :func:`lmtui.distill.compare.run_retention` rows, when a results file changed."""
        stamps = [results_stamp(p) for p in self.paths]
        if stamps == self._retention_stamps:
            return
        self._retention_stamps = stamps
        table = self.query_one("#compare-retention", DataTable)
        table.clear()
        for t in self.trackers:
            for title, text in run_retention(t.path):
                table.add_row(t.run_id, title, text)
        for widget in (table, self.query_one("#compare-retention-title", Static)):
            widget.set_class(table.row_count == 0, "hidden")

    def show_metric(self) -> None:
        name, title = METRICS[self.metric]
        chart = self.query_one(Chart)
        chart.title = title
        chart.set_curves([Curve(t.run_id, t.series[name], origin=t.first_time or 0.0) for t in self.trackers])
        self.fill_table()
        self.update_status()

    def update_status(self) -> None:
        chart = self.query_one(Chart)
        self.query_one("#compare-status", Static).update(
            f"Compare {len(self.trackers)} runs · {METRICS[self.metric][1]} (m)  x: {chart.x_axis} (t)  "
            f"y: {'log' if chart.log_y else 'linear'} (l)  smoothing {self.app.smoothing:.2f} ([ ])")

    def action_back(self) -> None:
        self.app.pop_screen()

    def action_metric(self) -> None:
        self.metric = (self.metric + 1) % len(METRICS)
        self.show_metric()

    def action_toggle_axis(self) -> None:
        chart = self.query_one(Chart)
        chart.x_axis = "time" if chart.x_axis == "step" else "step"
        self.update_status()

    def action_toggle_log(self) -> None:
        chart = self.query_one(Chart)
        chart.log_y = not chart.log_y
        self.update_status()

    def action_smoothing(self, direction: int) -> None:
        i = min(range(len(SMOOTHING_STEPS)), key=lambda k: abs(SMOOTHING_STEPS[k] - self.app.smoothing))
        self.app.smoothing = SMOOTHING_STEPS[max(0, min(len(SMOOTHING_STEPS) - 1, i + direction))]
        self.query_one(Chart).smoothing = self.app.smoothing
        self.update_status()
