"""`find_run`: the RUN argument of every command (id, unique prefix, run directory, project name)."""

from __future__ import annotations

import pytest
from support.runs import NOW, write_run

from lmtui.errors import RunError
from lmtui.runs.rundir import RunNotFound, find_run


@pytest.fixture
def runs(tmp_path):
    """./runs with three demo runs (finished, finished later, failed latest) and one of demo2."""
    root = tmp_path / "runs"
    write_run(root, "demo-20270115-070000", status="finished", start=NOW - 7200)
    write_run(root, "demo-20270115-071500", status="finished", start=NOW - 6300)
    write_run(root, "demo-20270115-073000", status="failed", steps=40, start=NOW - 5400)
    write_run(root, "demo2-20270115-074500", project="demo2", status="finished", start=NOW - 4500)
    return root


def test_a_project_name_means_its_latest_finished_run_and_says_so(runs):
    notes = []
    run = find_run("demo", [runs], note=notes.append)
    assert run.run_id == "demo-20270115-071500"  # newest finished; the failed one is newer still
    assert len(notes) == 1
    assert notes[0].startswith("using demo-20270115-071500, the latest finished run of project demo")
    assert "run id" in notes[0]  # how to pick another


def test_the_pick_is_printed_on_stderr_by_default(runs, capsys):
    assert find_run("demo2", [runs]).run_id == "demo2-20270115-074500"
    find_run("demo", [runs])
    err = capsys.readouterr().err
    assert "using demo-20270115-071500, the latest finished run of project demo" in err


def test_the_latest_is_by_created_time_across_folders(runs, tmp_path):
    other = tmp_path / "elsewhere"
    write_run(other, "demo-20270115-080000", status="finished", start=NOW - 1000)
    assert find_run("demo", [runs, other], note=None).run_id == "demo-20270115-080000"
    assert find_run("demo", [other, runs], note=None).run_id == "demo-20270115-080000"


def test_the_only_run_of_a_project_is_taken_whatever_its_status(tmp_path):
    root = tmp_path / "runs"
    write_run(root, "wiki-20270115-070000", project="wiki", status="failed", steps=40)
    assert find_run("wiki", [root], note=None).run_id == "wiki-20270115-070000"


def test_a_project_without_a_finished_run_lists_its_runs(tmp_path):
    root = tmp_path / "runs"
    write_run(root, "wiki-20270115-070000", project="wiki", status="failed", steps=40, start=NOW - 7200)
    write_run(root, "wiki-20270115-071500", project="wiki", status="stopped", steps=40, start=NOW - 6300)
    with pytest.raises(RunError) as exc:
        find_run("wiki", [root], note=None)
    assert "no finished run" in exc.value.message
    assert "wiki-20270115-070000 (failed)" in exc.value.message and "wiki-20270115-071500 (stopped)" in exc.value.message
    assert "run id" in exc.value.hint


def test_a_prefix_of_several_runs_of_one_project_stays_ambiguous(runs):
    with pytest.raises(RunError) as exc:
        find_run("demo-2027", [runs], note=None)
    assert "ambiguous" in exc.value.message
    assert "demo-20270115-070000" in exc.value.message and "demo-20270115-073000" in exc.value.message
    assert "project name" in exc.value.hint


def test_ids_prefixes_and_paths_still_resolve(runs):
    assert find_run("demo-20270115-070000", [runs]).run_id == "demo-20270115-070000"
    assert find_run("demo-20270115-0730", [runs]).run_id == "demo-20270115-073000"
    assert find_run("demo2-", [runs]).run_id == "demo2-20270115-074500"
    assert find_run(str(runs / "demo-20270115-070000"), []).run_id == "demo-20270115-070000"
    with pytest.raises(RunNotFound) as exc:
        find_run("nothing", [runs])
    assert "no run 'nothing'" in exc.value.message


def test_the_id_without_its_project_names_the_run_and_so_does_a_prefix_of_it(runs):
    assert find_run("20270115-074500", [runs]).run_id == "demo2-20270115-074500"
    assert find_run("20270115-0715", [runs]).run_id == "demo-20270115-071500"
    with pytest.raises(RunError, match="ambiguous"):
        find_run("20270115-07", [runs])
