"""What the UI and `lmtui runs` show about a run, read incrementally from its run directory.

A :class:`RunTracker` follows one run: ``run.json`` for the status (``crashed`` when the
process is gone without a final status, see :meth:`lmtui.runs.rundir.RunDir.status`) and
``events.jsonl`` from the last byte read, so a poll costs only the new lines. It keeps the
curves the charts draw and the latest numbers the tables show. Plain Python: no Textual,
no torch.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Callable

from lmtui.runs.rundir import ACTIVE, RunDir
from lmtui.runs.series import Series

# Curves kept per run: name -> (event type, field).
CURVES = {
    "loss": ("train", "loss"),
    "learning_rate": ("train", "learning_rate"),
    "tokens_per_s": ("train", "tokens_per_s"),
    "grad_norm": ("train", "grad_norm"),
    "eval_loss": ("eval", "loss"),
    "perplexity": ("eval", "perplexity"),
    "accuracy": ("eval", "accuracy"),
}

SPARK_BLOCKS = "▁▂▃▄▅▆▇█"

# At most this many bytes of events are parsed per poll, so one poll of a huge file stays short.
POLL_BYTES = 4 << 20


def read_event_lines(path: Path, offset: int, max_bytes: int = POLL_BYTES) -> tuple[list[dict], int]:
    """Complete event lines of ``path`` from byte ``offset``, reading at most ``max_bytes``.

    Same contract as :func:`lmtui.runs.rundir.read_events` (a partial last line waits for the next
    call, invalid lines are skipped) with a bound on the work: call again while the returned
    offset moves. A single line longer than ``max_bytes`` is read whole.
    """
    try:
        with open(path, "rb") as fh:
            fh.seek(offset)
            data = fh.read(max_bytes)
            end = data.rfind(b"\n")
            while end < 0 and len(data) == max_bytes:
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


class RunTracker:
    """The live view of one run directory; call :meth:`poll` to take in what changed.

    Args:
        run: the run directory (a :class:`RunDir` or a path).
        clock: returns "now" in Unix seconds (tests fix it).
        smoothing: EMA weight of the curves.
    """

    def __init__(self, run: RunDir | str | Path, *, clock: Callable[[], float] = time.time, smoothing: float = 0.6):
        self.run = run if isinstance(run, RunDir) else RunDir(run)
        self.clock = clock
        self.offset = 0
        self.state: dict = {}
        self.status = "queued"
        self.series = {name: Series(smoothing) for name in CURVES}
        self.first_time: float | None = None
        self.run_start: dict | None = None
        self.train_start: dict | None = None
        self.last_train: dict | None = None
        self.last_eval: dict | None = None
        self.end: dict | None = None
        self.stopping = False
        self.stage_events: list[dict] = []
        self.checkpoint_events: list[dict] = []
        self.dataset: dict | None = None
        self.tokenizer: dict | None = None
        self.messages: list[dict] = []
        self.extra: dict[str, dict] = {}

    @property
    def path(self) -> Path:
        return self.run.path

    @property
    def run_id(self) -> str:
        return self.run.run_id

    def poll(self, max_bytes: int = POLL_BYTES) -> int:
        """Re-read run.json and the new events (at most ``max_bytes``); returns how many events came in."""
        self.state = self.run.read_state()
        events, self.offset = read_event_lines(self.run.events_file, self.offset, max_bytes)
        for event in events:
            self._take(event)
        self.status = self.run.status() if self.state else ("queued" if self.path.is_dir() else "missing")
        return len(events)

    def behind(self) -> int:
        """Bytes of events.jsonl not read yet."""
        try:
            return max(0, self.run.events_file.stat().st_size - self.offset)
        except OSError:
            return 0

    def set_smoothing(self, weight: float) -> None:
        for s in self.series.values():
            s.set_smoothing(weight)

    def _take(self, e: dict) -> None:
        t, when = e.get("type"), e.get("time")
        if not isinstance(when, (int, float)):
            when = self.first_time or 0.0
        if self.first_time is None:
            self.first_time = when
        if t == "run_start":
            self.run_start, self.end, self.stopping = e, None, False
        elif t == "train_start":
            self.train_start = e
        elif t == "train":
            self.last_train = e
        elif t == "eval":
            self.last_eval = e
        elif t == "stage":
            self.stage_events.append(e)
        elif t == "checkpoint":
            self.checkpoint_events.append(e)
        elif t == "dataset":
            self.dataset = e
        elif t == "tokenizer":
            self.tokenizer = e
        elif t == "stopping":
            self.stopping = True
        elif t == "end":
            self.end = e
        elif t == "log":
            self.messages.append(e)
            del self.messages[:-200]
        elif isinstance(t, str):
            self.extra[t] = e
        for name, (etype, field) in CURVES.items():
            if t == etype:
                step, value = e.get("step"), e.get(field)
                if isinstance(step, (int, float)) and isinstance(value, (int, float)) and not isinstance(value, bool):
                    self.series[name].append(float(step), float(when), float(value))

    # what the tables show -------------------------------------------------------
    @property
    def project_name(self) -> str:
        return self.state.get("project_name") or self.run_id.rsplit("-", 2)[0]

    @property
    def stage(self) -> str | None:
        return self.state.get("stage")

    @property
    def step(self) -> int | None:
        if self.last_train:
            return self.last_train.get("step")
        if self.train_start:
            return self.train_start.get("start_step")
        return self.state.get("step")

    @property
    def max_steps(self) -> int | None:
        for e in (self.last_train, self.train_start):
            if e and e.get("max_steps"):
                return e["max_steps"]
        return self.state.get("max_steps")

    @property
    def loss(self) -> float | None:
        return self.series["loss"].last()

    @property
    def perplexity(self) -> float | None:
        return self.last_eval.get("perplexity") if self.last_eval else None

    @property
    def tokens_per_s(self) -> float | None:
        return self.last_train.get("tokens_per_s") if self.last_train else None

    @property
    def mfu(self) -> float | None:
        """Model FLOPs utilization of the last logging interval (a fraction; GPU runs only)."""
        return self.last_train.get("mfu") if self.last_train else None

    @property
    def device(self) -> str:
        if self.train_start:
            n = self.train_start.get("num_processes") or 1
            return f"{self.train_start.get('device', '?')}" + (f" x{n}" if n > 1 else "")
        return self.state.get("device") or ""

    @property
    def created(self) -> float:
        return float(self.state.get("created") or 0.0)

    @property
    def elapsed(self) -> float | None:
        """Seconds the current (or last) attempt has run: started -> ended, or -> now while active."""
        started = self.state.get("started") or self.state.get("created")
        if not started:
            return None
        if self.status in ACTIVE:
            return max(0.0, self.clock() - started)
        ended = self.state.get("ended") or (self.end or {}).get("time") or self.state.get("updated")
        return max(0.0, ended - started) if ended else None

    @property
    def eta(self) -> float | None:
        """Seconds left by the trainer's own estimate, counted down since it was reported."""
        if self.status not in ACTIVE or not self.last_train or self.last_train.get("eta_s") is None:
            return None
        return max(0.0, self.last_train["eta_s"] - max(0.0, self.clock() - self.last_train.get("time", self.clock())))

    @property
    def error(self) -> str | None:
        return self.state.get("error") or (self.end or {}).get("error")

    @property
    def final_metrics(self) -> dict | None:
        return (self.end or {}).get("metrics")

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


