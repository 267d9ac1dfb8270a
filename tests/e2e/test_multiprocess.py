"""Two CPU processes (torchrun, gloo) train exactly like one: same global batch, schedule, data and resume.

The runs load one tokenizer trained beforehand (training a WordPiece tokenizer twice can break
frequency ties differently) and turn dropout off, so the only difference between them is the
order of floating-point sums (gradient all-reduce instead of accumulation, one thread per
process instead of two): per-step losses agree to about 1e-4 relative.
"""

from __future__ import annotations

import json
import os
import signal
import time

import pytest
from support.cli import events, lmtui, only_run, wait_for, prose_bert_project

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("multiprocess")]

STEPS = 60
NO_DROPOUT = 'config_overrides = { hidden_size = 64, num_attention_heads = 2, intermediate_size = 128, ' \
             'hidden_dropout_prob = 0.0, attention_probs_dropout_prob = 0.0 }'


@pytest.fixture(scope="module")
def tokenizer_dir(tmp_path_factory, data_dir):
    from lmtui.data.corpus import read_documents
    from lmtui.data.tokenizer import train_tokenizer

    folder = tmp_path_factory.mktemp("tokenizer")
    docs = list(read_documents([data_dir / "prose" / "train.txt"]))
    train_tokenizer(docs, "wordpiece", vocab_size=4000, lowercase=True, model_max_length=64).save_pretrained(folder)
    return folder


def _project(folder, processes: int, tokenizer_dir):
    folder.mkdir(parents=True, exist_ok=True)
    path = prose_bert_project(folder, "ddp", max_steps=STEPS, logging_steps=1, save_steps=10)
    text = path.read_text().replace(
        "config_overrides = { hidden_size = 64, num_attention_heads = 2, intermediate_size = 128 }", NO_DROPOUT)
    text = text.replace("[tokenizer]\n", f"[tokenizer]\npath = \"{tokenizer_dir}\"\n")
    path.write_text(text + f"\n[hardware]\ndevice = \"cpu\"\nnum_processes = {processes}\n")
    return path


def _train(run) -> dict[int, dict]:
    return {e["step"]: e for e in events(run, "train")}  # later entries (after a resume) win


def _processes_of(run) -> list:
    import psutil

    return [p for p in psutil.process_iter(["cmdline"]) if str(run) in " ".join(p.info["cmdline"] or [])]


@pytest.fixture(scope="module")
def straight_runs(tmp_path_factory, tokenizer_dir):
    """Uninterrupted runs of the same project with one and with two processes."""
    runs = {}
    for n in (1, 2):
        project = _project(tmp_path_factory.mktemp(f"p{n}"), n, tokenizer_dir)
        proc = lmtui("run", str(project), cwd=project.parent)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        runs[n] = only_run(project.parent / "runs")
    return runs


def test_two_processes_run_as_two_gloo_ranks(straight_runs):
    start = events(straight_runs[2], "train_start")[0]
    assert start["num_processes"] == 2 and start["device"].startswith("cpu") and start["backend"] == "gloo"
    log = (straight_runs[2] / "train.log").read_text()
    assert "-m torch.distributed.run --nproc_per_node 2" in log


def test_two_processes_keep_the_global_batch_schedule_and_data(straight_runs):
    one, two = (events(straight_runs[n], "train_start")[0] for n in (1, 2))
    assert one["batch_size"] == two["batch_size"] == 32
    assert one["micro_batch_size"] == two["micro_batch_size"] == 16
    assert (one["gradient_accumulation_steps"], two["gradient_accumulation_steps"]) == (2, 1)
    assert one["tokens_per_step"] == two["tokens_per_step"] and one["max_steps"] == two["max_steps"] == STEPS
    a, b = _train(straight_runs[1]), _train(straight_runs[2])
    assert sorted(a) == sorted(b) == list(range(1, STEPS + 1))
    for step in a:
        assert b[step]["learning_rate"] == pytest.approx(a[step]["learning_rate"], rel=1e-9), step
        assert b[step]["tokens"] == a[step]["tokens"], step  # every sequence seen once, by one rank
        assert b[step]["loss"] == pytest.approx(a[step]["loss"], rel=2e-3), step
    eval_a, eval_b = events(straight_runs[1], "eval"), events(straight_runs[2], "eval")
    assert [e["step"] for e in eval_a] == [e["step"] for e in eval_b] == [0, 20, 40, 60]
    assert eval_b[0]["tokens"] == eval_a[0]["tokens"]  # the validation set is split, not repeated
    assert eval_b[0]["loss"] == pytest.approx(eval_a[0]["loss"], rel=1e-4)
    assert eval_b[-1]["loss"] == pytest.approx(eval_a[-1]["loss"], rel=2e-3)


