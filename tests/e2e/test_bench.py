"""`lmtui bench` with nothing beside the repository: on the default corpus (the Python Language Reference) both
tools train and the table holds real numbers for each; the in-repo run_mlm.py baseline counts the real tokens
it trains on and saves a model that transformers loads; the tokenizer takes the standard library's docstrings
only when the training text is short; a corpus that does not exist is one clear error."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from pydoc_data.topics import topics
from support.cli import lmtui

pytestmark = pytest.mark.slow

TINY = "hidden_size=32,intermediate_size=64,num_attention_heads=2,num_hidden_layers=1,max_position_embeddings=66"


def test_bench_prints_a_table_with_the_baseline_and_lmtui(tmp_path):
    proc = lmtui("bench", "--steps", "2", "--batch", "8", "--max-lines", "300", "--max-eval-samples", "16",
                 "--vocab-size", "1000", "--modes", "group_texts", "--work-dir", str(tmp_path / "work"), cwd=tmp_path)
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
    assert baseline["real_tokens"] == ours["real_tokens"] == 2 * 8 * 128  # packed: every token is real
    assert ours["preprocess_cached_s"] < 1.0
    train = Path(report["corpus"]["train"])
    assert train.name == "train-300.txt" and train.parent == tmp_path / "work"  # both tools read the same slice
    assert len(train.read_text().splitlines()) == 300
    assert report["tokenizer_size"] == 1000 and report["corpus"]["tokenizer_files"] == [str(train)]
    assert "Traceback" not in proc.stderr


def test_the_baseline_counts_real_tokens_and_saves_a_model_transformers_loads(tmp_path):
    from tokenizers import Tokenizer
    from transformers import AutoModelForMaskedLM, AutoTokenizer

    from lmtui.bench.tokenizer import train_bpe

    # 64 non-blank lines of the Language Reference (and blank ones between them), 8 sequences a step
    lines = [line for line in topics["compound"].splitlines() if len(line.strip()) > 20][:64]
    assert len(lines) == 64
    train = tmp_path / "train.txt"
    train.write_text("\n\n".join(lines) + "\n")
    (tmp_path / "valid.txt").write_text("\n".join(topics["if"].splitlines()) + "\n")
    train_bpe([train], 400, tmp_path / "tok")
    proc = subprocess.run([sys.executable, "-m", "lmtui.bench.baseline", "--train_file", str(train),
                           "--validation_file", str(tmp_path / "valid.txt"), "--tokenizer_name", str(tmp_path / "tok"),
                           "--config_overrides", TINY, "--max_seq_length", "64", "--line_by_line",
                           "--per_device_train_batch_size", "8", "--max_steps", "8", "--learning_rate", "1e-3",
                           "--warmup_steps", "0.25", "--weight_decay", "0.01", "--max_eval_samples", "8",
                           "--output-dir", str(tmp_path / "model")], cwd=tmp_path, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    plain = Tokenizer.from_file(str(tmp_path / "tok" / "tokenizer.json"))
    # 8 steps x 8 sequences = one epoch of the 64 lines: each line's tokens, truncated to 64, once
    assert result["real_tokens"] == sum(min(len(plain.encode(line).ids), 64) for line in lines)
    assert result["steps"] == 8 and result["samples"] == 64 and result["train_sequences"] == 64
    assert result["warmup_steps"] == 0.25 and result["weight_decay"] == 0.01 and result["eval_sequences"] == 8
    assert 0 < result["eval_loss"] < 20 and 0 <= result["eval_accuracy"] <= 1

    model_dir = tmp_path / "model"
    assert result["model"] == str(model_dir) and (model_dir / "model.safetensors").is_file()
    model = AutoModelForMaskedLM.from_pretrained(model_dir)
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    assert model.config.hidden_size == 32 and model.config.vocab_size == len(tokenizer) == len(plain.get_vocab())
    batch = tokenizer(["The if statement is used for conditional execution"], return_tensors="pt")
    assert model(**batch).logits.shape == (1, batch["input_ids"].shape[1], len(tokenizer))


def test_the_tokenizer_adds_the_stdlib_docstrings_only_when_the_training_text_is_short(tmp_path):
    from lmtui.bench.compare import make_tokenizer, resolve_corpus

    small = tmp_path / "small.txt"
    small.write_text("".join(line + "\n" for line in topics["if"].splitlines()))
    corpus = resolve_corpus(f"{small},{small}", tmp_path)
    notes = []
    folder, size = make_tokenizer(corpus, 300, tmp_path / "tok-300", notes.append)
    assert size == 300 and corpus.tokenizer_files == [small.resolve()] and len(notes) == 1
    folder, size = make_tokenizer(corpus, 2000, tmp_path / "tok-2000", notes.append)
    assert size == 2000 and corpus.tokenizer_files[-1].name == "stdlib-docstrings.txt"
    assert "adding the standard library's docstrings" in notes[1]
    from tokenizers import Tokenizer

    assert Tokenizer.from_file(str(folder / "tokenizer.json")).get_vocab_size() == 2000


def test_a_missing_corpus_file_is_one_message_and_exit_code_2(tmp_path):
    proc = lmtui("bench", "--corpus", str(tmp_path / "nope.txt"), "--work-dir", str(tmp_path / "work"), cwd=tmp_path)
    assert proc.returncode == 2
    assert "nope.txt" in proc.stderr and "--corpus" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "work" / "results.json").exists()
