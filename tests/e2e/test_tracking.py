"""Experiment trackers through accelerate (issue 16): TensorBoard event files read back with
TensorBoard's own reader, MLflow's file store, resume without duplicated steps."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest
from support.cli import events, lmtui, only_run, wait_for, prose_bert_project
from support.fake_hub import fake_hub  # noqa: F401  (fixture)

from lmtui.project.load import parse_project
from lmtui.runs.rundir import RunDir
from lmtui.train import tracking


def scalars(run_dir: Path) -> dict[str, dict[int, float]]:
    """Every scalar TensorBoard shows for the run: tag -> {step: value}, read by EventAccumulator."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    [folder] = [p for p in (run_dir / "tensorboard").iterdir() if p.is_dir()]
    acc = EventAccumulator(str(folder), size_guidance={"scalars": 0})
    acc.Reload()
    out = {}
    for tag in acc.Tags()["scalars"]:
        values = acc.Scalars(tag)
        steps = [v.step for v in values]
        assert len(steps) == len(set(steps)), f"{tag}: a step logged twice: {steps}"
        out[tag] = {v.step: v.value for v in values}
    return out


def expected(run_dir: Path) -> dict[str, dict[int, float]]:
    """tag -> {step: value} from events.jsonl, the last value of each step (a resumed run retrains steps)."""
    out: dict[str, dict[int, float]] = {}
    for e in events(run_dir):
        fields = {"train": tracking.TRAIN_FIELDS, "eval": tracking.EVAL_FIELDS}.get(e["type"])
        for name, value in tracking.metrics(e["type"], e, fields or ()).items():
            out.setdefault(name, {})[e["step"]] = value
    return out


def assert_same(tensorboard: dict, jsonl: dict) -> None:
    assert set(tensorboard) == set(jsonl)
    for tag, by_step in jsonl.items():
        assert sorted(tensorboard[tag]) == sorted(by_step), tag
        for step, value in by_step.items():
            assert tensorboard[tag][step] == pytest.approx(value, rel=1e-6), (tag, step)


def test_tensorboard_holds_every_train_and_eval_metric_at_its_step(trained_run):
    board = scalars(trained_run)
    assert {"train/loss", "train/tokens_per_s", "train/learning_rate", "eval/perplexity"} <= set(board)
    assert_same(board, expected(trained_run))
    [record] = events(trained_run, "tracking")
    assert record["trackers"] == ["tensorboard"]
    assert record["tensorboard_command"] == f"tensorboard --logdir {trained_run / 'tensorboard'}"


