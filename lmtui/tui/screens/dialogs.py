"""Modal dialogs: confirm, ask for a name, launch options, show an error, help."""

from __future__ import annotations

import re
from typing import Callable

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


class TickBox(Checkbox):
    """A ``Checkbox`` whose box is empty when unchecked: Textual's draws an ``X`` either way and
    tells them apart by colour only, which a low-colour terminal loses."""

    @property
    def BUTTON_INNER(self) -> str:  # the name of the ToggleButton class attribute it replaces
        return "X" if self.value else " "


FOCUS_KEYS = [Binding("tab", "app.focus_next", "Next field", show=False, priority=True),
              Binding("shift+tab", "app.focus_previous", "Previous field", show=False, priority=True)]
"""Tab as a priority binding: the app runs it before it forwards the next key, so keys typed in one
burst after Tab (a paste, a slow SSH link) reach the field Tab moved to, not the one it left."""


FIELD_NAMES = {"max_steps": "max_steps", "learning_rate": "learning_rate", "extra": "more overrides"}


class LaunchScreen(ModalScreen[bool]):
    """Launch options: max_steps and learning rate overrides, more ``section.key=value`` pairs, fresh run.

    Launch (Enter, ctrl+s) shows a one-line summary to confirm, then calls ``start(overrides, fresh)``
    and waits: the app calls :meth:`failed` with the error, shown above the buttons naming the
    field at fault (marked and focused), everything typed kept, or :meth:`started`, which closes
    the dialog (dismissed with True; False when cancelled).

    Args:
        project_name: the project's name (the title).
        max_steps, learning_rate: the project's values, shown beside their fields.
        latest_run: the run a launch without "fresh run" resumes, or None.
        start: called with the overrides and the fresh flag once the user confirms.
    """

    BINDINGS = [*FOCUS_KEYS, Binding("escape", "cancel", "Cancel"), Binding("ctrl+s", "launch", "Launch")]
    VERTICAL_BREAKPOINTS = [(0, "-short"), (24, "-tall")]  # below 24 rows: one-line fields, buttons in view

    def __init__(self, project_name: str, *, start: Callable[[list[str], bool], None], max_steps: int = 0,
                 learning_rate: float = 0.0, latest_run: str | None = None):
        super().__init__()
        self.project_name = project_name
        self.max_steps = max_steps
        self.learning_rate = learning_rate
        self.latest_run = latest_run
        self.start = start
        self.busy = False

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog wide launch"):
            yield Label(f"Launch {self.project_name}", classes="question")
            with VerticalScroll(classes="launch-fields"):
                yield Label(f"max_steps (project: {self.max_steps or 'from epochs'})")
                yield Input(placeholder="keep", id="max_steps", type="integer")
                yield Label(f"learning_rate (project: {self.learning_rate:g})")
                yield Input(placeholder="keep", id="learning_rate", type="number")
                yield Label("more overrides: section.key=value, separated by spaces")
                yield Input(placeholder="e.g. training.batch_size=32 hardware.device=cpu", id="extra")
                yield TickBox("fresh run (do not resume the latest run)", id="fresh")
            yield Static("", id="launch-error", classes="error")
            with Horizontal(classes="buttons"):
                yield Button("Launch", id="launch", variant="primary")
                yield Button("Cancel", id="cancel")

    def on_mount(self) -> None:
        self.query_one("#max_steps", Input).focus()

    def fields(self) -> dict[str, list[str]]:
        """The overrides of each field (``max_steps``, ``learning_rate``, ``extra``), as typed.

        Raises:
            ValueError: (field, message) for an item of ``extra`` that is not ``section.key=value``.
        """
        out: dict[str, list[str]] = {}
        for key in ("max_steps", "learning_rate"):
            value = self.query_one(f"#{key}", Input).value.strip()
            out[key] = [f"training.{key}={value}"] if value else []
        out["extra"] = []
        for item in self.query_one("#extra", Input).value.split():
            name, sep, _ = item.partition("=")
            if not sep or "." not in name:
                raise ValueError("extra", f"{item!r} is not section.key=value")
            out["extra"].append(item)
        return out

    def overrides(self) -> list[str]:
        """Every override, in field order (raises ValueError like :meth:`fields`)."""
        return [item for items in self.fields().values() for item in items]

    def summary(self) -> str:
        """One line: steps, learning rate, other overrides, and fresh or resume."""
        fields = self.fields()
        steps = fields["max_steps"][0].partition("=")[2] if fields["max_steps"] else \
            f"{self.max_steps or 'from epochs'} (project)"
        lr = fields["learning_rate"][0].partition("=")[2] if fields["learning_rate"] else \
            f"{self.learning_rate:g} (project)"
        extra = " ".join(fields["extra"]) or "none"
        if self.query_one("#fresh", Checkbox).value or self.latest_run is None:
            how = "a new run"
        else:
            how = f"resumes {self.latest_run}"
        return f"steps {steps} · lr {lr} · overrides {extra} · {how}"

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.action_launch()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "launch":
            self.action_launch()
        else:
            self.dismiss(False)

    def clear_errors(self) -> None:
        for widget in self.query(Input):
            widget.remove_class("-invalid")
        self.query_one("#launch-error", Static).update("")

    def show_error(self, field: str | None, message: Text | str) -> None:
        """``message`` above the buttons (always in view), naming ``field``, which is marked and focused."""
        self.clear_errors()
        text = Text(f"{FIELD_NAMES[field]}: ", style="bold") if field else Text()
        text.append_text(message if isinstance(message, Text) else Text(message))
        self.query_one("#launch-error", Static).update(text)
        if field is not None:
            widget = self.query_one(f"#{field}", Input)
            widget.add_class("-invalid")
            widget.focus()

    def action_launch(self) -> None:
        if self.busy:
            return
        try:
            overrides, summary = self.overrides(), self.summary()
        except ValueError as exc:
            self.show_error(*exc.args)
            return
        self.clear_errors()
        fresh = self.query_one("#fresh", Checkbox).value

        def confirmed(yes: bool | None) -> None:
            if yes:
                self.busy = True
                self.query_one("#launch-error", Static).update(Text("starting…", style="bold"))
                self.query_one("#launch", Button).disabled = True
                self.start(overrides, fresh)

        self.app.push_screen(ConfirmScreen(f"Launch {self.project_name}?\n{summary}", confirm="Start"), confirmed)

    def field_of(self, override: str) -> str:
        """The field an override came from."""
        for field, items in self.fields().items():
            if override in items:
                return field
        return "extra"

    def failed(self, exc: BaseException) -> None:
        """Show why the launch failed under the field at fault; everything typed stays."""
        from lmtui.runs.launcher import OverrideError, ProjectChangedError, RunActiveError
        from lmtui.runs.rundir import RunLocked

        self.busy = False
        self.query_one("#launch", Button).disabled = False
        if isinstance(exc, OverrideError):
            message = Text(f"{exc.override}: {exc.detail}")
            if exc.hint:
                message.append(f"\nfix: {exc.hint}", style="green")
            self.show_error(self.field_of(exc.override), message)
        elif isinstance(exc, ProjectChangedError):
            self.show_error(None, Text(f"{exc.message}.\nfix: tick \"fresh run\" to start a new run (run "
                                       f"{exc.run_id} is kept)", style="bold"))
            self.query_one("#fresh", Checkbox).focus()
        elif isinstance(exc, (RunActiveError, RunLocked)):
            run_id = getattr(exc, "run_id", None) or "the latest run"
            self.show_error(None, Text(f"{run_id} is already running: watch it on the runs screen (2); stop it "
                                       "there (s), or tick \"fresh run\" to start another", style="bold"))
        else:
            self.show_error(None, error_text(exc))

    def started(self) -> None:
        self.dismiss(True)

    def action_cancel(self) -> None:
        self.dismiss(False)


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
