"""Acceptance: a tiny RoBERTa from a short `lmtui run` is evaluated after pretraining (perplexity,
pseudo-perplexity, probes) and fine-tuned on subsets of SST-2 and CoNLL-2003 on the CPU; the same
seed gives the same numbers again; checkpoints, other model folders and `lmtui compare` work."""

from __future__ import annotations

import json

import pytest
from support.cli import events, lmtui
from support.projects import write_project

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("eval_pipeline")]


def eval_project(folder, data_dir):
    """The wikieval project: a tiny RoBERTa (hidden 64), 40 steps, [eval] with probes, SST-2 and CoNLL-2003."""
    return write_project(folder, "wikieval", {"tokenizer.kind": "byte_level_bpe", "tokenizer.vocab_size": 4000},
                         corpus={"train_files": [f"{data_dir}/prose/train.txt"],
                                 "validation_files": [f"{data_dir}/prose/valid.txt"]},
                         model={"config_overrides": {"hidden_size": 64, "num_attention_heads": 2,
                                                     "intermediate_size": 128}},
                         training={"max_steps": 40, "learning_rate": 2e-3, "warmup_steps": 5, "logging_steps": 10,
                                   "eval_steps": 20, "save_steps": 20, "max_eval_samples": 64},
                         eval={"probes": ["The game was released in <mask> .", "He was born in [MASK] ."],
                               "top_k": 3, "pseudo_perplexity_samples": 4, "max_sequences": 64,
                               "learning_rate": 3e-3, "max_train_examples": 300, "max_eval_examples": 200,
                               "tasks": {"sst2": {"preset": "sst2", "data_dir": f"{data_dir}/glue/SST-2", "epochs": 3},
                                         "conll": {"preset": "conll2003", "data_dir": f"{data_dir}/conll2003",
                                                   "max_train_examples": 200, "epochs": 10,
                                                   "metrics": ["f1", "precision", "recall", "accuracy"]}}})


def results(run) -> dict:
    return json.loads((run / "eval" / "results.json").read_text())


@pytest.fixture(scope="module")
def evaluated(tmp_path_factory, data_dir):
    """(project file, run directory) of a finished `lmtui run` whose evaluate stage ran."""
    folder = tmp_path_factory.mktemp("evaluated")
    project = eval_project(folder, data_dir)
    proc = lmtui("run", str(project), cwd=folder)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    runs = [p for p in (folder / "runs").iterdir() if (p / "run.json").is_file()]
    assert len(runs) == 1
    return project, runs[0]


def test_run_evaluates_after_pretraining_with_sane_metrics(evaluated):
    _, run = evaluated
    stages = [(e["stage"], e["state"]) for e in events(run, "stage")]
    assert ("evaluate", "done") in stages
    final = results(run)["models"]["final"]
    assert final["step"] == 40 and final["model"] == str(run / "model")

    ppl = final["perplexity"]
    assert ppl["sequences"] == 64 and ppl["tokens"] > 500
    assert 1 < ppl["perplexity"] < 4000 and abs(ppl["perplexity"] - 2.718281828 ** ppl["loss"]) < 0.01 * ppl["perplexity"]
    assert 0 <= ppl["accuracy"] <= 1
    assert final["pseudo_perplexity"]["samples"] == 4 and final["pseudo_perplexity"]["pseudo_perplexity"] > 1
    probes = final["probes"]["items"]
    assert [p["text"] for p in probes] == ["The game was released in <mask> .", "He was born in [MASK] ."]
    assert all(len(p["predictions"]) == 1 and len(p["predictions"][0]) == 3 for p in probes)
    scores = [x["score"] for x in probes[0]["predictions"][0]]
    assert scores == sorted(scores, reverse=True) and 0 < sum(scores) <= 1

    sst2 = final["tasks"]["sst2"]
    assert sst2["train_examples"] == 300 and sst2["seeds"] == [42]
    dev = sst2["splits"]["validation"]
    assert dev["examples"] == 200 and 0.4 <= dev["accuracy"]["mean"] <= 1.0

    conll = final["tasks"]["conll"]
    assert set(conll["splits"]) == {"validation", "test"}
    test = conll["splits"]["test"]
    assert test["examples"] == 200
    assert 0 < test["f1"]["mean"] <= 1 and 0.6 <= test["accuracy"]["mean"] <= 1
    assert set(conll["per_type"]["test"]) == {"LOC", "MISC", "ORG", "PER"}

    steps = [e for e in events(run, "finetune") if e["state"] == "step" and e["task"] == "conll"]
    assert steps[-1]["step"] == steps[-1]["max_steps"] == 70
    assert steps[-1]["loss"] < steps[0]["loss"]  # it learns
    ends = events(run, "eval_end")
    assert ends[-1]["status"] == "finished" and ends[-1]["label"] == "final"
    assert json.loads((run / "eval" / "state.json").read_text())["status"] == "finished"


