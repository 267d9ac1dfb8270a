"""`lmtui compare` of runs that have only their pretraining evaluation, and of one run named twice (issue 23)."""

from __future__ import annotations

import json
import shutil

from support.cli import events, lmtui


def test_compare_shows_the_held_out_numbers_of_pretraining_when_nothing_was_evaluated(trained_run, tmp_path):
    run = tmp_path / trained_run.name
    shutil.copytree(trained_run, run, ignore=shutil.ignore_patterns("eval", "checkpoints"))
    last = events(run, "eval")[-1]
    proc = lmtui("compare", str(run), cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "no evaluation results yet" not in proc.stdout
    assert f"(pretraining eval @ step {last['step']})" in proc.stdout
    assert "MLM perplexity" in proc.stdout and f"{last['perplexity']:.2f}" in proc.stdout
    table = json.loads(lmtui("compare", str(run), "--json", cwd=tmp_path, check=True).stdout)
    assert table["columns"] == [f"{run.name} (pretraining eval @ step {last['step']})"]
    row = next(r for r in table["rows"] if r["metric"] == "MLM perplexity")
    assert row["values"] == [f"{last['perplexity']:.2f}"]


def test_compare_refuses_one_run_named_twice(trained_run, tmp_path):
    proc = lmtui("compare", str(trained_run), trained_run.name, "--dir", str(trained_run.parent), cwd=tmp_path)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert f"are the same run, {trained_run.name}" in proc.stderr and "name each run once" in proc.stderr
    assert proc.stdout == ""
