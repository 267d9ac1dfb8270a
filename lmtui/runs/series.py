"""Metric curves for the charts: append-only series, debiased EMA smoothing, min/max downsampling.

Plain Python and numpy (numpy is imported on first downsampling, not at start-up); no Textual.

Smoothing follows TensorBoard's scalar dashboard: an exponential moving average whose
accumulator starts at zero, divided by ``1 - weight**n`` (Adam's bias correction, Kingma &
Ba 2015) so the first points are not pulled towards zero. Non-finite values pass through
unsmoothed and leave the accumulator alone.
"""

from __future__ import annotations

import math
from array import array


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
