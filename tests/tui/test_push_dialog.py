"""The TUI's push dialog (lmtui/tui/screens/push.py) against the local fake Hub."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys

from support.fake_hub import TEST_TOKEN, fake_hub  # noqa: F401  (fixture)
from support.hub_run import copy_run, tiny_run_template  # noqa: F401  (fixture)
from textual.app import App
from textual.widgets import Button, Checkbox, Static

from lmtui.tui.screens.push import PushScreen


class PushApp(App):
    def __init__(self, run_path: str):
        super().__init__()
        self.run_path = run_path
        self.result = "not dismissed"

    def on_mount(self) -> None:
        self.push_screen(PushScreen(self.run_path), self._dismissed)

    def _dismissed(self, result) -> None:
        self.result = result


async def _wait(pilot, predicate, timeout: float = 90.0) -> None:
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not predicate():
        assert loop.time() < end, "timed out waiting for the dialog"
        await pilot.pause(0.05)


def _text(screen, selector: str) -> str:
    return str(screen.query_one(selector, Static).render())


async def test_push_dialog_shows_the_plan_confirms_and_pushes(tiny_run_template, tmp_path, fake_hub):  # noqa: F811
    run = copy_run(tiny_run_template, tmp_path / "proj", hub='[hub]\nrepo_id = "alice/from-tui"\n')
    app = PushApp(str(run.path))
    async with app.run_test(size=(120, 50)) as pilot:
        await _wait(pilot, lambda: isinstance(app.screen, PushScreen) and app.screen.plan is not None)
        screen = app.screen
        summary = _text(screen, "#push-summary")
        assert "alice/from-tui" in summary and "private" in summary and "branch main" in summary
        assert "alice" in summary and "HF_TOKEN" in summary and "hf_…1234" in summary and TEST_TOKEN not in summary
        files = _text(screen, "#push-file-list")
        for name in ("README.md", "model.safetensors", "tokenizer.json", "loss_curve.png"):
            assert name in files
        assert "checkpoints/" not in files

        # toggling an option re-plans: the checkpoints join the list, and public is shown
        screen.query_one("#push-checkpoints", Checkbox).value = True
        screen.query_one("#push-private", Checkbox).value = False
        await _wait(pilot, lambda: screen.plan is not None and screen.plan.settings.include_checkpoints
                    and not screen.plan.settings.private)
        assert "checkpoints/step-30/model/model.safetensors" in _text(screen, "#push-file-list")
        assert "public" in _text(screen, "#push-summary")

        await pilot.pause()
        assert not screen.query_one("#push-go", Button).disabled
        await pilot.press("ctrl+s")  # the dialog's Push key (the button does the same)
        await _wait(pilot, lambda: screen.record is not None or "fix:" in _text(screen, "#push-status"))
        assert screen.record is not None, _text(screen, "#push-status")
        assert "pushed" in _text(screen, "#push-status")
        assert screen.query_one("#push-cancel", Button).label.plain == "Close"
        await pilot.press("escape")
        await _wait(pilot, lambda: app.result != "not dismissed")
    assert app.result["repo_id"] == "alice/from-tui"
    assert fake_hub.repos["alice/from-tui"].private is False
    assert "checkpoints/step-30/trainer_state.json" in fake_hub.files("alice/from-tui")
    assert json.loads(run.run_json.read_text())["push"]["commit"] == app.result["commit"]


async def test_push_dialog_shows_a_missing_token_and_stays_up(tiny_run_template, tmp_path, fake_hub,  # noqa: F811
                                                             monkeypatch):
    monkeypatch.delenv("HF_TOKEN")
    run = copy_run(tiny_run_template, tmp_path / "proj")
    app = PushApp(str(run.path))
    async with app.run_test(size=(120, 50)) as pilot:
        await _wait(pilot, lambda: isinstance(app.screen, PushScreen) and "fix:" in _text(app.screen, "#push-status"))
        screen = app.screen
        assert "no Hugging Face token" in _text(screen, "#push-status")
        assert screen.query_one("#push-go", Button).disabled
        await pilot.press("escape")
        await _wait(pilot, lambda: app.result != "not dismissed")
    assert app.result is None
    assert not fake_hub.repos


def test_push_screen_imports_neither_torch_nor_transformers():
    code = ("import sys, lmtui.tui.screens.push, lmtui.hub.push, lmtui.hub.stage, lmtui.project.sections.hub\n"
            "heavy = [m for m in ('torch', 'transformers') if m in sys.modules]\n"
            "assert not heavy, heavy")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
