"""Shared fixtures: the test data generated from Python's own text, a trained tiny run, a folder of runs in every
status and a working directory with projects (helpers: tests/support/)."""

from __future__ import annotations

import os
from pathlib import Path

import psutil
import pytest
from support.cli import DATA, lmtui, only_run, prose_bert_project
from support.runs import NOW, PROJECT_TOML, dead_pid, write_run

if int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1")) > 1:
    # Each worker's training processes take one core's share instead of every core: on the
    # 2-core CI machine two workers with two OpenMP threads each oversubscribe and crawl.
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    os.environ.setdefault("RAYON_NUM_THREADS", "1")


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The test data generated from Python's own text (tests/support/textdata.py)."""
    return DATA


@pytest.fixture(scope="session")
def trained_run(tmp_path_factory, data_dir) -> Path:
    """A finished `lmtui run` of the prose BERT project (tests/support/textdata.py) (tiny model): its run directory."""
    folder = tmp_path_factory.mktemp("trained")
    project = prose_bert_project(folder)
    proc = lmtui("run", str(project), cwd=folder)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return only_run(folder / "runs")


@pytest.fixture
def runs_root(tmp_path) -> Path:
    """A folder with a corpus file and five runs: running, finished, failed, stopped, crashed."""
    root = tmp_path / "runs"
    root.mkdir()
    (root / "corpus.txt").write_text("the quick brown fox\njumps over the lazy dog\n" * 50)
    me = psutil.Process(os.getpid())
    write_run(root, "demo-20270115-070000", status="finished", start=NOW - 7200)
    write_run(root, "demo-20270115-071500", status="failed", steps=40, start=NOW - 6300,
              error="RuntimeError: CUDA out of memory")
    write_run(root, "wiki-20270115-073000", project="wiki", status="stopped", steps=120, start=NOW - 5400,
              corpus=str(root / "gone.txt"))
    pid, started = dead_pid()
    write_run(root, "wiki-20270115-074500", project="wiki", status="running", steps=90, start=NOW - 4500,
              pid=pid, pid_start_time=started)
    write_run(root, "demo-20270115-075900", status="running", steps=150, max_steps=400, start=NOW - 310,
              pid=os.getpid(), pid_start_time=me.create_time(), step_seconds=2.0, loss0=8.5)
    return root


@pytest.fixture
def project_dir(tmp_path) -> Path:
    """A working directory with ./projects holding a valid and an invalid project."""
    work = tmp_path / "work"
    (work / "projects").mkdir(parents=True)
    (work / "data").mkdir()
    (work / "data" / "train.txt").write_text("a line of text\n" * 200)
    (work / "projects" / "good.toml").write_text(PROJECT_TOML.format(
        name="good", out="../runs", corpus="../data/train.txt", max_steps=300))
    (work / "projects" / "broken.toml").write_text(PROJECT_TOML.format(
        name="broken", out="../runs", corpus="../data/missing.txt", max_steps=300))
    return work


def pytest_collection_modifyitems(config, items):
    """Tests that share the trained run go to one xdist worker (`--dist loadgroup`), so it trains once."""
    for item in items:
        if "trained_run" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.xdist_group("trained_run"))
