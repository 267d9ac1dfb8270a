"""Evaluation results in the TUI: :class:`EvalResults` (one run: a column per evaluated model,
its probes, the progress of a running evaluation) and :class:`CompareTable` (several runs side
by side, the best value of each row in bold).

Both read ``<run>/eval/results.json`` (and the run's events for progress) through
:mod:`lmtui.evaluation.results`, polling cheaply (a file's size and modification time, new event
bytes only); no torch or transformers.
"""

from __future__ import annotations

import os
from pathlib import Path

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import DataTable, Static

from lmtui.evaluation import results as res
from lmtui.runs.events import read_events

EVAL_EVENTS = ("eval_start", "finetune", "eval_result", "eval_end")


def _stamp(path: Path) -> tuple | None:
    try:
        st = os.stat(path)
        return (st.st_size, st.st_mtime_ns)
    except OSError:
        return None


def fill_table(table: DataTable, columns: list[tuple[str, dict]]) -> int:
    """Replace ``table``'s content with the comparison of ``columns``; returns the number of rows."""
    titles, rows = res.comparison(columns)
    table.clear(columns=True)
    table.add_column("metric", key="metric")
    for i, title in enumerate(titles):
        table.add_column(title, key=f"c{i}")
    for title, cells, best in rows:
        table.add_row(title, *[Text(c, style="bold green" if i == best else "", justify="right")
                               for i, c in enumerate(cells)], key=title)
    return len(rows)


class EvalResults(Vertical):
    """The evaluation results of the run at ``run_path``, refreshed while it is evaluated and on screen."""

    DEFAULT_CSS = """
    EvalResults { height: 1fr; }
    EvalResults > #eval-status { height: auto; color: $text-muted; }
    EvalResults > DataTable { height: auto; max-height: 70%; }
    EvalResults > #eval-probes { height: auto; margin-top: 1; }
    """

    def __init__(self, run_path: str, *, interval: float = 1.0, id: str | None = None):
        super().__init__(id=id)
        self.run_path = Path(run_path)
        self.interval = interval
        self._results_stamp: tuple | None = ()
        self._offset = 0
        self._progress = ""
        self._rows = 0

    def compose(self) -> ComposeResult:
        yield Static("", id="eval-status", markup=False)
        yield DataTable(id="eval-table", zebra_stripes=True, cursor_type="row")
        yield Static("", id="eval-probes", markup=False)

    def on_mount(self) -> None:
        self.poll(force=True)
        self.set_interval(self.interval, self.poll)

    def on_show(self) -> None:
        self.poll(force=True)

    @property
    def row_count(self) -> int:
        return self._rows

    def poll(self, force: bool = False) -> None:
        """Take in new evaluation events and a changed results.json (not while hidden, unless ``force``)."""
        if not force and not self.is_on_screen:
            return
        events, self._offset = read_events(self.run_path / "events.jsonl", self._offset)
        for e in events:
            if e.get("type") in EVAL_EVENTS:
                self._progress = self._describe(e) or self._progress
        stamp = _stamp(res.results_file(self.run_path))
        if stamp != self._results_stamp:
            self._results_stamp = stamp
            self._show_results()
        self._show_status()

    @staticmethod
    def _describe(e: dict) -> str | None:
        t = e["type"]
        if t == "eval_start":
            return f"evaluating {e.get('label')}"
        if t == "finetune" and e.get("state") == "step":
            return f"fine-tuning {e['task']} (seed {e['seed']}): step {e['step']}/{e['max_steps']}, loss {e['loss']:.4f}"
        if t == "finetune" and e.get("state") == "start":
            return f"fine-tuning {e['task']} (seed {e['seed']}): {e['train_examples']} examples"
        if t == "eval_result":
            return f"scored {e['task']}"
        return None

    def _show_status(self) -> None:
        status = res.eval_status(self.run_path)
        state = res.read_state(self.run_path)
        if status == "running":
            line = f"evaluation running: {self._progress or 'starting'}"
        elif status in ("failed", "crashed"):
            line = f"last evaluation {status}: {state.get('error') or 'see the log'}"
        elif status == "stopped":
            line = "last evaluation stopped; finished parts are shown"
        elif self._rows:
            line = f"results: {res.results_file(self.run_path)}"
        else:
            line = f"no evaluation results yet: `lmtui eval {self.run_path.name}` (or an [eval] section in the project)"
        self.query_one("#eval-status", Static).update(line)

    def _show_results(self) -> None:
        results = res.load_results(self.run_path)
        models = results.get("models", {})
        labels = sorted(models, key=res.entry_order)
        self._rows = fill_table(self.query_one(DataTable), [(label, models[label]) for label in labels])
        lines = []
        for label in labels:
            for text, predictions in res.probe_lines(models[label]):
                lines.append(f"[{label}] {text}\n    {predictions}")
        self.query_one("#eval-probes", Static).update("\n".join(lines))


class CompareTable(Vertical):
    """Evaluation results of ``run_paths`` side by side (each run's final model, else its latest)."""

    DEFAULT_CSS = """
    CompareTable { height: auto; max-height: 50%; }
    CompareTable > #compare-eval-title { height: auto; text-style: bold; }
    CompareTable > DataTable { height: auto; }
    """

    def __init__(self, run_paths: list[str], *, interval: float = 2.0, id: str | None = None):
        super().__init__(id=id)
        self.run_paths = [Path(p) for p in run_paths]
        self.interval = interval
        self._stamps: list | None = None
        self._rows = 0

    def compose(self) -> ComposeResult:
        yield Static("evaluation results", id="compare-eval-title")
        yield DataTable(id="compare-eval-table", zebra_stripes=True, cursor_type="row")

    def on_mount(self) -> None:
        self.poll()
        self.set_interval(self.interval, self.poll)

    @property
    def row_count(self) -> int:
        return self._rows

    def poll(self) -> None:
        stamps = [_stamp(res.results_file(p)) for p in self.run_paths]
        if stamps == self._stamps:
            return
        self._stamps = stamps
        columns = [col for p in self.run_paths for col in res.entries_for(p)]
        self._rows = fill_table(self.query_one(DataTable), columns)
        self.query_one("#compare-eval-title", Static).update(
            "evaluation results" if self._rows else "evaluation results: none yet (`lmtui eval RUN`)")
