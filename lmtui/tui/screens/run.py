"""Run screen: live header, charts, log tail, details with hardware, resolved config, evaluation."""

from __future__ import annotations

import time
from pathlib import Path

from rich.syntax import Syntax
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid, VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Static, TabbedContent, TabPane

from lmtui.fmt import fmt_count, fmt_duration, fmt_number, fmt_percent, fmt_rate
from lmtui.runs.tracker import RunTracker
from lmtui.tui.screens.push import PushScreen
from lmtui.tui.screens.runs import STATUS_STYLE
from lmtui.tui.widgets.chart import Chart, Curve
from lmtui.tui.widgets.eval_view import EvalResults
from lmtui.tui.widgets.hardware import HardwarePanel
from lmtui.tui.widgets.logview import LogView

SMOOTHING_STEPS = (0.0, 0.3, 0.6, 0.8, 0.9, 0.95, 0.99)


def header_text(t: RunTracker) -> Text:
    """Two lines: identity and status, then the live numbers."""
    out = Text()
    out.append(f"{t.run_id}  ", style="bold")
    out.append(t.status, style=STATUS_STYLE.get(t.status, ""))
    if t.stopping and t.status in ("queued", "running"):
        out.append(" (stopping: writing a checkpoint)", style="yellow")
    out.append(f"  project {t.project_name}")
    if t.stage:
        out.append(f"  stage {t.stage}")
    step = f"{t.step}/{t.max_steps}" if t.max_steps else (str(t.step) if t.step is not None else "-")
    out.append(f"\nstep {step}  loss {fmt_number(t.loss)}  ppl {fmt_number(t.perplexity)}  "
               f"tok/s {fmt_rate(t.tokens_per_s)}{'' if t.mfu is None else f'  MFU {t.mfu:.0%}'}  elapsed {fmt_duration(t.elapsed)}  ETA {fmt_duration(t.eta)}  "
               f"{t.device}")
    return out


def alert_text(t: RunTracker) -> Text | None:
    """For a failed or crashed run: what happened and the end of its log."""
    if t.status not in ("crashed", "failed"):
        return None
    out = Text()
    if t.status == "crashed":
        out.append("crashed: the run's process is gone without a final status", style="bold red")
    else:
        out.append(f"failed: {t.error or 'see the log'}", style="bold red")
    out.append("  (r: resume from the last checkpoint)\n", style="dim")
    for line in t.log_tail(6):
        out.append(f"  {line}\n", style="dim")
    return out


