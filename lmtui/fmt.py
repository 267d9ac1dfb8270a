"""Every number, duration and byte count that lmtui shows, formatted in one place.

Short forms for tables and the TUI (``fmt_*``), clock form for progress bars
(:func:`fmt_clock`), word forms for the model card's prose (``fmt_*_words``), shares such as
accuracy as percentages (:func:`fmt_percent`). ``-`` stands for a missing value everywhere.
Plain Python.
"""

from __future__ import annotations

import math

SPARK_BLOCKS = "▁▂▃▄▅▆▇█"


def fmt_duration(seconds: float | None) -> str:
    """``12s``, ``4m05s``, ``3h07m``, ``2d04h``; ``-`` for None."""
    if seconds is None or not math.isfinite(seconds):
        return "-"
    s = int(round(seconds))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    if s < 86400:
        return f"{s // 3600}h{s % 3600 // 60:02d}m"
    return f"{s // 86400}d{s % 86400 // 3600:02d}h"


def fmt_number(value: float | None, digits: int = 4) -> str:
    """A metric in at most ``digits`` significant digits; ``-`` for None."""
    if value is None:
        return "-"
    if not math.isfinite(value):
        return str(value)
    if value != 0 and (abs(value) >= 1e5 or abs(value) < 1e-3):
        return f"{value:.{max(1, digits - 2)}e}"
    return f"{value:.{digits}g}"


def fmt_percent(fraction: float | None, std: float | None = None, digits: int = 2) -> str:
    """A share in [0, 1] as a percentage with ``digits`` decimals: ``fmt_percent(0.8165) -> "81.65%"``.

    The one form of masked-token accuracy and of task accuracy, F1, precision and recall
    wherever a person reads them (CLI, TUI, model card, the eval lines of train.log); JSON files
    and events keep the fraction. With ``std`` (a standard deviation over seeds, also a fraction):
    ``fmt_percent(0.8, 0.01) -> "80.00% ± 1.00%"``. ``-`` for None; a non-finite value as itself.
    """
    if fraction is None:
        return "-"
    if not math.isfinite(fraction):
        return str(fraction)
    text = f"{fraction:.{digits}%}"
    return text if std is None else f"{text} ± {fmt_percent(std, digits=digits)}"


def fmt_rate(value: float | None) -> str:
    """Tokens per second as ``845``, ``12.3k``, ``1.2M``."""
    if value is None:
        return "-"
    if value >= 1e6:
        return f"{value / 1e6:.1f}M"
    if value >= 1e3:
        return f"{value / 1e3:.1f}k"
    return f"{value:.0f}"


def fmt_count(n: float | None) -> str:
    """A count as ``950``, ``1.2k``, ``3.4M``, ``1.1B``."""
    if n is None:
        return "-"
    for unit, div in (("B", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(n) >= div:
            return f"{n / div:.1f}{unit}"
    return f"{n:.0f}"


def fmt_bytes(n: float) -> str:
    """Bytes for tables: ``512 B``, ``2.0 kB``, ``1.5 GB`` (powers of 1024)."""
    for unit, div in (("GB", 1 << 30), ("MB", 1 << 20), ("kB", 1 << 10)):
        if n >= div:
            return f"{n / div:.1f} {unit}"
    return f"{int(n)} B"


def sparkline(values, width: int = 16) -> str:
    """The last values as a row of block characters, one per bucket mean, scaled to their range."""
    vals = [v for v in values if math.isfinite(v)]
    if not vals:
        return ""
    if len(vals) > width:
        size = len(vals) / width
        vals = [sum(chunk) / len(chunk) for chunk in
                (vals[int(i * size): max(int(i * size) + 1, int((i + 1) * size))] for i in range(width))]
    lo, hi = min(vals), max(vals)
    span = hi - lo
    top = len(SPARK_BLOCKS) - 1
    return "".join(SPARK_BLOCKS[int(round((v - lo) / span * top)) if span > 0 else top // 2] for v in vals)


def fmt_clock(seconds: float | None) -> str:
    """A duration as a clock, ``m:ss`` or ``h:mm:ss`` (progress bars); ``-`` for None."""
    if seconds is None:
        return "-"
    s = int(seconds)
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60}:{s % 60:02d}"


def fmt_bytes_words(n: int | float | None) -> str:
    """Bytes for prose (the model card): ``512 B``, ``2.0 KB``, ``1.5 GB`` (powers of 1024)."""
    if n is None:
        return "-"
    n = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TB"  # pragma: no cover


def fmt_duration_words(s: float | None) -> str:
    """A duration for prose (the model card): ``42 s``, ``3 min 05 s``, ``2 h 07 min``."""
    if s is None:
        return "-"
    s = int(round(s))
    if s >= 3600:
        return f"{s // 3600} h {s % 3600 // 60:02d} min"
    if s >= 60:
        return f"{s // 60} min {s % 60:02d} s"
    return f"{s} s"


def precision_name(mixed_precision: str | None) -> str:
    """accelerate's ``mixed_precision`` (``no``, ``fp16``, ``bf16``, ``fp8``) as a reader says it:
    ``fp32`` for ``no`` (or unknown), else ``bf16 mixed precision``."""
    return "fp32" if mixed_precision in (None, "no") else f"{mixed_precision} mixed precision"
