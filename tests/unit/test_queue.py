"""The run queue's rules, in process: FIFO scheduling, pinned and busy GPUs, pause and move up,
requests the machine can never serve (a fake GPU inventory through LMTUI_FAKE_GPUS)."""

from __future__ import annotations

import os

import pytest
from support.runs import PROJECT_TOML

from lmtui.errors import LmtuiError, ProjectError
from lmtui.project.load import parse_project
from lmtui.runs import inventory
from lmtui.runs.queue import Entry, Need, Pools, Queue, check_request, need_of, schedule, state_dir


def entry(name: str, kind: str = "gpu", count: int = 1, **kw) -> Entry:
    return Entry(f"/runs/{name}", name, kind, count, **kw)


def project(tmp_path, hardware: str):
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("some text\n")
    text = PROJECT_TOML.format(name="q", out=tmp_path / "runs", corpus=corpus, max_steps=10)
    text = text.replace('[hardware]\ndevice = "cpu"\n', f"[hardware]\n{hardware}\n")
    return parse_project(text, str(tmp_path / "q.toml"), str(tmp_path / "q.toml")), text


def test_first_in_first_out_per_kind():
    entries = [entry("a", count=2), entry("b", count=2), entry("c", count=1), entry("s", kind="slot")]
    schedule(entries, Pools([0, 1, 2], slots=1))
    assert entries[0].assigned == [0, 1]
    # b cannot be served (one GPU left), and c, behind it, does not jump the queue
    assert entries[1].assigned is None and entries[1].waiting_for == "2 GPUs: GPU 0 (a), GPU 1 (a)"
    assert entries[2].assigned is None and entries[2].waiting_for == "its turn, after b"
    assert entries[3].assigned == [0]  # slots are a queue of their own


def test_paused_run_is_passed_and_pinned_gpus_wait_for_those():
    entries = [entry("a", ids=[1]), entry("p", paused=True), entry("b", ids=[1]), entry("c", count=2)]
    schedule(entries, Pools([0, 1, 2]))
    assert entries[0].assigned == [1]
    assert entries[1].assigned is None and entries[1].waiting_for == "paused"
    assert entries[2].waiting_for == "GPU 1: GPU 1 (a)"
    assert entries[3].assigned is None
    gone = [entry("g", ids=[5])]  # a pinned GPU that has left the machine
    schedule(gone, Pools([0, 1]))
    assert gone[0].assigned is None and gone[0].waiting_for == "GPU 5: GPU 5 (not on this machine)"


def test_busy_gpu_is_taken_unless_the_run_allows_it():
    entries = [entry("a", count=2)]
    schedule(entries, Pools([0, 1], busy={1: "busy: pid 77"}))
    assert entries[0].assigned is None and entries[0].waiting_for == "2 GPUs: GPU 1 (busy: pid 77)"
    entries = [entry("a", count=2, use_busy=True)]
    schedule(entries, Pools([0, 1], busy={1: "busy: pid 77"}))
    assert entries[0].assigned == [0, 1]


def test_fake_inventory(monkeypatch):
    monkeypatch.setenv("LMTUI_FAKE_GPUS", "0, 1:busy,3")
    assert [(g.index, g.fake_busy) for g in inventory.gpus()] == [(0, False), (1, True), (3, False)]
    monkeypatch.setenv("LMTUI_FAKE_GPUS", "")
    assert inventory.gpus() == []
    monkeypatch.setenv("LMTUI_FAKE_GPUS", "0,gpu1")
    with pytest.raises(LmtuiError, match="'gpu1' is not N or N:busy"):
        inventory.gpus()
    monkeypatch.setenv("LMTUI_SLOTS", "0")
    with pytest.raises(LmtuiError, match="LMTUI_SLOTS"):
        inventory.slot_count()


