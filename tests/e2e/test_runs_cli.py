"""`lmtui runs`, `lmtui logs RUN [--follow]`, `lmtui stop RUN [--force]`, `lmtui resume RUN`, as a user runs them."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import psutil
import pytest
from support.cli import lmtui
from support.runs import NOW, dead_pid, write_run

from lmtui.runs.rundir import RunDir


@pytest.fixture
def work(tmp_path) -> Path:
    """A working directory whose ./runs holds a finished, a failed and a crashed run."""
    runs = tmp_path / "runs"
    runs.mkdir()
    (runs / "corpus.txt").write_text("text\n" * 10)
    write_run(runs, "demo-20270115-070000", status="finished", start=NOW - 7200)
    write_run(runs, "demo-20270115-071500", status="failed", steps=40, start=NOW - 6300, error="boom")
    pid, started = dead_pid()
    write_run(runs, "wiki-20270115-074500", project="wiki", status="running", steps=90, start=NOW - 4500,
              pid=pid, pid_start_time=started, corpus=str(tmp_path / "gone.txt"))
    return tmp_path


def live_worker(run: RunDir, *, ignore_sigint: bool = False, lines: int = 0) -> subprocess.Popen:
    """A process in its own session playing the run's worker (see tests/tui/test_app.py)."""
    code = textwrap.dedent(f"""
        import signal, sys, time
        from lmtui.runs.rundir import RunDir
        run = RunDir({str(run.path)!r})
        def stop(signum, frame):
            run.update_state(status="stopped", ended=time.time(), exit_code=0)
            run.emit("end", status="stopped")
            sys.exit(0)
        signal.signal(signal.SIGINT, signal.SIG_IGN if {ignore_sigint} else stop)
        run.update_state(status="running")
        print("ready", flush=True)
        with open(run.log_file, "a") as log:
            for i in range({lines}):
                log.write(f"follow line {{i}}\\n")
                log.flush()
                time.sleep(0.05)
        if {lines}:
            run.update_state(status="finished", ended=time.time(), exit_code=0)
            run.emit("end", status="finished")
            sys.exit(0)
        time.sleep(120)
    """)
    proc = subprocess.Popen([sys.executable, "-c", code], start_new_session=True, stdout=subprocess.PIPE)
    run.update_state(pid=proc.pid, pid_start_time=psutil.Process(proc.pid).create_time())
    assert proc.stdout.readline().strip() == b"ready"
    return proc


def test_runs_lists_every_run_with_its_status(work):
    proc = lmtui("runs", cwd=work, check=True)
    out = proc.stdout
    for run_id in ("demo-20270115-070000", "demo-20270115-071500", "wiki-20270115-074500"):
        assert run_id in out
    assert "finished" in out and "failed" in out and "crashed" in out
    assert "200/200" in out


def test_runs_json_and_status_filter(work):
    rows = json.loads(lmtui("runs", "--json", cwd=work, check=True).stdout)
    assert {r["run_id"]: r["status"] for r in rows} == {"demo-20270115-070000": "finished",
                                                         "demo-20270115-071500": "failed",
                                                         "wiki-20270115-074500": "crashed"}
    done = next(r for r in rows if r["status"] == "finished")
    assert done["step"] == 200 and done["perplexity"] > 1 and done["device"] == "cuda"
    crashed = json.loads(lmtui("runs", "--json", "--status", "crashed", cwd=work, check=True).stdout)
    assert [r["run_id"] for r in crashed] == ["wiki-20270115-074500"]


def test_runs_with_nothing_to_show(tmp_path):
    assert "no runs found" in lmtui("runs", cwd=tmp_path, check=True).stdout


def test_logs_prints_the_log_and_tail(work):
    out = lmtui("logs", "demo-20270115-070000", cwd=work, check=True).stdout
    assert out.startswith("training RobertaForMaskedLM") and out.rstrip().endswith("run finished")
    tail = lmtui("logs", "demo-20270115-07000", "-n", "2", cwd=work, check=True).stdout  # a unique prefix
    assert tail.splitlines() == ["detail line 37", "run finished"] or len(tail.splitlines()) == 2


