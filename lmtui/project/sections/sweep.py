"""The project file's ``[sweep]`` section: the points `lmtui sweep` runs, one run each.

Keys are dotted project keys (``"training.learning_rate"``), so the table's keys are quoted.
A grid runs every combination of its values; ``samples`` draws that many random points from
``ranges`` (and from the grid's value lists) instead. With ``search`` (tpe, random, grid) the
sweep is an Optuna study of ``trials`` trials instead, driven by a controller that stops the
losing trials early by ``prune`` (docs/sweeps.md). `lmtui run` ignores the section.
Checked by :mod:`lmtui.runs.sweep` (names, types, ranges) when `lmtui sweep` reads it.
"""

from __future__ import annotations

from dataclasses import dataclass

from lmtui.project.sections import key


@dataclass
class SweepSection:
    grid: dict = key(None, "Project keys and their values, one run per combination, e.g. "
                     "{ \"training.learning_rate\" = [1e-4, 3e-4], \"model.size\" = [\"mini\", \"small\"] }.",
                     factory=dict)
    ranges: dict = key(None, "Random search: project keys and a range \"LOW:HIGH\" (uniform), \"LOW:HIGH:log\" "
                       "(log-uniform; whole numbers give integers), drawn `samples` times, e.g. "
                       "{ \"training.learning_rate\" = \"1e-5:1e-3:log\" }.", factory=dict)
    samples: int = key(0, "Random points to draw from ranges and grid values (0: run the grid).", minimum=0)
    seed: int = key(0, "Seed of the random search (and of an Optuna search's sampler).")
    search: str = key("none", "An Optuna search instead of queueing every point at once: tpe, random or grid "
                      "(`lmtui sweep --search`); none: the plain grid or random sweep.",
                      choices=("none", "tpe", "random", "grid"))
    trials: int = key(0, "Trials of an Optuna search (a grid search: at most, and by default, its size).", minimum=0)
    prune: str = key("none", "Early stopping of an Optuna search's trials on the held-out evaluation: "
                     "asha, hyperband, median or none.", choices=("asha", "hyperband", "median", "none"))
    metric: str = key("loss", "Order of `lmtui sweep status`: loss (final held-out MLM loss), perplexity, accuracy, "
                      "or an [eval] result as task:NAME:SPLIT:METRIC (e.g. task:sst2:validation:accuracy).")
