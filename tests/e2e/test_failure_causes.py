"""The cause of a failed run reaches the user (issue 15, items 3 and 4): a trainer exception
(a model whose config passes the checks but breaks at the first forward pass), a SIGKILL of
the trainer process, and a corpus error whose key is in brackets, through `lmtui run`,
run.json and `lmtui runs`."""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path

import psutil
import pytest
from support.cli import DATA, events, lmtui, only_run, write_project

from lmtui.runs.rundir import ACTIVE, RunDir

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def work(tmp_path_factory) -> Path:
    """A folder with a small corpus (the first 2,000 lines of prose/train.txt); its
    projects share one cache folder, so the tokenizer and token cache are built once."""
    folder = tmp_path_factory.mktemp("causes")
    lines = (DATA / "prose" / "train.txt").read_text(encoding="utf-8").splitlines(keepends=True)[:2000]
    (folder / "corpus.txt").write_text("".join(lines), encoding="utf-8")
    return folder


def project(folder: Path, name: str, *, max_steps: int, overrides: str = "") -> Path:
    return write_project(folder, name, f"""
        [project]
        name = "{name}"
        output_dir = "runs-{name}"
        cache_dir = "cache"

        [corpus]
        train_files = ["corpus.txt"]

        [tokenizer]
        kind = "wordpiece"
        vocab_size = 1000
        lowercase = true

        [model]
        architecture = "bert"
        size = "tiny"
        config_overrides = {{ hidden_size = 64, num_attention_heads = 2, intermediate_size = 128{overrides} }}

        [training]
        max_seq_length = 64
        batch_size = 8
        micro_batch_size = 8
        max_steps = {max_steps}
        warmup_steps = 1
        logging_steps = 1
        eval_steps = 100000
        save_steps = 100000
        max_eval_samples = 16
    """)


def test_a_trainer_exception_is_the_runs_error(work):
    # type_vocab_size = 0 builds (the deep check passes) but every forward pass fails in the trainer.
    path = project(work, "shape", max_steps=20, overrides=", type_vocab_size = 0")
    assert lmtui("check", str(path), cwd=work).returncode == 0
    proc = lmtui("run", str(path), cwd=work)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    run = RunDir(only_run(work / "runs-shape"))
    [error] = events(run.path, "train_error")
    assert error["exception"] == "RuntimeError" and error["message"] and error["rank"] == 0
    cause = f"pretraining failed: RuntimeError: {error['message']}"
    state = run.read_state()
    assert state["status"] == "failed" and cause in state["error"], state
    assert "exited with code" not in state["error"]
    assert cause in proc.stdout
    listing = lmtui("runs", "--dir", str(work / "runs-shape"), cwd=work, check=True).stdout
    assert f"{run.run_id} failed: {cause}" in listing


def trainer_process(run: RunDir) -> psutil.Process | None:
    """The trainer (``python -m lmtui.train.pretrain RUN``) of ``run``, not its launcher."""
    for p in psutil.process_iter(["cmdline"]):
        cmd = p.info["cmdline"] or []
        if cmd[1:4] == ["-m", "lmtui.train.pretrain", str(run.path)]:
            return p
    return None


def test_a_sigkill_of_the_trainer_is_named(work):
    path = project(work, "killed", max_steps=100000)
    lmtui("run", str(path), "--detach", cwd=work, check=True)
    run = RunDir(only_run(work / "runs-killed"))
    deadline = time.time() + 300
    while not (run.events_file.exists() and events(run.path, "train")) and time.time() < deadline:
        assert run.is_active(), run.log_file.read_text()[-3000:]
        time.sleep(0.5)
    trainer = trainer_process(run)
    assert trainer is not None, run.log_file.read_text()[-3000:]
    trainer.send_signal(signal.SIGKILL)
    deadline = time.time() + 120
    while run.status() in ACTIVE and time.time() < deadline:
        time.sleep(0.5)
    state = run.read_state()
    assert state["status"] == "failed", state
    assert "the trainer was killed by SIGKILL (out of memory?)" in state["error"], state["error"]
    assert not events(run.path, "train_error")
    rows = json.loads(lmtui("runs", "--json", "--dir", str(work / "runs-killed"), cwd=work, check=True).stdout)
    assert "killed by SIGKILL" in next(r for r in rows if r["run_id"] == run.run_id)["error"]


def test_a_corpus_error_keeps_its_key_in_brackets(work):
    # 3 MB of rows with one bad row in the middle: past the bounded sample `lmtui check` reads
    # (a file that small would be read whole and refused before the run), so the run meets it.
    rows = [{"text": f"row {i} of text, a sentence long enough to count"} for i in range(60_000)]
    rows[40_000] = {"body": "row 40000 of text"}
    (work / "rows.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    path = project(work, "column", max_steps=5)
    path.write_text(path.read_text().replace('train_files = ["corpus.txt"]', 'train_files = ["rows.jsonl"]'))
    proc = lmtui("run", str(path), cwd=work)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    error = RunDir(only_run(work / "runs-column")).read_state()["error"]
    assert "[corpus.text_column]" in error and "set [corpus] text_column" in error
    assert error in proc.stdout
