"""A run whose corpus changed after its token cache was built is not resumed silently (its
checkpoints were trained on other data): the launch is refused, as for a changed project."""

from __future__ import annotations

from pathlib import Path

import pytest
from support.runs import PROJECT_TOML

from lmtui.errors import RunError
from lmtui.project.load import load_project


def _crashed_run(tmp_path: Path):
    """A project and a run of it (prepared as `lmtui run` does) that built its token cache and wrote
    a checkpoint, then crashed."""
    from lmtui.data.token_cache import dataset_fingerprint
    from lmtui.runs import launcher

    (tmp_path / "corpus.txt").write_text("the quick brown fox jumps over the lazy dog\n" * 200)
    path = tmp_path / "demo.toml"
    path.write_text(PROJECT_TOML.format(name="demo", out="runs", corpus="corpus.txt", max_steps=20))
    run, _ = launcher.prepare_run(load_project(path))
    run.tokenizer_dir.mkdir()
    (run.tokenizer_dir / "tokenizer.json").write_text('{"version": "1.0"}')
    run.emit("dataset", cached=False, fingerprint=dataset_fingerprint(load_project(path), run.tokenizer_dir))
    (run.checkpoints_dir / "step-10").mkdir(parents=True)
    (run.checkpoints_dir / "step-10" / "trainer_state.json").write_text('{"step": 10, "tokens": 0}')
    run.update_state(status="running", pid=None)
    return path, run


def test_a_changed_corpus_refuses_the_resume(tmp_path):
    from lmtui.runs import launcher

    path, run = _crashed_run(tmp_path)
    assert launcher.prepare_run(load_project(path)) == (run, True)  # unchanged: resumed
    (tmp_path / "corpus.txt").write_text("a different corpus altogether\n" * 200)
    before = run.project_file.read_text()
    with pytest.raises(RunError) as err:
        launcher.prepare_run(load_project(path))
    message = err.value.format()
    assert f"the corpus of run {run.run_id} changed since its token cache was built" in message
    assert "--fresh" in message
    assert run.project_file.read_text() == before
    with pytest.raises(RunError, match="changed since its token cache was built"):
        launcher.resume(run)  # `lmtui resume RUN`, with the run's frozen project
    assert run.read_state()["status"] == "running"  # no driver was started
    assert launcher.prepare_run(load_project(path), fresh=True)[0] != run