def details_text(t: RunTracker) -> Text:
    out = Text()
    s = t.state

    def row(label: str, value) -> None:
        if value not in (None, ""):
            out.append(f"{label:<14}", style="bold")
            out.append(f"{value}\n")

    def when(key: str) -> str | None:
        v = s.get(key)
        return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(v)) if v else None

    row("run directory", str(t.path))
    row("status", t.status)
    row("host", s.get("host"))
    row("pid", s.get("pid"))
    row("created", when("created"))
    row("started", when("started"))
    row("ended", when("ended"))
    if t.session_count:
        row("elapsed", f"{fmt_duration(t.elapsed)}, {t.session_count} session{'s' if t.session_count > 1 else ''}")
    if t.train_seconds is not None:
        row("training time", f"{fmt_duration(t.train_seconds)} of optimizer steps")
    row("error", t.error)
    if t.tokenizer:
        row("tokenizer", f"{t.tokenizer.get('kind')}, vocab {t.tokenizer.get('vocab_size')}"
            + (" (cached)" if t.tokenizer.get("cached") else ""))
    if t.dataset:
        row("dataset", f"{t.dataset.get('train_tokens', 0):,} training / {t.dataset.get('validation_tokens', 0):,} "
            f"validation tokens" + (" (cached)" if t.dataset.get("cached") else ""))
    ts = t.train_start
    if ts:
        row("model", f"{fmt_count(ts.get('params'))} parameters ({fmt_count(ts.get('non_embedding_params'))} "
            "non-embedding)")
        row("device", f"{ts.get('device')} x{ts.get('num_processes', 1)}, precision {ts.get('mixed_precision')}")
        row("batch", f"{ts.get('batch_size')} sequences = {ts.get('micro_batch_size')} x "
            f"{ts.get('gradient_accumulation_steps')} accumulation x {ts.get('num_processes', 1)} processes; "
            f"{ts.get('tokens_per_step', 0):,} tokens/step")
    for e in t.stage_events:
        if e.get("state") in ("done", "skipped"):
            took = f" in {e['seconds']:.1f} s" if e.get("seconds") is not None else ""
            row(f"stage {e.get('stage')}", f"{e.get('state')}{took}")
    metrics = t.final_metrics or ({k: t.last_eval.get(k) for k in ("loss", "perplexity", "accuracy")}
                                  if t.last_eval else None)
    if metrics:
        label = "final metrics" if t.final_metrics else "last eval"
        row(label, "  ".join(f"{k} {fmt_percent(v) if k == 'accuracy' else fmt_number(v)}"
                             for k, v in metrics.items() if v is not None))
    checkpoints = t.run.checkpoints()
    out.append("\ncheckpoints\n", style="bold underline")
    if not checkpoints:
        out.append("  none yet\n", style="dim")
    for step, path in checkpoints:
        out.append(f"  step {step:>7}  {path}\n")
    if t.run.model_dir.is_dir():
        row("\nfinal model", str(t.run.model_dir))
    return out