def test_two_process_run_killed_mid_way_resumes_with_the_same_batches(straight_runs, tokenizer_dir, tmp_path):
    project = _project(tmp_path, 2, tokenizer_dir)
    assert lmtui("run", str(project), "--detach", cwd=tmp_path).returncode == 0
    run = only_run(tmp_path / "runs")
    wait_for(lambda: (run / "checkpoints" / "step-10" / "trainer_state.json").is_file(), what="a checkpoint", poll=0.02)
    os.killpg(json.loads((run / "run.json").read_text())["pid"], signal.SIGKILL)  # the driver and torchrun's agent
    wait_for(lambda: not _processes_of(run), timeout=10, what="the ranks to die with their launcher")
    proc = lmtui("run", str(project), cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    starts = events(run, "train_start")
    assert len(starts) == 2 and 10 <= starts[-1]["start_step"] < STEPS and starts[-1]["num_processes"] == 2
    resumed, straight = _train(run), _train(straight_runs[2])
    assert max(resumed) == STEPS
    for step in range(starts[-1]["start_step"] + 1, STEPS + 1):
        assert resumed[step]["loss"] == pytest.approx(straight[step]["loss"], rel=2e-3), step
        assert resumed[step]["tokens"] == straight[step]["tokens"], step


def test_stopping_a_two_process_run_checkpoints_both_ranks_and_leaves_no_process(tokenizer_dir, tmp_path):
    from lmtui.runs.launcher import stop, wait_stopped
    from lmtui.runs.rundir import RunDir

    project = _project(tmp_path, 2, tokenizer_dir)
    project.write_text(project.read_text().replace(f"max_steps = {STEPS}", "max_steps = 5000")
                       .replace("save_steps = 10", "save_steps = 5000"))
    assert lmtui("run", str(project), "--detach", cwd=tmp_path).returncode == 0
    run = only_run(tmp_path / "runs")
    wait_for(lambda: (run / "events.jsonl").exists() and any(e["type"] == "train" for e in events(run)),
              what="training to start")
    assert stop(RunDir(run))
    assert wait_stopped(RunDir(run), 120)
    end = events(run, "train_end")[-1]
    assert end["status"] == "stopped" and end["step"] < 5000
    assert json.loads((run / "run.json").read_text())["status"] == "stopped"
    checkpoint = run / "checkpoints" / f"step-{end['step']}"
    assert {"random_states_0.pkl", "random_states_1.pkl", "trainer_state.json"} <= {p.name for p in checkpoint.iterdir()}
    wait_for(lambda: not _processes_of(run), timeout=10, what="every process of the run to exit")


def test_two_process_run_honours_a_stop_at_the_next_step_not_the_next_logging_step(tokenizer_dir, tmp_path):
    from lmtui.runs.launcher import stop, wait_stopped
    from lmtui.runs.rundir import RunDir

    project = _project(tmp_path, 2, tokenizer_dir)
    text = project.read_text()
    for old, new in ((f"max_steps = {STEPS}\n", "max_steps = 5000\n"), ("logging_steps = 1\n", "logging_steps = 1000\n"),
                     ("eval_steps = 20\n", "eval_steps = 5000\n"), ("save_steps = 10\n", "save_steps = 5000\n")):
        text = text.replace(old, new)
    project.write_text(text)
    assert lmtui("run", str(project), "--detach", cwd=tmp_path).returncode == 0
    run = only_run(tmp_path / "runs")
    wait_for(lambda: (run / "events.jsonl").exists() and any(e["type"] == "eval" for e in events(run)),
              what="the step-0 evaluation")
    time.sleep(2)  # a few steps into training, far from the first logging step (1000)
    assert stop(RunDir(run))
    assert wait_stopped(RunDir(run), 120)
    end = events(run, "train_end")[-1]
    assert end["status"] == "stopped" and 0 < end["step"] < 1000
    assert not events(run, "train")  # stopped before the first logging step
    state = json.loads((run / "checkpoints" / f"step-{end['step']}" / "trainer_state.json").read_text())
    assert state["step"] == end["step"]
    assert state["tokens"] == end["step"] * events(run, "train_start")[0]["tokens_per_step"]
