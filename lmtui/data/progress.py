"""Progress of long data work (tokenizer training, token cache): bytes read of the total,
documents and tokens per second, ETA, reported about once a second.

The reports are the ``dataset_progress`` events of docs/events.md: ``lmtui prepare`` draws them
as a rich progress bar, the dataset and tokenizer stages write them to events.jsonl.
"""

from __future__ import annotations

import time
from typing import Callable


class ProgressMeter:
    """Throttled progress reports of one phase.

    Args:
        phase: ``tokenizer`` or ``dataset``.
        total_bytes: on-disk bytes to read (None when unknown: a Hub dataset).
        report: called with the report dict; None to report nothing.
        every: seconds between reports (the last one, :meth:`done`, always goes out).
    """

    def __init__(self, phase: str, total_bytes: int | None, report: Callable[[dict], None] | None,
                 every: float = 1.0):
        self.phase = phase
        self.total = total_bytes
        self.report = report
        self.every = every
        self.t0 = time.perf_counter()
        self.last = -every
        self.bytes = 0
        self.documents = 0
        self.tokens = 0

    def update(self, bytes_done: int, *, documents: int | None = None, tokens: int | None = None) -> None:
        """Record the counts so far (``documents``/``tokens`` processed, not skipped) and report if due."""
        self.bytes = bytes_done
        if documents is not None:
            self.documents = documents
        if tokens is not None:
            self.tokens = tokens
        if self.report is not None and time.perf_counter() - self.last >= self.every:
            self.last = time.perf_counter()
            self.report(self.snapshot())

    def done(self) -> None:
        """Report the final counts (bytes read = the total)."""
        if self.total is not None:
            self.bytes = self.total
        if self.report is not None:
            self.report(self.snapshot(final=True))

    def snapshot(self, final: bool = False) -> dict:
        """``phase``, ``bytes_done``, ``bytes_total`` (or None), ``documents``, ``tokens``,
        ``docs_per_s``, ``tokens_per_s``, ``seconds``, ``eta_s`` (remaining bytes at the rate so
        far; None when the total is unknown) and ``final``."""
        seconds = max(time.perf_counter() - self.t0, 1e-9)
        eta = None
        if self.total and self.bytes:
            eta = 0.0 if final else max(0.0, (self.total - self.bytes) * seconds / self.bytes)
        return {"phase": self.phase, "bytes_done": self.bytes, "bytes_total": self.total,
                "documents": self.documents, "tokens": self.tokens,
                "docs_per_s": round(self.documents / seconds, 1), "tokens_per_s": round(self.tokens / seconds, 1),
                "seconds": round(seconds, 3), "eta_s": None if eta is None else round(eta, 1), "final": final}
