"""A sweep's study in Optuna: its sampler, its pruner, its storage, its parameter importances.

Optuna does the searching (Akiba et al. 2019, "Optuna: A Next-generation Hyperparameter
Optimization Framework"); this module only maps a sweep onto it:

- each axis of the sweep (:class:`lmtui.runs.sweep.Axis`, passed in) is one parameter named by its project
  key: a ``--grid`` axis a :class:`optuna.distributions.CategoricalDistribution` of its values'
  TOML texts, a ``--range`` axis a ``FloatDistribution`` (``IntDistribution`` for whole
  numbers), log-scaled for ``LOW:HIGH:log`` (:func:`distributions`);
- ``--search`` picks the sampler (:data:`SEARCHES`): ``tpe`` (Bergstra et al. 2011, TPESampler),
  ``random`` (RandomSampler), ``grid`` (GridSampler over the ``--grid`` axes);
- ``--prune`` picks the pruner (:data:`PRUNERS`): ``asha`` (Li et al. 2020, asynchronous
  successive halving: SuccessiveHalvingPruner), ``hyperband`` (Li et al. 2018:
  HyperbandPruner), ``median`` (Golovin et al. 2017, the median stopping rule: MedianPruner),
  ``none`` (NopPruner). The resource is the optimizer step: the first rung is the first
  evaluation (``[training] eval_steps``), the last one ``max_steps``;
- the study lives in an SQLite file, ``<output_dir>/sweeps/<sweep id>.db``, through Optuna's
  RDB storage (:func:`storage_url`), named by the sweep id, so any process can open it again
  (``optuna.load_study(study_name=ID, storage="sqlite:///...db")``).

Samplers and pruners keep no state of their own outside the storage, so the controller makes
them again from the sweep record each time it starts (:func:`load`).

Imports Optuna (and SQLAlchemy): used by the sweep controller and `lmtui sweep`, never at the
TUI's start-up.
"""

from __future__ import annotations

import math
from pathlib import Path

import optuna
from optuna.distributions import BaseDistribution, CategoricalDistribution, FloatDistribution, IntDistribution

SEARCHES = ("tpe", "random", "grid")
PRUNERS = ("asha", "hyperband", "median", "none")
PRUNER_NAMES = {"asha": "ASHA (SuccessiveHalvingPruner)", "hyperband": "Hyperband (HyperbandPruner)",
                "median": "the median rule (MedianPruner)", "none": "no pruner"}
REDUCTION_FACTOR = 3  # keep the best third at each rung (Li et al. 2020 use 3 or 4)
MEDIAN_STARTUP_TRIALS = 2  # trials that run to the end before the median rule prunes anything

optuna.logging.set_verbosity(optuna.logging.WARNING)


def distributions(axes) -> dict[str, BaseDistribution]:
    """The parameters of a sweep's axes (:class:`lmtui.runs.sweep.Axis`), by project key.

    Returns:
        key -> a categorical of the grid's TOML texts, or a float/int range (log-scaled for ``:log``).
    """
    out: dict[str, BaseDistribution] = {}
    for axis in axes:
        if axis.values:
            out[axis.key] = CategoricalDistribution(list(axis.values))
        elif axis.integer:
            out[axis.key] = IntDistribution(int(axis.low), int(axis.high), log=axis.log)
        else:
            out[axis.key] = FloatDistribution(float(axis.low), float(axis.high), log=axis.log)
    return out


def override_text(value) -> str:
    """A parameter's value as the TOML text of a ``--set`` override: a grid value's own text,
    an int as digits, a float with every digit (the run trains with the value Optuna was told)."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    return repr(float(value))


def grid_size(axes) -> int:
    """The number of combinations of the grid axes' values (1 without any)."""
    return math.prod(len(a.values) for a in axes if a.values)


