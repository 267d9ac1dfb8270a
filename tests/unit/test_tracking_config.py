"""What lmtui hands accelerate's trackers (issue 16): the config, the per-tracker init kwargs on a
new and on a resumed run, and the evaluation results as metrics. No tracker is started here."""

from __future__ import annotations

from support.cli import prose_bert_project

from lmtui.project.load import parse_project
from lmtui.runs.rundir import RunDir
from lmtui.train import tracking


def _project(tmp_path, report_to='["tensorboard", "wandb", "mlflow"]'):
    path = prose_bert_project(tmp_path, "t", extra=f"\n[tracking]\nreport_to = {report_to}\n")
    return parse_project(path.read_text(), str(path), str(path))


def test_the_config_is_the_resolved_project_as_flat_scalars(tmp_path):
    config = tracking.flat_config(_project(tmp_path))
    assert config["training.max_steps"] == 40 and config["model.architecture"] == "bert"
    assert config["tracking.report_to"] == '["tensorboard", "wandb", "mlflow"]'
    assert config["corpus.train_files"].startswith('["/')  # absolute, as frozen
    assert all(isinstance(v, (bool, int, float, str)) for v in config.values())


def test_init_kwargs_name_the_run_and_continue_the_recorded_tracker_runs(tmp_path):
    project = _project(tmp_path)
    run = RunDir(tmp_path / "runs" / "t-20270115-070000")
    fresh = tracking.init_kwargs(project, run, None, 0)
    assert fresh["tensorboard"] == {"purge_step": 0}
    assert fresh["wandb"] == {"name": run.run_id, "id": run.run_id, "resume": "allow", "dir": str(run.path)}
    assert fresh["mlflow"] == {"run_name": run.run_id}
    resumed = tracking.init_kwargs(project, run, {"mlflow_run_id": "abc"}, 21)
    assert resumed["tensorboard"] == {"purge_step": 21}
    assert resumed["mlflow"] == {"run_name": run.run_id, "run_id": "abc"}
    assert tracking.init_kwargs(_project(tmp_path, "[]"), run, None, 0) == {}
    assert tracking.wandb_id("a/b:c") == "a-b-c"


def test_train_and_eval_events_and_results_become_stable_metric_names():
    event = {"type": "train", "step": 10, "loss": 2.5, "tokens_per_s": 1e4, "mfu": 0.3, "max_steps": 40,
             "grad_norm": True}
    assert tracking.metrics("train", event, tracking.TRAIN_FIELDS) == \
        {"train/loss": 2.5, "train/tokens_per_s": 1e4, "train/mfu": 0.3}
    entry = {"perplexity": {"loss": 5.1, "perplexity": 164.0, "accuracy": 0.21, "tokens": 18000},
             "pseudo_perplexity": {"pseudo_perplexity": 230.5, "samples": 100},
             "probes": {"top_k": 5, "items": []},
             "tasks": {"sst2": {"seeds": [42, 43], "splits": {"validation": {
                 "examples": 872, "accuracy": {"mean": 0.81, "std": 0.004, "values": [0.81, 0.806]}}}}}}
    assert tracking.result_metrics(entry) == {
        "results/perplexity/loss": 5.1, "results/perplexity/perplexity": 164.0,
        "results/perplexity/accuracy": 0.21, "results/pseudo_perplexity/pseudo_perplexity": 230.5,
        "results/sst2/validation/accuracy": 0.81}
