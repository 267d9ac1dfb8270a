"""Modal dialogs: confirm, ask for a name, launch options, show an error, help."""

from __future__ import annotations

import re

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, Input, Label, Static

from lmtui.errors import LmtuiError


class ConfirmScreen(ModalScreen[bool]):
    """Yes/no question; dismisses with True on confirm (``y`` or Enter), False on ``n``/Escape."""

    BINDINGS = [Binding("y", "answer(True)", "Yes"), Binding("n,escape", "answer(False)", "No")]

    def __init__(self, question: str, *, confirm: str = "Yes", danger: bool = False):
        super().__init__()
        self.question = question
        self.confirm_label = confirm
        self.danger = danger

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(self.question, classes="question")
            with Horizontal(classes="buttons"):
                yield Button(self.confirm_label, id="yes", variant="error" if self.danger else "primary")
                yield Button("Cancel", id="no")

    def on_mount(self) -> None:
        self.query_one("#no" if self.danger else "#yes", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")

    def action_answer(self, value: bool) -> None:
        self.dismiss(value)


NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]*")


class NameScreen(ModalScreen[str | None]):
    """Ask for a project name (letters, digits, '-', '_', '.'); dismisses with it, or None."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, title: str, *, value: str = ""):
        super().__init__()
        self.title_text = title
        self.value = value

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(self.title_text, classes="question")
            yield Input(self.value, placeholder="name", id="name")
            yield Static("", id="name-error", classes="error")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        name = event.value.strip()
        if not NAME_RE.fullmatch(name):
            self.query_one("#name-error", Static).update("use letters, digits, '-', '_' and '.' only")
            return
        self.dismiss(name)

    def action_cancel(self) -> None:
        self.dismiss(None)


class LaunchScreen(ModalScreen[dict | None]):
    """Launch options: max_steps and learning rate overrides, more ``section.key=value`` pairs, fresh run.

    Dismisses with ``{"overrides": [...], "fresh": bool}`` or None.
    """

    BINDINGS = [Binding("escape", "cancel", "Cancel"), Binding("ctrl+s", "launch", "Launch")]

    def __init__(self, project_name: str, *, max_steps: int = 0, learning_rate: float = 0.0):
        super().__init__()
        self.project_name = project_name
        self.max_steps = max_steps
        self.learning_rate = learning_rate

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog wide"):
            yield Label(f"Launch {self.project_name}", classes="question")
            yield Label(f"max_steps (project: {self.max_steps or 'from epochs'})")
            yield Input(placeholder="keep", id="max_steps", type="integer")
            yield Label(f"learning_rate (project: {self.learning_rate:g})")
            yield Input(placeholder="keep", id="learning_rate", type="number")
            yield Label("more overrides: section.key=value, separated by spaces")
            yield Input(placeholder="e.g. training.batch_size=32 hardware.device=cpu", id="extra")
            yield Checkbox("fresh run (do not resume the latest run)", id="fresh")
            yield Static("", id="launch-error", classes="error")
            with Horizontal(classes="buttons"):
                yield Button("Launch", id="launch", variant="primary")
                yield Button("Cancel", id="cancel")

    def on_mount(self) -> None:
        self.query_one("#max_steps", Input).focus()

    def overrides(self) -> list[str]:
        out = []
        for key in ("max_steps", "learning_rate"):
            value = self.query_one(f"#{key}", Input).value.strip()
            if value:
                out.append(f"training.{key}={value}")
        for item in self.query_one("#extra", Input).value.split():
            name, sep, _ = item.partition("=")
            if not sep or "." not in name:
                raise ValueError(f"{item!r} is not section.key=value")
            out.append(item)
        return out

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.action_launch()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "launch":
            self.action_launch()
        else:
            self.dismiss(None)

    def action_launch(self) -> None:
        try:
            overrides = self.overrides()
        except ValueError as exc:
            self.query_one("#launch-error", Static).update(str(exc))
            return
        self.dismiss({"overrides": overrides, "fresh": self.query_one("#fresh", Checkbox).value})

    def action_cancel(self) -> None:
        self.dismiss(None)


def error_text(exc: BaseException) -> Text:
    """An error as the UI shows it: where (file:line), the key, the message, and the fix."""
    if not isinstance(exc, LmtuiError):
        return Text(f"{type(exc).__name__}: {exc}")
    out = Text()
    if exc.file:
        out.append(f"{exc.file}{':' + str(exc.line) if exc.line else ''}\n", style="dim")
    if exc.key:
        out.append(f"[{exc.key}] ", style="bold yellow")
    out.append(exc.message, style="bold")
    if exc.hint:
        out.append(f"\nfix: {exc.hint}", style="green")
    return out


class ErrorScreen(ModalScreen[None]):
    """An error message with its file, key and hint; any of Escape, Enter or ``q`` closes it."""

    BINDINGS = [Binding("escape,enter,q", "close", "Close")]

    def __init__(self, title: str, error: BaseException | str):
        super().__init__()
        self.title_text = title
        self.error = error

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog wide error-dialog"):
            yield Label(self.title_text, classes="question error")
            body = self.error if isinstance(self.error, str) else error_text(self.error)
            with VerticalScroll(classes="error-body"):
                yield Static(body, id="error-text")
            yield Button("Close", id="close")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(None)

    def action_close(self) -> None:
        self.dismiss(None)


class HelpScreen(ModalScreen[None]):
    """Every key of the screen below and of the app, with what it does."""

    BINDINGS = [Binding("escape,q,question_mark", "close", "Close")]

    def __init__(self, sections: list[tuple[str, list[tuple[str, str]]]]):
        super().__init__()
        self.sections = sections

    def compose(self) -> ComposeResult:
        text = Text()
        for title, rows in self.sections:
            text.append(f"{title}\n", style="bold underline")
            for key, description in rows:
                text.append(f"  {key:<14}", style="bold cyan")
                text.append(f"{description}\n")
            text.append("\n")
        text.append("Runs keep going when the app quits or the terminal closes; reopen `lmtui` to watch them.",
                    style="dim")
        with Vertical(classes="dialog wide help"):
            with VerticalScroll():
                yield Static(text, id="help-text")

    def action_close(self) -> None:
        self.dismiss(None)
