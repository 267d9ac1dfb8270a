"""Bad projects refused before anything runs: the cases in tests/data/bad_sections/, the [hub]
settings `lmtui push` reads, the device check and the one launch path of the CLI and the TUI.

Each case file is a project whose ``{data}`` stands for the shared data folder, with header
comments: ``# expect: TEXT`` (a fragment of the message, repeatable) and ``# line: TEXT`` (the
error names the line of the file that starts with TEXT).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from support.cli import DATA
from support.projects import line_of_key, write_project

from lmtui.errors import ProjectError
from lmtui.project.load import load_project
from lmtui.runs.rundir import RunDir

CASES = sorted((Path(__file__).resolve().parents[1] / "data" / "bad_sections").glob("*.toml"))
HUB_CASES = [c for c in CASES if c.stem.startswith(("hub_", "task_"))]


def _case(case: Path, folder: Path) -> tuple[Path, list[str], int]:
    """The case written to ``folder`` (data folder filled in), its expected fragments and line."""
    text = case.read_text().replace("{data}", str(DATA))
    path = folder / case.name
    path.write_text(text)
    header = [line for line in text.splitlines() if line.startswith("# ")]
    expected = [line.removeprefix("# expect: ") for line in header if line.startswith("# expect: ")]
    start = next(line.removeprefix("# line: ") for line in header if line.startswith("# line: "))
    line = next(n for n, body in enumerate(text.splitlines(), 1) if body.startswith(start))
    return path, expected, line


def _assert_message(err: ProjectError, path: Path, expected: list[str], line: int) -> None:
    message = err.format()
    assert message.startswith(f"{path}:{line}: "), message
    for fragment in expected:
        assert fragment in message, (fragment, message)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.stem)
def test_bad_project_case_names_file_key_and_line(case, tmp_path):
    path, expected, line = _case(case, tmp_path)
    with pytest.raises(ProjectError) as err:
        load_project(path, check=False)
    _assert_message(err.value, path, expected, line)


def _run_of(source: Path, folder: Path) -> RunDir:
    """A run directory made from ``source`` (its frozen copy is valid; the source is read as it is now)."""
    run = RunDir(folder / "bad-run")
    run.path.mkdir()
    run.project_file.write_text('[project]\nname = "bad"\n\n[hub]\nrepo_id = "alice/frozen"\n')
    run.update_state(run_id=run.run_id, project_name="bad", project_path=str(source), status="finished")
    return run


@pytest.mark.parametrize("case", HUB_CASES, ids=lambda c: c.stem)
def test_push_settings_are_validated_like_the_project(case, tmp_path):
    from lmtui.hub.push import run_settings

    path, expected, line = _case(case, tmp_path)
    with pytest.raises(ProjectError) as err:
        run_settings(_run_of(path, tmp_path))
    _assert_message(err.value, path, expected, line)


def test_push_settings_of_a_frozen_project_are_validated(tmp_path):
    from lmtui.hub.push import run_settings

    run = _run_of(tmp_path / "gone.toml", tmp_path)
    run.project_file.write_text('[project]\nname = "bad"\n\n[hub]\nprivate = "false"\n')
    with pytest.raises(ProjectError) as err:
        run_settings(run)
    assert err.value.format().startswith(f"{run.project_file}:5: [hub.private] expected true or false")


def test_push_settings_come_from_the_source_then_the_frozen_copy(tmp_path):
    from lmtui.hub.push import project_name, run_settings

    source = write_project(tmp_path, "src", base={}, hub={"repo_id": "alice/now", "include_checkpoints": True})
    run = _run_of(source, tmp_path)
    settings = run_settings(run)
    assert (settings.repo_id, settings.include_checkpoints) == ("alice/now", True)
    write_project(tmp_path, "src", base={})
    assert run_settings(run).repo_id == "alice/frozen"
    run.run_json.write_text(json.dumps({"run_id": run.run_id}))
    assert project_name(run) == "bad"


# The good project of these checks (support.projects.BASE, its runs in "out", no validation files).
GOOD = {"project.name": "good", "project.output_dir": "out", "corpus.validation_files": None}


def good(folder: Path, name: str, changes: dict | None = None, **sections) -> Path:
    """``folder/NAME.toml``: :data:`GOOD` with ``changes`` (dotted keys) and ``sections``."""
    return write_project(folder, name, {**GOOD, **(changes or {})}, **sections)


def _cuda() -> bool:
    import torch

    return torch.cuda.is_available()


@pytest.mark.parametrize("deep", [True, False])
def test_cuda_device_without_cuda_fails_lmtui_check(tmp_path, capsys, deep):
    if _cuda():
        pytest.skip("this machine has a CUDA device")
    from lmtui.cli import main

    path = good(tmp_path, "gpu", hardware={"device": "cuda"})
    assert main(["check", str(path)] + ([] if deep else ["--no-deep"])) == 2
    err = capsys.readouterr().err
    line = line_of_key(path.read_text(), "device")
    assert err.startswith(f"error: {path}:{line}: [hardware.device] hardware.device is \"cuda\" but torch sees no "
                          "CUDA device"), err
    assert 'set device = "auto"' in err


def test_auto_device_passes_lmtui_check(tmp_path, capsys):
    from lmtui.cli import main

    path = good(tmp_path, "auto", hardware={"device": "auto"})
    assert main(["check", "--no-deep", str(path)]) == 0
    assert capsys.readouterr().out == f"{path}: ok\n"


@pytest.fixture
def started(monkeypatch):
    """The run directories whose driver `launcher.launch` started (no process is spawned)."""
    from lmtui.runs import launcher

    runs = []
    monkeypatch.setattr(launcher, "start_driver", lambda run: runs.append(run) or 12345)
    return runs


@pytest.mark.parametrize("changes, overrides, expected", [
    ({"model.config_overrides": {"hiden_dropout_prob": 0.0}}, [],
     "[model.config_overrides.hiden_dropout_prob] RobertaConfig has no field 'hiden_dropout_prob'"),
    ({}, ["model.config_overrides.hiden_dropout_prob=0.0"],
     "RobertaConfig has no field 'hiden_dropout_prob', from --set model.config_overrides.hiden_dropout_prob=0.0"),
    ({}, ["training.batch_size=abc"],
     "[training.batch_size] expected an integer, got a string ('abc'), from --set training.batch_size=abc"),
    ({}, ["training.batch_size=40"], "batch_size 40 is not divisible by micro_batch_size 16 x 1 process(es), "
                                     "from --set training.batch_size=40"),
    ({"hardware.device": "cuda"}, [], "[hardware.device] hardware.device is \"cuda\""),
], ids=["config_override_in_file", "config_override_by_set", "set_wrong_type", "set_inconsistent", "cuda"])
def test_launch_refuses_a_bad_project_before_writing_a_run(tmp_path, started, changes, overrides, expected):
    from lmtui.runs import launcher

    if "cuda" in expected and _cuda():
        pytest.skip("this machine has a CUDA device")
    path = good(tmp_path, "good", changes)
    with pytest.raises(ProjectError) as err:
        launcher.launch(str(path), overrides=overrides)
    assert expected in err.value.format(), err.value.format()
    if overrides:
        assert err.value.line is None and err.value.format().startswith(f"{path}: ")
    assert not (tmp_path / "out").exists() and started == []


def test_launch_starts_the_run_and_returns_the_hub_warning(tmp_path, started, monkeypatch):
    import huggingface_hub

    from lmtui.runs import launcher

    monkeypatch.setattr(huggingface_hub, "get_token", lambda: None)
    path = good(tmp_path, "good", hub={"push_at_end": True})
    launched = launcher.launch(str(path), overrides=["training.max_steps=3"])
    assert started == [launched.run] and not launched.resumed and launched.offset == 0
    assert "push_at_end is set but no Hugging Face token" in launched.warning
    assert load_project(launched.run.project_file).training.max_steps == 3


def test_check_without_deep_still_samples_the_corpus(tmp_path, capsys):
    """`lmtui check --no-deep` skips only the model config: a corpus of blank lines still fails."""
    from lmtui.cli import main

    blank = tmp_path / "blank.txt"
    blank.write_text("\n\n   \n" * 20)
    path = good(tmp_path, "blank", {"corpus.train_files": [str(blank)]})
    assert main(["check", "--no-deep", str(path)]) == 2
    err = capsys.readouterr().err
    assert f"[corpus.train_files] corpus file '{blank}' has no text" in err, err
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())