# formatting --------------------------------------------------------------------
def fmt_duration(seconds: float | None) -> str:
    """``12s``, ``4m05s``, ``3h07m``, ``2d04h``; ``-`` for None."""
    if seconds is None or not math.isfinite(seconds):
        return "-"
    s = int(round(seconds))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    if s < 86400:
        return f"{s // 3600}h{s % 3600 // 60:02d}m"
    return f"{s // 86400}d{s % 86400 // 3600:02d}h"


def fmt_number(value: float | None, digits: int = 4) -> str:
    """A metric in at most ``digits`` significant digits; ``-`` for None."""
    if value is None:
        return "-"
    if not math.isfinite(value):
        return str(value)
    if value != 0 and (abs(value) >= 1e5 or abs(value) < 1e-3):
        return f"{value:.{max(1, digits - 2)}e}"
    return f"{value:.{digits}g}"


def fmt_rate(value: float | None) -> str:
    """Tokens per second as ``845``, ``12.3k``, ``1.2M``."""
    if value is None:
        return "-"
    if value >= 1e6:
        return f"{value / 1e6:.1f}M"
    if value >= 1e3:
        return f"{value / 1e3:.1f}k"
    return f"{value:.0f}"


def fmt_count(n: float | None) -> str:
    """A count as ``950``, ``1.2k``, ``3.4M``, ``1.1B``."""
    if n is None:
        return "-"
    for unit, div in (("B", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(n) >= div:
            return f"{n / div:.1f}{unit}"
    return f"{n:.0f}"


def fmt_bytes(n: float) -> str:
    for unit, div in (("GB", 1 << 30), ("MB", 1 << 20), ("kB", 1 << 10)):
        if n >= div:
            return f"{n / div:.1f} {unit}"
    return f"{int(n)} B"


def sparkline(values, width: int = 16) -> str:
    """The last values as a row of block characters, one per bucket mean, scaled to their range."""
    vals = [v for v in values if math.isfinite(v)]
    if not vals:
        return ""
    if len(vals) > width:
        size = len(vals) / width
        vals = [sum(chunk) / len(chunk) for chunk in
                (vals[int(i * size): max(int(i * size) + 1, int((i + 1) * size))] for i in range(width))]
    lo, hi = min(vals), max(vals)
    span = hi - lo
    top = len(SPARK_BLOCKS) - 1
    return "".join(SPARK_BLOCKS[int(round((v - lo) / span * top)) if span > 0 else top // 2] for v in vals)
