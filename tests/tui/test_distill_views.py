"""A distillation run in the TUI (issue 11): the Run screen charts the loss components, the Compare
screen shows the student's retention of the teacher's scores and its speed-up."""

from __future__ import annotations

import os

import psutil
from support.runs import NOW, write_run
from textual.widgets import DataTable
from tui.test_app import make_app, open_run, wait_for
from tui.test_run_screen import WIDE, chart_lines, drawn
from unit.test_distill_compare import entry

from lmtui.distill.compare import run_retention
from lmtui.evaluation import results as res
from lmtui.tui.screens.compare import CompareScreen


def distillation_run(root):
    """A live run whose train events carry loss_ce, loss_mlm and loss_cos (as a distillation's do)."""
    root.mkdir(parents=True)
    me = psutil.Process(os.getpid())
    run = write_run(root, "student-20270115-070000", project="student", status="running", steps=0, max_steps=100,
                    start=NOW - 300, pid=os.getpid(), pid_start_time=me.create_time())
    for step in range(10, 101, 10):
        ce, mlm, cos = 4.0 - step / 50, 6.0 - step / 40, 0.5 - step / 400
        run.emit("train", step=step, max_steps=100, loss=5 * ce + 2 * mlm + cos, loss_ce=ce, loss_mlm=mlm,
                 loss_cos=cos, learning_rate=1e-4, tokens_per_s=5000.0)
        if step % 50 == 0:
            run.emit("eval", step=step, loss=mlm + 0.1, perplexity=2.718 ** (mlm + 0.1), accuracy=0.3)
    return run


async def test_the_loss_panel_charts_the_distillation_components_with_a_legend(tmp_path):
    run = distillation_run(tmp_path / "runs")
    app = make_app([tmp_path / "runs"], tmp_path)
    async with app.run_test(size=(160, 40)) as pilot:
        screen = await open_run(app, pilot, run.path)
        await wait_for(pilot, lambda: drawn(screen), 10, "the first frames")
        loss = screen.charts["chart-loss"]
        head = chart_lines(loss)[0]
        assert head.startswith("loss  ") and all(f"━ {label}" in head for label in ("train", "ce", "mlm", "cos",
                                                                                    "eval")), head
        assert "● " in head  # the best evaluation loss
        colours = {layer[2] for layer in loss.prepare(loss.view).layers}
        assert len(colours - {(110, 110, 110), (255, 215, 0)}) == 5  # each curve its own colour
        run.emit("train", step=110, max_steps=100, loss=20.0, loss_ce=2.0, loss_mlm=3.0, loss_cos=0.2)
        await wait_for(pilot, lambda: "110" in str(loss.frame_key), 10, "the new step")
        assert len(screen.tracker.series["loss_mlm"]) == 11


async def test_a_run_without_components_draws_no_component_curves(runs_root, tmp_path):
    app = make_app([runs_root], tmp_path)
    async with app.run_test(size=WIDE) as pilot:
        screen = await open_run(app, pilot, runs_root / "demo-20270115-070000")
        await wait_for(pilot, lambda: drawn(screen), 10, "the first frames")
        head = chart_lines(screen.charts["chart-loss"])[0]
        assert "━ train" in head and not any(f"━ {label}" in head for label in ("ce", "mlm", "cos"))


async def test_the_compare_screen_shows_retention_and_speed_up(runs_root, tmp_path):
    student = runs_root / "demo-20270115-075900"  # the newest run: the first row marked
    res.update_entry(student, "teacher", entry(2.0, 0.80, 100.0, 10_000_000))
    res.update_entry(student, "final", entry(2.3, 0.78, 210.0, 6_000_000))
    app = make_app([runs_root], tmp_path)
    async with app.run_test(size=(160, 50)) as pilot:
        await pilot.press("space", "space", "c")
        await wait_for(pilot, lambda: isinstance(app.screen, CompareScreen), 5, "the compare screen")
        table = app.screen.query_one("#compare-retention", DataTable)
        await wait_for(pilot, lambda: table.row_count > 0, 5, "the retention rows")
        rows = [[str(c) for c in table.get_row_at(i)] for i in range(table.row_count)]
        expected = [["demo-20270115-075900", title, text] for title, text in run_retention(student)]
        assert rows == expected
        assert ["demo-20270115-075900", "sst2 accuracy (validation)", "97.5% retained"] in rows
        assert any(r[2] == "2.10x the teacher's (speed-up)" for r in rows)
