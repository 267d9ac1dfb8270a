"""`lmtui run` end to end as a user runs it: subprocess, real prose from the standard library's docstrings, model loaded back."""

from __future__ import annotations

import json
import os
import signal
import time

import pytest
from support.cli import DATA, events, lmtui, only_run, wait_for, prose_bert_project


def test_run_trains_a_model_that_transformers_loads(trained_run):
    state = json.loads((trained_run / "run.json").read_text())
    assert state["status"] == "finished"
    evals = events(trained_run, "eval")
    assert evals[0]["step"] == 0 and evals[-1]["step"] == 40
    assert evals[-1]["perplexity"] < 0.5 * evals[0]["perplexity"]

    from transformers import AutoModelForMaskedLM, AutoTokenizer, pipeline

    model = AutoModelForMaskedLM.from_pretrained(trained_run / "model")
    tokenizer = AutoTokenizer.from_pretrained(trained_run / "model")
    assert type(model).__name__ == "BertForMaskedLM"
    assert model.config.vocab_size % 64 == 0 and model.config.vocab_size >= len(tokenizer)
    assert model.config.pad_token_id == tokenizer.pad_token_id == 0
    assert (trained_run / "model" / "model.safetensors").is_file()
    fill = pipeline("fill-mask", model=str(trained_run / "model"))
    predictions = fill(f"the game was released in {tokenizer.mask_token} .")
    assert len(predictions) == 5 and all(p["token_str"] for p in predictions)


def test_run_writes_the_documented_run_directory(trained_run):
    for name in ("project.toml", "run.json", "events.jsonl", "train.log", "tokenizer/tokenizer.json", "model"):
        assert (trained_run / name).exists(), name
    types = {e["type"] for e in events(trained_run)}
    assert {"run_start", "stage", "tokenizer", "dataset", "train_start", "train", "eval", "checkpoint", "model",
            "train_end", "end"} <= types
    train = events(trained_run, "train")
    assert all(e["tokens_per_s"] > 0 and e["loss"] > 0 for e in train)
    assert [e["step"] for e in train] == list(range(5, 41, 5))
    checkpoints = sorted((trained_run / "checkpoints").iterdir())
    assert [p.name for p in checkpoints] == ["step-30", "step-40"]  # save_total_limit = 2
    preview = events(trained_run, "tokenizer")[0]["preview"]
    assert len(preview) == 5 and preview[0][0] == "[CLS]"
    assert "tokenizer preview:" in (trained_run / "train.log").read_text()


