"""One key grammar (docs/tui.md): every screen's keys against lmtui.tui.keys.GRAMMAR, and what
80x24, 60x20 and 50 columns show: `? Help` and the screen's keys in the footer, a title line, the
help screen's own keys first and once, the launch dialog's buttons."""

from __future__ import annotations

import importlib
import pkgutil

import pytest
from textual.binding import Binding
from textual.geometry import Region
from textual.screen import ModalScreen, Screen
from textual.widgets import DataTable, Footer
from textual.widgets._footer import FooterKey
from tui.test_app import make_app, wait_for

import lmtui.tui.screens
from lmtui.tui.app import LmtuiApp
from lmtui.tui.keys import DIGITS, GRAMMAR, TAB_ACTIONS
from lmtui.tui.screens.dialogs import HelpScreen, LaunchScreen
from lmtui.tui.screens.projects import ProjectsScreen
from lmtui.tui.screens.runs import RunsScreen


def all_screens() -> list[type[Screen]]:
    for info in pkgutil.iter_modules(lmtui.tui.screens.__path__):
        importlib.import_module(f"lmtui.tui.screens.{info.name}")
    found, todo = [], [Screen]
    while todo:
        cls = todo.pop()
        for sub in cls.__subclasses__():
            todo.append(sub)
            if sub.__module__.startswith("lmtui."):
                found.append(sub)
    return sorted(set(found), key=lambda c: c.__name__)


def keys_of(cls) -> list[Binding]:
    return [b for item in cls.__dict__.get("BINDINGS", []) for b in Binding.make_bindings([item])]


SCREENS = [c for c in all_screens() if not issubclass(c, ModalScreen)]
DIALOGS = [c for c in all_screens() if issubclass(c, ModalScreen)]
DIALOG_LETTERS = {"y": "answer(True)", "n": "answer(False)", "q": "close"}


def test_every_screen_is_walked():
    names = {c.__name__ for c in SCREENS}
    assert {"ProjectsScreen", "RunsScreen", "RunScreen", "CompareScreen"} <= names
    assert {"LaunchScreen", "ConfirmScreen", "EditProjectScreen", "HelpScreen"} <= {c.__name__ for c in DIALOGS}


@pytest.mark.parametrize("cls", [LmtuiApp, *SCREENS], ids=lambda c: c.__name__)
def test_each_key_means_the_same_on_every_screen(cls):
    wrong = []
    for b in keys_of(cls):
        if b.key in DIGITS:
            ok = b.action.startswith(TAB_ACTIONS)
        else:
            ok = b.key in GRAMMAR and b.action in GRAMMAR[b.key].actions
        if not ok:
            meaning = GRAMMAR[b.key].meaning if b.key in GRAMMAR else "not in the grammar"
            wrong.append(f"{b.key} -> {b.action} (the grammar: {meaning})")
    assert not wrong, f"{cls.__name__}: " + "; ".join(wrong)


@pytest.mark.parametrize("cls", SCREENS, ids=lambda c: c.__name__)
def test_help_comes_first_in_every_footer(cls):
    first = keys_of(cls)[0]
    assert (first.key, first.action) == ("question_mark", "app.help")


@pytest.mark.parametrize("cls", DIALOGS, ids=lambda c: c.__name__)
def test_dialogs_close_on_escape_and_bind_no_other_letters(cls):
    bindings = keys_of(cls)
    assert any(b.key == "escape" and b.action in ("cancel", "close", "answer(False)") for b in bindings)
    for b in bindings:
        if len(b.key) == 1:
            assert DIALOG_LETTERS.get(b.key) == b.action, f"{cls.__name__}: {b.key} -> {b.action}"


def footer_keys(app) -> dict[str, Region]:
    footer = app.screen.query_one(Footer)
    return {k.description or k.key: k.region for k in footer.query(FooterKey)}


