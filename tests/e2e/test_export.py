"""`lmtui export RUN --csv|--parquet|--png` (issue 16): the files hold what events.jsonl holds."""

from __future__ import annotations

import csv

import pytest
from support.cli import events, lmtui


def _by_step(run_dir) -> dict[int, dict]:
    """step -> {column: value} from events.jsonl, named as the trackers name them, last value per step."""
    out: dict[int, dict] = {}
    for e in events(run_dir):
        if e["type"] in ("train", "eval"):
            fields = {"train": ("loss", "learning_rate", "grad_norm", "tokens_per_s", "epoch", "tokens", "elapsed_s"),
                      "eval": ("loss", "perplexity", "accuracy")}[e["type"]]
            out.setdefault(e["step"], {}).update({f"{e['type']}/{k}": e[k] for k in fields if k in e})
    return out


def test_csv_and_parquet_have_one_row_per_step_and_a_column_per_metric(trained_run, tmp_path):
    import pyarrow.parquet as pq

    expected = _by_step(trained_run)
    proc = lmtui("export", str(trained_run), "--csv", "-o", str(tmp_path / "m.csv"), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    with open(tmp_path / "m.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [int(r["step"]) for r in rows] == sorted(expected)
    assert {"train/loss", "eval/perplexity", "train/tokens_per_s"} <= set(rows[0])
    for row in rows:
        want = expected[int(row["step"])]
        for column, value in row.items():
            if column == "step":
                continue
            assert (value == "") == (column not in want), (row["step"], column)
            if value:
                assert float(value) == pytest.approx(want[column]), (row["step"], column)

    proc = lmtui("export", str(trained_run), "--parquet", "-o", str(tmp_path), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    table = pq.read_table(tmp_path / f"{trained_run.name}.parquet").to_pylist()
    assert [r["step"] for r in table] == sorted(expected)
    for row in table:
        want = expected[row["step"]]
        assert {k: v for k, v in row.items() if v is not None and k != "step"} == pytest.approx(want)


def test_png_is_the_model_cards_loss_curve(trained_run, tmp_path):
    from lmtui.hub.card import collect, loss_curve_png
    from lmtui.runs.rundir import RunDir

    proc = lmtui("export", str(trained_run), "--png", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    data = (tmp_path / f"{trained_run.name}.png").read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    assert data == loss_curve_png(collect(RunDir(trained_run)), title=f"{trained_run.name}: loss")


def test_export_without_a_format_or_metrics_is_one_clear_error(runs_root, tmp_path):
    proc = lmtui("export", str(runs_root / "demo-20270115-070000"), cwd=tmp_path)
    assert proc.returncode == 2 and "add --csv, --parquet or --png" in proc.stderr
    empty = runs_root / "demo-20270115-070000"
    (empty / "events.jsonl").write_text("")
    proc = lmtui("export", str(empty), "--csv", cwd=tmp_path)
    assert proc.returncode == 2 and "has logged no metrics yet" in proc.stderr
    assert not list(tmp_path.glob("*.csv"))