def test_logs_follow_prints_new_lines_until_the_run_ends(work):
    run = RunDir(work / "runs" / "wiki-20270115-074500")
    worker = live_worker(run, lines=30)
    try:
        proc = lmtui("logs", run.run_id, "--follow", "--dir", str(work / "runs"), cwd=work, timeout=60)
    finally:
        worker.kill()
    assert proc.returncode == 0, proc.stderr
    assert "follow line 29" in proc.stdout
    assert "finished" in proc.stderr


def test_unknown_and_ambiguous_runs_are_clear_errors(work):
    proc = lmtui("logs", "nothing-here", cwd=work)
    assert proc.returncode == 2 and "no run 'nothing-here'" in proc.stderr and "lmtui runs" in proc.stderr
    proc = lmtui("stop", "demo-2027", cwd=work)  # a prefix of two runs ("demo" alone: its latest finished run)
    assert proc.returncode == 2 and "ambiguous" in proc.stderr


def test_stop_asks_the_run_to_checkpoint_and_exit(work):
    run = RunDir(work / "runs" / "wiki-20270115-074500")
    worker = live_worker(run)
    try:
        proc = lmtui("stop", run.run_id, "--wait", "20", cwd=work)
        assert proc.returncode == 0, proc.stderr
        assert "writes a checkpoint" in proc.stdout and "stopped" in proc.stdout
        assert worker.wait(10) == 0
    finally:
        worker.kill()
    again = lmtui("stop", run.run_id, cwd=work)
    assert again.returncode == 2 and "not running (it is stopped)" in again.stderr


def test_stop_force_kills_a_run_that_ignores_the_request(work):
    run = RunDir(work / "runs" / "wiki-20270115-074500")
    worker = live_worker(run, ignore_sigint=True)
    try:
        assert lmtui("stop", run.run_id, cwd=work).returncode == 0
        time.sleep(0.5)
        assert worker.poll() is None
        proc = lmtui("stop", run.run_id, "--force", cwd=work)
        assert proc.returncode == 0 and "killed" in proc.stdout
        assert worker.wait(10) != 0
        assert run.read_state()["status"] == "stopped"
    finally:
        worker.kill()


def test_resume_refuses_a_finished_run_and_restarts_a_crashed_one(work):
    proc = lmtui("resume", "demo-20270115-070000", cwd=work)
    assert proc.returncode == 2 and "finished" in proc.stderr
    run = RunDir(work / "runs" / "wiki-20270115-074500")
    proc = lmtui("resume", run.run_id, cwd=work)
    assert proc.returncode == 0, proc.stderr
    pid = run.read_state()["pid"]
    assert f"pid {pid}" in proc.stdout
    deadline = time.time() + 60
    while run.is_active() and time.time() < deadline:  # its corpus is gone: the worker fails fast
        time.sleep(0.2)
    assert run.status() == "failed"
    assert "gone.txt" in run.read_state()["error"]


def test_every_run_argument_takes_the_id_the_tui_shows(work):
    """The Runs table shows a run's id without its project (the project has a column): issue 23, item 3."""
    from lmtui.tui.screens.runs import compact_run_id

    run = RunDir(work / "runs" / "wiki-20270115-074500")
    shown = compact_run_id(run.run_id, "wiki")
    assert shown == "20270115-074500"
    worker = live_worker(run)
    try:
        proc = lmtui("stop", shown, "--wait", "20", cwd=work)
        assert proc.returncode == 0, proc.stderr
        assert "stopped" in proc.stdout
    finally:
        worker.kill()
    out = lmtui("logs", compact_run_id("demo-20270115-070000", "demo"), "-n", "1", cwd=work, check=True).stdout
    assert out.strip() == "run finished"
    write_run(work / "runs", "wiki-20270115-070000", project="wiki", status="finished", start=NOW - 7000)
    proc = lmtui("logs", "20270115-070000", cwd=work)  # two projects' runs started in the same second
    assert proc.returncode == 2 and "ambiguous" in proc.stderr
    assert "demo-20270115-070000" in proc.stderr and "wiki-20270115-070000" in proc.stderr
