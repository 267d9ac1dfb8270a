"""Reading ``events.jsonl`` (docs/events.md): one bounded, incremental reader and one reducer.

:func:`read_events` reads the complete lines from a byte offset, at most ``max_bytes`` per
call, so a poll of a huge file stays short; :func:`iter_events` loops it to the end of the
file. :class:`RunEvents` folds events, one :meth:`RunEvents.apply` at a time, into what the
tables, the headless follow loops and the model card show about a run (stage, step, last
train and eval numbers, training time, wall time of its sessions, final metrics, error, push
record, ...). Every watcher reads through these two, so they all state the same numbers. Plain
Python: no torch, no Textual.
"""

from __future__ import annotations

import json
import math
import os
from typing import Iterator

# At most this many bytes of events are parsed per call, so one poll of a huge file stays short.
POLL_BYTES = 4 << 20
# The unweighted parts of a distillation run's loss that its ``train`` events carry beside ``loss``
# (written by lmtui.distill.loss, charted through lmtui.runs.tracker; docs/distillation.md).
DISTILL_LOSS_FIELDS = ("loss_ce", "loss_mlm", "loss_cos")

# `log` events kept by RunEvents.messages (the newest).
KEEP_MESSAGES = 200

# Event type -> the RunEvents attribute that keeps the last event of that type.
LAST_OF_TYPE = {"tokenizer": "tokenizer", "dataset": "dataset", "train_start": "train_start", "train": "last_train",
                "eval": "last_eval", "model": "model", "train_end": "train_end", "end": "end", "push": "push"}


def read_events(path: str | os.PathLike, offset: int = 0, max_bytes: int = POLL_BYTES) -> tuple[list[dict], int]:
    """The complete event lines of ``path`` from byte ``offset``, reading at most ``max_bytes``.

    Returns (events, next offset). A last line without its newline (still being written) is
    left for the next call; lines that are not a JSON object are skipped (the offset moves
    past them). A single line longer than ``max_bytes`` is read whole. A missing file gives
    ``([], offset)``. Call again while the returned offset moves to read everything.
    """
    try:
        with open(path, "rb") as fh:
            fh.seek(offset)
            data = fh.read(max_bytes)
            end = data.rfind(b"\n")
            while end < 0 and len(data) >= max_bytes:
                more = fh.read(max_bytes)
                if not more:
                    break
                data += more
                end = data.rfind(b"\n")
    except FileNotFoundError:
        return [], offset
    if end < 0:
        return [], offset
    events = []
    for raw in data[: end + 1].splitlines():
        try:
            event = json.loads(raw)
        except ValueError:
            continue
        if isinstance(event, dict):
            events.append(event)
    return events, offset + end + 1


def iter_events(path: str | os.PathLike, offset: int = 0, max_bytes: int = POLL_BYTES) -> Iterator[dict]:
    """Every complete event of ``path`` from byte ``offset`` to its current end, ``max_bytes`` at a time."""
    while True:
        events, after = read_events(path, offset, max_bytes)
        yield from events
        if after == offset:
            return
        offset = after


