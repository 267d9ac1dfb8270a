"""Run screen: live header, charts, log tail, details with hardware, resolved config, evaluation.

The event loop only paints. A thread worker (:meth:`RunScreen.follow`) polls the run every
``run_poll_interval`` seconds (run.json, the new events, the process group's resources),
builds the header, the details (only while the Details tab is shown) and the frames of the
charts (only while the Charts tab is shown, at most every :data:`CHART_INTERVAL` seconds for
new data, at once for a key that changes the view; each chart only when its data, view or
size changed), and hands them over in one message; the screen applies what differs from
what it shows. While another screen is on top, the worker idles. The poll that first reads a
distillation's loss components (``loss_ce``, ``loss_mlm``, ``loss_cos``) gives the loss panel
their curves (:func:`loss_panel`).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from rich.syntax import Syntax
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid, VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Footer, Input, Static, TabbedContent, TabPane
from textual.worker import get_current_worker

from lmtui.fmt import fmt_bytes, fmt_count, fmt_duration, fmt_number, fmt_percent, fmt_rate, precision_name
from lmtui.runs.resources import GroupSampler, RunResources
from lmtui.runs.series import index_at
from lmtui.runs.tracker import DISTILL_CURVES, RunTracker
from lmtui.tui.keys import bind, help_binding
from lmtui.tui.screens.push import PushScreen
from lmtui.tui.screens.runs import STATUS_STYLE
from lmtui.tui.widgets.chart import PALETTE, Chart, Curve, View
from lmtui.tui.widgets.eval_view import EvalResults
from lmtui.tui.widgets.hardware import HardwarePanel
from lmtui.tui.widgets.logview import LogView

SMOOTHING_STEPS = (0.0, 0.3, 0.6, 0.8, 0.9, 0.95, 0.99)
CHART_INTERVAL = 1.0  # seconds between redraws of the charts for new data (a key redraws at once)
CATCH_UP_BYTES = 256 << 10  # unread events beyond this are read at once, not at the next poll
TABS = ("charts", "log", "details", "config", "eval")  # the tabs in the order of their digits 1-5
CHART_ACTIONS = frozenset({"toggle_axis", "toggle_log", "zoom", "smoothing", "cursor", "hide_cursor", "export"})
LOG_ACTIONS = frozenset({"log_wrap", "log_search"})
NARROW = 60  # columns below which the header drops fields rather than run off the edge
TAB_REDRAW_DELAY = 0.15  # seconds from showing a tab to the worker's redraw of it
FIXED_LINES = ("#run-title", "#run-header", "#run-progress")  # fixed heights (lmtui.tcss): a new text needs no layout


def resources_text(r: RunResources | None) -> str:
    """``CPU 180%  RSS 1.2 GB  GPU 87% 3.4 GB`` for the run's process group ('' when it is gone)."""
    if r is None:
        return ""
    out = f"CPU {r.cpu_percent:.0f}%  RSS {fmt_bytes(r.rss)}"
    if r.gpu_utilization is not None or r.gpu_memory is not None:
        util = "-" if r.gpu_utilization is None else f"{r.gpu_utilization:.0f}%"
        out += f"  GPU {util} {fmt_bytes(r.gpu_memory) if r.gpu_memory is not None else '-'}"
    return out


