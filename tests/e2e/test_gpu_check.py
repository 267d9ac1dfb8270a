"""bench/gpu_check.sh on its CPU path, as CI can run it: the scripts parse, every step gets a row,
a step that fails is recorded with why and the next step still runs.

The GPU machine runs the same script on CUDA (docs/performance.md, "The GPU check"); here the
steps are cut to three (GPU_CHECK_STEPS) and the tests step is given a 1 s limit so that it
fails the way a hung step would (GPU_CHECK_LIMITS).
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import torch
from support.cli import REPO

pytestmark = pytest.mark.slow
SCRIPTS = ["gpu_check.sh", "gpu_wheels.sh", "gpu_rehearsal.sh"]
STEPS = ["wheels", "environment", "gpu-tests", "bench-bert-base", "modernbert-document", "modernbert-concat",
         "bench-bert-base-compile"]


@pytest.mark.parametrize("script", SCRIPTS)
def test_the_scripts_parse(script):
    proc = subprocess.run(["bash", "-n", str(REPO / "bench" / script)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


def test_without_an_output_folder_it_says_how_to_call_it():
    proc = subprocess.run(["bash", str(REPO / "bench" / "gpu_check.sh")], capture_output=True, text=True)
    assert proc.returncode == 2 and "usage: bash bench/gpu_check.sh OUT_DIR" in proc.stderr


def _table(text: str, header: str) -> list[list[str]]:
    """The rows of the markdown table whose header line starts with ``header``, as cells."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(header))
    rows = []
    for line in lines[start + 2:]:
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in line.strip("|").split("|")])
    return rows


@pytest.mark.skipif(torch.cuda.is_available(), reason="the CPU path; with CUDA the check runs its GPU steps")
def test_cpu_path_records_a_failed_step_and_runs_the_next(tmp_path):
    out = tmp_path / "out"
    env = dict(os.environ, PYTHON=sys.executable, OMP_NUM_THREADS="1",
               GPU_CHECK_STEPS="environment,gpu-tests,modernbert-document", GPU_CHECK_LIMITS="gpu-tests=1")
    proc = subprocess.run(["bash", str(REPO / "bench" / "gpu_check.sh"), str(out)], capture_output=True, text=True,
                          env=env, timeout=300, stdin=subprocess.DEVNULL)
    assert proc.returncode == 1, proc.stdout + proc.stderr  # one step failed
    results = (out / "results.md").read_text()
    assert results.startswith("# GPU check (cpu)")
    steps = {row[0]: row for row in _table(results, "| step |")}
    assert list(steps) == STEPS
    assert steps["environment"][1] == "ok"
    assert steps["gpu-tests"][1] == "failed" and steps["gpu-tests"][4].startswith("over its 1 s limit")
    assert steps["modernbert-document"][1] == "ok"  # the step after the failed one ran
    for name in ("wheels", "bench-bert-base", "bench-bert-base-compile", "modernbert-concat"):
        assert steps[name][1] == "skipped" and steps[name][4] == "not in GPU_CHECK_STEPS"
    for name in ("environment", "gpu-tests", "modernbert-document"):
        assert (out / f"{name}.log").stat().st_size > 0
    assert "lmtui modules that failed to import: 0" in results

    runs = _table(results, "| run |")
    assert len(runs) == 1 and runs[0][0].startswith("lmtui modernbert-document (") and runs[0][1] == "fp32"
    document = runs[0]
    assert float(document[2].replace(",", "")) > 0 and document[5] == "sdpa (block-diagonal mask)"
    assert float(document[4].replace(",", "")) > 100  # peak resident memory of the trainer, MiB
    targets = _table(results, "| target |")
    assert len(targets) == 4 and all(row[2].startswith("open (no GPU here") for row in targets)
    assert len((out / "work" / "data" / "train.txt").read_text().splitlines()) > 1000
