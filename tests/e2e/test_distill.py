"""Distillation as a run: `lmtui run` on a project with [distill], the finished tiny BERT run as the teacher.

The CI test distils it into a DistilBERT student (BERT -> DistilBERT weight mapping) for a few
steps and checks the logged loss components, the saved student in `pipeline("fill-mask")` and a
bad teacher's exit 2. The long ones: resume after a kill gives the uninterrupted loss sequence,
and two gloo processes distil like one.
"""

from __future__ import annotations

import json
import os
import signal

import pytest
from support.cli import events, lmtui, only_run, wait_for
from support.projects import write_project

pytestmark = [pytest.mark.slow]

STEPS = 12


def distill_project(folder, teacher, *, name="student", steps=STEPS, distill=None, hardware=None):
    """A DistilBERT student of ``teacher`` on a slice of the docstring prose (dropout off, so runs compare exactly)."""
    folder.mkdir(parents=True, exist_ok=True)
    return write_project(folder, name, {"tokenizer": None, "corpus.max_documents": 400},
                         model={"architecture": "distilbert", "size": None,
                                "config_overrides": {"dropout": 0.0, "attention_dropout": 0.0}},
                         training={"batch_size": 16, "micro_batch_size": 8, "max_steps": steps, "learning_rate": 1e-3,
                                   "warmup_steps": 2, "logging_steps": 1, "eval_steps": 6, "save_steps": 4,
                                   "max_eval_samples": 32},
                         distill={"teacher": str(teacher), **(distill or {})},
                         hardware={"device": "cpu", **(hardware or {})})


def losses(run) -> dict[int, dict]:
    return {e["step"]: e for e in events(run, "train")}  # later entries (after a resume) win


@pytest.fixture(scope="module")
def distilled(trained_run, tmp_path_factory):
    folder = tmp_path_factory.mktemp("distill")
    project = distill_project(folder, trained_run / "model")
    proc = lmtui("run", str(project), cwd=folder)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return only_run(folder / "runs")


def test_a_distillation_run_logs_the_loss_components(distilled):
    train = losses(distilled)
    assert sorted(train) == list(range(1, STEPS + 1))
    for e in train.values():
        assert e["loss"] == pytest.approx(5 * e["loss_ce"] + 2 * e["loss_mlm"] + e["loss_cos"], rel=1e-3)
        assert min(e["loss_ce"], e["loss_mlm"], e["loss_cos"]) >= 0
    assert events(distilled, "tokenizer")[0]["kind"] == "pretrained"  # the teacher's
    evals = events(distilled, "eval")  # the student's own held-out MLM loss
    assert [e["step"] for e in evals] == [0, 6, 12] and evals[-1]["loss"] < evals[0]["loss"]


def test_the_student_is_a_distilbert_that_fill_mask_loads(distilled, trained_run):
    from transformers import pipeline

    model = distilled / "model"
    config = json.loads((model / "config.json").read_text())
    assert config["architectures"] == ["DistilBertForMaskedLM"] and config["n_layers"] == 1
    teacher = json.loads((trained_run / "model" / "config.json").read_text())
    assert config["dim"] == teacher["hidden_size"] and config["vocab_size"] == teacher["vocab_size"]
    fill = pipeline("fill-mask", model=str(model), device="cpu")
    out = fill(f"the {fill.tokenizer.mask_token} of the city")
    assert len(out) == 5 and all("token_str" in r for r in out)


def test_a_teacher_that_does_not_exist_exits_2_before_anything_runs(tmp_path):
    project = distill_project(tmp_path, tmp_path / "no-such-teacher")
    proc = lmtui("run", str(project), cwd=tmp_path)
    assert proc.returncode == 2
    assert "[distill.teacher]" in proc.stderr and "does not exist" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "runs").exists()


@pytest.mark.long
def test_distillation_killed_mid_way_resumes_with_the_same_losses(distilled, trained_run, tmp_path):
    project = distill_project(tmp_path, trained_run / "model")
    assert lmtui("run", str(project), "--detach", cwd=tmp_path).returncode == 0
    run = only_run(tmp_path / "runs")
    wait_for(lambda: (run / "checkpoints" / "step-4" / "trainer_state.json").is_file(), what="a checkpoint",
             poll=0.05)
    os.killpg(json.loads((run / "run.json").read_text())["pid"], signal.SIGKILL)
    proc = lmtui("run", str(project), cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    starts = events(run, "train_start")
    assert len(starts) == 2 and 4 <= starts[-1]["start_step"] < STEPS
    resumed, straight = losses(run), losses(distilled)
    for step in range(starts[-1]["start_step"] + 1, STEPS + 1):
        for name in ("loss", "loss_ce", "loss_mlm", "loss_cos"):
            assert resumed[step][name] == pytest.approx(straight[step][name], rel=1e-4), (step, name)


@pytest.mark.long
def test_two_gloo_processes_distil_like_one(distilled, trained_run, tmp_path):
    project = distill_project(tmp_path, trained_run / "model", hardware={"num_processes": 2})
    proc = lmtui("run", str(project), cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    run = only_run(tmp_path / "runs")
    start = events(run, "train_start")[0]
    assert start["num_processes"] == 2 and start["backend"] == "gloo"
    two, one = losses(run), losses(distilled)
    assert sorted(two) == sorted(one)
    for step in one:
        for name in ("loss", "loss_ce", "loss_mlm", "loss_cos"):
            assert two[step][name] == pytest.approx(one[step][name], rel=2e-3), (step, name)
