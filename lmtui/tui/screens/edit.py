"""Edit form for a project's common keys; every other key stays as written (edit those in $EDITOR).

Saving rewrites only the changed keys in place (:mod:`lmtui.project.tomledit`, comments kept),
validates the result exactly as `lmtui check --no-deep` does (:func:`lmtui.checks.require`, no
torch), and writes nothing while it is invalid:
the error shows under the field of the key at fault.
"""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Select, Static

from lmtui.checks import require
from lmtui.errors import LmtuiError, ProjectError
from lmtui.fsutil import atomic_write_text
from lmtui.project.load import parse_project, read_tables
from lmtui.project.schema import SECTIONS
from lmtui.project.tomledit import set_key
from lmtui.tui.screens.dialogs import FOCUS_KEYS, error_text

FORM_KEYS = [
    ("project", "name"), ("project", "description"),
    ("corpus", "train_files"), ("corpus", "validation_files"),
    ("tokenizer", "kind"), ("tokenizer", "vocab_size"),
    ("model", "architecture"), ("model", "size"),
    ("training", "max_seq_length"), ("training", "batch_size"), ("training", "micro_batch_size"),
    ("training", "max_steps"), ("training", "learning_rate"), ("training", "warmup_ratio"),
    ("training", "eval_steps"), ("training", "save_steps"),
    ("hardware", "device"), ("hardware", "num_processes"), ("hardware", "mixed_precision"),
]


def field_info(section: str, key: str) -> tuple[str, object, str, tuple | None]:
    """(type name, default, doc, choices) of a schema key."""
    for f in fields(SECTIONS[section]):
        if f.name == key:
            default = f.default_factory() if callable(f.default_factory) else f.default  # type: ignore[misc]
            kind = f.type if isinstance(f.type, str) else f.type.__name__
            return kind, default, f.metadata.get("doc", ""), f.metadata.get("choices")
    raise KeyError(f"{section}.{key}")


def show_value(value, kind: str) -> str:
    if value is None:
        return ""
    if kind == "list":
        return ", ".join(value) if isinstance(value, list) else str(value)
    return str(value)


def parse_value(text: str, kind: str):
    """The form text as the key's type; None (key removed: default) when empty.

    Raises:
        ValueError: not a number where one is expected.
    """
    text = text.strip()
    if not text:
        return None
    if kind == "int":
        return int(text)
    if kind == "float":
        return float(text)
    if kind == "list":
        return [part.strip() for part in text.split(",") if part.strip()]
    return text


def field_id(section: str, key: str) -> str:
    return f"f-{section}-{key}"


class EditProjectScreen(ModalScreen[bool]):
    """The form; dismisses with True once saved, False when cancelled."""

    BINDINGS = [*FOCUS_KEYS, Binding("ctrl+s", "save", "Save"), Binding("escape", "cancel", "Cancel")]
    AUTO_FOCUS = "#f-project-name"

    def __init__(self, path: Path):
        super().__init__()
        self.path = Path(path)
        self.text = self.path.read_text(encoding="utf-8")
        try:
            self.raw = read_tables(self.text, str(self.path))
            self.load_error = None
        except ProjectError as exc:
            self.raw, self.load_error = {}, exc.message

    def initial(self, section: str, key: str):
        table = self.raw.get(section)
        return table.get(key) if isinstance(table, dict) else None

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog form"):
            yield Label(f"Edit {self.path.name}  (ctrl+s save, escape cancel; other keys: $EDITOR)",
                        classes="question")
            yield Static(f"{self.load_error}; fix it in $EDITOR (o)" if self.load_error else "",
                         id="form-error", classes="error")
            with VerticalScroll(id="form-fields"):
                for section, key in FORM_KEYS:
                    kind, default, doc, choices = field_info(section, key)
                    value = self.initial(section, key)
                    with Horizontal(classes="form-row"):
                        yield Label(f"{section}.{key}", classes="form-label")
                        if choices:
                            yield Select([(c, c) for c in choices], value=value if value in choices else default,
                                         allow_blank=False, id=field_id(section, key))
                        else:
                            yield Input(show_value(value, kind), placeholder=f"default: {show_value(default, kind)}",
                                        id=field_id(section, key), tooltip=doc)
                    yield Static("", id=f"err-{section}-{key}", classes="field-error error")
            with Horizontal(classes="buttons"):
                yield Button("Save", id="save", variant="primary", disabled=bool(self.load_error))
                yield Button("Cancel", id="cancel")

    def values(self) -> dict[tuple[str, str], object]:
        """The form's values that differ from the file; raises ValueError naming the field."""
        out = {}
        for section, key in FORM_KEYS:
            kind, default, _, choices = field_info(section, key)
            widget = self.query_one(f"#{field_id(section, key)}")
            before = self.initial(section, key)
            if isinstance(widget, Select):
                value = widget.value
                if value == (before if before is not None else default):
                    continue
            else:
                try:
                    value = parse_value(widget.value, kind)
                except ValueError:
                    raise ValueError(section, key, f"expected {'an integer' if kind == 'int' else 'a number'}")
                if value == before or (value is None and before is None):
                    continue
            out[(section, key)] = value
        return out

    def clear_errors(self) -> None:
        for widget in self.query(".field-error"):
            widget.update("")
        self.query_one("#form-error", Static).update("")

    def show_error(self, key: str | None, message) -> None:
        target = None
        if key and "." in key:
            section, _, name = key.partition(".")
            matches = self.query(f"#err-{section}-{name.split('.')[0]}")
            target = matches.first() if matches else None
        (target or self.query_one("#form-error", Static)).update(message)
        if target is not None:
            self.query_one(f"#{target.id.replace('err-', 'f-', 1)}").focus()

    def action_save(self) -> None:
        if self.load_error:
            return
        self.clear_errors()
        try:
            changes = self.values()
        except ValueError as exc:
            section, key, message = exc.args
            self.show_error(f"{section}.{key}", message)
            return
        text = self.text
        for (section, key), value in changes.items():
            text = set_key(text, section, key, value)
        try:
            project = parse_project(text, str(self.path), str(self.path.resolve()))
            require(project, text, deep=False)  # the checks of `lmtui check --no-deep` (no torch)
        except LmtuiError as exc:
            self.show_error(exc.key, error_text(exc))
            return
        if text == self.text:
            self.query_one("#form-error", Static).update("nothing changed, nothing to save (escape closes the form)")
            return
        atomic_write_text(self.path, text)
        self.app.notify(f"saved {self.path.name}")
        self.dismiss(True)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "save":
            self.action_save()
        else:
            self.dismiss(False)

    def action_cancel(self) -> None:
        self.dismiss(False)
