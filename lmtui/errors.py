"""Errors that reach the user as one clear message and exit code 2."""

from __future__ import annotations


class LmtuiError(Exception):
    """A user-facing error: printed as one message, exit code 2, nothing written.

    Args:
        message: what is wrong.
        file: the file at fault (project file, corpus file, run directory), if any.
        key: the dotted project key at fault (``training.batch_size``), if any.
        line: 1-based line in ``file`` where the key sits, if known.
        hint: what to do about it.
    """

    exit_code = 2

    def __init__(self, message: str, *, file: str | None = None, key: str | None = None,
                 line: int | None = None, hint: str | None = None):
        self.message = message
        self.file = file
        self.key = key
        self.line = line
        self.hint = hint
        super().__init__(self.format())

    def format(self) -> str:
        where = ""
        if self.file:
            where = f"{self.file}:{self.line}: " if self.line else f"{self.file}: "
        key = f"[{self.key}] " if self.key else ""
        hint = f"\n  fix: {self.hint}" if self.hint else ""
        return f"{where}{key}{self.message}{hint}"


class ProjectError(LmtuiError):
    """The project file is invalid (syntax, unknown key, wrong type, inconsistent values)."""


class CorpusError(LmtuiError):
    """A corpus file is missing, empty or unreadable."""


class RunError(LmtuiError):
    """A run directory is missing, locked by a live run, or in a state that forbids the action."""
