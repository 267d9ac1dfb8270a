"""The one chart widget of the UI: metric curves against step or wall time.

Backend: textual-plotext, drawn on a linear grid with our own limits and tick labels (whole
steps, wall time as ``h:mm`` or ``m:ss``, SI suffixes or scientific notation where they read
better; a log scale plots log10 of the values with decade labels); nothing outside this module
touches it. A frame is made in two parts:

- :meth:`Chart.prepare` reads the curves (the caller holds the tracker's lock when another
  thread appends to them): the points inside the step window, each reduced to the chart's
  width (:func:`lmtui.runs.series.downsample`, each column's extremes kept), the best point of
  curves that have one, the values at the cursor;
- :meth:`Chart.build_strips` draws a prepared frame as the widget's lines (plotext and rich
  only, no reads of the curves), with the x range given by the caller so that panels side by
  side share it; the legend is a line above the plot, the cursor's readout a line below it.

By default the widget does both on the event loop when something changed, once per paint (the
compare screen). With ``deferred`` set, a worker thread prepares and draws the frame as the widget's
lines (:meth:`build_strips`, read from plotext's character matrix) and hands them over with
:meth:`show`; painting then only copies those lines (the run screen). Smoothing is the series'
debiased EMA; the raw curve is drawn faint behind the smoothed one.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass, field
from functools import lru_cache

from plotext._utility import to_rgb
from rich.color import Color
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.message import Message
from textual.reactive import reactive
from textual.strip import Strip
from textual_plotext import PlotextPlot

from lmtui.runs.series import (TIME_STEPS, Series, best_index, downsample, fmt_clock_tick, fmt_tick, index_at,
                               nice_ticks, step_window)

PALETTE = [(0, 130, 200), (230, 25, 75), (60, 180, 75), (245, 130, 48), (145, 30, 180), (70, 240, 240),
           (240, 50, 230), (180, 225, 40)]
FAINT = (110, 110, 110)
CURSOR = (200, 200, 0)
BEST = (255, 215, 0)


@dataclass
class Curve:
    """One line of a chart.

    Attributes:
        label: legend text.
        series: the data.
        origin: wall-time origin (Unix seconds) of the time axis, usually the run's first event.
        color: RGB; None picks the next palette colour.
        best: ``"min"`` or ``"max"`` marks the curve's best point (an evaluation loss); None for none.
    """

    label: str
    series: Series
    origin: float = 0.0
    color: tuple[int, int, int] | None = None
    best: str | None = None


@dataclass(frozen=True)
class View:
    """What a chart shows.

    Attributes:
        x_axis: ``step`` or ``time`` (seconds since the curve's origin).
        log_y: log10 scale of the y axis.
        smoothing: EMA weight of the curves (0: raw values only).
        steps: inclusive step window ``(lo, hi)``, either end None for open; None for every step.
        cursor: the step of the value readout (the last point at or before it), None for none.
    """

    x_axis: str = "step"
    log_y: bool = False
    smoothing: float = 0.0
    steps: tuple[float | None, float | None] | None = None
    cursor: float | None = None


@dataclass
class Prepared:
    """A frame's data, read from the curves: what :meth:`Chart.build` draws.

    Attributes:
        layers: (xs, ys, colour, marker) in plot units (ys already log10 on a log scale).
        legend: (text, colour) of each drawn curve, and of the best points.
        x_extent / y_extent: (lo, hi) of the drawn points in plot units; None without points.
        readout: (label, value, colour) at the cursor; cursor_x: its x in plot units.
        key: what the frame depends on (cache key).
    """

    view: View
    layers: list = field(default_factory=list)
    legend: list = field(default_factory=list)
    x_extent: tuple[float, float] | None = None
    y_extent: tuple[float, float] | None = None
    readout: list = field(default_factory=list)
    cursor_x: float | None = None
    cursor_step: float | None = None
    key: tuple = ()


def time_unit(span_s: float) -> str:
    """The label of a wall-time axis: ``h:mm`` from an hour on, else ``m:ss``."""
    return "h:mm" if span_s >= 3600 else "m:ss"


def y_ticks(lo: float, hi: float, log_y: bool, rows: int) -> tuple[list[float], list[str]]:
    """Y tick positions (plot units) and labels for the data range ``[lo, hi]``."""
    target = max(2, min(5, rows // 2))
    if log_y:
        decades = list(range(math.ceil(lo - 1e-9), math.floor(hi + 1e-9) + 1))
        if len(decades) >= 2:
            stride = max(1, math.ceil(len(decades) / target))
            decades = decades[::stride]
            return [float(d) for d in decades], [fmt_tick(10.0 ** d, 10.0 ** d, 10.0 ** d) if d >= -2 and d < 4
                                                 else f"1e{d}" for d in decades]
        ticks, step = nice_ticks(10 ** lo, 10 ** hi, target)
        largest = max(abs(t) for t in ticks)
        return [math.log10(t) for t in ticks if t > 0], [fmt_tick(t, step, largest) for t in ticks if t > 0]
    ticks, step = nice_ticks(lo, hi, target)
    largest = max(abs(t) for t in ticks) if ticks else 1.0
    return ticks, [fmt_tick(t, step, largest) for t in ticks]


def x_ticks(lo: float, hi: float, x_axis: str, columns: int) -> tuple[list[float], list[str]]:
    """X tick positions and labels: whole steps, or wall time as a clock."""
    target = max(2, min(6, columns // 12))
    if x_axis == "time":
        ticks, _ = nice_ticks(lo, hi, target, steps=TIME_STEPS)
        return ticks, [fmt_clock_tick(t, hi) for t in ticks]
    ticks, step = nice_ticks(lo, hi, target, integer=True)
    return ticks, [fmt_tick(t, step, max(abs(t) for t in ticks)) for t in ticks]


def padded(lo: float, hi: float, fraction: float = 0.05) -> tuple[float, float]:
    """``[lo, hi]`` widened by ``fraction`` of its span each side; a single value gets +-5% of
    itself (+-0.5 at 0), so one point sits mid-axis on a scale of its own size."""
    if hi > lo:
        pad = (hi - lo) * fraction
        return lo - pad, hi + pad
    pad = abs(lo) * 0.05 or 0.5
    return lo - pad, hi + pad


def x_limits(lo: float, hi: float, x_axis: str) -> tuple[float, float]:
    """The x range shown for data spanning ``[lo, hi]``: one step gets a step either side."""
    if hi > lo:
        return lo, hi
    pad = 1.0 if x_axis == "step" else 5.0
    return lo - pad, hi + pad


class Chart(PlotextPlot):
    """Curves against ``step`` or ``time``; ``x_axis``, ``log_y``, ``smoothing``, ``steps``
    (the step window) and ``cursor`` are reactive.

    Attributes:
        deferred: frames come from :meth:`show` (a worker); :meth:`render` never reads the curves.
        cells: (width, height) as of the last resize; a worker reads this, never ``size`` (which may
            compute a layout, event-loop work).
        render_ms: how long the last frame took (prepare and build), for benchmarks.
        frame_key: the key of the frame shown (its view, data and size).
    """

    DEFAULT_CSS = """
    Chart { height: 1fr; width: 1fr; min-height: 6; }
    """

    x_axis: reactive[str] = reactive("step")
    log_y: reactive[bool] = reactive(False)
    smoothing: reactive[float] = reactive(0.6)
    steps: reactive[tuple | None] = reactive(None)
    cursor: reactive[float | None] = reactive(None)

    class Resized(Message):
        """A deferred chart got a new size: whoever makes its frames should make a new one."""

    def __init__(self, title: str, *, id: str | None = None, classes: str | None = None, deferred: bool = False):
        super().__init__(id=id, classes=classes)
        self.title = title
        self.curves: list[Curve] = []
        self.deferred = deferred
        self.render_ms = 0.0
        self.frame_key: tuple | None = None
        self._strips: tuple[tuple[int, int], list[Strip]] | None = None
        self.cells = (0, 0)  # the size, as of the last resize: what a worker thread reads (not ``size``)
        self._build_lock = threading.Lock()

    def set_curves(self, curves: list[Curve]) -> None:
        self.curves = curves
        self.refresh()

    @property
    def view(self) -> View:
        return View(self.x_axis, self.log_y, self.smoothing, self.steps, self.cursor)

    # reading the curves ----------------------------------------------------------------
    def prepare(self, view: View | None = None, width: int | None = None) -> Prepared:
        """Read the curves into a frame's data for ``view`` (default: the chart's own) at ``width`` cells."""
        view = view or self.view
        width = width if width is not None else self.cells[0]
        columns = max(8, width - 8) * 2  # braille: two points per cell
        out = Prepared(view)
        lo, hi = view.steps or (None, None)
        xs_all, ys_all = [], []
        keys = []
        for i, curve in enumerate(self.curves):
            s = curve.series
            s.set_smoothing(view.smoothing)
            keys.append((id(s), len(s), s.steps[-1] if len(s) else None))
            start, stop = step_window(s, lo, hi)
            if stop <= start:
                continue
            color = curve.color or PALETTE[i % len(PALETTE)]
            source = s.steps if view.x_axis == "step" else s.times
            xs = source[start:stop]
            shift = 0.0 if view.x_axis == "step" else curve.origin
            layers = [(s.values[start:stop], FAINT, columns // 2), (s.smoothed[start:stop], color, columns)] \
                if view.smoothing > 0 else [(s.values[start:stop], color, columns)]
            drawn = False
            for ys, col, buckets in layers:
                px, py = self._points(*downsample(xs, ys, buckets), shift, view.log_y)
                if px:
                    out.layers.append((px, py, col, "braille"))
                    xs_all += (px[0], px[-1])
                    ys_all += (min(py), max(py))
                    drawn = True
            if not drawn:
                continue
            out.legend.append((curve.label, color))
            if curve.best:
                b = best_index(s, curve.best)
                if b is not None and start <= b < stop:
                    bx, by = self._points([source[b]], [s.values[b]], shift, view.log_y)
                    if bx:
                        out.layers.append((bx, by, BEST, "●"))
                        out.legend.append((f"● best {fmt_value(s.values[b])} @ {int(s.steps[b]):,}", BEST))
            if view.cursor is not None:
                j = index_at(s, view.cursor)
                if j is not None and start <= j < stop:
                    value = s.smoothed[j] if view.smoothing > 0 else s.values[j]
                    out.readout.append((curve.label, value, color))
                    if out.cursor_x is None:
                        out.cursor_x = source[j] - shift
                        out.cursor_step = s.steps[j]
        if xs_all:
            out.x_extent = (min(xs_all), max(xs_all))
            out.y_extent = (min(ys_all), max(ys_all))
        out.key = (view, tuple(keys))
        return out

    @staticmethod
    def _points(xs, ys, shift: float, log_y: bool) -> tuple[list[float], list[float]]:
        px, py = [], []
        for x, y in zip(xs, ys):
            if math.isfinite(y) and (y > 0 or not log_y):
                px.append(x - shift)
                py.append(math.log10(y) if log_y else y)
        return px, py

    # drawing -----------------------------------------------------------------------------
    def _parts(self, prep: Prepared, width: int) -> tuple[Text, Text | None]:
        """The line above the plot (title and legend, cut to ``width``) and the readout below it (or None)."""
        head = Text(self.title, style="bold")
        head.truncate(width)
        if prep.layers and (len(self.curves) > 1 or any(text.startswith("●") for text, _ in prep.legend)):
            for text, color in prep.legend:
                entry = text if text.startswith("●") else f"━ {text}"
                if head.cell_len + 2 + len(entry) > width and text.startswith("● best "):
                    entry = "● " + text[len("● best "):]
                if head.cell_len + 2 + len(entry) > width:
                    break
                head.append("  ")
                head.append(entry, style="rgb({},{},{})".format(*color))
        foot = None
        if prep.readout:
            foot = Text(f"step {int(prep.cursor_step):,}:", style="bold")
            for label, value, color in prep.readout:
                foot.append(f"  {label} ", style="rgb({},{},{})".format(*color))
                foot.append(fmt_value(value))
            foot.truncate(width)
        return head, foot

    @staticmethod
    def _empty(prep: Prepared, width: int) -> Text:
        message = "no data yet" if not prep.view.steps else "no data in this step range"
        return Text(message.center(max(1, width)).rstrip(), style="dim")

    def build_strips(self, prep: Prepared, x_range: tuple[float, float] | None,
                     size: tuple[int, int]) -> tuple[tuple[int, int], list[Strip]]:
        """Draw ``prep`` at ``size`` over ``x_range`` (None: its own extent) as the widget's lines: the
        title and legend, the plot read straight from plotext's character matrix (no ANSI text written
        and parsed again), the readout. Safe in a worker thread. Returns (size, lines) for :meth:`show`."""
        width, height = size
        head, foot = self._parts(prep, width)
        if not prep.layers:
            return size, [self._text_strip(t, width) for t in (head, Text(""), self._empty(prep, width))]
        with self._build_lock:
            self._draw(prep, x_range or prep.x_extent, width, max(3, height - 1 - (foot is not None)))
            rows = self._matrix_strips(width)
        lines = [self._text_strip(head, width)] + rows + ([self._text_strip(foot, width)] if foot is not None else [])
        return size, lines

    def _text_strip(self, text: Text, width: int) -> Strip:
        return Strip(list(text.render(self.app.console, end=""))).crop_extend(0, width, None)

    def _matrix_strips(self, width: int) -> list[Strip]:
        """plotext's character matrix as lines, one segment per run of cells of one colour."""
        plt = self.plt
        plt._set_sizes()  # what plotext's own build() does before drawing its canvas string
        plt._build_matrix()
        m = plt.monitor.matrix
        out = []
        for row in reversed(m.Rows):
            marker, fg, st, bg = m.marker[row], m.fullground[row], m.style[row], m.background[row]
            segments, start = [], 0
            for col in range(1, m.cols + 1):
                if col == m.cols or fg[col] != fg[start] or st[col] != st[start] or bg[col] != bg[start]:
                    segments.append(Segment("".join(marker[start:col]), cell_style(_key(fg[start]), st[start],
                                                                                   _key(bg[start]))))
                    start = col
            out.append(Strip(segments).crop_extend(0, width, None))
        return out

    def _draw(self, prep: Prepared, x_range, width: int, height: int) -> None:
        """Give plotext the frame: size, theme, limits, ticks, lines, markers, the cursor."""
        view = prep.view
        plt = self.plt
        plt.clear_figure()
        plt.plotsize(width, height)
        plt._set_size(width, height)  # as textual-plotext's own render does (its issue #5)
        plt.theme(self._get_plotext_theme_name(self.app.theme))
        x_lo, x_hi = x_limits(*x_range, view.x_axis)
        y_lo, y_hi = padded(*prep.y_extent)
        for xs, ys, color, marker in prep.layers:
            if marker == "braille":
                plt.plot(xs, ys, color=color, marker="braille")
            else:
                plt.scatter(xs, ys, color=color, marker=marker)
        if prep.cursor_x is not None:
            plt.vline(prep.cursor_x, CURSOR)
        plt.xlim(x_lo, x_hi)
        plt.ylim(y_lo, y_hi)
        lo, hi = x_range
        if hi > lo:
            xt, xl = x_ticks(lo, hi, view.x_axis, width)
        else:
            xt, xl = [lo], [f"{int(round(lo)):,}" if view.x_axis == "step" else fmt_clock_tick(lo, lo)]
        plt.xticks(xt, xl)
        y0, y1 = prep.y_extent
        if y1 > y0:
            yt, yl = y_ticks(y0, y1, view.log_y, height)
        else:
            yt, yl = [y0], [fmt_value(10 ** y0 if view.log_y else y0)]
        plt.yticks(yt, yl)
        if height >= 10:  # small panels keep their rows for data; the screen's status line names the axis
            plt.xlabel("step" if view.x_axis == "step" else f"time ({time_unit(hi)})")


    def frame(self, x_range: tuple[float, float] | None = None) -> tuple[tuple, tuple]:
        """Prepare and draw the chart's current view at its size: (key, (size, lines))."""
        t0 = time.perf_counter()
        prep = self.prepare()
        strips = self.build_strips(prep, x_range, self.cells)
        self.render_ms = (time.perf_counter() - t0) * 1000
        return self.key_of(prep, x_range), strips

    def key_of(self, prep: Prepared, x_range) -> tuple:
        """What a frame depends on: its data and view, the shared x range, the size, the theme."""
        return (prep.key, x_range, self.cells, self.app.theme)

    def show(self, key: tuple, strips: tuple[tuple[int, int], list[Strip]]) -> None:
        """Show a frame made elsewhere (a worker's :meth:`build_strips`); call on the event loop."""
        self.frame_key, self._strips = key, strips
        self.refresh()

    def render_lines(self, crop):
        if not self.deferred:  # draw here, once per paint, when something changed
            self.cells = (self.size.width, self.size.height)  # the layout's size may come before its Resize event
            key = (self.view, tuple((id(c.series), len(c.series), c.series.steps[-1] if len(c.series) else None)
                                    for c in self.curves), self.cells, self.app.theme)
            if key != self.frame_key or self._strips is None:
                _, self._strips = self.frame()
                self.frame_key = key
        return super().render_lines(crop)

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        if self._strips is not None and self._strips[0] == (width, self.size.height):
            lines = self._strips[1]
            return lines[y] if y < len(lines) else Strip.blank(width)
        return Strip(list(Text(self.title if y == 0 else "", style="bold").render(self.app.console, end="")))

    def on_resize(self, event) -> None:
        self.cells = (event.size.width, event.size.height)
        if self.deferred:
            self.post_message(self.Resized())


def _key(color):
    """A plotext colour as a hashable key (lists become tuples)."""
    return tuple(color) if isinstance(color, list) else color


@lru_cache(maxsize=4096)
def cell_style(fg, style: str, bg) -> Style:
    """The rich style of a plotext cell: its foreground, background (``default``: none) and text style."""
    def color(c):
        return None if c == "default" else Color.from_rgb(*to_rgb(c))

    return Style(color=color(fg), bgcolor=color(bg), bold="bold" in style, italic="italic" in style)


def fmt_value(value: float) -> str:
    """A value read off a chart: four significant digits, scientific below 0.001 or from 100,000."""
    if value is None or not math.isfinite(value):
        return str(value)
    if value != 0 and (abs(value) >= 1e5 or abs(value) < 1e-3):
        mantissa, exp = f"{value:.2e}".split("e")
        return f"{mantissa.rstrip('0').rstrip('.')}e{int(exp)}"
    return f"{value:.4g}"