async def test_the_footer_at_80_columns_shows_help_and_the_screen_keys(runs_root, project_dir):
    app = make_app([runs_root], project_dir)
    async with app.run_test(size=(80, 24)) as pilot:
        for mode, wanted in (("runs", ["Help", "Filter", "Resume", "Stop", "Mark", "Compare"]),
                             ("projects", ["Help", "Launch", "Edit", "$EDITOR", "New", "Duplicate"])):
            await pilot.press("2" if mode == "runs" else "1")
            await pilot.pause(0.2)
            shown = footer_keys(app)
            for label in wanted:
                region = shown.get(label)
                assert region is not None and region.width and region.right <= 80, (mode, label, shown)
            assert min(shown.items(), key=lambda kv: kv[1].x)[0] == "Help"


async def test_every_screen_has_a_title_line_naming_it(runs_root, project_dir):
    app = make_app([runs_root], project_dir)
    async with app.run_test(size=(80, 24)) as pilot:
        assert str(app.screen.query_one(".title").content).startswith("Runs")
        await pilot.press("space", "space", "c")
        await pilot.pause(0.2)
        assert str(app.screen.query_one(".title").content).startswith("Compare 2 runs")
        await pilot.press("escape", "1")
        await pilot.pause(0.2)
        assert str(app.screen.query_one(".title").content).startswith("Projects")


async def test_help_lists_the_screen_keys_first_each_once(runs_root, tmp_path):
    app = make_app([runs_root], tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        sections = dict(app.screen.sections)
        first_title = app.screen.sections[0][0]
        assert first_title == "runs"
        own = [text for _, text in sections["runs"]]
        assert "Filter" in own and "Stop" in own and "Help" not in own
        assert len(own) == len(set(own))
        assert ("x, del", "Delete") in sections["runs"]
        everywhere = [text for _, text in sections["everywhere"]]
        assert "Help" in everywhere and len(everywhere) == len(set(everywhere))


async def test_the_launch_dialog_buttons_show_at_60x20(project_dir):
    app = make_app([], project_dir, mode="projects")
    async with app.run_test(size=(60, 20)) as pilot:
        await pilot.press("down", "r")
        await wait_for(pilot, lambda: isinstance(app.screen, LaunchScreen), 5, "the launch dialog")
        await pilot.pause(0.2)
        screen = Region(0, 0, 60, 20)
        for button in ("#launch", "#cancel"):
            region = app.screen.query_one(button).region
            assert region.height and screen.contains_region(region), (button, region)
        assert app.screen.query_one("#max_steps").region.height


async def test_below_60_columns_screens_drop_fields_instead_of_wrapping(runs_root, project_dir):
    app = make_app([runs_root], project_dir)
    async with app.run_test(size=(50, 20)) as pilot:
        table = app.screen.query_one("#runs", DataTable)
        assert table.virtual_size.width <= table.size.width
        assert {"status", "run", "step"} <= {str(c.label) for c in table.columns.values()}
        assert app.screen.query_one(".title").region.height == 1
        await pilot.press("1")
        await pilot.pause(0.2)
        assert isinstance(app.screen, ProjectsScreen)
        summary = app.screen.query_one("#project-summary").region
        assert summary.width >= 40 and summary.height  # stacked under the list, not squeezed beside it


async def test_enter_on_a_project_drills_into_its_runs_and_escape_comes_back(runs_root, project_dir):
    (project_dir / "projects" / "demo.toml").write_text((runs_root / "demo-20270115-070000" / "project.toml")
                                                         .read_text())
    app = make_app([runs_root], project_dir, mode="projects")
    async with app.run_test(size=(80, 24)) as pilot:
        keys = [str(row.key.value) for row in app.screen.query_one("#projects", DataTable).ordered_rows]
        await pilot.press(*["down"] * [k.endswith("demo.toml") for k in keys].index(True), "enter")
        await wait_for(pilot, lambda: isinstance(app.screen, RunsScreen), 5, "the runs screen")
        rows = app.screen.query_one("#runs", DataTable).row_count
        assert rows == 3  # the demo runs only
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, ProjectsScreen), 5, "the projects screen")
