"""The one key grammar of the app: each key means one thing on every screen (docs/tui.md).

Screens build their ``BINDINGS`` from here (:func:`bind`), so a letter cannot drift to another
meaning on one screen; tests/tui/test_key_grammar.py walks every screen's bindings against
:data:`GRAMMAR`. Digits pick a tab of the level at hand (the app's Projects and Runs, or a
screen's own tabs); dialogs answer Enter (confirm) and Escape (cancel), forms save on ctrl+s.
"""

from __future__ import annotations

from dataclasses import dataclass

from textual.binding import Binding


@dataclass(frozen=True)
class Key:
    """What a key does: the actions that carry that meaning, and the footer label."""

    key: str
    actions: frozenset[str]
    label: str
    meaning: str


def _key(key: str, actions: str, label: str, meaning: str) -> Key:
    return Key(key, frozenset(actions.split()), label, meaning)


GRAMMAR: dict[str, Key] = {k.key: k for k in (
    _key("question_mark", "app.help help", "Help", "every key of this screen, its own keys first"),
    _key("colon", "app.command_palette command_palette", "Commands", "command palette (also ctrl+p)"),
    _key("ctrl+p", "app.command_palette command_palette", "Commands", "command palette (also :)"),
    _key("enter", "open select_cursor", "Open", "open the selection or drill into it"),
    _key("escape", "back clear_filter cancel close", "Back", "go back: close, clear the filter, leave"),
    _key("slash", "filter log_search", "Filter", "filter the list, search the text"),
    _key("w", "log_wrap", "Wrap", "wrap the log's long lines"),
    _key("o", "sort", "Sort", "cycle the sort order"),
    _key("space", "mark", "Mark", "mark the row (for compare)"),
    _key("r", "launch resume", "Run", "run: launch a project (resumes its latest run), resume a run"),
    _key("s", "stop", "Stop", "stop the run (again: kill it)"),
    _key("x", "delete", "Delete", "delete the selection"),
    _key("delete", "delete", "Delete", "delete the selection"),
    _key("c", "compare", "Compare", "compare the marked runs"),
    _key("e", "edit", "Edit", "edit the project in a form"),
    _key("E", "editor", "$EDITOR", "open the project file in $VISUAL / $EDITOR"),
    _key("n", "new", "New", "new project from the template"),
    _key("d", "duplicate", "Duplicate", "duplicate the project"),
    _key("p", "push", "Push", "push the run to the Hub"),
    _key("u", "queue_up", "Queue up", "move the waiting run one place up the run queue"),
    _key("h", "queue_hold", "Hold", "hold the waiting run in the queue (later runs pass it); again: release it"),
    _key("k", "queue_cancel", "Cancel queued", "cancel the waiting run: it leaves the queue, stopped"),
    _key("S", "sweep", "Sweep", "the sweep the run belongs to: its runs by the metric, curves overlaid"),
    _key("t", "toggle_axis", "Step/time", "chart x axis: step or time"),
    _key("l", "toggle_log", "Log scale", "chart y axis: log scale"),
    _key("m", "metric", "Metric", "cycle the compared metric"),
    _key("left_square_bracket", "smoothing(-1)", "Smooth-", "less smoothing"),
    _key("right_square_bracket", "smoothing(1)", "Smooth+", "more smoothing"),
    _key("z", "zoom", "Zoom", "chart: zoom to the last N steps or a step range"),
    _key("comma", "cursor(-1)", "Cursor-", "chart: move the value cursor back"),
    _key("full_stop", "cursor(1)", "Cursor+", "chart: move the value cursor on"),
    _key("v", "hide_cursor", "Hide cursor", "chart: hide the value cursor"),
    _key("ctrl+s", "save export launch push", "Save", "save: the form, the launch, the chart export"),
    _key("ctrl+o", "open_launched app.open_launched", "Open new run", "open the run launched last"),
    _key("ctrl+r", "refresh", "Refresh", "read the files again"),
    _key("q", "quit app.quit", "Quit", "quit (runs keep going)"),
)}

DIGITS = tuple("123456789")
"""Digits pick a tab: the app's screens (1 Projects, 2 Runs) or the tabs of the screen at hand."""

TAB_ACTIONS = ("switch_mode(", "app.switch_mode(", "tab(", "show_tab(")


def bind(key: str, action: str | None = None, *, show: bool = True, label: str | None = None,
         priority: bool = False) -> Binding:
    """The binding of ``key`` as the grammar defines it.

    Args:
        key: a key of :data:`GRAMMAR`.
        action: the action it runs here, when the key's meaning has several (default: the only one).
        show: whether the footer shows it.
        label: the footer label, when this screen words it more precisely.
        priority: run before the focused widget sees the key (Textual's priority bindings).

    Raises:
        KeyError: ``key`` is not in the grammar, or ``action`` is not one of its actions.
    """
    k = GRAMMAR[key]
    if action is None:
        if len(k.actions) != 1:
            raise KeyError(f"{key} has several actions; name one of {sorted(k.actions)}")
        (action,) = k.actions
    if action not in k.actions:
        raise KeyError(f"{key} does not mean {action!r} (it means {k.meaning})")
    return Binding(key, action, label or k.label, show=show, priority=priority)


def help_binding() -> Binding:
    """``?`` first in a screen's bindings, so the footer shows ``? Help`` first at any width."""
    return bind("question_mark", "app.help")
