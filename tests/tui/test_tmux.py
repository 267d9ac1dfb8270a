"""The real terminal: `lmtui` under tmux launches the demo, dies by SIGHUP, and the run goes on.

Start the app in a tmux pane, launch projects/demo.toml (max_steps from the launch dialog),
kill the app with SIGHUP as a dropped SSH connection would, check that the run keeps writing
events, then open the app again, see the run live, and stop it from there (a checkpoint).

Then the run queue (issue 12, marked ``long``): a sweep of three runs that each need the only
CPU slot waits in the queue as the app shows, runs one after another with the app closed, and
the reopened app shows the finished sweep's table.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
from support.cli import lmtui, prose_bert_project

from lmtui.procs import pid_alive
from lmtui.runs.rundir import RunDir, list_runs

REPO = Path(__file__).resolve().parents[2]
TMUX = shutil.which("tmux")

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(TMUX is None, reason="tmux is not installed (apt-get install tmux)")]


class Pane:
    """One tmux session running a command, read with capture-pane, on a tmux server of its own
    (socket ``name``): a server some other program started may reap its panes' processes late,
    and the app that exited would then still look alive to the test."""

    def __init__(self, name: str, command: str, cwd: Path, size=(100, 30)):
        self.name = name
        self.tmux("kill-session", "-t", name)
        # COLUMNS/LINES inherited from the test's environment would override the pane's size in the app
        env_cmd = f"cd {cwd} && exec env -u COLUMNS -u LINES TERM=xterm-256color {command}"
        self.tmux("new-session", "-d", "-s", name, "-x", str(size[0]), "-y", str(size[1]), env_cmd, check=True)

    def tmux(self, *args: str, check: bool = False) -> subprocess.CompletedProcess:
        """Run ``tmux ARGS`` against this pane's server."""
        return subprocess.run([TMUX, "-L", self.name, *args], capture_output=True, text=True, check=check)

    def text(self) -> str:
        return self.tmux("capture-pane", "-p", "-t", self.name).stdout

    def wait_for(self, pattern: str, timeout: float = 30.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            screen = self.text()
            if re.search(pattern, screen):
                return screen
            time.sleep(0.2)
        raise AssertionError(f"{pattern!r} never appeared; the screen:\n{self.text()}")

    def keys(self, *keys: str) -> None:
        """Type ``keys`` one after the other, as a person would (a focus change takes effect between keys)."""
        for key in keys:
            self.tmux("send-keys", "-t", self.name, key, check=True)
            time.sleep(0.3)

    def pid(self) -> int:
        """The pid of the pane's process (the app: it was started with exec)."""
        for _ in range(10):
            out = self.tmux("list-panes", "-t", self.name, "-F", "#{pane_pid}")
            if out.stdout.strip():
                return int(out.stdout.split()[0])
            time.sleep(0.5)
        raise AssertionError(f"no pane pid for {self.name}: {out.stderr}\n{self.text()}")

    def close(self) -> None:
        self.tmux("kill-session", "-t", self.name)
        self.tmux("kill-server")


# long enough to be still training whenever the app is reopened, on any machine; the test stops it
STEPS = 5000


def train_steps(run: RunDir) -> list[int]:
    return [e["step"] for e in run.events(("train",))]


def test_runs_survive_sighup_and_the_reopened_app_shows_them_live(tmp_path):
    (tmp_path / "projects").mkdir()
    shutil.copy(REPO / "projects" / "demo.toml", tmp_path / "projects" / "demo.toml")
    app_cmd = f"{sys.executable} -m lmtui"
    name = f"lmtui-test-{os.getpid()}"
    pane = Pane(name, app_cmd, tmp_path)
    try:
        pane.wait_for(r"demo\s+valid")
        pane.keys("r")
        pane.wait_for("Launch demo")
        pane.keys(str(STEPS), "Tab", "Tab", "training.batch_size=8 training.micro_batch_size=8", "Enter")
        pane.wait_for(rf"steps {STEPS} ", 15)  # the one-line summary to confirm
        pane.keys("y")
        pane.wait_for("ctrl\\+o opens it", 60)  # announced; the app stays where it is
        pane.keys("C-o")
        pane.wait_for(r"demo-\d{8}-\d{6}\s+(queued|running)", 60)
        runs = list_runs(tmp_path / "runs")
        assert len(runs) == 1
        run = runs[0]
        deadline = time.monotonic() + 240
        while not train_steps(run) and time.monotonic() < deadline:
            time.sleep(0.5)
        assert train_steps(run), (run.log_file.read_text() if run.log_file.exists() else "no log")

        app_pid = pane.pid()
        assert "lmtui" in " ".join(psutil.Process(app_pid).cmdline())
        os.kill(app_pid, signal.SIGHUP)  # the terminal (SSH connection) goes away
        psutil.Process(app_pid).wait(10)
        pane.close()

        seen = len(train_steps(run))
        deadline = time.monotonic() + 120
        while len(train_steps(run)) == seen and time.monotonic() < deadline:
            time.sleep(0.5)
        assert len(train_steps(run)) > seen, "the run stopped writing events when the app died"
        assert run.status() == "running"

        pane = Pane(name, app_cmd, tmp_path)
        screen = pane.wait_for(rf"{run.run_id.removeprefix('demo-')}", 30)  # runs exist: the app opens on runs
        shown_id = run.run_id.removeprefix("demo-")  # compact while the project has a column of its own
        assert run.is_active() and re.search(rf"(running|queued)\s+{shown_id}", screen), screen
        pane.keys("Enter")
        pane.wait_for(rf"{run.run_id}\s+running", 15)
        first = re.search(rf"step (\d+)/{STEPS}", pane.wait_for(rf"step \d+/{STEPS}", 30)).group(1)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            m = re.search(rf"step (\d+)/{STEPS}", pane.text())
            if m and m.group(1) != first:
                break
            time.sleep(0.5)
        else:
            raise AssertionError(f"the step never moved on screen:\n{pane.text()}")

        pane.keys("s")  # stop from the reopened app: the run checkpoints and exits
        pane.wait_for(f"Stop run {run.run_id}", 15)
        pane.keys("y")
        pane.wait_for(rf"{run.run_id}\s+stopped", 120)
        assert run.status() == "stopped" and run.events(("checkpoint",))
    finally:
        pane.close()
        for leftover in list_runs(tmp_path / "runs"):
            state = leftover.read_state()
            if pid_alive(state.get("pid"), state.get("pid_start_time")):
                os.killpg(state["pid"], signal.SIGKILL)


def training_span(run: RunDir) -> tuple[float, float]:
    """When the run trained: its train_start event's time to its train_end event's."""
    start = run.events(("train_start",))[0]["time"]
    return start, run.events(("train_end",))[-1]["time"]


def kill_leftovers(root: Path) -> None:
    for leftover in list_runs(root):
        state = leftover.read_state()
        if pid_alive(state.get("pid"), state.get("pid_start_time")):
            os.killpg(state["pid"], signal.SIGKILL)


@pytest.mark.long
def test_a_queued_sweep_runs_one_after_another_and_the_reopened_app_shows_its_table(tmp_path):
    prose_bert_project(tmp_path, "qsweep", max_steps=5, logging_steps=1, save_steps=5,
                          extra="\n        [hardware]\n        device = \"cpu\"\n        slots = 1")
    env = {"LMTUI_STATE_DIR": str(tmp_path / "state"), "LMTUI_SLOTS": "1"}
    app_cmd = " ".join(f"{k}={v}" for k, v in env.items()) + f" {sys.executable} -m lmtui"
    name = f"lmtui-queue-{os.getpid()}"
    pane = None
    try:
        pane = Pane(name, app_cmd, tmp_path, size=(220, 30))
        pane.wait_for(r"Projects · ", 30)
        out = lmtui("sweep", "qsweep.toml", "--grid", "training.learning_rate=1e-3,2e-3,3e-3", cwd=tmp_path, env=env,
                    check=True)
        sweep_id = re.search(r"sweep (\S+): 3 runs", out.stdout).group(1)
        pane.keys("2")
        pane.wait_for(r"#[23] · waiting for", 120)  # the runs behind the first wait for the slot
        pane.keys("q")
        deadline = time.monotonic() + 1200
        runs = list_runs(tmp_path / "runs")
        assert len(runs) == 3
        while any(r.status() != "finished" for r in runs) and time.monotonic() < deadline:
            assert not [r for r in runs if r.status() in ("failed", "crashed")], \
                [r.log_file.read_text()[-2000:] for r in runs if r.status() in ("failed", "crashed")]
            time.sleep(2)
        assert all(r.status() == "finished" for r in runs), [(r.run_id, r.status()) for r in runs]
        spans = sorted(training_span(r) for r in runs)
        assert all(a[1] <= b[0] for a, b in zip(spans, spans[1:])), spans  # one slot: never two at once

        pane.close()
        pane = Pane(name, app_cmd, tmp_path, size=(220, 40))
        pane.wait_for(r"qsweep-learning_rate", 30)
        pane.keys("S")  # the first row is a run of the sweep
        screen = pane.wait_for(rf"Sweep {sweep_id} · 3 runs, 3 finished · by loss", 30)
        assert "★" in screen
        assert len(re.findall(r"qsweep-learning_rate_\S+\s+\S+\s+finished", screen)) == 3, screen
    finally:
        if pane is not None:
            pane.close()
        kill_leftovers(tmp_path / "runs")
