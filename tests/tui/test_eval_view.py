"""results.json bookkeeping, the comparison table, and the TUI widgets that show them (no torch)."""

from __future__ import annotations

import json
import subprocess
import sys

from lmtui.evaluation import results as res


def entry(ppl: float, acc: list[float], f1_per: float | None = None) -> dict:
    mean = sum(acc) / len(acc)
    task = {"kind": "classification", "metrics_order": ["accuracy"], "seeds": list(range(len(acc))),
            "splits": {"validation": {"examples": 872, "accuracy": {"mean": mean, "std": 0.01, "values": acc}}},
            "fingerprint": "t"}
    out = {"perplexity": {"loss": 3.0, "perplexity": ppl, "accuracy": 0.4, "fingerprint": "p"},
           "tasks": {"sst2": task}}
    if f1_per is not None:
        out["tasks"]["ner"] = {"kind": "token_classification", "metrics_order": ["f1"],
                               "splits": {"test": {"f1": {"mean": 0.7, "std": 0.0, "values": [0.7]}}},
                               "per_type": {"test": {"PER": {"f1": {"mean": f1_per, "std": 0.0, "values": [f1_per]},
                                                             "support": 10}}}}
    return out


def make_run(tmp_path, name: str, entries: dict) -> str:
    run = tmp_path / name
    (run / "eval").mkdir(parents=True)
    (run / "run.json").write_text(json.dumps({"status": "finished", "run_id": name}))
    for label, e in entries.items():
        res.update_entry(run, label, e, model_fingerprint="m")
    return str(run)


def test_update_entry_merges_parts_and_tasks_and_resets_for_a_new_model(tmp_path):
    run = tmp_path / "r"
    res.update_entry(run, "final", {"perplexity": {"perplexity": 10.0}}, model_fingerprint="a")
    res.update_entry(run, "final", {"tasks": {"sst2": {"x": 1}}}, model_fingerprint="a")
    res.update_entry(run, "final", {"tasks": {"ner": {"x": 2}}}, model_fingerprint="a")
    e = res.load_results(run)["models"]["final"]
    assert e["perplexity"] == {"perplexity": 10.0} and set(e["tasks"]) == {"sst2", "ner"}
    res.update_entry(run, "final", {"tasks": {"ner": {"x": 3}}}, model_fingerprint="b")  # retrained model
    e = res.load_results(run)["models"]["final"]
    assert "perplexity" not in e and e["tasks"] == {"ner": {"x": 3}} and e["model_fingerprint"] == "b"


def test_comparison_marks_the_best_value_lower_perplexity_higher_accuracy(tmp_path):
    a = make_run(tmp_path, "a", {"final": entry(20.0, [0.80, 0.82])})
    b = make_run(tmp_path, "b", {"step-100": entry(15.0, [0.70])})
    titles, rows = res.comparison(res.entries_for(a) + res.entries_for(b))
    assert titles == ["a", "b step-100"]
    by_title = {t: (cells, best) for t, cells, best in rows}
    assert by_title["MLM perplexity"] == (["20.00", "15.00"], 1)
    assert by_title["sst2 accuracy (validation)"] == (["81.00% ± 1.00%", "70.00%"], 0)


def test_entries_sorted_checkpoints_then_final(tmp_path):
    run = make_run(tmp_path, "r", {"final": entry(9.0, [0.9]), "step-200": entry(12.0, [0.8]),
                                   "step-50": entry(30.0, [0.6])})
    assert [t for t, _ in res.entries_for(run, all_models=True)] == ["r step-50", "r step-200", "r final"]


async def test_eval_results_widget_shows_every_model_probes_and_updates(tmp_path):
    from textual.app import App
    from textual.widgets import DataTable

    from lmtui.tui.widgets.eval_view import EvalResults

    run = make_run(tmp_path, "r", {"final": entry(9.0, [0.9], f1_per=0.75)})
    res.update_entry(run, "final", {"probes": {"items": [{"text": "Paris is the <mask> of France.", "predictions": [
        [{"token": "capital", "score": 0.5}, {"token": "city", "score": 0.25}]]}]}})

    class Host(App):
        def compose(self):
            yield EvalResults(run, interval=0.05)

    app = Host()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        widget = app.query_one(EvalResults)
        table = widget.query_one(DataTable)
        assert [str(c.label) for c in table.columns.values()] == ["metric", "final"]
        assert widget.row_count == 6  # perplexity, loss, masked accuracy, sst2, ner F1, ner F1 PER
        assert "capital (50%) · city (25%)" in str(widget.query_one("#eval-probes").content)
        res.update_entry(run, "step-10", entry(30.0, [0.5]))
        await pilot.pause(0.3)
        assert [str(c.label) for c in table.columns.values()] == ["metric", "step-10", "final"]


async def test_eval_results_widget_without_results_says_how_to_get_them(tmp_path):
    from textual.app import App

    from lmtui.tui.widgets.eval_view import EvalResults

    (tmp_path / "r").mkdir()

    class Host(App):
        def compose(self):
            yield EvalResults(str(tmp_path / "r"))

    app = Host()
    async with app.run_test() as pilot:
        await pilot.pause()
        assert "lmtui eval r" in str(app.query_one("#eval-status").content)


async def test_compare_table_puts_runs_side_by_side(tmp_path):
    from textual.app import App
    from textual.widgets import DataTable

    from lmtui.tui.widgets.eval_view import CompareTable

    a = make_run(tmp_path, "a", {"final": entry(20.0, [0.8])})
    b = make_run(tmp_path, "b", {"final": entry(15.0, [0.7])})

    class Host(App):
        def compose(self):
            yield CompareTable([a, b])

    app = Host()
    async with app.run_test(size=(120, 30)) as pilot:
        await pilot.pause()
        table = app.query_one(CompareTable).query_one(DataTable)
        assert [str(c.label) for c in table.columns.values()] == ["metric", "a", "b"]
        row = table.get_row("MLM perplexity")
        assert [str(c) for c in row] == ["MLM perplexity", "20.00", "15.00"] and row[2].style == "bold green"


def test_the_views_and_the_config_import_no_torch():
    code = ("import sys, lmtui.tui.widgets.eval_view, lmtui.evaluation.stage, lmtui.project.schema; "
            "print([m for m in ('torch', 'transformers', 'numpy', 'sklearn') if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