def test_a_push_logs_the_model_card_link_to_the_runs_tensorboard(trained_run, tmp_path, fake_hub):  # noqa: F811
    import shutil

    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    run = RunDir(tmp_path / trained_run.name)
    shutil.copytree(trained_run, run.path)
    proc = lmtui("push", str(run.path), "--repo-id", "alice/wikibert", cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    [folder] = [p for p in (run.path / "tensorboard").iterdir() if p.is_dir()]
    acc = EventAccumulator(str(folder), size_guidance={"tensors": 0})
    acc.Reload()
    [text] = acc.Tensors("hub/url/text_summary")
    assert text.step == run.last_event("train")["step"]
    assert text.tensor_proto.string_val[0].decode() == f"{fake_hub.url}/alice/wikibert"
    assert scalars(run.path)["train/loss"] == scalars(trained_run)["train/loss"]


def _project(tmp_path: Path, report_to: str):
    path = prose_bert_project(tmp_path, "tracked", max_steps=10, extra=f"\n[tracking]\nreport_to = {report_to}\n")
    return parse_project(path.read_text(), str(path), str(path))


def _session(run: RunDir, project, steps, loss, purge_step):
    from accelerate import Accelerator

    accelerator = Accelerator(cpu=True, **tracking.accelerator_options(project, run))
    assert tracking.start(accelerator, run, project, purge_step=purge_step)
    for step in steps:
        event = {"step": step, "loss": loss(step), "tokens_per_s": 100.0 + step}
        run.emit("train", **event)
        tracking.log(accelerator, tracking.metrics("train", event, tracking.TRAIN_FIELDS), step)
    accelerator.end_training()


def test_a_resumed_session_continues_the_same_tracker_runs_without_duplicated_steps(tmp_path):
    pytest.importorskip("mlflow")
    project = _project(tmp_path, '["tensorboard", "mlflow"]')
    run = RunDir(tmp_path / "runs" / "tracked-1")
    run.path.mkdir(parents=True)
    os.environ.pop("MLFLOW_TRACKING_URI", None)
    try:
        _session(run, project, range(1, 9), lambda s: 10.0 - s, purge_step=0)  # "killed" after step 8
        _session(run, project, range(6, 11), lambda s: 20.0 - s, purge_step=6)  # resumed from checkpoint 5
    finally:
        os.environ.pop("MLFLOW_TRACKING_URI", None)
        os.environ.pop("MLFLOW_ALLOW_FILE_STORE", None)
    board = scalars(run.path)
    assert board["train/loss"] == {**{s: 10.0 - s for s in range(1, 6)}, **{s: 20.0 - s for s in range(6, 11)}}
    assert_same(board, expected(run.path))

    first, second = events(run.path, "tracking")
    assert first["mlflow_run_id"] == second["mlflow_run_id"]
    assert first["mlflow_tracking_uri"] == (tmp_path / "runs" / "mlruns").as_uri()
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=first["mlflow_tracking_uri"])
    [experiment] = [e for e in client.search_experiments() if e.name == "tracked"]
    [mlrun] = client.search_runs([experiment.experiment_id])
    assert mlrun.info.run_id == first["mlflow_run_id"] and mlrun.info.run_name == "tracked-1"
    assert mlrun.data.params["training.max_steps"] == "10"
    assert mlrun.data.params["model.architecture"] == "bert"
    history = client.get_metric_history(mlrun.info.run_id, "train/loss")
    assert {(m.step, m.value) for m in history} >= {(10, 10.0), (1, 9.0)}


def test_a_missing_tracker_package_is_a_check_error_naming_the_pip_package(tmp_path, data_dir):
    from lmtui.project.sections.tracking import installed

    missing = next(name for name in ("comet_ml", "clearml", "swanlab", "aim") if not installed(name))
    package = {"comet_ml": "comet-ml"}.get(missing, missing)
    path = prose_bert_project(tmp_path, "untracked", extra=f'\n[tracking]\nreport_to = ["{missing}"]\n')
    proc = lmtui("check", "--no-deep", str(path), cwd=tmp_path)
    assert proc.returncode == 2
    line = path.read_text().splitlines().index(f'report_to = ["{missing}"]') + 1
    assert f"untracked.toml:{line}: [tracking.report_to] tracker '{missing}' needs the {package} package" \
           in proc.stderr
    assert f"pip install {package}" in proc.stderr

    path.write_text(path.read_text().replace(f'["{missing}"]', '["tensorbord"]'))
    proc = lmtui("check", "--no-deep", str(path), cwd=tmp_path)
    assert proc.returncode == 2 and "unknown tracker 'tensorbord'" in proc.stderr
    assert "did you mean 'tensorboard'?" in proc.stderr


@pytest.mark.long
def test_tensorboard_after_a_kill_and_resume_has_each_step_once(tmp_path, data_dir):
    project = prose_bert_project(tmp_path, "killed", max_steps=60, logging_steps=2, save_steps=10)
    proc = lmtui("run", str(project), "--detach", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    run = RunDir(only_run(tmp_path / "runs"))

    def past_checkpoint():
        steps = [e["step"] for e in events(run.path, "train")] if run.events_file.exists() else []
        return run.checkpoints() and steps and steps[-1] >= run.checkpoints()[-1][0] + 4

    wait_for(past_checkpoint, 300, "training steps after a checkpoint")
    os.killpg(run.read_state()["pid"], signal.SIGKILL)
    wait_for(lambda: run.status() == "crashed", 10, "the run to read as crashed")
    proc = lmtui("run", str(project), cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    steps = [e["step"] for e in events(run.path, "train")]
    assert len(steps) > len(set(steps))  # events.jsonl has the retrained steps twice
    board = scalars(run.path)
    assert sorted(board["train/loss"]) == sorted(set(steps))
    assert_same(board, expected(run.path))
