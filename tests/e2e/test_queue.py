"""The run queue across processes, on a fake GPU inventory (LMTUI_FAKE_GPUS) and CPU slots.

Fake drivers (a few lines around :func:`lmtui.runs.queue.wait_turn`) check assignment, waiting,
release on finish, crash and kill -9, and that no device is ever held by two runs at once; then
one real driver waits for its slot and starts by itself when the holder is killed.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from support.cli import lmtui, wait_for
from support.runs import PROJECT_TOML

from lmtui.errors import ProjectError
from lmtui.project.load import load_project
from lmtui.runs import launcher
from lmtui.runs.queue import Queue
from lmtui.runs.rundir import RunDir

FAKE_DRIVER = """
import json, os, sys, time
from lmtui.runs.queue import Need, Queue, wait_turn
from lmtui.runs.rundir import RunDir
run = RunDir(sys.argv[1]); run.path.mkdir(parents=True, exist_ok=True)
kind, count, go, end, log = sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5], sys.argv[6]
devices = wait_turn(run, Need(kind, count), poll_seconds=0.05)
def note(**kw):
    with open(log, "a") as f:
        f.write(json.dumps(dict(run=run.run_id, t=time.time(), **kw)) + "\\n")
note(event="start", devices=devices, cvd=os.environ.get("CUDA_VISIBLE_DEVICES"))
while not os.path.exists(go):  # the test says when this run ends
    time.sleep(0.05)
if end == "crash":
    note(event="end"); os._exit(3)
