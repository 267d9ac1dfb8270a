"""Metric curves for the charts: append-only series, debiased EMA smoothing, min/max downsampling,
step windows and the axis ticks the charts label.

Plain Python and numpy (numpy is imported on first downsampling, not at start-up); no Textual.

Smoothing follows TensorBoard's scalar dashboard: an exponential moving average whose
accumulator starts at zero, divided by ``1 - weight**n`` (Adam's bias correction, Kingma &
Ba 2015) so the first points are not pulled towards zero. Non-finite values pass through
unsmoothed and leave the accumulator alone.
"""

from __future__ import annotations

import math
from array import array
from bisect import bisect_left, bisect_right


def debiased_ema(values, weight: float) -> list[float]:
    """Debiased exponential moving average of ``values`` with smoothing ``weight`` in [0, 1).

    ``weight`` 0 returns the values unchanged; 0.99 is very smooth.
    """
    out = []
    acc, count = 0.0, 0
    for v in values:
        if not math.isfinite(v):
            out.append(v)
            continue
        acc = acc * weight + (1.0 - weight) * v
        count += 1
        out.append(acc / (1.0 - weight ** count))
    return out


class Series:
    """One metric against training step and wall time, with its smoothed copy kept up to date.

    Steps only grow: a point whose step is not after the last one (a run resumed from an
    earlier checkpoint retrains those steps) first drops the points from that step on, so
    the curve shows the steps as they were retrained.

    Attributes:
        steps, times, values, smoothed: ``array('d')`` of equal length; ``times`` are Unix seconds.
    """

    def __init__(self, smoothing: float = 0.0):
        self.steps = array("d")
        self.times = array("d")
        self.values = array("d")
        self.smoothed = array("d")
        self._weight = smoothing
        self._acc = 0.0
        self._count = 0

    def __len__(self) -> int:
        return len(self.values)

    @property
    def smoothing(self) -> float:
        return self._weight

    def set_smoothing(self, weight: float) -> None:
        """Change the smoothing weight and recompute the smoothed copy (O(n))."""
        if weight != self._weight:
            self._weight = weight
            self._resmooth()

    def append(self, step: float, time: float, value: float) -> None:
        if self.steps and step <= self.steps[-1]:
            self._truncate_from(step)
        self.steps.append(step)
        self.times.append(time)
        self.values.append(value)
        self.smoothed.append(self._smooth_next(value))

    def last(self) -> float | None:
        return self.values[-1] if self.values else None

    def _smooth_next(self, value: float) -> float:
        if not math.isfinite(value):
            return value
        self._acc = self._acc * self._weight + (1.0 - self._weight) * value
        self._count += 1
        return self._acc / (1.0 - self._weight ** self._count)

    def _truncate_from(self, step: float) -> None:
        keep = len(self.steps)
        while keep and self.steps[keep - 1] >= step:
            keep -= 1
        for arr in (self.steps, self.times, self.values):
            del arr[keep:]
        self._resmooth()

    def _resmooth(self) -> None:
        self._acc, self._count = 0.0, 0
        self.smoothed = array("d", (self._smooth_next(v) for v in self.values))


