"""The real terminal: `lmtui` under tmux launches the demo, dies by SIGHUP, and the run goes on.

Start the app in a tmux pane, launch projects/demo.toml (max_steps from the launch dialog),
kill the app with SIGHUP as a dropped SSH connection would, check that the run keeps writing
events, then open the app again, see the run live, and stop it from there (a checkpoint).
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

from lmtui.procs import pid_alive
from lmtui.runs.rundir import RunDir, list_runs

REPO = Path(__file__).resolve().parents[2]
TMUX = shutil.which("tmux")

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(TMUX is None, reason="tmux is not installed (apt-get install tmux)")]


class Pane:
    """One tmux session running a command, read with capture-pane."""

    def __init__(self, name: str, command: str, cwd: Path, size=(100, 30)):
        self.name = name
        subprocess.run([TMUX, "kill-session", "-t", name], capture_output=True)
        env_cmd = f"cd {cwd} && exec env TERM=xterm-256color {command}"
        subprocess.run([TMUX, "new-session", "-d", "-s", name, "-x", str(size[0]), "-y", str(size[1]), env_cmd],
                       check=True)

    def text(self) -> str:
        proc = subprocess.run([TMUX, "capture-pane", "-p", "-t", self.name], capture_output=True, text=True)
        return proc.stdout

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
            subprocess.run([TMUX, "send-keys", "-t", self.name, key], check=True)
            time.sleep(0.3)

    def pid(self) -> int:
        """The pid of the pane's process (the app: it was started with exec)."""
        for _ in range(10):
            out = subprocess.run([TMUX, "list-panes", "-t", self.name, "-F", "#{pane_pid}"], capture_output=True,
                                 text=True)
            if out.stdout.strip():
                return int(out.stdout.split()[0])
            time.sleep(0.5)
        raise AssertionError(f"no pane pid for {self.name}: {out.stderr}\n{self.text()}")

    def close(self) -> None:
        subprocess.run([TMUX, "kill-session", "-t", self.name], capture_output=True)


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
        pane.keys("l")
        pane.wait_for("Launch demo")
        pane.keys(str(STEPS), "Tab", "Tab", "training.batch_size=8 training.micro_batch_size=8", "Enter")
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
        screen = pane.wait_for(rf"{run.run_id}", 30)  # runs exist: the app opens on the runs table
        assert run.is_active() and re.search(rf"(running|queued)\s+{run.run_id}", screen), screen
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