def make_sampler(search: str, axes, seed: int) -> optuna.samplers.BaseSampler:
    """The sampler of ``search`` (:data:`SEARCHES`), seeded with ``seed``.

    Raises:
        ValueError: an unknown search, or ``grid`` over an axis that is a range (the caller checks first).
    """
    if search == "tpe":
        return optuna.samplers.TPESampler(seed=seed)
    if search == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if search == "grid":
        if any(not a.values for a in axes):
            raise ValueError("a grid search takes grid axes only")
        return optuna.samplers.GridSampler({a.key: list(a.values) for a in axes}, seed=seed)
    raise ValueError(f"unknown search {search!r}")


def make_pruner(prune: str, eval_steps: int, max_steps: int) -> optuna.pruners.BasePruner:
    """The pruner of ``prune`` (:data:`PRUNERS`) over optimizer steps: the first rung at the first
    evaluation (``eval_steps``), the resource at most ``max_steps``.

    Raises:
        ValueError: an unknown pruner.
    """
    first = max(1, int(eval_steps))
    if prune == "asha":
        return optuna.pruners.SuccessiveHalvingPruner(min_resource=first, reduction_factor=REDUCTION_FACTOR)
    if prune == "hyperband":
        return optuna.pruners.HyperbandPruner(min_resource=first, max_resource=max(first, int(max_steps)),
                                              reduction_factor=REDUCTION_FACTOR)
    if prune == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=MEDIAN_STARTUP_TRIALS, n_warmup_steps=0)
    if prune == "none":
        return optuna.pruners.NopPruner()
    raise ValueError(f"unknown pruner {prune!r}")


def storage_url(db_file: str | Path) -> str:
    """The RDB storage URL of an SQLite file (an absolute path: ``sqlite:////abs/path.db``)."""
    return f"sqlite:///{Path(db_file).resolve()}"


def create(record: dict, axes) -> optuna.Study:
    """Create the study of a new sweep record (``sweep_id``, ``storage``, ``search``, ``seed``,
    ``prune``, ``eval_steps``, ``max_steps``, ``direction``) over its ``axes``.

    Raises:
        optuna.exceptions.DuplicatedStudyError: a study of that name exists in the file.
    """
    return optuna.create_study(storage=storage_url(record["storage"]), study_name=record["sweep_id"],
                               direction=record["direction"], sampler=_sampler_of(record, axes),
                               pruner=_pruner_of(record))


def _sampler_of(record: dict, axes, trials_so_far: int = 0) -> optuna.samplers.BaseSampler:
    # A restarted controller seeds its sampler past the trials already asked, so it does not
    # draw the first trials' values again (TPE's and random's draws come from their RNG).
    return make_sampler(record["search"], axes, int(record.get("seed", 0)) + trials_so_far)


def _pruner_of(record: dict) -> optuna.pruners.BasePruner:
    return make_pruner(record["prune"], int(record["eval_steps"]), int(record["max_steps"]))


def load(record: dict, axes) -> optuna.Study:
    """The study of a sweep record over its ``axes``, with its sampler and pruner made again (:func:`create`).

    Raises:
        KeyError: no study of that name in the file (``optuna.load_study``'s error).
    """
    url = storage_url(record["storage"])
    asked = len(optuna.load_study(study_name=record["sweep_id"], storage=url).trials)
    return optuna.load_study(study_name=record["sweep_id"], storage=url, sampler=_sampler_of(record, axes, asked),
                             pruner=_pruner_of(record))


def importances(study: optuna.Study) -> dict[str, float]:
    """Each parameter's share of the objective's variation over the complete trials
    (``optuna.importance.get_param_importances``, its default evaluator: PED-ANOVA,
    Watanabe et al. 2023); {} while fewer than two trials are complete or the values do not vary.
    """
    complete = [t for t in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))]
    if len(complete) < 2:
        return {}
    try:
        return {k: float(v) for k, v in optuna.importance.get_param_importances(study).items()}
    except (RuntimeError, ValueError, ZeroDivisionError):
        return {}
