"""The tokenizer stage in process: the reached vocabulary size is reported, and a tokenizer folder
holding a model is copied into the run without the model's weights (issue 15)."""

from __future__ import annotations

import json
import shutil

from support.cli import write_project

from lmtui.project.load import load_project
from lmtui.runs.rundir import RunDir
from lmtui.stages import run_tokenizer

LINES = "the cat sat on the mat\na dog ran in the park\nbirds sing in the morning\n" * 20


def _project(tmp_path, tokenizer: str):
    (tmp_path / "corpus.txt").write_text(LINES)
    return load_project(write_project(tmp_path, "tok", f"""
        [project]
        name = "tok"
        output_dir = "runs"

        [corpus]
        train_files = ["corpus.txt"]

        [tokenizer]
        {tokenizer}

        [model]
        architecture = "bert"
        size = "tiny"
    """))


def _run(tmp_path) -> RunDir:
    run = RunDir(tmp_path / "runs" / "tok-20270101-000000")
    run.path.mkdir(parents=True)
    return run


def _events(run: RunDir, type_: str) -> list[dict]:
    return [e for e in map(json.loads, run.events_file.read_text().splitlines()) if e["type"] == type_]


def test_a_vocabulary_smaller_than_asked_is_a_warning_with_the_reached_size(tmp_path, capsys):
    run = _run(tmp_path)
    run_tokenizer(run, _project(tmp_path, 'kind = "wordpiece"\nvocab_size = 10000000'))
    [tok] = _events(run, "tokenizer")
    [warning] = [e for e in _events(run, "log") if e["level"] == "warning"]
    assert warning["message"] == (f"warning: [tokenizer] vocab_size is 10,000,000 but the corpus gave "
                                  f"{tok['vocab_size']:,} pieces (lower vocab_size or min_frequency, or give more text)")
    assert warning["message"] in capsys.readouterr().out


def test_a_tokenizer_folder_with_model_weights_is_copied_without_them(tmp_path):
    first = _run(tmp_path)
    run_tokenizer(first, _project(tmp_path, 'kind = "wordpiece"\nvocab_size = 200'))
    model = tmp_path / "model"
    shutil.copytree(first.tokenizer_dir, model)
    (model / "model.safetensors").write_bytes(b"\0" * 4096)
    (model / "checkpoint-5").mkdir()
    (model / "checkpoint-5" / "optimizer.pt").write_bytes(b"\0" * 4096)
    (tmp_path / "runs" / "other").mkdir()
    second = RunDir(tmp_path / "runs" / "other")
    run_tokenizer(second, _project(tmp_path, f'path = "{model}"'))
    copied = sorted(p.name for p in second.tokenizer_dir.iterdir())
    assert copied == sorted(p.name for p in first.tokenizer_dir.iterdir())
    assert not [e for e in _events(second, "log") if e["level"] == "warning"]
