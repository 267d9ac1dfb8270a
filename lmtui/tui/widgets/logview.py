"""Live tail of a run's train.log: follows the end, never loads a huge log whole.

Reading is :class:`lmtui.runs.logtail.LogTail` (bounded reads, partial lines held back,
skips ahead when far behind); display is Textual's ``Log``, which renders only the visible
lines and keeps at most ``max_lines``. The line still being written shows below the log.
Scrolling up stops following; ``End`` (or scrolling back to the bottom) resumes it.
"""

from __future__ import annotations

from pathlib import Path

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Log, Static

from lmtui.runs.logtail import LogTail


class LogView(Vertical):
    """The log of one run, polled every ``interval`` seconds."""

    DEFAULT_CSS = """
    LogView { height: 1fr; }
    LogView > Log { height: 1fr; }
    LogView > #partial { height: auto; max-height: 1; color: $text-muted; }
    """

    BINDINGS = [("end", "follow", "Follow end")]

    def __init__(self, path: str | Path, *, interval: float = 0.25, max_lines: int = 20000,
                 id: str | None = None):
        super().__init__(id=id)
        self.tail = LogTail(path)
        self.interval = interval
        self.max_lines = max_lines

    def compose(self) -> ComposeResult:
        yield Log(max_lines=self.max_lines, auto_scroll=True, highlight=False)
        yield Static("", id="partial", markup=False)

    def on_mount(self) -> None:
        self.poll()
        self.set_interval(self.interval, self.poll)

    def poll(self) -> None:
        """Take in what the run wrote since the last poll (bounded work per call)."""
        lines = self.tail.read()
        log = self.query_one(Log)
        if lines:
            log.auto_scroll = log.is_vertical_scroll_end or log.max_scroll_y == 0
            log.write_lines(lines)
        self.query_one("#partial", Static).update(self.tail.partial[-400:])

    @property
    def lines(self) -> list[str]:
        """The lines shown (for tests)."""
        return list(self.query_one(Log).lines)

    def action_follow(self) -> None:
        log = self.query_one(Log)
        log.auto_scroll = True
        log.scroll_end(animate=False)
