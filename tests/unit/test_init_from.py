"""`[model] init_from`: what it resolves to, and the checks of the project against the loaded model."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
from support.runs import NOW, write_run

from lmtui.errors import ProjectError
from lmtui.project.load import load_project
from lmtui.runs.launcher import frozen_project_text
from lmtui.train.init_from import check_against_model, resolve_init_from


def save_model(folder: Path, model_type: str = "bert", positions: int = 64) -> Path:
    """A model folder as save_pretrained leaves it (config.json and tokenizer.json; no weights needed here)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text(json.dumps({"model_type": model_type, "num_hidden_layers": 2,
                                                    "hidden_size": 64, "max_position_embeddings": positions}))
    (folder / "tokenizer.json").write_text("{}")
    return folder


@pytest.fixture
def work(tmp_path, monkeypatch) -> Path:
    """A working directory: a corpus, ./runs with two finished and one failed run of project demo."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "corpus.txt").write_text("a line of text\n" * 20)
    runs = tmp_path / "runs"
    for run_id, status, start in (("demo-20270115-070000", "finished", NOW - 7200),
                                  ("demo-20270115-071500", "finished", NOW - 6300),
                                  ("demo-20270115-073000", "failed", NOW - 5400)):
        run = write_run(runs, run_id, status=status, start=start)
        if status == "finished":
            save_model(run.model_dir)
    return tmp_path


def project(folder: Path, init_from: str, model: str = "", tokenizer: str = "", seq: int = 64, check: bool = True):
    path = folder / "continued.toml"
    path.write_text(textwrap.dedent(f"""
        [project]
        name = "continued"

        [corpus]
        train_files = ["corpus.txt"]

        [tokenizer]
        {tokenizer}

        [model]
        init_from = "{init_from}"
        {model}

        [training]
        max_seq_length = {seq}
        batch_size = 16
        micro_batch_size = 16
        max_steps = 10
    """).lstrip())
    loaded = load_project(path, check=check)
    if check:  # the check layer's init_from check (lmtui.checks runs it after the file's rules)
        check_against_model(loaded, path.read_text())
    return loaded


def folder_of(work: Path, init_from: str) -> Path:
    return resolve_init_from(project(work, init_from, check=False)).folder


def test_a_project_name_is_its_latest_finished_run(work):
    assert folder_of(work, "demo") == work / "runs" / "demo-20270115-071500" / "model"
    source = resolve_init_from(project(work, "demo", check=False))
    assert "latest finished run of project demo" in source.origin


def test_a_run_id_a_prefix_and_a_run_directory_are_its_model(work):
    model = work / "runs" / "demo-20270115-070000" / "model"
    assert folder_of(work, "demo-20270115-070000") == model
    assert folder_of(work, "demo-20270115-07000") == model
    assert folder_of(work, "runs/demo-20270115-070000") == model
    assert folder_of(work, str(model)) == model


def test_a_run_without_a_final_model_is_a_clear_error(work):
    with pytest.raises(ProjectError) as exc:
        project(work, "demo-20270115-073000")
    err = exc.value
    assert err.key == "model.init_from" and err.line == 11 and err.file.endswith("continued.toml")
    assert "has no final model" in err.message and "failed" in err.message


def test_an_ambiguous_prefix_names_the_candidates(work):
    with pytest.raises(ProjectError) as exc:
        project(work, "demo-2027")
    assert exc.value.key == "model.init_from" and "ambiguous" in exc.value.message


def test_a_hub_id_is_read_from_the_local_cache(work, tmp_path, monkeypatch):
    from huggingface_hub import constants

    cache = tmp_path / "hf-cache"
    repo = cache / "models--org--tiny-bert"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text("a" * 40)
    snapshot = save_model(repo / "snapshots" / ("a" * 40))
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(cache))
    assert folder_of(work, "org/tiny-bert") == snapshot
    with pytest.raises(ProjectError) as exc:
        project(work, "org/not-cached")
    err = exc.value
    assert err.key == "model.init_from" and err.line == 11
    assert "local Hugging Face cache" in err.message and "hf download org/not-cached" in err.hint


def test_max_seq_length_beyond_the_models_positions_is_refused(work):
    with pytest.raises(ProjectError) as exc:
        project(work, "demo", seq=128)
    err = exc.value
    assert err.key == "training.max_seq_length" and err.line == 15
    assert "64 positions" in err.message and "max_seq_length <= 64" in err.hint
    project(work, "demo", seq=64)


def test_roberta_keeps_two_positions_back(work):
    save_model(work / "roberta", model_type="roberta", positions=66)
    project(work, "roberta", seq=64)
    with pytest.raises(ProjectError) as exc:
        project(work, "roberta", seq=66)
    assert "64 positions" in exc.value.message


@pytest.mark.parametrize("model, tokenizer, key", [
    ('size = "base"', "", "model.size"),
    ("config_overrides = { hidden_size = 256 }", "", "model.config_overrides"),
    ('architecture = "roberta"', "", "model.architecture"),
    ("", "vocab_size = 8000", "tokenizer.vocab_size"),
    ("", 'kind = "wordpiece"', "tokenizer.kind"),
])
def test_keys_the_loaded_model_overrides_are_refused(work, model, tokenizer, key):
    with pytest.raises(ProjectError) as exc:
        project(work, "demo", model=model, tokenizer=tokenizer)
    err = exc.value
    assert err.key == key and err.line
    assert "init_from" in err.message and "remove" in err.hint


def test_the_models_own_architecture_and_a_tokenizer_path_are_allowed(work):
    save_model(work / "other-tokenizer")
    loaded = project(work, "demo", model='architecture = "bert"', tokenizer='path = "other-tokenizer"')
    assert loaded.model.architecture == "bert"


def test_the_frozen_project_holds_the_resolved_model_folder(work):
    text = frozen_project_text(project(work, "demo"))
    model = work / "runs" / "demo-20270115-071500" / "model"
    assert f'init_from = "{model}"' in text


def test_one_resolver_serves_init_from_the_teacher_and_eval_model(work):
    """`lmtui eval --model`, `[model] init_from` and `[distill] teacher` name models the same way."""
    from lmtui.runs.modelref import resolve_model

    model = work / "runs" / "demo-20270115-070000" / "model"
    assert resolve_model("demo-20270115-070000", base=work, search_dirs=[work / "runs"], name="--model").folder == model
    assert resolve_model("demo", base=work, search_dirs=[work / "runs"], name="--model").folder == \
        folder_of(work, "demo")
    with pytest.raises(ProjectError) as exc:
        resolve_model("./nowhere", base=work, search_dirs=[work / "runs"], name="--model")
    assert exc.value.message.startswith("--model './nowhere' does not exist") and exc.value.key is None