def header_text(t: RunTracker, resources: RunResources | None = None, *, narrow: bool = False) -> Text:
    """Two lines: identity and status, then the live numbers (and the process group's resources);
    each line cut at the edge rather than wrapped, so the live numbers keep their line.
    ``narrow`` (below :data:`NARROW` columns): the run id, status, stage, step, loss and ETA only."""
    out = Text(no_wrap=True, overflow="ellipsis")
    out.append(f"{t.run_id}  ", style="bold")
    out.append(t.status, style=STATUS_STYLE.get(t.status, ""))
    if t.stopping and t.status in ("queued", "running"):
        out.append(" (stopping)" if narrow else " (stopping: writing a checkpoint)", style="yellow")
    if not narrow:
        out.append(f"  project {t.project_name}")
    if t.stage:
        out.append(f"  stage {t.stage}")
    step = f"{t.step}/{t.max_steps}" if t.max_steps else (str(t.step) if t.step is not None else "-")
    if narrow:
        out.append(f"\nstep {step}  train loss {fmt_number(t.loss)}  ETA {fmt_duration(t.eta)}")
        return out
    out.append(f"\nstep {step}  train loss {fmt_number(t.loss)}  eval ppl {fmt_number(t.perplexity)}  "
               f"ETA {fmt_duration(t.eta)}  tok/s {fmt_rate(t.tokens_per_s)}{'' if t.mfu is None else f'  MFU {t.mfu:.0%}'}"
               f"  elapsed {fmt_duration(t.elapsed)}  {t.device}")
    if resources is not None:
        out.append(f"  {resources_text(resources)}", style="cyan")
    return out


def loss_panel(series: dict, distilling: bool) -> tuple[str, list[Curve]]:
    """The loss panel's title and curves: the training and evaluation loss; for a distillation run
    (``distilling``: its train events carry ``loss_ce``, ``loss_mlm``, ``loss_cos``, docs/distillation.md)
    also those components, between the training loss they make up and the evaluation loss, under
    the title ``loss`` (the legend names the five curves; the longer title would leave it no room).
    The training and evaluation loss keep their colours either way."""
    train = Curve("train", series["loss"], color=PALETTE[0])
    evaluation = Curve("eval", series["eval_loss"], color=PALETTE[1], best="min")
    if not distilling:
        return "loss (train, eval)", [train, evaluation]
    parts = [Curve(name.removeprefix("loss_"), series[name], color=PALETTE[2 + i])
             for i, name in enumerate(DISTILL_CURVES)]
    return "loss", [train, *parts, evaluation]


def title_text(t: RunTracker, tab: str) -> str:
    """The screen's title line: ``Run <id> · <status> · <Tab> (1-5: tabs)``."""
    return f"Run {t.run_id} · {t.status} · {tab.capitalize()} (1-5: tabs)"


def progress_text(t: RunTracker, width: int = 20) -> Text | None:
    """The tokenizer or dataset stage's progress line from its last ``dataset_progress`` event
    (docs/events.md); None outside those stages."""
    e = t.dataset_progress
    if not e:
        return None
    read, total = e.get("bytes_done"), e.get("bytes_total")
    out = Text(f"{e.get('phase') or 'dataset'} ", style="bold")
    if isinstance(read, (int, float)) and isinstance(total, (int, float)) and total > 0:
        frac = min(1.0, max(0.0, read / total))
        full = int(round(frac * width))
        out.append("█" * full + "░" * (width - full), style="green")
        out.append(f" {frac:.0%}  {fmt_bytes(read)} / {fmt_bytes(total)}")
    parts = []
    if e.get("documents") is not None:
        parts.append(f"{fmt_count(e['documents'])} documents")
    if e.get("tokens") is not None:
        parts.append(f"{fmt_count(e['tokens'])} tokens")
    if e.get("docs_per_s") is not None:
        parts.append(f"{fmt_rate(e['docs_per_s'])} docs/s")
    if e.get("tokens_per_s") is not None:
        parts.append(f"{fmt_rate(e['tokens_per_s'])} tok/s")
    if e.get("eta_s") is not None:
        parts.append(f"ETA {fmt_duration(e['eta_s'])}")
    if parts:
        out.append("  " + "  ".join(parts))
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


