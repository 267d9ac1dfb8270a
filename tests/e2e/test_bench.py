"""`lmtui bench` on a tiny slice of WikiText-2: both tools train, and the table holds real numbers for each."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from support.cli import REPO, lmtui

BASELINE = REPO.parent / "shared" / "bench" / "baseline_mlm.py"

pytestmark = pytest.mark.slow


@pytest.mark.skipif(not BASELINE.is_file(), reason=f"the run_mlm.py baseline is not at {BASELINE}")
def test_bench_prints_a_table_with_the_baseline_and_lmtui(tmp_path, data_dir):
    proc = lmtui("bench", "--steps", "2", "--batch", "8", "--max-lines", "200", "--max-eval-samples", "16",
                 "--modes", "group_texts", "--work-dir", str(tmp_path / "work"), cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    rows = [line for line in proc.stdout.splitlines() if line.startswith("| group_texts |")]
    assert [row.split("|")[2].strip() for row in rows] == ["run_mlm.py baseline", "lmtui"]
    for row in rows:
        cells = [c.strip() for c in row.strip("|").split("|")]
        tokens_per_s, prep, rss, loss = (float(cells[i].replace(",", "")) for i in (2, 4, 6, 8))
        assert tokens_per_s > 0 and prep > 0 and rss > 100 and 0 < loss < 20
    speedup = re.search(r"\| ([0-9.]+)x \|", rows[0])
    assert speedup and float(speedup.group(1)) > 0
    assert re.search(r"group_texts: lmtui [0-9.]+x the baseline's real tokens/s", proc.stdout)

    report = json.loads(Path(tmp_path / "work" / "results.json").read_text())
    baseline, ours = report["results"]
    assert baseline["tool"] == "run_mlm.py baseline" and ours["tool"] == "lmtui"
    assert ours["real_tokens"] == 2 * 8 * 128  # packed: every token is real
    assert ours["preprocess_cached_s"] < 1.0
    assert report["corpus"]["train"].endswith("train-200.txt")  # both tools read the same sliced files
