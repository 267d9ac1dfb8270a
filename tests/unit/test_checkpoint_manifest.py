"""A damaged newest checkpoint does not block a run: its manifest (sizes and BLAKE2b digests)
gives it away, it is set aside with an event, and the previous intact one is loaded (issue 15,
item 1). No training: the accelerator is a stand-in that records what it loads."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lmtui.runs.rundir import RunDir


class Accelerator:
    """The two members of ``accelerate.Accelerator`` that :func:`resume` uses."""

    is_main_process = True

    def __init__(self):
        self.loaded: list[str] = []

    def load_state(self, folder: str) -> None:
        self.loaded.append(folder)


def _checkpoint(run: RunDir, step: int, *, manifest: bool = True) -> Path:
    from lmtui.train.checkpoint import STATE_FILE, TrainState, write_manifest

    folder = run.checkpoints_dir / f"step-{step}"
    (folder / "model").mkdir(parents=True)
    (folder / "model.safetensors").write_bytes(bytes(range(256)) * 8)
    (folder / "optimizer.bin").write_bytes(b"\x01" * 1000)
    (folder / "model" / "config.json").write_text('{"model_type": "bert"}')
    (folder / STATE_FILE).write_text(json.dumps(TrainState(step, step * 100, step / 10, 40).to_json()))
    if manifest:
        write_manifest(folder)
    return folder


@pytest.fixture
def run(tmp_path) -> RunDir:
    run = RunDir(tmp_path / "demo-20270115-070000")
    run.path.mkdir()
    return run


def test_the_manifest_names_a_truncated_or_altered_file(run):
    from lmtui.train.checkpoint import checkpoint_problem

    folder = _checkpoint(run, 10)
    assert checkpoint_problem(folder) is None
    manifest = json.loads((folder / "manifest.json").read_text())
    assert set(manifest["files"]) == {"model.safetensors", "optimizer.bin", "model/config.json", "trainer_state.json"}
    assert manifest["files"]["optimizer.bin"]["bytes"] == 1000
    (folder / "model" / "config.json").write_text('{"model_type": "BERT"}')
    assert checkpoint_problem(folder) == "model/config.json does not match its digest"
    with open(folder / "model.safetensors", "r+b") as fh:
        fh.truncate(100)
    assert checkpoint_problem(folder) == "model.safetensors has 100 bytes, 2048 were written"
    (folder / "optimizer.bin").unlink()
    (folder / "model.safetensors").unlink()
    assert checkpoint_problem(folder).startswith("model.safetensors is unreadable (")


def test_resume_falls_back_to_the_previous_intact_checkpoint(run, capsys):
    from lmtui.train.checkpoint import resume

    good, bad = _checkpoint(run, 10), _checkpoint(run, 20)
    with open(bad / "model.safetensors", "r+b") as fh:
        fh.truncate(1000)
    accelerator = Accelerator()
    state = resume(accelerator, run, 40)
    assert accelerator.loaded == [str(good)]
    assert (state.step, state.tokens, state.max_steps) == (10, 1000, 40)
    assert run.checkpoints() == [(10, good)]
    moved = run.checkpoints_dir / "invalid-step-20"
    assert (moved / "trainer_state.json").is_file() and not bad.exists()
    [invalid] = run.events(("checkpoint_invalid",))
    assert (invalid["step"], invalid["path"], invalid["moved_to"]) == (20, str(bad), str(moved))
    assert invalid["problem"] == "model.safetensors has 1000 bytes, 2048 were written"
    [log] = run.events(("log",))
    assert log["level"] == "warning" and str(bad) in log["message"]
    out = capsys.readouterr().out
    assert f"warning: checkpoint {bad} is damaged (model.safetensors has 1000 bytes" in out
    assert f"resumed from {good} at step 10" in out


def test_resume_starts_afresh_when_no_checkpoint_is_intact(run):
    from lmtui.train.checkpoint import resume

    bad = _checkpoint(run, 10)
    (bad / "optimizer.bin").write_bytes(b"\x02" * 1000)
    accelerator = Accelerator()
    assert resume(accelerator, run, 40).step == 0
    assert accelerator.loaded == [] and run.checkpoints() == []
    assert [e["step"] for e in run.events(("checkpoint_invalid",))] == [10]


def test_a_checkpoint_without_a_manifest_is_loaded_as_before(run):
    from lmtui.train.checkpoint import resume

    old = _checkpoint(run, 30, manifest=False)
    accelerator = Accelerator()
    assert resume(accelerator, run, 40).step == 30
    assert accelerator.loaded == [str(old)] and not run.events_file.exists()