note(event="end"); Queue().release(run.path)
"""


@pytest.fixture
def queue_env(tmp_path, monkeypatch):
    monkeypatch.setenv("LMTUI_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("LMTUI_FAKE_GPUS", "0,1,2")
    monkeypatch.setenv("LMTUI_SLOTS", "1")
    return tmp_path


def start_fake(tmp_path: Path, name: str, kind: str, count: int, end: str = "finish") -> subprocess.Popen:
    """Start a fake driver and wait until it has its place in the queue (so the order is the start order).
    Once served, it runs until the file ``<name>.go`` exists, then ends (``finish``: releasing its
    devices; ``crash``: exiting without a word)."""
    proc = subprocess.Popen([sys.executable, "-c", FAKE_DRIVER, str(tmp_path / name), kind, str(count),
                             str(tmp_path / f"{name}.go"), end, str(tmp_path / "log.jsonl")], start_new_session=True)
    deadline = time.monotonic() + 30
    while not any(e.run_id == name for e in Queue().entries()):
        assert proc.poll() is None and time.monotonic() < deadline, f"fake driver {name} exited {proc.returncode}"
        time.sleep(0.05)
    return proc


def test_gpus_assigned_in_order_released_on_finish_crash_and_kill(queue_env):
    tmp = queue_env
    a = start_fake(tmp, "a", "gpu", 2)  # takes GPUs 0,1
    b = start_fake(tmp, "b", "gpu", 2, end="crash")  # waits for two GPUs
    c = start_fake(tmp, "c", "gpu", 1)  # one GPU is free, but c is behind b
    waiting = {e.run_id: e.waiting_for for e in Queue().entries()}
    assert waiting["b"] == "2 GPUs: GPU 0 (a), GPU 1 (a)" and waiting["c"] == "its turn, after b"
    d = start_fake(tmp, "d", "gpu", 3)  # needs every GPU: waits for c, which is killed
    (tmp / "d.go").touch()
    (tmp / "a.go").touch()
    wait_for(lambda: any(e.run_id == "c" and e.assigned for e in Queue().entries()), timeout=30, poll=0.05)
    c_entry = next(e for e in Queue().entries() if e.run_id == "c")
    (tmp / "b.go").touch()
    wait_for(lambda: b.poll() is not None, timeout=30, poll=0.05)
    killed = time.time()
    os.kill(c.pid, signal.SIGKILL)
    c.wait()
    for proc in (a, b, d):
        assert proc.wait(timeout=60) in (0, 3)
    log = [json.loads(line) for line in (tmp / "log.jsonl").read_text().splitlines()]
    starts = {e["run"]: e for e in log if e["event"] == "start"}
    ends = {e["run"]: e["t"] for e in log if e["event"] == "end"}
    ends["c"] = killed  # kill -9: its GPU is free again only after the kill
    assert starts["a"]["devices"] == [0, 1] and starts["a"]["cvd"] == "0,1"
    assert starts["d"]["devices"] == [0, 1, 2] and starts["d"]["cvd"] == "0,1,2"
    # b and c are served together once a is done (c was behind b: it did not take GPU 2 before); d last
    assert min(starts["b"]["t"], starts["c"]["t"]) >= ends["a"] and starts["d"]["t"] >= ends["c"] >= ends["b"]
    assert c_entry.assigned == [2]
    # no device is ever held by two runs at once
    for x in starts:
        for y in starts:
            shared = set(starts[x]["devices"]) & set(starts[y]["devices"])
            if x < y and shared:
                first, second = sorted((x, y), key=lambda r: starts[r]["t"])
                assert starts[second]["t"] >= ends[first], (x, y, shared)
    assert Queue().entries() == []


def test_a_real_driver_waits_for_its_slot_and_starts_when_free(queue_env):
    tmp = queue_env
    holder = start_fake(tmp, "holder", "slot", 1)
    wait_for(lambda: Queue().entries()[0].assigned == [0], timeout=30, poll=0.05)
    path = project_file(tmp, "slots = 1")
    corpus = tmp / "corpus.txt"
    project = load_project(path)
    with launcher.prepared(project) as (run, _):
        launcher.start_driver(run)
    wait_for(lambda: "waiting for 1 slot" in run.log_file.read_text(), timeout=30, poll=0.05)
    assert run.status() == "queued" and run.read_state()["waiting_for"] == "1 slot: slot 0 (holder)"
    assert [e.run_id for e in Queue().entries()] == ["holder", run.run_id]
    corpus.unlink()  # the run fails at its first stage once it starts: cheap, and its slot is released
    os.killpg(holder.pid, signal.SIGKILL)
    holder.wait()
    wait_for(lambda: run.status() == "failed", timeout=120, poll=0.05)
    assert "assigned slot 0" in run.log_file.read_text()
    assert run.read_state()["devices"] == {"kind": "slot", "ids": [0]}
    assert Queue().entries() == []


def project_file(tmp: Path, hardware: str = "") -> Path:
    corpus = tmp / "corpus.txt"
    corpus.write_text("the quick brown fox\n" * 20)
    path = tmp / "q.toml"
    path.write_text(PROJECT_TOML.format(name="q", out=tmp / "runs", corpus=corpus, max_steps=5)
                    .replace('device = "cpu"', f'device = "cpu"\n{hardware}'))
    return path


def test_a_sweep_queues_its_points_in_order_and_cancel_takes_one_out(queue_env, monkeypatch):
    from lmtui.runs import sweep

    tmp = queue_env
    monkeypatch.setenv("LMTUI_FAKE_GPUS", "")  # a CPU machine: each point takes the only slot
    holder = start_fake(tmp, "holder", "slot", 1)
    path = project_file(tmp)
    record = sweep.launch(sweep.plan(str(path), ["training.learning_rate=1e-3,2e-3"]))
    first, second = (RunDir(p["run"]) for p in record["points"])
    assert first.run_id.startswith("q-learning_rate_1e-3-") and second.run_id.startswith("q-learning_rate_2e-3-")
    frozen = load_project(second.project_file)
    assert (frozen.training.learning_rate, frozen.hardware.slots) == (2e-3, 1)
    wait_for(lambda: "queued: waiting for 1 slot" in first.log_file.read_text(), timeout=30, poll=0.05)
    wait_for(lambda: "queued: waiting for its turn" in second.log_file.read_text(), timeout=30, poll=0.05)
    assert [e.run_id for e in Queue().entries()] == ["holder", first.run_id, second.run_id]
    assert first.read_state()["waiting_for"] == "1 slot: slot 0 (holder)"
    assert second.read_state()["waiting_for"] == f"its turn, after {first.run_id}"
    listing = lmtui("queue", "--json", check=True)
    assert [(e["position"], e["run_id"], e["state"]) for e in json.loads(listing.stdout)] == [
        (1, "holder", "running"), (2, first.run_id, "waiting"), (3, second.run_id, "waiting")]
    assert lmtui("queue", "up", second.run_id, check=True).stdout.startswith(f"moved {second.run_id} up to position 2")
    assert "is running, not waiting" in lmtui("queue", "cancel", "holder").stderr
    assert lmtui("queue", "cancel", first.run_id, check=True).returncode == 0
    wait_for(lambda: first.status() == "stopped", timeout=30, poll=0.05)
    assert first.read_state()["error"] == "cancelled while queued"
    assert [e.run_id for e in Queue().entries()] == ["holder", second.run_id]
    launcher.stop(second, force=True)
    os.killpg(holder.pid, signal.SIGKILL)
    holder.wait()
    wait_for(lambda: Queue().entries() == [], timeout=30, poll=0.05)
    assert sweep.rows(record)[0]["status"] in ("stopped", "crashed")


def test_bad_requests_queue_nothing(queue_env, monkeypatch):
    tmp = queue_env
    monkeypatch.setenv("LMTUI_FAKE_GPUS", "0,1")
    for hardware, message in (("gpus = 3", "the run needs 3 GPUs but this machine has 2 (0, 1)"),
                              ('gpu_ids = "1,7"', "GPU 7 does not exist: this machine has 2 (0, 1)")):
        path = project_file(tmp, hardware)
        path.write_text(path.read_text().replace('device = "cpu"', 'device = "auto"'))
        with pytest.raises(ProjectError) as info:
            launcher.launch(str(path))
        assert info.value.message == message
    proc = lmtui("sweep", str(path), "--grid", "training.learning_rate=abc", "--grid", "model.size=tiny")
    assert proc.returncode == 2 and "value abc of --grid training.learning_rate=abc" in proc.stderr
    proc = lmtui("sweep", str(path), "--grid", "training.learning_rate=")
    assert proc.returncode == 2 and "no values" in proc.stderr
    assert not (tmp / "runs").exists() and not list((tmp / "state").glob("queue-*.json"))


@pytest.mark.long
def test_a_sweep_of_three_runs_in_one_slot_runs_them_one_after_another(queue_env, monkeypatch, data_dir):
    from support.cli import prose_bert_project

    from lmtui.runs import sweep

    tmp = queue_env
    monkeypatch.setenv("LMTUI_FAKE_GPUS", "")
    path = prose_bert_project(tmp, "wiki", max_steps=10, save_steps=10)
    path.write_text(path.read_text() + '\n[hardware]\ndevice = "cpu"\n')
    proc = lmtui("sweep", str(path), "--grid", "training.learning_rate=1e-3,2e-3,4e-3", cwd=tmp, check=True)
    sweep_id = proc.stdout.strip().splitlines()[-1].split()[1].rstrip(":")
    record = sweep.read_sweep(sweep.find_sweep(sweep_id, [tmp / "runs"]))
    runs = [RunDir(p["run"]) for p in record["points"]]
    wait_for(lambda: all(r.status() == "finished" for r in runs), timeout=1200, poll=0.05)
    spans = sorted((r.read_state()["started"], r.read_state()["ended"]) for r in runs)
    assert all(later[0] >= earlier[1] for earlier, later in zip(spans, spans[1:])), spans  # never two at once
    status = lmtui("sweep", "status", "wiki", "--json", cwd=tmp, check=True)
    rows = json.loads(status.stdout)["rows"]
    assert [r["status"] for r in rows] == ["finished"] * 3 and rows[0]["best"]
    assert rows[0]["loss"] <= rows[1]["loss"] <= rows[2]["loss"]
    table = lmtui("sweep", "status", "wiki", cwd=tmp, check=True).stdout
    assert "best" in table and "training.learning_rate" in table