def details_text(t: RunTracker, resources: RunResources | None = None) -> Text:
    """The Details tab: times, host, stages, model, batch, memory, metrics, checkpoints; labels in
    one column as wide as the longest label, so no label runs into its value."""
    rows: list[tuple[str, str]] = []
    s = t.state

    def row(label: str, value) -> None:
        if value not in (None, ""):
            rows.append((label, str(value)))

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
        row("device", f"{ts.get('device')} x{ts.get('num_processes', 1)}, {precision_name(ts.get('mixed_precision'))}")
        row("batch", f"{ts.get('batch_size')} sequences = {ts.get('micro_batch_size')} x "
            f"{ts.get('gradient_accumulation_steps')} accumulation x {ts.get('num_processes', 1)} processes; "
            f"{ts.get('tokens_per_step', 0):,} tokens/step")
    row("resources", resources_text(resources))
    peak = t.peak_memory
    if peak:
        parts = [f"RSS {fmt_bytes(peak['peak_rss_mb'] * 2 ** 20)}" if "peak_rss_mb" in peak else "",
                 f"GPU {fmt_bytes(peak['peak_gpu_memory_mb'] * 2 ** 20)} allocated by torch"
                 if "peak_gpu_memory_mb" in peak else ""]
        row("peak memory", ", ".join(p for p in parts if p) + " (per training process)")
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
    if t.run.model_dir.is_dir():
        row("final model", str(t.run.model_dir))
    row("tensorboard", (t.extra.get("tracking") or {}).get("tensorboard_command"))
    width = max(len(label) for label, _ in rows) + 2
    out = Text()
    for label, value in rows:
        out.append(f"{label:<{width}}", style="bold")
        out.append(f"{value}\n")
    checkpoints = t.run.checkpoints()
    out.append("\ncheckpoints\n", style="bold underline")
    if not checkpoints:
        out.append("  none yet\n", style="dim")
    for step, path in checkpoints:
        out.append(f"  step {step:>7}  {path}\n")
    return out


def parse_zoom(text: str) -> tuple[str, tuple | int | None]:
    """The zoom box's text: ``''`` or ``all`` -> every step; ``N`` -> the last N steps; ``A-B``
    (``A-`` or ``-B`` open) -> steps A to B. Returns ("all", None), ("last", N) or ("range", (A, B)).

    Raises:
        ValueError: with a message for the user.
    """
    text = text.strip().replace(",", "").replace("_", "")
    if text in ("", "all"):
        return "all", None
    if "-" in text[1:] or text.startswith("-"):
        lo, _, hi = text.partition("-")
        try:
            a = int(lo) if lo.strip() else None
            b = int(hi) if hi.strip() else None
        except ValueError:
            raise ValueError(f"{text!r}: a step range is A-B with whole steps (e.g. 1000-2000)") from None
        if a is not None and b is not None and b < a:
            raise ValueError(f"{text!r}: the range ends before it starts")
        return "range", (a, b)
    try:
        n = int(text)
    except ValueError:
        raise ValueError(f"{text!r}: type N (the last N steps), A-B (a step range) or all") from None
    if n < 1:
        raise ValueError(f"{text!r}: the last N steps needs N >= 1")
    return "last", n


@dataclass
class Frame:
    """What one poll of the worker produced, for the screen to apply."""

    status: str
    header: Text
    alert: Text | None
    progress: Text | None
    details: Text | None = None
    charts: dict = field(default_factory=dict)  # chart id -> (key, Text)
    chart_status: str | None = None


