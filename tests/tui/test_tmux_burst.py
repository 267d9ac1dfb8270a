"""The real terminal: keys sent in one burst through tmux reach the launch dialog's fields in order.

`tmux send-keys` with several keys writes them to the pane at once, as a paste or a slow SSH
link does; the confirmation's one-line summary shows where each one landed. Nothing launches.
"""

from __future__ import annotations

import os
import sys

import pytest
from support.runs import PROJECT_TOML
from tui.test_tmux import TMUX, Pane

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(TMUX is None, reason="tmux is not installed (apt-get install tmux)")]


def test_a_burst_after_tab_lands_in_the_next_field(tmp_path):
    (tmp_path / "projects").mkdir()
    (tmp_path / "train.txt").write_text("a line of text\n" * 200)
    (tmp_path / "projects" / "good.toml").write_text(PROJECT_TOML.format(
        name="good", out="../runs", corpus="../train.txt", max_steps=300))
    pane = Pane(f"lmtui-burst-{os.getpid()}", f"{sys.executable} -m lmtui", tmp_path, size=(100, 30))
    try:
        pane.wait_for(r"good\s+valid")
        pane.keys("r")
        pane.wait_for("Launch good")
        pane.tmux("send-keys", "-t", pane.name, "12", "Tab", "Tab", "a.b=1", "Enter", check=True)
        screen = pane.wait_for(r"steps 12 ", 15)
        assert "overrides a.b=1" in screen and "steps 121" not in screen, screen
        pane.keys("Escape", "Escape")
        assert not (tmp_path / "runs").exists()
    finally:
        pane.close()