class RunScreen(Screen):
    """One run, live. ``path`` is the run directory."""

    BINDINGS = [
        Binding("escape", "back", "Back"),
        Binding("s", "stop", "Stop"),
        Binding("r", "resume", "Resume"),
        Binding("delete,x", "delete", "Delete"),
        Binding("t", "toggle_axis", "Step/time"),
        Binding("l", "toggle_log", "Log scale"),
        Binding("left_square_bracket", "smoothing(-1)", "Smooth-", show=False),
        Binding("right_square_bracket", "smoothing(1)", "Smooth+", show=False),
        Binding("g", "tab('charts')", "Charts", show=False),
        Binding("o", "tab('log')", "Log", show=False),
        Binding("i", "tab('details')", "Details", show=False),
        Binding("f", "tab('config')", "Config", show=False),
        Binding("e", "tab('eval')", "Eval", show=False),
        Binding("p", "push", "Push"),
    ]

    def __init__(self, path: str | Path):
        super().__init__()
        self.run_path = Path(path)
        self.tracker: RunTracker = self.app.tracker(self.run_path)
        self._last_status = None
        series = self.tracker.series
        curves = {
            "chart-loss": ("loss (train, eval)", [Curve("train", series["loss"]), Curve("eval", series["eval_loss"])]),
            "chart-ppl": ("eval perplexity", [Curve("eval", series["perplexity"])]),
            "chart-lr": ("learning rate", [Curve("lr", series["learning_rate"])]),
            "chart-tps": ("tokens/s", [Curve("tokens/s", series["tokens_per_s"])]),
        }
        self.charts: dict[str, Chart] = {}
        for chart_id, (title, chart_curves) in curves.items():
            chart = self.charts[chart_id] = Chart(title, id=chart_id)
            chart.smoothing = 0.0 if chart_id == "chart-lr" else self.app.smoothing
            chart.set_curves(chart_curves)
        self.chart_status = Static("", id="chart-status")
        self.details = Static(details_text(self.tracker), id="run-details")

    def compose(self) -> ComposeResult:
        t = self.tracker
        yield Static(header_text(t), id="run-header")
        yield Static("", id="run-alert", classes="hidden")
        with TabbedContent(id="run-tabs", initial="charts"):
            with TabPane("Charts", id="charts"):
                with Grid(id="chart-grid"):
                    yield from self.charts.values()
                yield self.chart_status
            with TabPane("Log", id="log"):
                yield LogView(t.run.log_file, id="run-log")
            with TabPane("Details", id="details"):
                with VerticalScroll(id="details-scroll"):
                    yield HardwarePanel(self.app.hardware_sampler, id="hardware")
                    yield self.details
            with TabPane("Config", id="config"):
                with VerticalScroll():
                    yield Static(self.config_renderable(), id="run-config")
            with TabPane("Eval", id="eval"):
                yield EvalResults(str(self.run_path))
        yield Footer()

    def config_renderable(self):
        try:
            text = self.tracker.run.project_file.read_text(encoding="utf-8")
        except OSError:
            return Text("no project.toml in the run directory", style="dim")
        return Syntax(text, "toml", theme="ansi_dark", line_numbers=False, word_wrap=True)

    def on_mount(self) -> None:
        self.sub_title = self.tracker.run_id
        self.update_view()
        self.set_interval(self.app.run_poll_interval, self.poll)

    def poll(self) -> None:
        """Take in new events (bounded work) and redraw what changed."""
        if self.tracker.poll():
            self.update_view()
        elif self.tracker.status != self._last_status or self.tracker.status in ("queued", "running"):
            self.update_header()

    def update_header(self) -> None:
        t = self.tracker
        self.query_one("#run-header", Static).update(header_text(t))
        alert = alert_text(t)
        box = self.query_one("#run-alert", Static)
        box.set_class(alert is None, "hidden")
        box.update(alert or "")
        if t.status != self._last_status:
            self._last_status = t.status
            self.refresh_bindings()
            self.details.update(details_text(t))

    def update_view(self) -> None:
        self.update_header()
        origin = self.tracker.first_time or 0.0
        for chart in self.charts.values():
            for curve in chart.curves:
                curve.origin = origin
            chart.refresh()
        self.details.update(details_text(self.tracker))
        self.update_chart_status()

    def update_chart_status(self) -> None:
        chart = self.charts["chart-loss"]
        self.chart_status.update(
            f"x: {chart.x_axis} (t)  y: {'log' if chart.log_y else 'linear'} (l)  "
            f"smoothing: {self.app.smoothing:.2f} ([ ])")

    def check_action(self, action: str, parameters: tuple) -> bool | None:
        status = self.tracker.status
        if action == "stop":
            return status in ("queued", "running")
        if action == "resume":
            return status in ("stopped", "crashed", "failed")
        return True

    # actions ---------------------------------------------------------------------
    def action_back(self) -> None:
        self.app.pop_screen()

    def action_tab(self, tab: str) -> None:
        tabs = self.query_one("#run-tabs", TabbedContent)
        if tabs.query(f"TabPane#{tab}"):
            tabs.active = tab

    def action_toggle_axis(self) -> None:
        for chart in self.charts.values():
            chart.x_axis = "time" if chart.x_axis == "step" else "step"
        self.update_chart_status()

    def action_toggle_log(self) -> None:
        for chart in self.charts.values():
            chart.log_y = not chart.log_y
        self.update_chart_status()

    def action_smoothing(self, direction: int) -> None:
        steps = SMOOTHING_STEPS
        i = min(range(len(steps)), key=lambda k: abs(steps[k] - self.app.smoothing))
        self.app.smoothing = steps[max(0, min(len(steps) - 1, i + direction))]
        for chart in self.charts.values():
            if chart.id != "chart-lr":
                chart.smoothing = self.app.smoothing
        self.update_chart_status()

    def action_stop(self) -> None:
        self.app.stop_run(str(self.run_path))

    def action_resume(self) -> None:
        self.app.resume_run(str(self.run_path))

    def action_delete(self) -> None:
        self.app.delete_run(str(self.run_path))

    def action_push(self) -> None:
        self.app.push_screen(PushScreen(str(self.run_path)))