def test_same_seed_gives_the_same_numbers_twice(evaluated):
    _, run = evaluated
    before = results(run)["models"]["final"]["tasks"]
    proc = lmtui("eval", str(run), "--force", "--only", "sst2", cwd=run.parent)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    after = results(run)["models"]["final"]["tasks"]
    assert after["sst2"]["per_seed"] == before["sst2"]["per_seed"]  # every metric of every split, exactly
    assert after["sst2"]["fingerprint"] == before["sst2"]["fingerprint"]
    assert after["conll"] == before["conll"]  # not asked for: kept as it was
    assert "sst2 accuracy (validation)" in proc.stdout


def test_rerunning_a_finished_project_does_not_evaluate_again(evaluated):
    project, run = evaluated
    finetunes = len(events(run, "finetune"))
    proc = lmtui("run", str(project), cwd=project.parent)  # the same project: reported finished, nothing runs
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"run {run.name} has already finished" in proc.stdout
    assert len(events(run, "finetune")) == finetunes
    # a change outside the training sections resumes the run: its evaluation is found up to date
    proc = lmtui("run", str(project), "--set", "project.description=evaluated again", cwd=project.parent)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "resuming run" in proc.stdout
    assert len(events(run, "finetune")) == finetunes
    assert any("up to date" in e.get("message", "") for e in events(run, "log"))


def test_checkpoint_evaluation_and_compare(evaluated):
    _, run = evaluated
    proc = lmtui("eval", str(run), "--checkpoint", "20", "--only", "perplexity", "--only", "probes", cwd=run.parent)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    models = results(run)["models"]
    assert models["step-20"]["step"] == 20 and models["step-20"]["model"] == str(run / "checkpoints/step-20/model")
    assert models["step-20"]["perplexity"]["perplexity"] > models["final"]["perplexity"]["perplexity"]

    proc = lmtui("compare", str(run), "--all", "--json", cwd=run.parent)
    assert proc.returncode == 0, proc.stderr
    table = json.loads(proc.stdout)
    assert table["columns"] == [f"{run.name} step-20", f"{run.name} final"]
    row = next(r for r in table["rows"] if r["metric"] == "MLM perplexity")
    assert row["best"] == 1  # lower perplexity is better: the final model
    proc = lmtui("compare", str(run), cwd=run.parent)
    assert "conll F1 PER (test)" in proc.stdout and "sst2 accuracy (validation)" in proc.stdout

    proc = lmtui("eval", str(run), "--checkpoint", "7", cwd=run.parent)
    assert proc.returncode == 2 and "no checkpoint at step 7" in proc.stderr and "available: 20, 40" in proc.stderr


def test_any_model_folder_is_evaluated_into_its_own_run_directory(evaluated):
    project, run = evaluated
    proc = lmtui("eval", str(project), "--model", str(run / "model"), "--only", "perplexity", cwd=project.parent)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    new = [p for p in run.parent.iterdir() if p.name.startswith("model-eval-")]
    assert len(new) == 1
    state = json.loads((new[0] / "run.json").read_text())
    assert state["kind"] == "eval" and state["status"] == "finished" and state["project_name"] == "wikieval@model"
    # the same model, text and mask seed: the same perplexity as the run's own evaluation
    assert results(new[0])["models"]["model"]["perplexity"] == results(run)["models"]["final"]["perplexity"]


def test_bad_conll_file_fails_with_file_and_line_before_starting(evaluated, tmp_path):
    _, run = evaluated
    bad = tmp_path / "bad.conll"
    bad.write_text("EU NNP I-NP I-ORG\nrejects VBZ O\n")
    proc = lmtui("eval", str(run), "--only", "conll", "--set", f'eval.tasks.conll.train_file="{bad}"', cwd=run.parent)
    assert proc.returncode == 2
    assert f"{bad}:2:" in proc.stderr and "expected 4 fields" in proc.stderr
