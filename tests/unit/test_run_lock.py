"""One driver per run directory: the run's lock (``<run>/.lock``) is held from preparing the run
until its driver runs, a queued run whose lock is held is not crashed, and run ids are claimed
atomically (issue 15, item 2)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from support.runs import PROJECT_TOML

from lmtui.errors import RunError
from lmtui.runs.rundir import RunDir


def _project(tmp_path: Path) -> Path:
    (tmp_path / "corpus.txt").write_text("the quick brown fox jumps over the lazy dog\n" * 200)
    path = tmp_path / "demo.toml"
    path.write_text(PROJECT_TOML.format(name="demo", out="runs", corpus="corpus.txt", max_steps=20))
    return path


def _queued_run(tmp_path: Path) -> RunDir:
    """A run as the launcher leaves it between preparing it and starting its driver: queued, no pid."""
    run = RunDir(tmp_path / "demo-20270115-070000")
    run.path.mkdir()
    run.project_file.write_text("this is not TOML [\n")
    run.update_state(run_id=run.run_id, project_name="demo", status="queued", stage=None, created=1.0)
    return run


def test_a_queued_run_is_crashed_only_when_its_lock_is_free(tmp_path):
    run = _queued_run(tmp_path)
    with run.lock():
        assert run.locked()
        assert run.status() == "queued" and run.is_active()
    assert not run.locked()
    assert run.status() == "crashed"


def test_a_second_launch_does_not_resume_a_run_that_is_still_queued(tmp_path, monkeypatch):
    from lmtui.runs import launcher

    path = _project(tmp_path)
    second = []

    def start_driver(run):
        """A second `lmtui run` of the project before the first one's driver has a pid."""
        assert run.read_state()["status"] == "queued" and "pid" not in run.read_state()
        with pytest.raises(RunError, match="already running") as err:
            launcher.prepare_run(launcher.load_with_overrides(str(path)))
        second.append(err.value)
        return 12345

    monkeypatch.setattr(launcher, "start_driver", start_driver)
    launched = launcher.launch(str(path))
    assert second and str(launched.run.lock_file) in second[0].message
    assert [p.name for p in (tmp_path / "runs").iterdir()] == [launched.run.run_id]


def test_resume_refuses_a_run_whose_lock_is_held(tmp_path, monkeypatch):
    from lmtui.runs import launcher

    run = _queued_run(tmp_path)
    started = []
    monkeypatch.setattr(launcher, "start_driver", lambda r: started.append(r) or 12345)
    with run.lock(), pytest.raises(RunError, match="already running"):
        launcher.resume(run)
    assert not started
    assert launcher.resume(run) == 12345 and started == [run]


def test_the_driver_leaves_a_run_whose_lock_is_held_alone(tmp_path, monkeypatch, capsys):
    from lmtui import driver

    run = _queued_run(tmp_path)
    before = run.run_json.read_bytes()
    monkeypatch.setattr(driver, "HANDOVER_SECONDS", 0.2)
    with run.lock():
        assert driver.main(str(run.path)) == 2
    assert run.run_json.read_bytes() == before
    assert not run.events_file.exists()
    err = capsys.readouterr().err
    assert f"run {run.run_id} is already running: its lock {run.lock_file} is held by pid {os.getpid()}" in err


def test_two_launches_in_the_same_second_get_two_run_directories(tmp_path, monkeypatch):
    """Another launch claims the same ``<project>-<time>`` name just before this one does."""
    from lmtui.runs import launcher

    path = _project(tmp_path)
    out = tmp_path / "runs"
    out.mkdir()
    real_mkdir = os.mkdir
    claimed = []

    def other_launch_first(target, *args, **kwargs):
        target = Path(target)
        if target.parent.resolve() == out.resolve() and not claimed:
            real_mkdir(target)
            claimed.append(target)
        return real_mkdir(target, *args, **kwargs)

    monkeypatch.setattr(os, "mkdir", other_launch_first)
    run, resumed = launcher.prepare_run(launcher.load_with_overrides(str(path)), fresh=True)
    assert not resumed and claimed
    assert run.run_id == f"{claimed[0].name}-2"
    assert run.read_state()["status"] == "queued" and not any(claimed[0].iterdir())
