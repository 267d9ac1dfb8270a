"""The one chart widget of the UI: metric curves against step or wall time.

Backend: textual-plotext (it has a log scale); nothing outside this module touches it. Each
redraw reduces every curve to the chart's width first (:func:`lmtui.runs.series.downsample`,
the extremes of each column kept), so a 100,000-point curve draws as fast as a short one.
Smoothing is the series' debiased EMA; the raw curve is drawn faint behind the smoothed one.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from textual.reactive import reactive
from textual_plotext import PlotextPlot

from lmtui.runs.series import Series, downsample

PALETTE = [(0, 130, 200), (230, 25, 75), (60, 180, 75), (245, 130, 48), (145, 30, 180), (70, 240, 240),
           (240, 50, 230), (180, 225, 40)]
FAINT = (110, 110, 110)


@dataclass
class Curve:
    """One line of a chart.

    Attributes:
        label: legend text.
        series: the data.
        origin: wall-time origin (Unix seconds) of the time axis, usually the run's first event.
        color: RGB; None picks the next palette colour.
    """

    label: str
    series: Series
    origin: float = 0.0
    color: tuple[int, int, int] | None = None


def time_unit(span_s: float) -> tuple[str, float]:
    """Axis unit and divisor for a span of wall time in seconds."""
    if span_s > 3 * 3600:
        return "hours", 3600.0
    if span_s > 180:
        return "minutes", 60.0
    return "seconds", 1.0


class Chart(PlotextPlot):
    """Curves against ``step`` or ``time``; ``log_y`` and ``smoothing`` are reactive.

    Attributes:
        render_ms: how long the last redraw took (downsampling and plotext), for benchmarks.
    """

    DEFAULT_CSS = """
    Chart { height: 1fr; width: 1fr; min-height: 6; }
    """

    x_axis: reactive[str] = reactive("step")
    log_y: reactive[bool] = reactive(False)
    smoothing: reactive[float] = reactive(0.6)

    def __init__(self, title: str, *, id: str | None = None, classes: str | None = None):
        super().__init__(id=id, classes=classes)
        self.title = title
        self.curves: list[Curve] = []
        self.render_ms = 0.0
        self._cache_key: tuple | None = None
        self._cache = None

    def set_curves(self, curves: list[Curve]) -> None:
        self.curves = curves
        self.refresh()

    def watch_smoothing(self, weight: float) -> None:
        for curve in self.curves:
            curve.series.set_smoothing(weight)

    def render(self):
        key = (self.size, self.x_axis, self.log_y, self.smoothing, self.app.theme,
               tuple((id(c.series), len(c.series), c.series.steps[-1] if len(c.series) else None) for c in self.curves))
        if key == self._cache_key and self._cache is not None:
            return self._cache
        t0 = time.perf_counter()
        plt = self.plt
        plt.clear_data()
        columns = max(8, self.size.width - 12) * 2  # braille: two points per cell
        drawn = 0
        span = max((c.series.times[-1] - c.origin for c in self.curves if len(c.series)), default=0.0)
        unit, divisor = time_unit(span)
        for i, curve in enumerate(self.curves):
            s = curve.series
            if not len(s):
                continue
            color = curve.color or PALETTE[i % len(PALETTE)]
            xs = s.steps if self.x_axis == "step" else s.times
            layers = [(s.values, FAINT, None, columns // 2), (s.smoothed, color, curve.label, columns)] \
                if self.smoothing > 0 else [(s.values, color, curve.label, columns)]
            for ys, col, label, buckets in layers:
                dx, dy = downsample(xs, ys, buckets)
                if self.x_axis == "time":
                    dx = [(x - curve.origin) / divisor for x in dx]
                pts = [(x, y) for x, y in zip(dx, dy) if math.isfinite(y) and (y > 0 or not self.log_y)]
                if not pts:
                    continue
                px, py = zip(*pts)
                plt.plot(px, py, color=col, label=label if len(self.curves) > 1 else None, marker="braille")
                drawn += 1
        plt.title(self.title if drawn else f"{self.title} (no data yet)")
        plt.xlabel("step" if self.x_axis == "step" else unit)
        plt.yscale("log" if self.log_y else "linear")
        self._cache = super().render()
        self._cache_key = key
        self.render_ms = (time.perf_counter() - t0) * 1000
        return self._cache