class RunScreen(Screen):
    """One run, live. ``path`` is the run directory."""

    # The footer shows `? Help`, then the keys of the tab at hand (the others are hidden by
    # check_action), then the run's; digits pick a tab (docs/tui.md, "One key grammar").
    BINDINGS = [
        help_binding(),
        bind("t"),
        bind("l"),
        # Priority bindings run before the keys typed after them are handed to the focused widget,
        # so what follows `z` or `/` in one burst lands in the box they open.
        bind("z", priority=True),
        bind("left_square_bracket", show=False),
        bind("right_square_bracket", show=False),
        bind("comma", show=False),
        bind("full_stop", show=False),
        bind("v", show=False),
        bind("ctrl+s", "export", label="Export chart", show=False),
        bind("slash", "log_search", label="Search", priority=True),
        bind("w", priority=True),
        bind("escape", "back"),
        bind("s"),
        bind("r", "resume", label="Resume"),
        bind("x"),
        bind("delete", show=False),
        bind("p"),
        *(Binding(str(i), f"tab('{tab}')", tab.capitalize(), show=False) for i, tab in enumerate(TABS, 1)),
    ]

    class Polled(Message):
        """A :class:`Frame` from the worker."""

        def __init__(self, frame: Frame):
            super().__init__()
            self.frame = frame

    def __init__(self, path: str | Path):
        super().__init__()
        self.run_path = Path(path)
        self.tracker: RunTracker = self.app.tracker(self.run_path)
        self._last_status = None
        series = self.tracker.series
        curves = {
            "chart-loss": loss_panel(series, distilling=False),
            "chart-ppl": ("eval perplexity", [Curve("eval", series["perplexity"], best="min")]),
            "chart-lr": ("learning rate", [Curve("lr", series["learning_rate"])]),
            "chart-tps": ("tokens/s", [Curve("tokens/s", series["tokens_per_s"])]),
        }
        self.charts: dict[str, Chart] = {}
        for chart_id, (title, chart_curves) in curves.items():
            chart = self.charts[chart_id] = Chart(title, id=chart_id, deferred=True)
            chart.smoothing = 0.0 if chart_id == "chart-lr" else self.app.smoothing
            chart.curves = chart_curves
        self.zoom: tuple[str, tuple | int | None] = ("all", None)
        self.cursor: float | None = None
        self.resources = GroupSampler()
        self.last_resources: RunResources | None = None
        self.chart_status = Static(self.chart_status_text(), id="chart-status")
        self.details = Static(details_text(self.tracker), id="run-details")
        self.tab = "charts"
        self._wake = threading.Event()
        self._active = True
        self._gone = False
        self._applied = threading.Event()
        self._redraw_charts = True
        self._charts_drawn_at = 0.0
        self._charts_stale = False  # events came in that the charts have not drawn yet
        self._shown: dict[str, object] = {}

    def compose(self) -> ComposeResult:
        t = self.tracker
        yield Static(title_text(t, self.tab), id="run-title", classes="title")
        yield Static(header_text(t), id="run-header")
        yield Static("", id="run-progress", classes="hidden")
        yield Static("", id="run-alert", classes="hidden")
        with TabbedContent(id="run-tabs", initial="charts"):
            with TabPane("1 Charts", id="charts"):
                with Grid(id="chart-grid"):
                    yield from self.charts.values()
                yield Input(placeholder="zoom: N = the last N steps, A-B = steps A to B, empty = all; Esc cancels",
                            id="zoom", classes="hidden")
                yield self.chart_status
            with TabPane("2 Log", id="log"):
                yield LogView(t.run.log_file, id="run-log")
            with TabPane("3 Details", id="details"):
                with VerticalScroll(id="details-scroll"):
                    yield HardwarePanel(self.app.hardware_sampler, id="hardware")
                    yield self.details
            with TabPane("4 Config", id="config"):
                with VerticalScroll():
                    yield Static(self.config_renderable(), id="run-config")
            with TabPane("5 Eval", id="eval"):
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
        self.apply(self.make_frame(charts=False))
        self.follow()

    def on_unmount(self) -> None:
        self._gone = True
        self._wake.set()
        self._applied.set()

    def on_screen_suspend(self) -> None:
        self._active = False

    def on_screen_resume(self) -> None:
        self._active = True
        self.wake(charts=True)

    def on_resize(self) -> None:
        self.wake(charts=True)

    def on_chart_resized(self) -> None:
        self.wake(charts=True)

    def wake(self, charts: bool = False) -> None:
        """Have the worker poll now (``charts``: and redraw the visible charts at once)."""
        self._redraw_charts = self._redraw_charts or charts
        self._wake.set()

    # the worker -------------------------------------------------------------------------
    @work(thread=True, exclusive=True, exit_on_error=False, group="run-follow")
    def follow(self) -> None:
        """Poll the run and make frames until the screen goes (a thread: never touches widgets).

        One frame at a time: the next poll starts once the screen applied the last frame and
        ``run_poll_interval`` passed, or at once when :meth:`wake` was called meanwhile (a key)
        or more than :data:`CATCH_UP_BYTES` of events are still unread."""
        worker = get_current_worker()
        first = True
        while not worker.is_cancelled and not self._gone:
            if not first:
                self._wake.wait(self.app.run_poll_interval)
            first = False
            self._wake.clear()
            if not self._active or self._gone:
                continue
            self._applied.clear()
            try:
                frame = self.make_frame()
            except Exception as exc:  # shown, and the next poll tries again: the screen never freezes silently
                self.app.call_from_thread(self.notify, f"could not read the run: {exc!r}", severity="error")
                continue
            self.post_message(self.Polled(frame))
            self._applied.wait(5.0)  # bounded: a screen being closed never applies it
            if self.tracker.behind() > CATCH_UP_BYTES:  # far behind (a long run opened): read on at once
                self._wake.set()

    def make_frame(self, charts: bool = True) -> Frame:
        """Poll the tracker and build what changed and is visible (runs in the worker, or once on mount)."""
        t = self.tracker
        with t.lock:
            new = t.poll()
            loss = self.charts["chart-loss"]
            if len(loss.curves) == 2 and any(len(t.series[name]) for name in DISTILL_CURVES):
                loss.title, loss.curves = loss_panel(t.series, distilling=True)  # a distillation's components came in
            state = t.state
            if t.status in ("queued", "running"):
                self.last_resources = self.resources.sample(state.get("pid"), state.get("pid_start_time"))
            else:
                self.last_resources = None
            frame = Frame(t.status, header_text(t, self.last_resources, narrow=0 < self.size.width < NARROW),
                          alert_text(t) if t.status != self._last_status else None, progress_text(t))
            if self.tab == "details" and (new or t.status in ("queued", "running") or "details" not in self._shown):
                frame.details = details_text(t, self.last_resources)
            now = time.monotonic()
            # held until drawn: events read within CHART_INTERVAL of the last drawing are drawn once the
            # interval is over, not only when the next event comes
            self._charts_stale = self._charts_stale or bool(new)
            due = self._redraw_charts or (self._charts_stale and now - self._charts_drawn_at >= CHART_INTERVAL)
            prepared = {}
            if charts and self.tab == "charts" and due:
                views = self.views()
                for chart_id, chart in self.charts.items():
                    for curve in chart.curves:
                        curve.origin = t.first_time or 0.0
                    if chart.cells[0] >= 10 and chart.cells[1] >= 3:
                        prepared[chart_id] = chart.prepare(views[chart_id], chart.cells[0])
                if len(prepared) == len(self.charts):  # else again once the charts are laid out
                    self._redraw_charts = False
                    self._charts_drawn_at = now
                    self._charts_stale = False
        if prepared:
            extents = [p.x_extent for p in prepared.values() if p.x_extent]
            x_range = (min(e[0] for e in extents), max(e[1] for e in extents)) if extents else None
            if x_range and self.zoom[0] == "range" and prepared["chart-loss"].view.x_axis == "step":
                lo, hi = self.zoom[1]
                x_range = (x_range[0] if lo is None else lo, x_range[1] if hi is None else hi)
            for chart_id, prep in prepared.items():
                chart = self.charts[chart_id]
                key = chart.key_of(prep, x_range)
                if key != chart.frame_key:
                    t0 = time.perf_counter()
                    size = chart.cells
                    frame.charts[chart_id] = (key, chart.build_strips(prep, x_range, size))
                    chart.render_ms = (time.perf_counter() - t0) * 1000
        return frame

    def views(self) -> dict[str, View]:
        """Each chart's view: its axis, scale and smoothing, the zoom window and the cursor."""
        steps = None
        kind, value = self.zoom
        if kind == "last":
            last = self.last_step()
            steps = (max(0.0, last - value), None) if last is not None else None
        elif kind == "range":
            steps = value
        return {cid: View(c.x_axis, c.log_y, c.smoothing, steps, self.cursor) for cid, c in self.charts.items()}

    def last_step(self) -> float | None:
        """The newest step any curve of the charts has."""
        lasts = [c.series.steps[-1] for chart in self.charts.values() for c in chart.curves if len(c.series)]
        return max(lasts) if lasts else None

    def on_run_screen_polled(self, message: Polled) -> None:
        self.apply(message.frame)
        self._applied.set()

    def apply(self, frame: Frame) -> None:
        """Show ``frame``: update only the widgets whose content changed."""
        self._set("#run-title", title_text(self.tracker, self.tab))
        self._set("#run-header", frame.header)
        progress = self.query_one("#run-progress", Static)
        progress.set_class(frame.progress is None, "hidden")
        if frame.progress is not None:
            self._set("#run-progress", frame.progress)
        if frame.status != self._last_status:
            self._last_status = frame.status
            self.refresh_bindings()
            alert = self.query_one("#run-alert", Static)
            alert.set_class(frame.alert is None, "hidden")
            self._set("#run-alert", frame.alert or "")
        if frame.details is not None:
            self._set("#run-details", frame.details)
            self._shown["details"] = True
        for chart_id, (key, strips) in frame.charts.items():
            self.charts[chart_id].show(key, strips)

    def _set(self, selector: str, content) -> None:
        """Update a Static when its content changed; fixed-height lines without a new layout."""
        if self._shown.get(selector) != content:
            self._shown[selector] = content
            self.query_one(selector, Static).update(content, layout=selector not in FIXED_LINES)

    def chart_status_text(self) -> str:
        chart = self.charts["chart-loss"]
        kind, value = self.zoom
        if kind == "all":
            zoom = "all steps"
        elif kind == "last":
            zoom = f"last {value:,} steps"
        else:
            lo, hi = ("start" if value[0] is None else f"{value[0]:,}"), ("end" if value[1] is None else f"{value[1]:,}")
            zoom = f"steps {lo}-{hi}"
        cursor = "cursor , ." if self.cursor is None else f"cursor step {int(self.cursor):,} (, . v)"
        return (f"x {chart.x_axis} (t) · y {'log' if chart.log_y else 'linear'} (l) · "
                f"smoothing {self.app.smoothing:.2f} ([ ]) · zoom {zoom} (z) · {cursor} · export ctrl+s")

    def update_chart_status(self) -> None:
        self.chart_status.update(self.chart_status_text())
        self.wake(charts=True)

    def check_action(self, action: str, parameters: tuple) -> bool | None:
        """Chart keys on the Charts tab only, log keys on the Log tab only (hidden elsewhere, so the
        footer shows the tab's keys first); none of them while a box takes the typing."""
        if action in CHART_ACTIONS or action in LOG_ACTIONS:
            if isinstance(self.focused, Input) and action in ("zoom", "log_wrap", "log_search"):
                return False  # the key is typed into the box
            return self.tab == ("charts" if action in CHART_ACTIONS else "log")
        status = self.tracker.status
        if action == "stop":
            return status in ("queued", "running")
        if action == "resume":
            return status in ("stopped", "pruned", "crashed", "failed")
        return True

    def on_tabbed_content_tab_activated(self, event: TabbedContent.TabActivated) -> None:
        self.tab = event.pane.id or ""
        self._set("#run-title", title_text(self.tracker, self.tab))
        self.refresh_bindings()
        if self.tab == "log":
            self.query_one(LogView).focus_log()
        # the tab is painted first with what it has; the worker's new frames follow (a thread drawing
        # charts meanwhile would compete with that paint for the interpreter)
        self.set_timer(TAB_REDRAW_DELAY, lambda: self.wake(charts=self.tab == "charts"))

    # actions ---------------------------------------------------------------------
    def action_back(self) -> None:
        self.app.pop_screen()

    def action_tab(self, tab: str) -> None:
        tabs = self.query_one("#run-tabs", TabbedContent)
        if tabs.query(f"TabPane#{tab}"):
            tabs.active = tab
            self.tab = tab
            self._set("#run-title", title_text(self.tracker, tab))
            self.refresh_bindings()
            if tab == "log":
                self.query_one(LogView).focus_log()

    def action_log_wrap(self) -> None:
        self.query_one(LogView).action_toggle_wrap()

    def action_log_search(self) -> None:
        self.query_one(LogView).action_search()

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

    def action_zoom(self) -> None:
        self.action_tab("charts")
        box = self.query_one("#zoom", Input)
        box.remove_class("hidden")
        self.set_focus(box)  # at once: the keys typed right after `z` belong to the box

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id != "zoom":
            return
        event.stop()
        try:
            self.zoom = parse_zoom(event.value)
        except ValueError as exc:
            self.notify(str(exc), severity="error")
            return
        self._close_zoom()
        self.update_chart_status()

    def on_key(self, event) -> None:
        if event.key == "escape" and self.query_one("#zoom", Input).has_focus:
            event.stop()
            self._close_zoom()

    def _close_zoom(self) -> None:
        box = self.query_one("#zoom", Input)
        box.add_class("hidden")
        box.value = ""
        self.set_focus(None)

    def action_cursor(self, direction: int) -> None:
        """Move the value readout one logged step of the training loss (or the first curve with data)."""
        series = next((c.series for chart in self.charts.values() for c in chart.curves if len(c.series)), None)
        if series is None:
            return
        with self.tracker.lock:
            steps = series.steps
            if self.cursor is None:
                index = len(steps) - 1
            else:
                here = index_at(series, self.cursor)
                index = (here if here is not None else -1) + direction
            index = max(0, min(len(steps) - 1, index))
            self.cursor = steps[index]
        self.update_chart_status()

    def action_hide_cursor(self) -> None:
        self.cursor = None
        self.update_chart_status()

    def action_export(self) -> None:
        """Write the charts' data in the zoom window as CSV and the loss as a PNG (the model card's renderer)."""
        steps = self.views()["chart-loss"].steps
        self.notify("exporting the charts ...", timeout=2)
        self._export(steps)

    @work(thread=True, exit_on_error=False, group="run-export")
    def _export(self, steps) -> None:
        from lmtui.tui.widgets.chart_export import export

        t = self.tracker
        charts = [(chart.title, [(c.label, c.series, t.first_time or 0.0) for c in chart.curves])
                  for chart in self.charts.values()]
        try:
            files = export(t.path, t.run_id, charts, (t.series["loss"], t.series["eval_loss"],
                                                      t.series["perplexity"]), steps, lock=t.lock)
        except OSError as exc:
            self.app.call_from_thread(self.notify, f"export failed: {exc}", severity="error")
            return
        self.app.call_from_thread(self.notify, "exported " + ", ".join(str(f) for f in files), timeout=10)

    def action_stop(self) -> None:
        self.app.stop_run(str(self.run_path))

    def action_resume(self) -> None:
        self.app.resume_run(str(self.run_path))

    def action_delete(self) -> None:
        self.app.delete_run(str(self.run_path))

    def action_push(self) -> None:
        self.app.push_screen(PushScreen(str(self.run_path)))
