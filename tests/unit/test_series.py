"""Curves: debiased EMA smoothing, min/max downsampling, resumed runs rewinding their steps."""

from __future__ import annotations

import math
import random

from lmtui.runs.series import Series, debiased_ema, downsample


def tensorboard_smooth(values, weight):
    """TensorBoard's scalar smoothing (vz_line_chart2 resmoothDataset), written out independently."""
    last, num_accum, out = 0.0, 0, []
    for v in values:
        if not math.isfinite(v):
            out.append(v)
            continue
        last = last * weight + (1 - weight) * v
        num_accum += 1
        debias = 1.0 if weight == 1.0 else 1 - weight ** num_accum
        out.append(last / debias)
    return out


def test_debiased_ema_matches_tensorboard_and_is_not_pulled_to_zero():
    values = [10.0, 9.0, 8.5, float("nan"), 8.0, 7.0]
    for w in (0.0, 0.6, 0.9, 0.99):
        got = debiased_ema(values, w)
        want = tensorboard_smooth(values, w)
        assert all((math.isnan(a) and math.isnan(b)) or math.isclose(a, b) for a, b in zip(got, want))
    assert debiased_ema([10.0], 0.99) == [10.0]  # the first point is the value itself, not 0.1
    assert debiased_ema([3.0, 4.0], 0.0) == [3.0, 4.0]


def test_series_keeps_smoothed_copy_up_to_date_and_resmooths_on_weight_change():
    s = Series(0.6)
    vals = [random.Random(1).uniform(1, 5) for _ in range(50)]
    for i, v in enumerate(vals):
        s.append(i * 10, 1000.0 + i, v)
    assert list(s.smoothed) == debiased_ema(vals, 0.6)
    s.set_smoothing(0.9)
    assert list(s.smoothed) == debiased_ema(vals, 0.9)
    s.append(500, 2000.0, 1.0)
    assert s.smoothed[-1] == debiased_ema(vals + [1.0], 0.9)[-1]


def test_a_resumed_run_rewinds_to_its_checkpoint_step():
    s = Series(0.5)
    for step in (10, 20, 30, 40, 50):
        s.append(step, step, float(step))
    s.append(40, 100.0, 4.0)  # resumed from the step-30 checkpoint: step 40 is trained again
    assert list(s.steps) == [10, 20, 30, 40]
    assert s.values[-1] == 4.0
    assert list(s.smoothed) == debiased_ema([10.0, 20.0, 30.0, 4.0], 0.5)


def test_downsample_bounds_the_points_and_keeps_every_spike_and_the_last_value():
    n = 100_000
    xs = [float(i) for i in range(n)]
    ys = [math.sin(i / 500) for i in range(n)]
    ys[12_345] = 50.0
    ys[77_777] = -50.0
    ys[-1] = 3.0
    dx, dy = downsample(xs, ys, 100)
    assert len(dx) <= 2 * 100 + 1
    assert 50.0 in dy and -50.0 in dy
    assert dx[-1] == n - 1 and dy[-1] == 3.0
    assert dx == sorted(dx)
    assert all(ys[int(x)] == y for x, y in zip(dx, dy))


def test_downsample_leaves_short_series_alone_and_ignores_nan_when_choosing_extremes():
    assert downsample([1, 2, 3], [4, 5, 6], 10) == ([1, 2, 3], [4, 5, 6])
    ys = [float("nan")] * 1000
    ys[500] = 1.0
    dx, dy = downsample(list(range(1000)), ys, 10)
    assert 1.0 in dy