def downsample(xs, ys, width: int) -> tuple[list[float], list[float]]:
    """At most about ``2 * width`` points of (xs, ys) that keep every column's extremes.

    The points are cut into ``width`` consecutive buckets of equal count; each bucket keeps
    its minimum and maximum in their original order (an M4-style reduction), and the last
    point is always kept, so spikes and the current value survive. ``xs`` and ``ys`` are
    sequences of equal length (``array('d')``, lists or numpy arrays).
    """
    n = len(ys)
    width = max(1, int(width))
    if n <= 2 * width:
        return list(xs), list(ys)
    import numpy as np

    x = np.frombuffer(xs, dtype=np.float64) if isinstance(xs, array) else np.asarray(xs, dtype=np.float64)
    y = np.frombuffer(ys, dtype=np.float64) if isinstance(ys, array) else np.asarray(ys, dtype=np.float64)
    k = -(-n // width)
    rows = -(-n // k)
    padded = np.full(rows * k, np.nan)
    padded[:n] = y
    grid = padded.reshape(rows, k)
    nan = np.isnan(grid)
    lo = np.argmin(np.where(nan, np.inf, grid), axis=1)
    hi = np.argmax(np.where(nan, -np.inf, grid), axis=1)
    base = np.arange(rows) * k
    idx = np.stack([np.minimum(lo, hi), np.maximum(lo, hi)], axis=1) + base[:, None]
    idx = np.unique(np.append(idx.ravel(), n - 1))
    idx = idx[idx < n]
    return x[idx].tolist(), y[idx].tolist()


def step_window(series: Series, lo: float | None, hi: float | None) -> tuple[int, int]:
    """Index range ``[start, stop)`` of the points of ``series`` whose step is in ``[lo, hi]``
    (None: unbounded); steps only grow, so this is two binary searches."""
    start = 0 if lo is None else bisect_left(series.steps, lo)
    stop = len(series) if hi is None else bisect_right(series.steps, hi)
    return start, max(start, stop)


def index_at(series: Series, step: float) -> int | None:
    """Index of the last point of ``series`` at or before ``step``; None when there is none."""
    i = bisect_right(series.steps, step) - 1
    return i if i >= 0 else None


def best_index(series: Series, mode: str) -> int | None:
    """Index of the lowest (``mode`` "min") or highest ("max") finite value; None when there is none."""
    best = None
    for i, v in enumerate(series.values):
        if not math.isfinite(v):
            continue
        if best is None or (v < series.values[best] if mode == "min" else v > series.values[best]):
            best = i
    return best


# Axis ticks ---------------------------------------------------------------------------------
# Tick spacings of a time axis, in seconds: whole seconds, minutes and hours a clock reads well.
TIME_STEPS = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400)


def nice_step(span: float, target: int) -> float:
    """The 1-2-5 x 10^k spacing that cuts ``span`` into about ``target`` intervals (Heckbert 1990)."""
    raw = span / max(1, target)
    if raw <= 0 or not math.isfinite(raw):
        return 1.0
    mag = 10.0 ** math.floor(math.log10(raw))
    for m in (1.0, 2.0, 5.0, 10.0):
        if m * mag >= raw * 0.999:
            return m * mag
    return 10.0 * mag


def nice_ticks(lo: float, hi: float, target: int = 4, *, integer: bool = False,
               steps: tuple[float, ...] | None = None) -> tuple[list[float], float]:
    """Tick positions in ``[lo, hi]`` at a round spacing, and that spacing.

    ``integer`` keeps the spacing a whole number (training steps); ``steps`` picks the spacing
    from a fixed ladder instead of 1-2-5 x 10^k (:data:`TIME_STEPS` for wall time). A zero
    span gives the one value.
    """
    if not (math.isfinite(lo) and math.isfinite(hi)) or hi <= lo:
        return [lo], 1.0
    span = hi - lo
    if steps:
        raw = span / max(1, target)
        step = next((s for s in steps if s >= raw), steps[-1] * math.ceil(raw / steps[-1]))
    else:
        step = nice_step(span, target)
    if integer:
        step = max(1.0, float(round(step)))
    first = math.ceil(lo / step - 1e-9) * step
    ticks = []
    k = 0
    while first + k * step <= hi + step * 1e-9:
        ticks.append(round(first + k * step, 12))
        k += 1
    return ticks, step


def fmt_tick(value: float, step: float, largest: float) -> str:
    """A tick label: fixed decimals from the spacing (``0.25``, ``1,100``), SI suffixes from
    10,000 (``12.5k``, ``1.2M``) and compact scientific notation below 0.01 (``2.5e-4``)."""
    if value == 0:
        return "0"
    largest = abs(largest)
    if largest < 1e-2:
        digits = max(0, min(3, math.floor(math.log10(abs(value))) - math.floor(math.log10(step))))
        mantissa, exp = f"{value:.{digits}e}".split("e")
        return f"{mantissa}e{int(exp)}"
    for div, unit in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if largest >= 10 * div:
            decimals = max(0, -math.floor(math.log10(step / div) + 1e-9))
            return f"{value / div:.{decimals}f}{unit}"
    decimals = max(0, -math.floor(math.log10(step) + 1e-9))
    return f"{value:,.{decimals}f}"


def fmt_clock_tick(seconds: float, span: float) -> str:
    """Wall time since the run's first event as ``h:mm`` (spans of an hour or more) or ``m:ss``."""
    s = int(round(seconds))
    sign = "-" if s < 0 else ""
    s = abs(s)
    if span >= 3600:
        return f"{sign}{s // 3600}:{s % 3600 // 60:02d}"
    return f"{sign}{s // 60}:{s % 60:02d}"
