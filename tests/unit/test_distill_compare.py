"""A distillation run's student beside its teacher: results columns, retention, speed-up, card metadata."""

from __future__ import annotations

import json

from lmtui.distill.compare import retention_rows, run_retention
from lmtui.distill.teacher import teacher_hub_id
from lmtui.evaluation import results as res


def entry(loss, accuracy, sps, params):
    return {"perplexity": {"loss": loss, "perplexity": 2.718 ** loss, "accuracy": 0.4},
            "throughput": {"sequences_per_s": sps, "batch_size": 32, "seq_length": 128, "params": params},
            "tasks": {"sst2": {"metrics_order": ["accuracy"],
                               "splits": {"validation": {"examples": 872, "accuracy": {"mean": accuracy, "std": 0.01,
                                                                                       "values": [accuracy] * 3}}}}}}


def test_a_distillation_run_compares_teacher_and_student_side_by_side(tmp_path):
    res.update_entry(tmp_path, "teacher", entry(2.0, 0.80, 100.0, 10_000_000))
    res.update_entry(tmp_path, "final", entry(2.3, 0.78, 210.0, 6_000_000))
    columns = res.entries_for(tmp_path)
    assert [title for title, _ in columns] == [f"{tmp_path.name} teacher", f"{tmp_path.name} student"]
    titles, rows = res.comparison(columns)
    by_title = {t: (cells, best) for t, cells, best in rows}
    speed = next(t for t in by_title if t.startswith("inference sequences/s"))
    assert by_title[speed] == (["100.00", "210.00"], 1) and "batch 32, length 128" in speed
    assert by_title["parameters"] == (["10.0M", "6.0M"], 1)  # fewer is better
    retained = dict(run_retention(tmp_path))
    assert retained["sst2 accuracy (validation)"] == "97.5% retained"
    assert retained[speed] == "2.10x the teacher's (speed-up)"
    assert retained["parameters"] == "60.0% of the teacher's"
    assert retained["MLM loss"] == "+0.300 against the teacher's 2.000"
    assert len(res.entries_for(tmp_path, all_models=True)) == 2


def test_no_retention_without_a_teacher_entry(tmp_path):
    res.update_entry(tmp_path, "final", entry(2.3, 0.78, 210.0, 6_000_000))
    assert run_retention(tmp_path) == [] and len(res.entries_for(tmp_path)) == 1
    assert retention_rows({}, entry(2.3, 0.78, 210.0, 6_000_000)) == []


def test_the_card_names_a_hub_teacher_or_a_pushed_run_as_base_model(tmp_path):
    snapshot = tmp_path / "hub" / "models--google--bert_uncased_L-4_H-256_A-4" / "snapshots" / "abc"
    assert teacher_hub_id(snapshot) == "google/bert_uncased_L-4_H-256_A-4"
    run = tmp_path / "teacher-20270101-000000"
    (run / "model").mkdir(parents=True)
    assert teacher_hub_id(run / "model") is None
    (run / "run.json").write_text(json.dumps({"push": {"repo_id": "me/teacher"}}))
    assert teacher_hub_id(run / "model") == "me/teacher"


def test_the_model_card_of_a_distillation_names_its_teacher_and_recipe(tmp_path):
    from lmtui.hub.card import RunFacts, card_distillation, card_metadata

    distill = {"teacher": str(tmp_path / "models--org--bert-mini" / "snapshots" / "abc"), "init": "teacher_layers",
               "layers": [0, 2], "temperature": 2.0, "alpha_ce": 5.0, "alpha_mlm": 2.0, "alpha_cos": 1.0}
    facts = RunFacts(run_id="student-1", tables={"distill": distill})
    assert "base_model: org/bert-mini" in card_metadata(facts, None, "me/student", "student")
    text = "\n".join(card_distillation(facts))
    assert "Distilled from `org/bert-mini`" in text and "| alpha_ce | 5 |" in text
    assert "base_model" not in card_metadata(RunFacts(run_id="scratch"), None, "me/scratch", "scratch")
    assert card_distillation(RunFacts(run_id="scratch")) == []
