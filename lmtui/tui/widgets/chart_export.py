"""Export of what the run screen's charts show: their data as CSV, the loss as a PNG.

The PNG is drawn by the model card's renderer (:func:`lmtui.hub.card.loss_curve_png`, matplotlib
Agg), given the training and evaluation loss inside the visible step window, so an exported
chart looks like the card's. The CSV has one row per point of every curve of every chart in
that window (raw and smoothed value). Both go to ``<run>/exports/``, named after the run and the
window. Plain Python (the caller runs it off the event loop: matplotlib takes a while to import).
"""

from __future__ import annotations

import contextlib
import csv
import io
from pathlib import Path

from lmtui.fsutil import atomic_write_text
from lmtui.hub import card
from lmtui.runs.series import Series, step_window


def window_name(steps: tuple[float | None, float | None] | None) -> str:
    """``all`` or ``steps-100-400`` (an open end reads ``start`` or ``end``)."""
    if not steps:
        return "all"
    lo, hi = steps
    return f"steps-{'start' if lo is None else int(lo)}-{'end' if hi is None else int(hi)}"


def curves_csv(charts: list[tuple[str, list[tuple[str, Series, float]]]],
               steps: tuple[float | None, float | None] | None) -> str:
    """CSV text of ``charts`` ((chart title, [(curve label, series, time origin)])) in the step window.

    Columns: chart, curve, step, seconds (since the origin, the run's first event), value, smoothed.
    """
    buf = io.StringIO()
    out = csv.writer(buf, lineterminator="\n")
    out.writerow(["chart", "curve", "step", "seconds", "value", "smoothed"])
    lo, hi = steps or (None, None)
    for title, curves in charts:
        for label, s, origin in curves:
            start, stop = step_window(s, lo, hi)
            for i in range(start, stop):
                out.writerow([title, label, int(s.steps[i]), round(s.times[i] - origin, 3), repr(s.values[i]),
                              repr(s.smoothed[i])])
    return buf.getvalue()


def loss_facts(run_id: str, train: Series, evaluation: Series, eval_ppl: Series,
               steps: tuple[float | None, float | None] | None) -> card.RunFacts:
    """What the card's renderer needs: the training and evaluation loss curves in the step window."""
    lo, hi = steps or (None, None)
    a, b = step_window(train, lo, hi)
    facts = card.RunFacts(run_id=run_id)
    facts.train_curve = [(int(train.steps[i]), train.values[i]) for i in range(a, b)]
    ppl = {int(eval_ppl.steps[i]): eval_ppl.values[i] for i in range(len(eval_ppl))}
    a, b = step_window(evaluation, lo, hi)
    facts.eval_curve = [(int(evaluation.steps[i]), evaluation.values[i], ppl.get(int(evaluation.steps[i])), None)
                        for i in range(a, b)]
    return facts


def export(run_path: Path, run_id: str, charts, loss: tuple[Series, Series, Series],
           steps: tuple[float | None, float | None] | None, lock=None) -> list[Path]:
    """Write the CSV of ``charts`` and the PNG of ``loss`` (train, eval, eval perplexity) for the
    window to ``<run_path>/exports/``; returns the files written (the PNG only when there is loss).

    ``lock`` (the tracker's) is held while the curves are read, not while the PNG is drawn.
    """
    folder = Path(run_path) / "exports"
    stem = f"{run_id}-{window_name(steps)}"
    with lock or contextlib.nullcontext():
        text = curves_csv(charts, steps)
        facts = loss_facts(run_id, *loss, steps)
    written = []
    csv_path = folder / f"{stem}.csv"
    atomic_write_text(csv_path, text)
    written.append(csv_path)
    label = "" if not steps else f" ({window_name(steps).replace('-', ' ', 1)})"
    png = card.loss_curve_png(facts, title=f"{run_id}: masked LM loss{label}")
    if png is not None:
        png_path = folder / f"{stem}.png"
        png_path.write_bytes(png)
        written.append(png_path)
    return written