def test_state_dir_follows_xdg(monkeypatch, tmp_path):
    monkeypatch.delenv("LMTUI_STATE_DIR", raising=False)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    assert state_dir() == tmp_path / "lmtui"
    monkeypatch.setenv("LMTUI_STATE_DIR", str(tmp_path / "mine"))
    assert state_dir() == tmp_path / "mine"


def test_need_of(monkeypatch, tmp_path):
    monkeypatch.setenv("LMTUI_FAKE_GPUS", "0,1,2,3")
    assert need_of(project(tmp_path, "num_processes = 2")[0]) == Need("gpu", 2)
    assert need_of(project(tmp_path, 'gpu_ids = "2,3"')[0]) == Need("gpu", 2, [2, 3])
    assert need_of(project(tmp_path, 'device = "cpu"\nslots = 1')[0]) == Need("slot", 1)
    assert need_of(project(tmp_path, "num_machines = 2")[0]) is None  # the cluster's scheduler places it
    monkeypatch.setenv("LMTUI_FAKE_GPUS", "")
    assert need_of(project(tmp_path, "num_processes = 2")[0]) is None  # no GPUs, no slots: not queued
    assert need_of(project(tmp_path, "slots = 1")[0]) == Need("slot", 1)


@pytest.mark.parametrize("hardware, key, message", [
    ("gpus = 4", "hardware.gpus", "the run needs 4 GPUs but this machine has 2 (0, 1)"),
    ("num_processes = 3", "hardware.num_processes", "the run needs 3 GPUs but this machine has 2"),
    ('gpu_ids = "1,5"', "hardware.gpu_ids", "GPU 5 does not exist: this machine has 2 (0, 1)"),
    ('gpu_ids = "one"', "hardware.gpu_ids", "is not a list of distinct GPU indices"),
    ('gpu_ids = "0,1"\ngpus = 1', "hardware.gpus", "gpus = 1 but gpu_ids names 2 GPUs"),
])
def test_requests_the_machine_cannot_serve(monkeypatch, tmp_path, hardware, key, message):
    monkeypatch.setenv("LMTUI_FAKE_GPUS", "0,1")
    proj, text = project(tmp_path, hardware)
    with pytest.raises(ProjectError) as info:
        check_request(proj, text)
    assert info.value.key == key and message in info.value.message and info.value.line is not None


def test_gpus_and_slots_on_a_machine_without_gpus(monkeypatch, tmp_path):
    monkeypatch.setenv("LMTUI_FAKE_GPUS", "")
    with pytest.raises(ProjectError, match="asks for GPUs but this machine has none"):
        check_request(*project(tmp_path, "gpus = 1"))
    monkeypatch.setenv("LMTUI_SLOTS", "2")
    check_request(*project(tmp_path, "slots = 2"))
    with pytest.raises(ProjectError, match=r"slots = 3 but this machine has 2 \(\$LMTUI_SLOTS\)"):
        check_request(*project(tmp_path, "slots = 3"))


def test_queue_file_move_up_pause_release(monkeypatch, tmp_path):
    monkeypatch.setenv("LMTUI_FAKE_GPUS", "0")
    q = Queue(tmp_path)
    me = os.getpid()
    for name in ("a", "b", "c"):
        q.enqueue(tmp_path / name, Need("gpu", 1), me, None)
    assert [(e.run_id, e.assigned) for e in q.entries()] == [("a", [0]), ("b", None), ("c", None)]
    q.move_up("c")
    assert [e.run_id for e in q.entries()] == ["a", "c", "b"]
    with pytest.raises(LmtuiError, match="already running"):
        q.move_up("a")
    q.set_paused("c", True)
    q.release(tmp_path / "a")
    assert [(e.run_id, e.assigned, e.waiting_for) for e in q.entries()] == [("c", None, "paused"), ("b", [0], "")]
    q.set_paused("c", False)
    assert q.find("c").waiting_for == "1 GPU: GPU 0 (b)"
    with pytest.raises(LmtuiError, match="no queued run 'zzz'"):
        q.find("zzz")
