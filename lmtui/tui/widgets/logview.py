"""Live tail of a run's train.log: follows the end, never loads a huge log whole.

Reading is :class:`lmtui.runs.logtail.LogTail` (bounded reads, partial lines held back,
skips ahead when far behind); display is Textual's ``Log``, which renders only the visible
lines and keeps at most ``max_lines``. The line still being written shows below the log.
Scrolling up stops following; ``End`` (or scrolling back to the bottom) resumes it. ``w``
wraps long lines at the width of the view (and back); ``/`` searches: the matches are
highlighted, Enter jumps to the next one (from the top again after the last), Esc closes
the search (the screen binds ``w`` and ``/`` to :meth:`LogView.action_toggle_wrap` and
:meth:`LogView.action_search`). The log is read only while it is on screen (and once when mounted); coming
back to it reads what was written meanwhile.
"""

from __future__ import annotations

from collections import deque
from pathlib import Path

from rich.cells import cell_len, chop_cells
from rich.highlighter import Highlighter
from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import Input, Log, Static

from lmtui.runs.logtail import LogTail


class TermHighlighter(Highlighter):
    """Highlights every case-insensitive occurrence of ``term``."""

    def __init__(self, term: str, style: str = "black on yellow"):
        self.term = term.lower()
        self.style = style

    def highlight(self, text: Text) -> None:
        if not self.term:
            return
        plain = text.plain.lower()
        start = plain.find(self.term)
        while start >= 0:
            text.stylize(self.style, start, start + len(self.term))
            start = plain.find(self.term, start + len(self.term))


def wrap_line(line: str, width: int) -> list[str]:
    """``line`` cut into pieces of at most ``width`` cells (a line that fits stays whole)."""
    if width < 1 or cell_len(line) <= width:
        return [line]
    return chop_cells(line, width)


class LogView(Vertical):
    """The log of one run, polled every ``interval`` seconds while it is on screen.

    Attributes:
        wrap: long lines are wrapped (toggled with ``w``).
        search_term: the term searched for ('' for none).
    """

    DEFAULT_CSS = """
    LogView { height: 1fr; }
    LogView > Log { height: 1fr; }
    LogView > #partial { height: auto; max-height: 1; color: $text-muted; }
    LogView > #log-search { height: 3; }
    LogView > #log-search-status { height: 1; color: $text-muted; }
    """

    BINDINGS = [Binding("end", "follow", "Follow end")]

    def __init__(self, path: str | Path, *, interval: float = 0.25, max_lines: int = 20000,
                 id: str | None = None):
        super().__init__(id=id)
        self.tail = LogTail(path)
        self.interval = interval
        self.max_lines = max_lines
        self.raw: deque[str] = deque(maxlen=max_lines)
        self.wrap = False
        self.search_term = ""
        self._match: int | None = None  # index (in the Log's lines) of the match shown
        self._wrap_width = 0

    def compose(self) -> ComposeResult:
        yield Log(max_lines=self.max_lines, auto_scroll=True, highlight=False)
        yield Static("", id="partial", markup=False)
        yield Input(placeholder="search the log: Enter for the next match, Esc to close", id="log-search",
                    classes="hidden")
        yield Static("", id="log-search-status", markup=False, classes="hidden")

    def on_mount(self) -> None:
        self.poll(force=True)
        self.set_interval(self.interval, self.poll)

    def on_show(self, event: events.Show) -> None:
        self.poll(force=True)

    def poll(self, force: bool = False) -> None:
        """Take in what the run wrote since the last poll (bounded work per call); nothing while
        the log is not on screen, unless ``force``."""
        if not force and not self.is_on_screen:
            return
        lines = self.tail.read()
        log = self.query_one(Log)
        if lines:
            self.raw.extend(lines)
            log.auto_scroll = log.is_vertical_scroll_end or log.max_scroll_y == 0
            log.write_lines(self._shown(lines))
        self.query_one("#partial", Static).update(self.tail.partial[-400:])

    def _shown(self, lines) -> list[str]:
        if not self.wrap:
            return list(lines)
        width = self._width()
        self._wrap_width = width
        return [piece for line in lines for piece in wrap_line(line, width)]

    def _width(self) -> int:
        log = self.query_one(Log)
        return max(10, log.scrollable_content_region.width or log.size.width or 80)

    def on_resize(self, event: events.Resize) -> None:
        if self.wrap and self._width() != self._wrap_width:
            self._redraw()

    def _redraw(self) -> None:
        """Write every kept line again (after a wrap toggle or a new width)."""
        log = self.query_one(Log)
        follow = log.is_vertical_scroll_end or log.max_scroll_y == 0
        log.clear()
        log.write_lines(self._shown(self.raw), scroll_end=follow)
        self._match = None

    @property
    def lines(self) -> list[str]:
        """The lines shown (for tests)."""
        return list(self.query_one(Log).lines)

    def focus_log(self) -> None:
        """Focus the log now (``Widget.focus`` waits a turn of the event loop, and keys already
        queued would reach the widget focused before)."""
        self.screen.set_focus(self.query_one(Log))

    # actions ---------------------------------------------------------------------
    def action_follow(self) -> None:
        log = self.query_one(Log)
        log.auto_scroll = True
        log.scroll_end(animate=False)

    def action_toggle_wrap(self) -> None:
        self.wrap = not self.wrap
        self._redraw()
        self.notify(f"log lines {'wrapped' if self.wrap else 'cut at the edge (scroll sideways)'}", timeout=2)

    def action_search(self) -> None:
        box = self.query_one("#log-search", Input)
        box.remove_class("hidden")
        self.query_one("#log-search-status").remove_class("hidden")
        self.screen.set_focus(box)  # at once: the keys typed right after `/` belong to the box

    def on_input_changed(self, event: Input.Changed) -> None:
        event.stop()
        self.set_term(event.value)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.next_match()

    def on_key(self, event: events.Key) -> None:
        if event.key == "escape" and self.query_one("#log-search", Input).has_focus:
            event.stop()
            self.close_search()

    def close_search(self) -> None:
        box = self.query_one("#log-search", Input)
        box.value = ""
        box.add_class("hidden")
        self.query_one("#log-search-status").add_class("hidden")
        self.set_term("")
        self.focus_log()

    def set_term(self, term: str) -> None:
        """Highlight ``term`` and show the first match from the top of the view."""
        log = self.query_one(Log)
        self.search_term = term
        log.highlighter = TermHighlighter(term)
        log.highlight = bool(term)
        self._match = None
        log.refresh()
        if term:
            self.next_match(start=log.scroll_offset.y)
        else:
            self._status("")

    def matches(self) -> list[int]:
        """Indexes of the shown lines that contain the search term (case-insensitive)."""
        term = self.search_term.lower()
        return [i for i, line in enumerate(self.query_one(Log).lines) if term in line.lower()] if term else []

    def next_match(self, start: int | None = None) -> None:
        """Scroll to the next line with the term (after the one shown, or from line ``start``)."""
        found = self.matches()
        if not found:
            self._status(f"no match for {self.search_term!r}" if self.search_term else "")
            return
        begin = start if start is not None else (self._match + 1 if self._match is not None else 0)
        index = next((i for i in found if i >= begin), found[0])
        self._match = index
        log = self.query_one(Log)
        log.auto_scroll = False
        log.scroll_to(y=max(0, index - log.size.height // 2), animate=False)
        self._status(f"match {found.index(index) + 1} of {len(found)} for {self.search_term!r} (line {index + 1})")

    def _status(self, text: str) -> None:
        self.query_one("#log-search-status", Static).update(text)
