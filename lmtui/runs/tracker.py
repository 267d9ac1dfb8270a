"""What the UI and `lmtui runs` show about a run, read incrementally from its run directory.

A :class:`RunTracker` follows one run: ``run.json`` for the status (``crashed`` when the
process is gone without a final status, see :meth:`lmtui.runs.rundir.RunDir.status`) and
``events.jsonl`` from the last byte read (:func:`lmtui.runs.events.read_events`), so a poll
costs only the new lines. It is the events' reducer (:class:`lmtui.runs.events.RunEvents`)
with the curves the charts draw on top, and it prefers run.json where that knows better
(stage, error). Plain Python: no Textual, no torch.

A tracker may be polled from a worker thread while the event loop reads it: :attr:`RunTracker.lock`
(re-entrant) is held by :meth:`RunTracker.poll`; hold it too while reading the curves from
another thread.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import Callable

from lmtui.runs.events import DISTILL_LOSS_FIELDS, POLL_BYTES, RunEvents, read_events
from lmtui.runs.rundir import ACTIVE, RunDir
from lmtui.runs.series import Series

# Curves kept per run: name -> (event type, field). A distillation run's train events also carry the
# unweighted components of its loss (DISTILL_LOSS_FIELDS); other runs leave those series empty.
DISTILL_CURVES = DISTILL_LOSS_FIELDS
CURVES = {
    "loss": ("train", "loss"),
    **{name: ("train", name) for name in DISTILL_CURVES},
    "learning_rate": ("train", "learning_rate"),
    "tokens_per_s": ("train", "tokens_per_s"),
    "grad_norm": ("train", "grad_norm"),
    "eval_loss": ("eval", "loss"),
    "perplexity": ("eval", "perplexity"),
    "accuracy": ("eval", "accuracy"),
}


class RunTracker(RunEvents):
    """The live view of one run directory; call :meth:`poll` to take in what changed.

    Args:
        run: the run directory (a :class:`RunDir` or a path).
        clock: returns "now" in Unix seconds (tests fix it).
        smoothing: EMA weight of the curves.
    """

    def __init__(self, run: RunDir | str | Path, *, clock: Callable[[], float] = time.time, smoothing: float = 0.6):
        super().__init__()
        self.run = run if isinstance(run, RunDir) else RunDir(run)
        self.clock = clock
        self.offset = 0
        self.state: dict = {}
        self._status = "queued"
        self.series = {name: Series(smoothing) for name in CURVES}
        self.lock = threading.RLock()

    @property
    def path(self) -> Path:
        return self.run.path

    @property
    def run_id(self) -> str:
        return self.run.run_id

    def poll(self, max_bytes: int = POLL_BYTES) -> int:
        """Re-read run.json and the new events (at most ``max_bytes``); returns how many events came in."""
        with self.lock:
            self.state = self.run.read_state()
            events, self.offset = read_events(self.run.events_file, self.offset, max_bytes)
            for event in events:
                self.apply(event)
            self._status = self.run.status() if self.state else ("queued" if self.path.is_dir() else "missing")
            return len(events)

    def catch_up(self, max_bytes: int = POLL_BYTES) -> int:
        """:meth:`poll` until everything written so far is read (the offset stops moving); returns the events read.

        A poll that finds no valid event may still move the offset (past invalid lines), so
        "no events" does not mean "nothing left".
        """
        total = 0
        while True:
            before = self.offset
            total += self.poll(max_bytes)
            if self.offset == before:
                return total

    def behind(self) -> int:
        """Bytes of events.jsonl not read yet."""
        try:
            return max(0, self.run.events_file.stat().st_size - self.offset)
        except OSError:
            return 0

    def set_smoothing(self, weight: float) -> None:
        for s in self.series.values():
            s.set_smoothing(weight)

    def apply(self, e: dict) -> None:
        """Fold ``e`` into the summary (:meth:`RunEvents.apply`) and append its values to the curves."""
        super().apply(e)
        t, when = e.get("type"), e.get("time")
        if not isinstance(when, (int, float)):
            when = self.first_time or 0.0
        for name, (etype, field) in CURVES.items():
            if t == etype:
                step, value = e.get("step"), e.get(field)
                if isinstance(step, (int, float)) and isinstance(value, (int, float)) and not isinstance(value, bool):
                    self.series[name].append(float(step), float(when), float(value))

    # what the tables show -------------------------------------------------------
    @property
    def status(self) -> str:
        """run.json's status as of the last poll (``crashed`` for a dead process, ``missing`` without a folder)."""
        return self._status

    @property
    def project_name(self) -> str:
        return self.state.get("project_name") or self.run_id.rsplit("-", 2)[0]

    @property
    def stage(self) -> str | None:
        return self.state.get("stage")

    @property
    def step(self) -> int | None:
        step = super().step
        return step if step is not None else self.state.get("step")

    @property
    def max_steps(self) -> int | None:
        return super().max_steps or self.state.get("max_steps")

    @property
    def loss(self) -> float | None:
        return self.series["loss"].last()

    @property
    def device(self) -> str:
        return super().device or self.state.get("device") or ""

    @property
    def created(self) -> float:
        return float(self.state.get("created") or 0.0)

    @property
    def elapsed(self) -> float | None:
        """Wall-clock seconds of every session of the run (:meth:`RunEvents.wall_seconds`), the live one to now.

        A run without a ``run_start`` event (an evaluation-only run of ``lmtui eval --model``)
        counts from run.json's started to its ended, or to now while active.
        """
        active = self.status in ACTIVE
        total = self.wall_seconds(self.clock() if active else self.last_sign_of_life() if self.status == "crashed"
                                  else None)
        if total is not None:
            return total
        started = self.state.get("started") or self.state.get("created")
        if not started:
            return None
        if active:
            return max(0.0, self.clock() - started)
        ended = self.state.get("ended") or (self.end or {}).get("time") or self.state.get("updated")
        return max(0.0, ended - started) if ended else None

    def last_sign_of_life(self) -> float | None:
        """When a crashed run last did anything: its newest write to events.jsonl, train.log or
        run.json (Unix seconds; None when none of them exists). A run killed during a long stage
        keeps writing its log after its last event. A time after the tracker's clock is ignored
        (a run directory copied in, or a fixed clock)."""
        now = self.clock()
        times = []
        for path in (self.run.events_file, self.run.log_file, self.run.run_json):
            try:
                mtime = os.stat(path).st_mtime
            except OSError:
                continue
            if mtime <= now:
                times.append(mtime)
        return max(times) if times else None

    @property
    def dataset_progress(self) -> dict | None:
        """The last ``dataset_progress`` event while the tokenizer or dataset stage that wrote it runs
        (its ``phase``); None before one, and once the stage is done or the run ended."""
        e = self.extra.get("dataset_progress")
        if not e or self.status not in ACTIVE or self.stage not in ("tokenizer", "dataset") \
                or e.get("phase", self.stage) != self.stage:
            return None
        starts = [s for s in self.stage_events if s.get("stage") == self.stage]
        if starts and starts[-1].get("state") != "start":
            return None
        return e

    @property
    def peak_memory(self) -> dict:
        """``peak_rss_mb`` and ``peak_gpu_memory_mb`` (MiB) that ``train_end`` reported, those present."""
        e = self.train_end or {}
        return {k: e[k] for k in ("peak_rss_mb", "peak_gpu_memory_mb") if isinstance(e.get(k), (int, float))}

    @property
    def eta(self) -> float | None:
        """Seconds left by the trainer's own estimate, counted down since it was reported."""
        if self.status not in ACTIVE or not self.last_train or self.last_train.get("eta_s") is None:
            return None
        return max(0.0, self.last_train["eta_s"] - max(0.0, self.clock() - self.last_train.get("time", self.clock())))

    @property
    def error(self) -> str | None:
        return self.state.get("error") or super().error

    def log_tail(self, lines: int = 8, max_bytes: int = 16384) -> list[str]:
        """The last ``lines`` lines of train.log (reads at most ``max_bytes`` from the end)."""
        return tail_lines(self.run.log_file, lines, max_bytes)

    def summary(self) -> dict:
        """The row `lmtui runs --json` prints and the runs table shows, as plain values."""
        return {"run_id": self.run_id, "path": str(self.path), "status": self.status, "project": self.project_name,
                "stage": self.stage, "step": self.step, "max_steps": self.max_steps, "loss": self.loss,
                "perplexity": self.perplexity, "tokens_per_s": self.tokens_per_s, "elapsed_s": self.elapsed,
                "eta_s": self.eta, "device": self.device, "host": self.state.get("host"),
                "created": self.state.get("created"), "error": self.error}


def tail_lines(path: Path, lines: int, max_bytes: int = 16384) -> list[str]:
    """The last ``lines`` lines of a text file, reading at most ``max_bytes`` from its end."""
    try:
        with open(path, "rb") as fh:
            fh.seek(0, 2)
            size = fh.tell()
            fh.seek(max(0, size - max_bytes))
            data = fh.read()
    except OSError:
        return []
    text = data.decode("utf-8", errors="replace")
    out = [line.rsplit("\r", 1)[-1] for line in text.splitlines()]
    if len(data) == max_bytes and len(out) > 1:
        out = out[1:]
    return [line for line in out if line.strip()][-lines:]
