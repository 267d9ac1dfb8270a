"""Experiment trackers through accelerate's tracker API, for the project's ``[tracking] report_to``.

accelerate does the per-tracker work (``Accelerator(log_with=..., project_config=...)``,
``init_trackers``, ``log``, ``end_training``; accelerate's docs, "Experiment trackers"); this
module chooses where each one writes and how a resumed run continues the same tracker run:

- TensorBoard writes to ``<run>/tensorboard/<project name>/``. A resumed run opens the same
  folder with ``SummaryWriter(purge_step=N + 1)``, N being the checkpoint's step: TensorBoard's
  reader then drops what the killed session logged after that checkpoint, so no step appears
  twice.
- Weights & Biases: project = the lmtui project's name, run name and id = the run id,
  ``resume="allow"`` (the same W&B run after a resume), files under ``<run>/wandb/``; offline
  when ``WANDB_MODE=offline`` (read by wandb itself).
- Trackio: project = the project's name, run name = the run id, ``resume="allow"``.
- MLflow: experiment = the project's name, run name = the run id, a local file store
  ``<output_dir>/mlruns`` unless ``MLFLOW_TRACKING_URI`` is set; a resumed run reopens the
  MLflow run whose id the ``tracking`` event recorded.

The resolved project (every key, :func:`lmtui.project.freeze.resolved_tables`) is the run's
config, flattened to ``section.key`` scalars, stored once when the tracker run is created.
Metric names are stable: ``train/<field>`` and ``eval/<field>`` of the ``train`` and ``eval``
events (docs/events.md), ``results/...`` for the evaluation results, ``hub/...`` for a push.
Only the main process logs (accelerate's ``on_main_process``).
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

from lmtui.project.freeze import resolved_tables
from lmtui.runs.rundir import RunDir

LOG_DIR = "tensorboard"
TRAIN_FIELDS = ("loss", "learning_rate", "grad_norm", "tokens_per_s", "mfu", "epoch", "tokens", "elapsed_s")
EVAL_FIELDS = ("loss", "perplexity", "accuracy")


def logging_dir(run: RunDir) -> Path:
    """The folder TensorBoard writes under: ``<run>/tensorboard``."""
    return run.path / LOG_DIR


def tensorboard_command(run: RunDir) -> str:
    """The shell command that opens the run in TensorBoard."""
    return f"tensorboard --logdir {logging_dir(run)}"


def accelerator_options(project, run: RunDir) -> dict:
    """Keyword arguments of ``Accelerator`` for the project's trackers: ``log_with`` (None without
    any) and a ``ProjectConfiguration`` rooted at the run directory."""
    from accelerate.utils import ProjectConfiguration

    names = list(project.tracking.report_to)
    return {"log_with": names or None,
            "project_config": ProjectConfiguration(project_dir=str(run.path), logging_dir=str(logging_dir(run)))}


def flat_config(project) -> dict:
    """The resolved project as ``{"section.key": value}`` with plain scalar values (what every
    tracker's config takes): lists and tables become their JSON text."""
    out = {}
    for section, table in resolved_tables(project).items():
        for name, value in table.items():
            scalar = isinstance(value, (bool, int, float, str))
            out[f"{section}.{name}"] = value if scalar else json.dumps(value, sort_keys=True)
    return out


def wandb_id(run_id: str) -> str:
    """A W&B run id for ``run_id``: W&B refuses the characters ``/\\#?%:`` in ids."""
    return re.sub(r"[/\\#?%:]", "-", run_id)


def _environment(project, run: RunDir) -> None:
    """MLflow's local file store under the output folder, unless the user chose a tracking URI."""
    if "mlflow" in project.tracking.report_to and not os.environ.get("MLFLOW_TRACKING_URI"):
        os.environ["MLFLOW_TRACKING_URI"] = (run.path.parent / "mlruns").as_uri()
        os.environ["MLFLOW_ALLOW_FILE_STORE"] = "true"  # MLflow 3 asks to opt in to the file store


def init_kwargs(project, run: RunDir, previous: dict | None, purge_step: int | None) -> dict:
    """accelerate's per-tracker ``init_kwargs`` that name the run and continue ``previous`` (the
    last ``tracking`` event, None for a new tracker run); ``purge_step``: TensorBoard drops the
    events logged at this step and later by an earlier session (None: keep all)."""
    names = project.tracking.report_to
    out: dict[str, dict] = {}
    if "tensorboard" in names:
        out["tensorboard"] = {} if purge_step is None else {"purge_step": purge_step}
    if "wandb" in names:
        out["wandb"] = {"name": run.run_id, "id": wandb_id(run.run_id), "resume": "allow", "dir": str(run.path)}
    if "trackio" in names:
        out["trackio"] = {"name": run.run_id, "resume": "allow"}
    if "mlflow" in names:
        out["mlflow"] = {"run_name": run.run_id}
        if previous and previous.get("mlflow_run_id"):
            out["mlflow"]["run_id"] = previous["mlflow_run_id"]
    return out


def start(accelerator, run: RunDir, project, *, purge_step: int | None = None) -> bool:
    """Open the project's trackers for ``run`` (a new tracker run, or the one an earlier session
    opened, recorded in the ``tracking`` event); the main process emits a ``tracking`` event.
    Returns whether any tracker is open. ``accelerator`` was made with :func:`accelerator_options`.

    Raises:
        ProjectError: a tracker whose package is missing (accelerate would skip it silently).
    """
    if not project.tracking.report_to:
        return False
    project.tracking.check(project)
    _environment(project, run)
    previous = run.last_event("tracking")
    accelerator.init_trackers(project.project.name, config=None if previous else flat_config(project),
                              init_kwargs=init_kwargs(project, run, previous, purge_step))
    if accelerator.is_main_process:
        record = {"trackers": [t.name for t in accelerator.trackers]}
        if "tensorboard" in record["trackers"]:
            record.update(tensorboard_dir=str(logging_dir(run)), tensorboard_command=tensorboard_command(run))
        if "wandb" in record["trackers"]:
            record["wandb_run_id"] = wandb_id(run.run_id)
        if "mlflow" in record["trackers"]:
            record.update(mlflow_run_id=accelerator.get_tracker("mlflow").tracker.info.run_id,
                          mlflow_tracking_uri=os.environ.get("MLFLOW_TRACKING_URI"))
        run.emit("tracking", **record)
    return True


def metrics(prefix: str, event: dict, names: tuple[str, ...]) -> dict:
    """``{prefix/name: value}`` for the numeric ``names`` of ``event`` (a ``train`` or ``eval`` event)."""
    return {f"{prefix}/{k}": event[k] for k in names
            if isinstance(event.get(k), (int, float)) and not isinstance(event.get(k), bool)}


def log(accelerator, values: dict, step: int) -> None:
    """Log ``values`` at ``step`` to every open tracker (no-op without trackers)."""
    if accelerator.trackers and values:
        accelerator.log(values, step=step)


def result_metrics(entry: dict) -> dict:
    """The numbers of one model's entry of eval/results.json (docs/evaluation.md) as
    ``results/...`` metrics: perplexity, masked accuracy, pseudo-perplexity and, per task and
    split, the mean of every metric over the seeds."""
    out = {}
    for part in ("perplexity", "pseudo_perplexity"):
        for k, v in (entry.get(part) or {}).items():
            if k in ("loss", "perplexity", "accuracy", "pseudo_perplexity") and isinstance(v, (int, float)):
                out[f"results/{part}/{k}"] = v
    for task, summary in (entry.get("tasks") or {}).items():
        for split, values in (summary.get("splits") or {}).items():
            for metric, v in values.items():
                if isinstance(v, dict) and isinstance(v.get("mean"), (int, float)):
                    out[f"results/{task}/{split}/{metric}"] = v["mean"]
    return out


def log_to_run(run: RunDir, values: dict, step: int | None = None) -> None:
    """Reopen the tracker run of a run that has trained (its ``tracking`` event) and log
    ``values`` at ``step`` (default: the step of its last ``train`` event); text values, such as
    a link, go to the trackers that keep text (TensorBoard, W&B; MLflow takes numbers only). For
    the publish stage and `lmtui push`, processes without an accelerator of their own. Does
    nothing for a run without trackers.

    Raises:
        ProjectError: a tracker package the run used is no longer installed.
    """
    if not values or not run.last_event("tracking"):
        return
    if step is None:
        step = (run.last_event("train") or {}).get("step") or 0
    from accelerate import Accelerator

    from lmtui.project.load import parse_project

    project = parse_project(run.project_file.read_text(encoding="utf-8"), str(run.project_file),
                            str(run.project_file))
    accelerator = Accelerator(cpu=True, **accelerator_options(project, run))
    if start(accelerator, run, project):
        log(accelerator, values, step)
        accelerator.end_training()


def log_from_outside(run: RunDir, values: dict, timeout: float = 300) -> int | None:
    """:func:`log_to_run` in a child process (``python -m lmtui.train.tracking RUN_DIR VALUES_JSON``,
    its output appended to train.log), so that a process without torch (the TUI pushing a model)
    stays without it. Returns the child's exit code, or None for a run without trackers (nothing
    started)."""
    import subprocess
    import sys

    if not values or not run.last_event("tracking"):
        return None
    with open(run.log_file, "ab") as log:
        return subprocess.run([sys.executable, "-m", "lmtui.train.tracking", str(run.path), json.dumps(values)],
                              stdin=subprocess.DEVNULL, stdout=log, stderr=log, timeout=timeout).returncode


if __name__ == "__main__":
    import sys

    if len(sys.argv) != 3:
        print("usage: python -m lmtui.train.tracking RUN_DIR VALUES_JSON", file=sys.stderr)
        raise SystemExit(2)
    log_to_run(RunDir(sys.argv[1]), json.loads(sys.argv[2]))
