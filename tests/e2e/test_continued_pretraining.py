"""Continued pretraining as a user names the model (a run id, a project name), the checks against
the loaded model, and a project name as the RUN of `lmtui push` with several runs present."""

from __future__ import annotations

import sys
from pathlib import Path

from support.cli import DATA, events, lmtui, write_project
from support.runs import NOW, write_run

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib


def continued(folder: Path, init_from: str, *, max_steps: int = 6, max_seq_length: int = 64) -> Path:
    """A project continuing from ``init_from``: only corpus, init_from and the recipe are set."""
    return write_project(folder, "continued", f"""
        [project]
        name = "continued"

        [corpus]
        train_files = ["{DATA}/prose/crlf.txt"]

        [model]
        init_from = "{init_from}"

        [training]
        max_seq_length = {max_seq_length}
        batch_size = 16
        micro_batch_size = 16
        max_steps = {max_steps}
        eval_steps = {max_steps}
        logging_steps = 3
    """)


def new_runs(folder: Path, project: str = "continued") -> list[Path]:
    return [p for p in folder.iterdir() if (p / "run.json").is_file() and p.name.startswith(project + "-")]


def frozen_init_from(run: Path) -> str:
    return tomllib.loads((run / "project.toml").read_text())["model"]["init_from"]


def test_continue_pretraining_from_a_run_id(trained_run, tmp_path):
    work = trained_run.parent.parent  # its ./runs holds the trained run
    project = continued(tmp_path, trained_run.name)
    proc = lmtui("check", str(project), cwd=work)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"continues pretraining run {trained_run.name}: bert, 2 layers, hidden 64, 64 positions" in proc.stdout
    proc = lmtui("run", str(project), cwd=work)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    [run] = new_runs(tmp_path / "runs")
    assert frozen_init_from(run) == str((trained_run / "model").resolve())
    assert events(run, "tokenizer")[0]["kind"] == "pretrained"
    assert (run / "tokenizer" / "tokenizer.json").read_bytes() == (trained_run / "model" / "tokenizer.json").read_bytes()
    assert events(run, "eval")[0]["loss"] < events(trained_run, "eval")[0]["loss"] - 1.0  # trained weights


def test_continue_pretraining_from_a_project_name(trained_run, tmp_path):
    # a newer, failed run of the same project: the name still means the latest finished run
    write_run(tmp_path / "runs", "wikibert-20991231-000000", project="wikibert", status="failed", steps=10,
              start=NOW * 2)
    project = continued(tmp_path, "wikibert", max_steps=2)
    proc = lmtui("run", str(project), cwd=trained_run.parent.parent)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    [run] = new_runs(tmp_path / "runs")
    assert frozen_init_from(run) == str((trained_run / "model").resolve())
    assert events(run, "train_end")[-1]["status"] == "finished"


def test_max_seq_length_beyond_the_models_positions_stops_at_check(trained_run, tmp_path):
    project = continued(tmp_path, str(trained_run), max_seq_length=128)
    for command in ("check", "run"):
        proc = lmtui(command, str(project), cwd=tmp_path)
        assert proc.returncode == 2, proc.stdout + proc.stderr
        assert f"{project}:11: [training.max_seq_length] max_seq_length 128 is longer than the 64 positions" in proc.stderr
        assert "Traceback" not in proc.stderr and "RuntimeError" not in proc.stderr
    assert not (tmp_path / "runs").exists()  # nothing written


def test_a_hub_id_that_is_not_cached_is_one_clear_error(tmp_path):
    project = continued(tmp_path, "nobody/no-such-model")
    proc = lmtui("check", str(project), cwd=tmp_path,
                 env={"HF_HUB_CACHE": str(tmp_path / "hf-cache"), "HF_HUB_OFFLINE": "1"})
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert f"{project}:8: [model.init_from]" in proc.stderr and "local Hugging Face cache" in proc.stderr
    assert "hf download nobody/no-such-model" in proc.stderr and "Traceback" not in proc.stderr


def test_push_by_project_name_with_several_runs_present(trained_run, tmp_path):
    others = tmp_path / "others"
    write_run(others, "wikibert-20991231-000000", project="wikibert", status="failed", steps=10, start=NOW * 2)
    out = tmp_path / "card"
    proc = lmtui("push", "wikibert", "--dry-run", "--out", str(out), "--dir", str(trained_run.parent),
                 "--dir", str(others), cwd=tmp_path,
                 env={"HF_HUB_OFFLINE": "1", "HF_ENDPOINT": "http://127.0.0.1:9", "HF_TOKEN": ""})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"using {trained_run.name}, the latest finished run of project wikibert (2 runs)" in proc.stderr
    assert (out / "model.safetensors").read_bytes() == (trained_run / "model" / "model.safetensors").read_bytes()
