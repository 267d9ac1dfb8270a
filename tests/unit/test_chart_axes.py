"""Axis ticks and labels of the charts, step windows of a curve (lmtui.runs.series), without Textual."""

from __future__ import annotations

from lmtui.runs.series import (TIME_STEPS, Series, best_index, fmt_clock_tick, fmt_tick, index_at, nice_ticks,
                               step_window)


def labels(lo, hi, **kw):
    ticks, step = nice_ticks(lo, hi, 4, **kw)
    return [fmt_tick(t, step, max(abs(t) for t in ticks)) for t in ticks]


def test_step_ticks_are_whole_steps():
    ticks, step = nice_ticks(0, 13.8, 4, integer=True)
    assert ticks == [0, 5, 10] and step == 5
    assert nice_ticks(2, 3, 6, integer=True)[1] == 1  # never a fractional step
    assert all("." not in label for label in labels(0, 13.8, integer=True))


def test_small_values_read_in_scientific_notation_large_ones_with_si_suffixes():
    assert labels(0, 2.67e-4) == ["0", "1e-4", "2e-4"]
    assert labels(1000, 1123.3) == ["1,000", "1,050", "1,100"]
    assert labels(12_000, 18_000) == ["12k", "14k", "16k", "18k"]
    assert labels(0.2, 0.9) == ["0.2", "0.4", "0.6", "0.8"]


def test_wall_time_ticks_are_clock_times():
    ticks, step = nice_ticks(0, 4000, 4, steps=TIME_STEPS)
    assert step == 1800 and [fmt_clock_tick(t, 4000) for t in ticks] == ["0:00", "0:30", "1:00"]
    ticks, _ = nice_ticks(0, 300, 4, steps=TIME_STEPS)
    assert [fmt_clock_tick(t, 300) for t in ticks] == ["0:00", "2:00", "4:00"]


def test_a_single_value_gets_one_tick_at_itself():
    assert nice_ticks(6548.0, 6548.0) == ([6548.0], 1.0)


def curve() -> Series:
    s = Series()
    for step, v in ((10, 5.0), (20, 4.0), (30, 4.5), (40, 3.9), (50, 4.2)):
        s.append(step, 1000.0 + step, v)
    return s


def test_step_window_cursor_and_best_point():
    s = curve()
    assert step_window(s, None, None) == (0, 5)
    assert step_window(s, 20, 40) == (1, 4)
    assert step_window(s, 41, None) == (4, 5)
    assert step_window(s, 60, None) == (5, 5)
    assert index_at(s, 35) == 2 and index_at(s, 5) is None
    assert best_index(s, "min") == 3 and best_index(s, "max") == 0
