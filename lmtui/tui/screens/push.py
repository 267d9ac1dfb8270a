"""The TUI's push dialog: publish a run to the Hugging Face Hub after a confirmation.

:class:`PushScreen` shows what the push will do (repository, visibility, branch, the files and
their sizes, the logged-in user and where the token comes from, masked), lets the user change
the repository, the visibility and what is included, and on confirmation uploads in a thread
worker with a progress bar. It dismisses with the push record (run.json's ``push``) or None.

Planning and uploading run in thread workers (``exit_on_error=False``): a network or token
problem shows as a message in the dialog and never takes the app down. Imports neither torch
nor transformers.
"""

from __future__ import annotations

from rich.markup import escape
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, Input, Label, ProgressBar, Static

from lmtui.tui.screens.dialogs import FOCUS_KEYS, TickBox


class PushScreen(ModalScreen[dict | None]):
    """Confirm and run a push of the run at ``run_path``; dismisses with the push record or None."""

    DEFAULT_CSS = """
    PushScreen { align: center middle; }
    PushScreen #push-dialog { width: 88; max-width: 100%; height: auto; max-height: 100%;
                              border: thick $primary; background: $surface; padding: 0 1; }
    PushScreen #push-title { text-style: bold; margin-bottom: 1; }
    PushScreen #push-form { height: auto; }
    PushScreen #push-form Input { width: 1fr; }
    PushScreen .push-row { height: auto; }
    PushScreen .push-label { width: 14; padding: 1 1 0 0; }
    PushScreen #push-options { height: auto; }
    PushScreen #push-files { height: auto; max-height: 12; border: round $panel; }
    PushScreen #push-summary { height: auto; }
    PushScreen #push-progress { margin-top: 1; }
    PushScreen #push-status { height: auto; margin-top: 1; }
    PushScreen #push-buttons { height: auto; align-horizontal: right; margin-top: 1; }
    PushScreen #push-buttons Button { margin-left: 1; }
    """

    BINDINGS = [*FOCUS_KEYS, Binding("escape", "cancel", "Cancel"), Binding("ctrl+s", "push", "Push")]

    def __init__(self, run_path: str):
        super().__init__()
        self.run_path = str(run_path)
        self.plan = None          # lmtui.hub.push.PushPlan once planned
        self.account = None       # the Account of the first plan (whoami is rate-limited)
        self.record: dict | None = None
        self.pushing = False
        self._settings = None

    # layout ------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        from lmtui.runs.rundir import RunDir

        with Vertical(id="push-dialog"):
            yield Label(f"Publish {RunDir(self.run_path).run_id} to the Hugging Face Hub", id="push-title")
            with Vertical(id="push-form"):
                with Horizontal(classes="push-row"):
                    yield Label("repository", classes="push-label")
                    yield Input(placeholder="USER/NAME (default: your user / the project name)", id="push-repo")
                with Horizontal(id="push-options"):
                    yield TickBox("private", True, id="push-private")
                    yield TickBox("checkpoints", False, id="push-checkpoints")
                    yield TickBox("event log", False, id="push-events")
            yield Static("checking the token and the account...", id="push-summary")
            with VerticalScroll(id="push-files"):
                yield Static("", id="push-file-list")
            yield ProgressBar(id="push-progress", show_eta=False)
            yield Static("", id="push-status")
            with Horizontal(id="push-buttons"):
                yield Button("Push", id="push-go", variant="primary", disabled=True)
                yield Button("Cancel", id="push-cancel")

    def on_mount(self) -> None:
        self.query_one("#push-progress", ProgressBar).display = False
        self.query_one("#push-files").display = False
        self.run_worker(self._load_settings, thread=True, exit_on_error=False, group="push-plan", exclusive=True)

    # planning ------------------------------------------------------------------
    def _load_settings(self) -> None:
        from lmtui.hub.push import run_settings
        from lmtui.runs.rundir import RunDir

        try:
            settings = run_settings(RunDir(self.run_path))
        except Exception as exc:  # noqa: BLE001 - shown in the dialog
            self.app.call_from_thread(self._show_error, exc)
            return
        self.app.call_from_thread(self._apply_settings, settings)

    def _apply_settings(self, settings) -> None:
        self._settings = settings
        with self.prevent(Input.Changed, Checkbox.Changed):
            self.query_one("#push-repo", Input).value = settings.repo_id
            self.query_one("#push-private", Checkbox).value = settings.private
            self.query_one("#push-checkpoints", Checkbox).value = settings.include_checkpoints
            self.query_one("#push-events", Checkbox).value = settings.include_events
        self._replan()

    def _current_settings(self):
        from lmtui.hub.push import apply_overrides

        return apply_overrides(self._settings, repo_id=self.query_one("#push-repo", Input).value.strip(),
                               private=self.query_one("#push-private", Checkbox).value,
                               include_checkpoints=self.query_one("#push-checkpoints", Checkbox).value,
                               include_events=self.query_one("#push-events", Checkbox).value)

    def _replan(self) -> None:
        if self._settings is None or self.pushing:
            return
        self.plan = None
        self.query_one("#push-go", Button).disabled = True
        settings = self._current_settings()
        self.run_worker(lambda: self._plan(settings), thread=True, exit_on_error=False, group="push-plan",
                        exclusive=True)

    def _plan(self, settings) -> None:
        from lmtui.hub.push import plan_push
        from lmtui.runs.rundir import RunDir

        try:
            plan = plan_push(RunDir(self.run_path), settings, account=self.account)
        except Exception as exc:  # noqa: BLE001 - shown in the dialog
            self.app.call_from_thread(self._show_error, exc)
            return
        self.app.call_from_thread(self._show_plan, plan, settings)

    def _show_plan(self, plan, settings) -> None:
        from lmtui.fmt import fmt_bytes_words

        if settings != self._current_settings():
            return  # the options changed while planning; a newer plan is on its way
        self.plan, self.account = plan, plan.account
        acct = plan.account
        summary = Text()
        summary.append("repository  ", style="dim").append(f"{plan.repo_id}", style="bold")
        summary.append(f"  ({plan.visibility}, branch {plan.revision})\n")
        summary.append("account     ", style="dim").append(acct.name, style="bold")
        summary.append(f"  (token from {acct.token_source}: {acct.token_masked})\n")
        summary.append("upload      ", style="dim")
        summary.append(f"{len(plan.bundle.files)} files, {fmt_bytes_words(plan.bundle.total_bytes)} to {plan.endpoint}")
        last = plan.run.read_state().get("push")
        if isinstance(last, dict) and last.get("repo_id"):
            summary.append("\nlast push   ", style="dim")
            summary.append(f"{last['repo_id']} at commit {str(last.get('commit', ''))[:10]}")
        self.query_one("#push-summary", Static).update(summary)
        rows = "\n".join(f"{escape(name):<56} {fmt_bytes_words(size):>10}" for name, size in plan.bundle.listing())
        self.query_one("#push-file-list", Static).update(rows)
        self.query_one("#push-files").display = True
        self.query_one("#push-status", Static).update("")
        go = self.query_one("#push-go", Button)
        go.disabled = False
        go.focus()

    def _show_error(self, exc: BaseException) -> None:
        from lmtui.errors import LmtuiError

        text = Text()
        if isinstance(exc, LmtuiError):
            text.append(exc.message, style="bold red")
            if exc.hint:
                text.append(f"\nfix: {exc.hint}", style="green")
        else:
            text.append(f"{type(exc).__name__}: {exc}", style="bold red")
        self.pushing = False
        self.query_one("#push-status", Static).update(text)
        self.query_one("#push-progress", ProgressBar).display = False
        if self.plan is None:
            self.query_one("#push-summary", Static).update("")
        go = self.query_one("#push-go", Button)
        go.label = "Retry" if self.plan is not None else "Push"
        go.disabled = self.plan is None
        self.query_one("#push-cancel", Button).disabled = False
        self._set_form_enabled(True)

    @on(Input.Submitted, "#push-repo")
    @on(Checkbox.Changed)
    def _options_changed(self) -> None:
        self._replan()

    @on(Input.Changed, "#push-repo")
    def _repo_typing(self) -> None:
        self.plan = None
        self.query_one("#push-go", Button).disabled = True
        self.query_one("#push-status", Static).update("press Enter to check the repository")

    # pushing -------------------------------------------------------------------
    def _set_form_enabled(self, enabled: bool) -> None:
        for widget in self.query("#push-form Input, #push-form Checkbox"):
            widget.disabled = not enabled

    def action_push(self) -> None:
        if self.plan is None or self.pushing:
            return
        self.pushing = True
        self._set_form_enabled(False)
        self.query_one("#push-go", Button).disabled = True
        self.query_one("#push-cancel", Button).disabled = True
        bar = self.query_one("#push-progress", ProgressBar)
        bar.display = True
        bar.update(total=max(self.plan.bundle.total_bytes, 1), progress=0)
        self.query_one("#push-status", Static).update("starting the upload...")
        plan = self.plan

        def work() -> None:
            from lmtui.hub.push import execute

            try:  # execute() builds new commit operations each time, so a retry reuses the plan
                record = execute(plan, lambda message, done, total: self.app.call_from_thread(
                    self._progress, message, done, total))
            except Exception as exc:  # noqa: BLE001 - shown in the dialog
                self.app.call_from_thread(self._show_error, exc)
                return
            self.app.call_from_thread(self._done, record)

        self.run_worker(work, thread=True, exit_on_error=False, group="push-upload", exclusive=True)

    def _progress(self, message: str, done: int, total: int) -> None:
        bar = self.query_one("#push-progress", ProgressBar)
        bar.update(total=max(total, 1), progress=done)
        self.query_one("#push-status", Static).update(escape(message))

    def _done(self, record: dict) -> None:
        self.pushing = False
        self.record = record
        text = Text()
        if record.get("changed"):
            text.append("pushed ", style="bold green")
        else:
            text.append("already up to date ", style="bold green")
        text.append(f"{record['url']}\ncommit {record.get('commit')}")
        self.query_one("#push-status", Static).update(text)
        go = self.query_one("#push-go", Button)
        go.display = False
        cancel = self.query_one("#push-cancel", Button)
        cancel.label = "Close"
        cancel.disabled = False
        cancel.focus()

    # buttons and keys ------------------------------------------------------------
    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "push-go":
            self.action_push()
        elif event.button.id == "push-cancel":
            self.action_cancel()

    def action_cancel(self) -> None:
        if self.pushing:
            self.notify("the upload is running; wait for it to finish", severity="warning")
            return
        self.dismiss(self.record)