def test_a_finished_project_says_so_and_a_fresh_run_reuses_its_caches(trained_run, tmp_path):
    project = trained_run.parents[1] / "wikibert.toml"
    before = (trained_run / "events.jsonl").read_bytes()
    proc = lmtui("run", str(project), cwd=project.parent)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"run {trained_run.name} has already finished" in proc.stdout and "resuming run" not in proc.stdout
    assert (trained_run / "events.jsonl").read_bytes() == before
    # A fresh run of the same project (here in a folder of its own) reuses the tokenizer and token caches.
    again = tmp_path / "wikibert.toml"
    again.write_text(project.read_text().replace('output_dir = "runs"', f'output_dir = "{tmp_path / "runs"}"\n'
                                                 f'cache_dir = "{trained_run.parent / "cache"}"'))
    proc = lmtui("run", str(again), "--fresh", "--set", "training.max_steps=5", cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    fresh = only_run(tmp_path / "runs")
    assert next(e for e in events(fresh) if e["type"] == "tokenizer")["cached"] is True
    assert next(e for e in events(fresh) if e["type"] == "dataset")["cached"] is True
    assert only_run(trained_run.parent) == trained_run


def test_sigkill_mid_run_then_rerun_resumes_from_the_last_checkpoint(tmp_path, data_dir):
    project = prose_bert_project(tmp_path, "killed", max_steps=60)
    proc = lmtui("run", str(project), "--detach", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    run = only_run(tmp_path / "runs")
    wait_for(lambda: (run / "checkpoints" / "step-20" / "trainer_state.json").is_file(), 300, "a checkpoint")
    pid = json.loads((run / "run.json").read_text())["pid"]
    os.killpg(pid, signal.SIGKILL)
    state = json.loads((run / "run.json").read_text())
    assert state["status"] == "running"  # the driver died without writing a final status ...
    from lmtui.runs.rundir import RunDir

    wait_for(lambda: RunDir(run).status() == "crashed", 10, "the run to read as crashed")  # ... so it reads crashed

    proc = lmtui("run", str(project), cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    starts = events(run, "train_start")
    assert starts[0]["start_step"] == 0
    resumed_at = starts[-1]["start_step"]
    assert resumed_at >= 20 and resumed_at % 10 == 0
    assert events(run, "train")[-1]["step"] == 60
    assert events(run, "train_end")[-1]["status"] == "finished"
    assert json.loads((run / "run.json").read_text())["status"] == "finished"


def test_resumed_run_sees_the_same_batches_as_an_uninterrupted_one(tmp_path, data_dir):
    """Same step count, same data order: the loss at each step after resume matches a straight run."""
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    straight = prose_bert_project(tmp_path / "a", "same", max_steps=20, logging_steps=1)
    assert lmtui("run", str(straight), cwd=straight.parent).returncode == 0
    run_a = only_run(straight.parent / "runs")
    # the same tokenizer: training WordPiece twice can break a tie at the vocabulary cut-off differently
    interrupted = prose_bert_project(tmp_path / "b", "same", max_steps=20, logging_steps=1)
    shared = f"[tokenizer]\npath = \"{run_a / 'tokenizer'}\"\n"
    interrupted.write_text(interrupted.read_text().replace("[tokenizer]\n", shared))
    assert lmtui("run", str(interrupted), "--detach", cwd=interrupted.parent).returncode == 0
    run_b = only_run(interrupted.parent / "runs")
    wait_for(lambda: (run_b / "checkpoints" / "step-10" / "trainer_state.json").is_file(), 300, "a checkpoint")
    os.killpg(json.loads((run_b / "run.json").read_text())["pid"], signal.SIGKILL)
    time.sleep(0.5)
    assert lmtui("run", str(interrupted), cwd=interrupted.parent).returncode == 0
    loss_a = {e["step"]: e["loss"] for e in events(run_a, "train")}
    loss_b = {e["step"]: e["loss"] for e in events(run_b, "train")}  # later entries win after resume
    assert max(loss_b) == 20
    for step in range(15, 21):
        assert loss_b[step] == pytest.approx(loss_a[step], rel=2e-3), step


def test_changed_project_is_not_resumed_silently(tmp_path, data_dir):
    project = prose_bert_project(tmp_path, "changed", max_steps=10)
    assert lmtui("run", str(project), cwd=tmp_path).returncode == 0
    proc = lmtui("run", str(project), "--set", "training.learning_rate=1e-4", cwd=tmp_path)
    assert proc.returncode == 2
    assert "[training] changed since run" in proc.stderr and "--fresh" in proc.stderr
    proc = lmtui("run", str(project), "--set", "training.learning_rate=1e-4", "--fresh", cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert len([p for p in (tmp_path / "runs").iterdir() if (p / "run.json").exists()]) == 2


def test_stop_writes_a_checkpoint_and_run_resumes(tmp_path, data_dir):
    project = prose_bert_project(tmp_path, "stopme", max_steps=400, save_steps=1000)
    assert lmtui("run", str(project), "--detach", cwd=tmp_path).returncode == 0
    run = only_run(tmp_path / "runs")
    wait_for(lambda: (run / "events.jsonl").exists() and any(e["type"] == "train" for e in events(run)), 300,
              "training to start")
    from lmtui.runs.launcher import stop, wait_stopped
    from lmtui.runs.rundir import RunDir

    assert stop(RunDir(run))
    assert wait_stopped(RunDir(run), 120)
    state = json.loads((run / "run.json").read_text())
    assert state["status"] == "stopped"
    end = events(run, "train_end")[-1]
    assert end["status"] == "stopped"
    assert (run / "checkpoints" / f"step-{end['step']}" / "trainer_state.json").is_file()
    assert end["step"] < 400


def test_ctrl_c_in_lmtui_run_stops_gracefully_with_a_checkpoint(tmp_path, data_dir):
    import subprocess
    import sys

    project = prose_bert_project(tmp_path, "ctrlc", max_steps=400, save_steps=1000)
    proc = subprocess.Popen([sys.executable, "-m", "lmtui", "run", str(project)], cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    run = wait_for(lambda: next((p for p in (tmp_path / "runs").glob("ctrlc-*") if (p / "run.json").exists()),
                                 None) if (tmp_path / "runs").exists() else None, 60, "the run directory")
    wait_for(lambda: (run / "events.jsonl").exists() and any(e["type"] == "train" for e in events(run)), 300,
              "training to start")
    proc.send_signal(signal.SIGINT)  # what the terminal sends on Ctrl-C
    output, _ = proc.communicate(timeout=180)
    assert proc.returncode == 130, output
    assert "stopping" in output and "resume" in output
    end = events(run, "train_end")[-1]
    assert end["status"] == "stopped"
    assert (run / "checkpoints" / f"step-{end['step']}").is_dir()


def test_roberta_unigram_line_by_line_on_shakespeare(tmp_path, data_dir):
    from support.cli import write_project

    project = write_project(tmp_path, "bard", f"""
        [corpus]
        train_files = ["{data_dir}/reference/topics.txt"]
        document_delimiter = "blank_line"
        validation_split = 0.1

        [tokenizer]
        kind = "unigram"
        vocab_size = 1500

        [model]
        architecture = "roberta"
        size = "tiny"
        config_overrides = {{ hidden_size = 64, num_attention_heads = 2, intermediate_size = 128 }}

        [training]
        line_by_line = true
        max_seq_length = 64
        batch_size = 16
        micro_batch_size = 8
        max_steps = 12
        logging_steps = 4
        eval_steps = 12
    """)
    proc = lmtui("run", str(project), cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    run = only_run(tmp_path / "runs")
    assert events(run, "train_start")[0]["gradient_accumulation_steps"] == 2
    from transformers import AutoModelForMaskedLM, AutoTokenizer

    model = AutoModelForMaskedLM.from_pretrained(run / "model")
    tokenizer = AutoTokenizer.from_pretrained(run / "model")
    assert model.config.max_position_embeddings == 66 and model.config.type_vocab_size == 1
    assert tokenizer.tokenize("To be, or not to be")[0].startswith("▁")
    # line_by_line counts only real tokens: fewer than full blocks of 64
    first = events(run, "train")[0]
    assert 0 < first["tokens"] < 4 * 16 * 64


def test_hub_dataset_offline_fails_with_a_clear_message(tmp_path):
    from support.cli import write_project

    project = write_project(tmp_path, "hub", """
        [corpus]
        hf_dataset = "Salesforce/wikitext"
        hf_dataset_config = "wikitext-2-raw-v1"
        [model]
        size = "tiny"
    """)
    proc = lmtui("prepare", str(project), cwd=tmp_path, env={"HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"})
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert f"error: {project}: [corpus.hf_dataset] cannot load Hugging Face dataset 'Salesforce/wikitext'" in proc.stderr
    assert "needs the internet" in proc.stderr and "Traceback" not in proc.stderr


def test_continue_pretraining_from_a_saved_model(trained_run, tmp_path):
    from support.cli import write_project

    project = write_project(tmp_path, "continued", f"""
        [corpus]
        train_files = ["{DATA}/prose/crlf.txt"]

        [model]
        architecture = "bert"
        init_from = "{trained_run / 'model'}"

        [training]
        max_seq_length = 64
        batch_size = 16
        micro_batch_size = 16
        max_steps = 6
        eval_steps = 6
        logging_steps = 3
    """)
    proc = lmtui("run", str(project), cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    run = only_run(tmp_path / "runs")
    assert events(run, "tokenizer")[0]["kind"] == "pretrained"
    assert (run / "tokenizer" / "tokenizer.json").read_bytes() == (trained_run / "model" / "tokenizer.json").read_bytes()
    first_eval = events(run, "eval")[0]["loss"]
    scratch = events(trained_run, "eval")[0]["loss"]
    assert first_eval < scratch - 1.0  # starts from the trained weights, not from random ones