def _number(value) -> float | None:
    """``value`` when it is a finite int or float (not a bool), else None."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return value


class RunEvents:
    """What a run's events say about it, folded one event at a time with :meth:`apply`.

    Attributes (the last event of each type, None until one came):
        first_time: ``time`` of the first event (Unix seconds; 0.0 when it had none).
        run_start, tokenizer, dataset, train_start, last_train, last_eval, model, train_end,
        end, push: the events of those types (a new ``run_start`` clears ``end`` and ``stopping``).
        stopping: a ``stopping`` event came since the last ``run_start``.
        stage_events, checkpoint_events: every ``stage`` and ``checkpoint`` event, in order.
        stage_seconds: stage -> seconds, summed over its ``done`` events (resumed runs add up).
        sessions: (start, end) Unix seconds of every closed session of the driver: a ``run_start``
            to its ``end``, or to its last event when the next ``run_start`` came without one (a crash).
        messages: the last :data:`KEEP_MESSAGES` ``log`` events.
        extra: the last event of every other type, by type.
    """

    def __init__(self) -> None:
        self.first_time: float | None = None
        self.run_start: dict | None = None
        self.tokenizer: dict | None = None
        self.dataset: dict | None = None
        self.train_start: dict | None = None
        self.last_train: dict | None = None
        self.last_eval: dict | None = None
        self.model: dict | None = None
        self.train_end: dict | None = None
        self.end: dict | None = None
        self.push: dict | None = None
        self.stopping = False
        self.stage_events: list[dict] = []
        self.checkpoint_events: list[dict] = []
        self.stage_seconds: dict[str, float] = {}
        self.messages: list[dict] = []
        self.extra: dict[str, dict] = {}
        self.sessions: list[tuple[float, float]] = []
        self._open: list[float] | None = None  # [start, last event time] of the session not ended yet

    def apply(self, e: dict) -> None:
        """Take in one event (unknown types and fields are kept in :attr:`extra` or ignored)."""
        t = e.get("type")
        when = _number(e.get("time"))
        if self.first_time is None:
            self.first_time = when or 0.0
        if not isinstance(t, str):
            return
        self._time_session(t, when)
        if t in LAST_OF_TYPE:
            setattr(self, LAST_OF_TYPE[t], e)
        elif t == "run_start":
            self.run_start, self.end, self.stopping = e, None, False
            self.extra.pop("pruned", None)
        elif t == "stage":
            self.stage_events.append(e)
            seconds = _number(e.get("seconds"))
            if e.get("state") == "done" and seconds is not None and isinstance(e.get("stage"), str):
                self.stage_seconds[e["stage"]] = self.stage_seconds.get(e["stage"], 0.0) + seconds
        elif t == "checkpoint":
            self.checkpoint_events.append(e)
        elif t == "stopping":
            self.stopping = True
        elif t == "log":
            self.messages.append(e)
            del self.messages[:-KEEP_MESSAGES]
        else:
            self.extra[t] = e

    def _time_session(self, t: str, when: float | None) -> None:
        """Open a session at ``run_start``, move its end with every event, close it at ``end``."""
        if t == "run_start":
            self._close_session()
            if when is not None:
                self._open = [when, when]
            return
        if self._open is not None and when is not None:
            self._open[1] = max(self._open[1], when)
        if t == "end":
            self._close_session()

    def _close_session(self) -> None:
        if self._open is not None:
            self.sessions.append((self._open[0], self._open[1]))
            self._open = None

    # what the events say ------------------------------------------------------------
    @property
    def status(self) -> str:
        """``queued`` before ``run_start``, then ``running`` (``stopping`` after a stop request), then end's
        status, or ``pruned`` when a sweep's controller stopped it early (a ``pruned`` event after its ``end``)."""
        if self.end:
            return "pruned" if "pruned" in self.extra else str(self.end.get("status") or "failed")
        if self.run_start is None:
            return "queued"
        return "stopping" if self.stopping else "running"

    @property
    def stage(self) -> str | None:
        """The stage of the last ``stage`` start; None before one and once the run ended."""
        if self.end:
            return None
        starts = [e.get("stage") for e in self.stage_events if e.get("state") == "start"]
        return starts[-1] if starts else None

    @property
    def step(self) -> int | None:
        """The last reported optimizer step (the start step before the first ``train`` event)."""
        if self.last_train:
            return self.last_train.get("step")
        if self.train_start:
            return self.train_start.get("start_step")
        return None

    @property
    def max_steps(self) -> int | None:
        for e in (self.last_train, self.train_start):
            if e and e.get("max_steps"):
                return e["max_steps"]
        return None

    def _train(self, field: str) -> float | None:
        """``field`` of the last ``train`` event, as written (None without one)."""
        return self.last_train.get(field) if self.last_train else None

    @property
    def loss(self) -> float | None:
        """Mean MLM loss of the last logging interval."""
        return self._train("loss")

    @property
    def tokens_per_s(self) -> float | None:
        return self._train("tokens_per_s")

    @property
    def mfu(self) -> float | None:
        """Model FLOPs utilization of the last logging interval (a fraction; GPU runs only)."""
        return self._train("mfu")

    @property
    def tokens(self) -> float | None:
        """Real (non-padding) tokens seen so far, every session of the run (the last ``train`` event's count,
        which the checkpoints carry across a resume). The one token count shown."""
        return self._train("tokens")

    @property
    def train_seconds(self) -> float | None:
        """Seconds of optimizer steps so far, every session of the run (the trainer's ``elapsed_s``: its
        checkpoints carry the count across a resume; evaluation excluded). The one training time shown."""
        return self._train("elapsed_s")

    @property
    def session_count(self) -> int:
        """Sessions of the driver so far (``run_start`` events with a time), the open one included."""
        return len(self.sessions) + (self._open is not None)

    def wall_seconds(self, now: float | None = None) -> float | None:
        """Wall-clock seconds of every session of the run, summed (the run's elapsed time).

        Each session counts from its ``run_start`` to its ``end`` (to its last event when it
        crashed). The session still open counts to ``now`` when given (a live run), else to its
        last event, so the figure of a run directory does not depend on the clock. Time between
        sessions (stopped, waiting for a resume) and events after an ``end`` (a later
        ``lmtui eval``) do not count. None before the first ``run_start``.
        """
        if not self.session_count:
            return None
        total = sum(end - start for start, end in self.sessions)
        if self._open is not None:
            start, last = self._open
            total += max(last, now if now is not None else last) - start
        return total

    @property
    def perplexity(self) -> float | None:
        return self.last_eval.get("perplexity") if self.last_eval else None

    @property
    def params(self) -> int | None:
        """Parameter count: from the ``model`` event, else ``train_start``."""
        for source in (self.model, self.train_start):
            if source and isinstance(source.get("params"), int):
                return source["params"]
        return None

    @property
    def device(self) -> str | None:
        """``cuda x2``-style device of the training processes, from ``train_start``."""
        if not self.train_start:
            return None
        n = self.train_start.get("num_processes") or 1
        return f"{self.train_start.get('device', '?')}" + (f" x{n}" if n > 1 else "")

    @property
    def error(self) -> str | None:
        return (self.end or {}).get("error")

    @property
    def final_metrics(self) -> dict | None:
        """The final evaluation the ``end`` event carries (finished runs)."""
        return (self.end or {}).get("metrics")
