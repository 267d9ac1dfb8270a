"""Projects screen: every project file with its validation state, a summary, and the actions on it."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
from pathlib import Path

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, VerticalScroll
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static

from lmtui.errors import LmtuiError
from lmtui.fmt import fmt_bytes, fmt_count, fmt_duration
from lmtui.fsutil import atomic_write_text
from lmtui.data.estimate import summarize
from lmtui.project.template import starter_text
from lmtui.project.tomledit import set_name
from lmtui.runs.catalog import ProjectEntry
from lmtui.tui.keys import bind, help_binding
from lmtui.tui.screens.dialogs import ErrorScreen, NameScreen, error_text
from lmtui.tui.widgets import cursor_row_key
from lmtui.tui.widgets.rowtable import ColumnSpec, RowTable


class ProjectsScreen(Screen):
    """The project files found, their validation state, and a summary of the highlighted one."""

    AUTO_FOCUS = "#projects"
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (60, "-normal")]  # below 60 columns the summary goes under the list

    BINDINGS = [
        help_binding(),
        bind("enter", "open", label="Runs"),
        bind("r", "launch", label="Launch"),
        bind("e"),
        bind("E"),
        bind("n"),
        bind("d"),
        bind("ctrl+r", show=False),
    ]

    def compose(self) -> ComposeResult:
        yield Static("Projects", id="projects-title", classes="title")
        with Horizontal(id="projects-body"):
            yield RowTable([ColumnSpec("name", "project", 0), ColumnSpec("state", "state", 1)], id="projects")
            with VerticalScroll(id="project-detail"):
                yield Static("", id="project-summary")
        yield Footer(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        self.sub_title = "projects"
        self.entries: dict[str, ProjectEntry] = {}
        self.action_refresh()
        self.set_interval(2.0, self.action_refresh)

    # data ------------------------------------------------------------------------
    def action_refresh(self) -> None:
        """Read the project files and the runs again; redraw the table and the summary when they changed."""
        entries = self.app.catalog.projects()
        self.app.poll_runs()  # the summary counts the project's runs, which may have started meanwhile
        table = self.query_one("#projects", RowTable)
        self.entries = {str(e.path): e for e in entries}
        table.show({key: {"name": e.name, "state": Text("valid", style="green") if e.valid
                          else Text("invalid", style="bold red")} for key, e in self.entries.items()})
        invalid = sum(1 for e in entries if not e.valid)
        folder = self.app.catalog.display_path(self.app.catalog.projects_dir)
        self.query_one("#projects-title", Static).update(
            f"Projects · {len(entries)} file{'s' if len(entries) != 1 else ''}"
            + (f", {invalid} invalid" if invalid else "") + f" · {folder}")
        self.show_summary()

    def current_key(self) -> str | None:
        return cursor_row_key(self.query_one("#projects", DataTable))

    def action_open(self) -> None:
        """Drill into the highlighted project: its runs."""
        entry = self.current()
        if entry is None:
            return
        self.app.show_project_runs(entry.name)

    def current(self) -> ProjectEntry | None:
        key = self.current_key()
        return self.entries.get(key) if key else None

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self.show_summary()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        self.action_open()

    def show_summary(self) -> None:
        panel = self.query_one("#project-summary", Static)
        entry = self.current()
        if entry is None:
            text = Text.from_markup(
                f"No project files in {self.app.catalog.projects_dir}.\n\nPress [b]n[/] to create one from the "
                "template, or start `lmtui` with the path of a project file or folder.")
        else:
            text = self.summary_text(entry)
        if str(text) != str(panel.content):
            panel.update(text)

    def summary_text(self, entry: ProjectEntry) -> Text:
        out = Text()
        out.append(f"{entry.name}\n", style="bold")
        show = self.app.catalog.display_path
        out.append(f"{show(entry.path)}\n", style="dim")
        p = entry.project
        if p is not None and p.project.description:
            out.append(f"{p.project.description}\n")
        if entry.error is not None:
            out.append("\ninvalid: ", style="bold red")
            out.append_text(error_text(entry.error))
            out.append("\n")
        if p is None:
            return out
        runs = [t for t in self.app.trackers_of_project(p.project.name)]
        measured = next((t.tokens_per_s for t in runs if t.tokens_per_s), None)
        s = summarize(p, measured_tokens_per_s=measured)
        out.append("\ncorpus\n", style="bold underline")
        if s.corpus_error:
            out.append(f"  {s.corpus_error}\n", style="red")
        for title, files in (("train", s.files), ("validation", s.validation)):
            if not files:
                continue
            total = sum(size for _, size in files)
            out.append(f"  {title}: {len(files)} file(s), {fmt_bytes(total)}\n")
            for path, size in files[:6]:
                out.append(f"    {fmt_bytes(size):>9}  {show(path)}\n", style="dim")
            if len(files) > 6:
                out.append(f"    … {len(files) - 6} more\n", style="dim")
        if not s.validation and not s.corpus_error:
            out.append(f"  validation: {p.corpus.validation_split:.0%} of the training documents\n")
        m, tr = p.model, p.training
        rows = [
            ("model", f"{m.architecture} {m.size}, ≈{fmt_count(s.parameters)} parameters"),
            ("tokenizer", f"{p.tokenizer.kind}, vocab {p.tokenizer.vocab_size:,}" if not p.tokenizer.path
             else f"from {p.tokenizer.path}"),
            ("tokens/step", f"{s.tokens_per_step:,} ({tr.batch_size} x {tr.max_seq_length})"),
            ("steps", f"{'≈' if s.steps_estimated else ''}{s.steps:,}"
             + (f" ({tr.epochs:g} epochs)" if s.steps_estimated else "")),
            ("run time", f"≈{fmt_duration(s.seconds)} ({s.throughput_source})" if s.seconds else "-"),
            ("device", f"{p.hardware.device} x{p.hardware.num_processes}, precision {p.hardware.mixed_precision}"),
            ("runs", f"{len(runs)}" + (f", latest {runs[0].run_id} ({runs[0].status})" if runs else "")),
        ]
        if p.distill.teacher:  # a distillation: the teacher and the student (lmtui.distill.checks)
            rows.insert(0, ("distill", self.distill_line(p)))
        out.append("\n")
        for label, value in rows:
            out.append(f"{label:<12}", style="bold")
            out.append(f"{value}\n")
        return out

    @staticmethod
    def distill_line(project) -> str:
        """The teacher (its shape) and the student's depth and init, or why the teacher cannot be read."""
        from lmtui.distill.checks import distill_summary

        try:
            return distill_summary(project)
        except LmtuiError as exc:
            return f"teacher {project.distill.teacher}: {exc.message}"

    # actions ---------------------------------------------------------------------
    def action_launch(self) -> None:
        entry = self.current()
        if entry is not None:
            self.app.launch_dialog(entry.path)

    def _write_new(self, name: str, text: str) -> None:
        folder = self.app.catalog.projects_dir
        path = folder / f"{name}.toml"
        if path.exists():
            self.app.push_screen(ErrorScreen("cannot create the project",
                                             LmtuiError("file exists", file=str(path), hint="choose another name")))
            return
        folder.mkdir(parents=True, exist_ok=True)
        atomic_write_text(path, text)
        self.app.notify(f"wrote {path}")
        self.action_refresh()
        self.select(path)

    def select(self, path: Path) -> None:
        keys = list(self.entries)
        if str(path) in keys:
            self.query_one("#projects", DataTable).move_cursor(row=keys.index(str(path)))

    def action_new(self) -> None:
        def create(name: str | None) -> None:
            if name is None:
                return
            self._write_new(name, starter_text(name, os.path.relpath(self.app.catalog.projects_dir / f"{name}.toml")))

        self.app.push_screen(NameScreen("New project from the template: name"), create)

    def action_duplicate(self) -> None:
        entry = self.current()
        if entry is None:
            return

        def create(name: str | None) -> None:
            if name is not None:
                self._write_new(name, set_name(entry.path.read_text(encoding="utf-8"), name))

        self.app.push_screen(NameScreen(f"Duplicate {entry.name} as", value=f"{entry.name}-copy"), create)

    def action_edit(self) -> None:
        entry = self.current()
        if entry is None:
            return
        from lmtui.tui.screens.edit import EditProjectScreen

        def saved(ok: bool | None) -> None:
            if ok:
                self.app.catalog.forget(entry.path)
                self.action_refresh()
                self.show_summary()

        self.app.push_screen(EditProjectScreen(entry.path), saved)

    def action_editor(self) -> None:
        """Open the project file in $VISUAL / $EDITOR; the app steps aside while it runs and always comes back."""
        entry = self.current()
        if entry is None:
            return
        from textual.app import SuspendNotSupported

        try:
            argv = editor_command(entry.path)
        except LmtuiError as exc:  # found out before the screen is handed over
            self.app.push_screen(ErrorScreen("cannot start the editor", exc))
            return
        failure: OSError | None = None
        try:
            with self.app.suspend():
                try:
                    subprocess.run(argv)
                except OSError as exc:  # inside the block: the app resumes whatever happens
                    failure = exc
        except SuspendNotSupported:  # no real terminal (tests, web): run it without handing over the screen
            try:
                subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            except OSError as exc:
                failure = exc
        if failure is not None:
            self.app.push_screen(ErrorScreen(f"the editor {argv[0]!r} failed", str(failure)))
            return
        self.app.catalog.forget(entry.path)
        self.action_refresh()


def editor_command(path: Path) -> list[str]:
    """The command line that edits ``path``: ``$VISUAL``, else ``$EDITOR``, else ``vi``, split as a shell would.

    Raises:
        LmtuiError: the variable cannot be split (an unbalanced quote), is empty, or names a
            program that is not an executable on PATH.
    """
    name = "VISUAL" if os.environ.get("VISUAL") else "EDITOR" if os.environ.get("EDITOR") else None
    editor = os.environ.get(name) if name else "vi"
    source = f"${name}" if name else "the default editor"
    fix = "set $EDITOR to an installed editor, e.g. `export EDITOR=nano`, and start lmtui again"
    try:
        argv = shlex.split(editor)
    except ValueError as exc:
        raise LmtuiError(f"{source} {editor!r} cannot be read: {exc}", hint=fix) from None
    if not argv:
        raise LmtuiError(f"{source} is empty", hint=fix)
    program = shutil.which(argv[0])
    if program is None:
        raise LmtuiError(f"{source}: {argv[0]!r} is not an executable program", hint=fix)
    return [program, *argv[1:], str(path)]
