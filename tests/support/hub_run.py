"""A finished run directory with a tiny real model, built without running the pipeline.

The tokenizer is trained with ``tokenizers`` on the docstring prose (prose/train.txt), wrapped in
``PreTrainedTokenizerFast``; the model is a tiny ``RobertaForMaskedLM`` built from a config.
Both are saved into ``<run>/model`` as the trainer does, and the events and run.json follow
docs/events.md, so the publishing code sees what a real run leaves behind.
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import pytest
from support.cli import DATA

from lmtui.fsutil import atomic_write_json, atomic_write_text
from lmtui.project.freeze import frozen_text
from lmtui.project.load import parse_project
from lmtui.runs.rundir import RunDir


def project_source(output_dir: Path, hub: str = "") -> str:
    return f"""
[project]
name = "tinywiki"
description = "A tiny RoBERTa on docstring prose for publishing tests"
output_dir = "{output_dir}"

[corpus]
train_files = ["{DATA}/prose/train.txt"]
validation_files = ["{DATA}/prose/valid.txt"]

[tokenizer]
kind = "byte_level_bpe"
vocab_size = 1000

[model]
architecture = "roberta"
size = "tiny"
config_overrides = {{ hidden_size = 32, num_attention_heads = 2, intermediate_size = 64, num_hidden_layers = 2 }}

[training]
max_seq_length = 64
batch_size = 16
micro_batch_size = 16
max_steps = 30
logging_steps = 5
eval_steps = 10
save_steps = 10
{hub}
"""


def build_model(folder: Path) -> int:
    """Train a byte-level BPE tokenizer and save a tiny RobertaForMaskedLM + tokenizer to ``folder``."""
    from tokenizers import ByteLevelBPETokenizer
    from transformers import PreTrainedTokenizerFast, RobertaConfig, RobertaForMaskedLM

    text = (DATA / "prose" / "train.txt").read_text(encoding="utf-8").splitlines()
    lines = [line for line in text if line.strip()][:3000]
    specials = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]
    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator(lines, vocab_size=1000, min_frequency=2, special_tokens=specials, show_progress=False)
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=bpe, bos_token="<s>", eos_token="</s>", unk_token="<unk>",
                                        pad_token="<pad>", mask_token="<mask>", cls_token="<s>", sep_token="</s>",
                                        model_max_length=64)
    config = RobertaConfig(vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                           intermediate_size=64, max_position_embeddings=66, pad_token_id=1, bos_token_id=0,
                           eos_token_id=2, type_vocab_size=1)
    model = RobertaForMaskedLM(config)
    model.save_pretrained(folder, safe_serialization=True)
    tokenizer.save_pretrained(folder)
    return sum(p.numel() for p in model.parameters())


def build_run(root: Path, hub: str = "", *, run_id: str = "tinywiki-20260101-000000") -> RunDir:
    """A finished run directory under ``root/runs`` (project file at ``root/tinywiki.toml``)."""
    runs = root / "runs"
    run = RunDir(runs / run_id)
    run.path.mkdir(parents=True)
    source = root / "tinywiki.toml"
    source.write_text(project_source(runs, hub).lstrip())
    project = parse_project(source.read_text(), str(source), str(source))
    atomic_write_text(run.project_file, frozen_text(project))
    params = build_model(run.model_dir)
    t = 1_767_225_600.0
    atomic_write_json(run.run_json, {"run_id": run_id, "project_name": "tinywiki", "project_path": str(source),
                                     "status": "finished", "created": t, "started": t + 1, "ended": t + 60,
                                     "exit_code": 0, "error": None, "stage": None, "pid": 0, "host": "testhost",
                                     "version": 1})
    run.emit("run_start", run_id=run_id, resumed=False, host="testhost")
    run.emit("stage", stage="tokenizer", state="start")
    run.emit("tokenizer", kind="byte_level_bpe", vocab_size=1000, cached=False, path="/cache/tok",
             preview=[["<s>", "Robert", "</s>"]])
    run.emit("dataset", cached=False, seconds=1.0, fingerprint="abc", train_tokens=301_234, validation_tokens=270_111,
             train_sequences=4706, validation_sequences=4220, documents=2891, corpus_bytes=1_256_449,
             corpus_files=[str(DATA / "prose" / "train.txt")], invalid_utf8_lines=0)
    run.emit("stage", stage="pretrain", state="start")
    run.emit("train_start", max_steps=30, start_step=0, batch_size=16, micro_batch_size=16,
             gradient_accumulation_steps=1, num_processes=1, device="cpu", mixed_precision="no", params=params,
             non_embedding_params=params // 3, tokens_per_step=1024, warmup_steps=2)
    run.emit("eval", step=0, loss=6.95, perplexity=1043.1, accuracy=0.0, tokens=500)
    for step in range(5, 31, 5):
        run.emit("train", step=step, max_steps=30, epoch=step / 300, loss=round(7.0 - step * 0.05, 4),
                 learning_rate=1e-3, grad_norm=1.0, tokens=step * 1024, tokens_per_s=5000.0, elapsed_s=step * 0.2,
                 eta_s=(30 - step) * 0.2)
        if step % 10 == 0:
            loss = 6.9 - step * 0.04
            run.emit("eval", step=step, loss=loss, perplexity=round(2.718281828 ** loss, 3), accuracy=0.01 * step,
                     tokens=500)
    ckpt = run.checkpoints_dir / "step-30"
    shutil.copytree(run.model_dir, ckpt / "model")
    atomic_write_json(ckpt / "trainer_state.json", {"step": 30, "tokens": 30720, "train_seconds": 6.0, "max_steps": 30})
    run.emit("checkpoint", step=30, path=str(ckpt))
    run.emit("model", path=str(run.model_dir), params=params)
    run.emit("train_end", status="finished", step=30, metrics={"loss": 5.7, "perplexity": 298.87, "accuracy": 0.3})
    run.emit("stage", stage="pretrain", state="done", seconds=9.5)
    run.emit("end", status="finished", metrics={"loss": 5.7, "perplexity": 298.87, "accuracy": 0.3})
    run.log_file.write_text("training RobertaForMaskedLM\nrun finished\n")
    return run


@pytest.fixture(scope="session")
def tiny_run_template(tmp_path_factory) -> Path:
    """One built run (model trained once per session); tests copy it with :func:`copy_run`."""
    root = tmp_path_factory.mktemp("hub-template")
    build_run(root)
    return root


def copy_run(template: Path, dest: Path, hub: str = "") -> RunDir:
    """A copy of the template run under ``dest`` (project file rewritten with ``hub`` appended)."""
    shutil.copytree(template, dest, dirs_exist_ok=True)
    runs = dest / "runs"
    run = RunDir(next(p for p in runs.iterdir() if (p / "run.json").is_file()))
    source = dest / "tinywiki.toml"
    source.write_text(project_source(runs, hub).lstrip())
    project = parse_project(source.read_text(), str(source), str(source))
    atomic_write_text(run.project_file, frozen_text(project))
    state = json.loads(run.run_json.read_text())
    state["project_path"] = str(source)
    state["updated"] = time.time()
    atomic_write_json(run.run_json, state)
    return run
