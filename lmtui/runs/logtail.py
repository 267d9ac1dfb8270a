"""Follow a growing log file without ever reading too much at once.

The first read starts ``start_bytes`` before the end (a huge log is not loaded whole); each
later read takes at most ``max_bytes`` new bytes; when the writer gets more than
``skip_bytes`` ahead the reader jumps to the end and says how much it skipped, so the view
never falls behind. A line without its newline yet is kept (:attr:`LogTail.partial`) until
it is complete; carriage returns (progress bars redrawn in place) keep only the text after
the last one; very long lines are cut. Plain Python, no Textual.
"""

from __future__ import annotations

import os
from pathlib import Path


class LogTail:
    """Incremental reader of the end of a text file.

    Args:
        path: the file (it may not exist yet).
        start_bytes: how far before the end the first read starts.
        max_bytes: most bytes taken per :meth:`read`.
        skip_bytes: when more than this is unread, jump to the last ``start_bytes``.
        max_line: longer lines are cut to this many characters.
    """

    def __init__(self, path: str | os.PathLike, *, start_bytes: int = 64 << 10, max_bytes: int = 1 << 20,
                 skip_bytes: int = 8 << 20, max_line: int = 2000):
        self.path = Path(path)
        self.start_bytes = start_bytes
        self.max_bytes = max_bytes
        self.skip_bytes = skip_bytes
        self.max_line = max_line
        self.offset: int | None = None
        self._rest = b""

    @property
    def partial(self) -> str:
        """The last line, still without its newline (empty when none)."""
        return self._clean(self._rest) if self._rest else ""

    def behind(self) -> int:
        """Bytes written and not read yet."""
        try:
            return max(0, self.path.stat().st_size - (self.offset or 0))
        except OSError:
            return 0

    def read(self) -> list[str]:
        """The complete lines written since the last call (a notice line first after a skip)."""
        try:
            size = self.path.stat().st_size
        except OSError:
            return []
        notices = []
        if self.offset is None or size < self.offset:
            if self.offset is not None:
                notices.append("… the log was truncated; reading it again from its start …")
                self.offset = 0
            self.offset, self._rest = max(0, size - self.start_bytes), b""
            if self.offset:
                notices.append(f"… {self.offset:,} earlier bytes not shown …")
        elif size - self.offset > self.skip_bytes:
            skipped = size - self.start_bytes - self.offset
            self.offset, self._rest = size - self.start_bytes, b""
            notices.append(f"… {skipped:,} bytes skipped to keep up …")
        if size == self.offset:
            return notices
        starts_mid_line = bool(notices) and self.offset > 0
        with open(self.path, "rb") as fh:
            fh.seek(self.offset)
            data = fh.read(self.max_bytes)
        self.offset += len(data)
        data = self._rest + data
        if starts_mid_line:
            cut = data.find(b"\n")
            data = data[cut + 1:] if cut >= 0 else b""
        *complete, self._rest = data.split(b"\n")
        if len(self._rest) > self.max_bytes:
            self._rest = self._rest[self._rest.rfind(b"\r") + 1:][-self.max_bytes:]
        return notices + [self._clean(line) for line in complete]

    def _clean(self, raw: bytes) -> str:
        text = raw.decode("utf-8", errors="replace").rstrip("\r")
        if "\r" in text:
            text = text.rsplit("\r", 1)[-1]
        if len(text) > self.max_line:
            text = text[: self.max_line] + f" … (+{len(text) - self.max_line:,} characters)"
        return text.expandtabs(4)
