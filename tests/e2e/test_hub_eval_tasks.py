"""Acceptance of issue 21's Hub tasks: `lmtui eval` of a small trained run fine-tunes SST-2 from
the Hub dataset ``nyu-mll/glue`` (subset sst2) held in the datasets cache, with
HF_DATASETS_OFFLINE=1, and from local GLUE TSV files as before; the same examples, seed and
label order give the same numbers both ways.

No network: HF_HOME is under tmp_path, offline mode is on for every command, and the cache is
filled by ``tests/support/hub_datasets.py`` in the layout a download from the Hub leaves.
The corpus and the SST-2 stand-in are the Python Language Reference (labelled by the word "not").
"""

from __future__ import annotations

import json
import textwrap

import pytest
from support.cli import events, lmtui, only_run
from support.hub_datasets import cache_as_hub_dataset, negation_examples, reference_sentences, write_glue_like

pytestmark = [pytest.mark.slow]

TRAIN, VALIDATION = 240, 80


def test_lmtui_eval_fine_tunes_sst2_from_the_cached_hub_dataset_offline_and_from_tsv_files(tmp_path):
    home = tmp_path / "hf-home"
    env = {"HF_HOME": str(home), "HF_DATASETS_OFFLINE": "1", "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    env.pop("HF_DATASETS_CACHE", None)
    source = write_glue_like(tmp_path / "fetched" / "glue", train=TRAIN, validation=VALIDATION)
    cache_as_hub_dataset(source, "nyu-mll/glue", "sst2", home / "datasets")
    examples = negation_examples(TRAIN + VALIDATION)
    tsv = tmp_path / "SST-2"
    tsv.mkdir()
    for name, rows in (("train.tsv", examples[:TRAIN]), ("dev.tsv", examples[TRAIN:])):
        (tsv / name).write_text("sentence\tlabel\n" + "".join(f"{s}\t{lab}\n" for s, lab in rows))
    (tmp_path / "reference.txt").write_text("\n\n".join(reference_sentences()))
    project = tmp_path / "hubeval.toml"
    project.write_text(textwrap.dedent("""
        [project]
        name = "hubeval"
        output_dir = "runs"

        [corpus]
        train_files = ["reference.txt"]

        [tokenizer]
        kind = "wordpiece"
        vocab_size = 2000
        lowercase = true

        [model]
        architecture = "bert"
        size = "tiny"
        config_overrides = { hidden_size = 64, num_attention_heads = 2, intermediate_size = 128 }

        [training]
        max_seq_length = 64
        batch_size = 16
        max_steps = 10
        learning_rate = 2e-3
        warmup_steps = 2
        logging_steps = 5
        eval_steps = 10
        save_steps = 10
        max_eval_samples = 32

        [eval]
        after_pretraining = false
        perplexity = false
        epochs = 4
        learning_rate = 3e-3
        batch_size = 16
        max_seq_length = 48

        [eval.tasks.sst2]          # the Hub dataset nyu-mll/glue (sst2), from the cache
        preset = "sst2"

        [eval.tasks.sst2_tsv]      # the same examples as GLUE TSV files
        preset = "sst2"
        data_dir = "SST-2"
    """).lstrip())
    proc = lmtui("check", str(project), cwd=tmp_path, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    proc = lmtui("run", str(project), cwd=tmp_path, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    run = only_run(tmp_path / "runs")

    proc = lmtui("eval", str(run), cwd=tmp_path, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    tasks = json.loads((run / "eval" / "results.json").read_text())["models"]["final"]["tasks"]
    hub, files = tasks["sst2"], tasks["sst2_tsv"]
    assert hub["train_examples"] == files["train_examples"] == TRAIN
    assert hub["splits"]["validation"]["examples"] == VALIDATION
    assert set(hub["splits"]) == {"validation"}  # GLUE's unlabelled test split is not scored
    accuracy = hub["splits"]["validation"]["accuracy"]["mean"]
    assert 0.6 < accuracy <= 1.0  # the balanced split's chance level is 0.5: the "not" rule is learnt (0.8 here)
    # the same examples, label order (negative, positive = 0, 1) and seed: the same numbers
    assert hub["splits"]["validation"]["accuracy"] == files["splits"]["validation"]["accuracy"]
    steps = [e for e in events(run, "finetune") if e["state"] == "step" and e["task"] == "sst2"]
    assert steps and steps[-1]["step"] == steps[-1]["max_steps"] == 4 * TRAIN // 16
    assert "sst2 accuracy (validation)" in proc.stdout

    # the dataset gone from the cache: `lmtui eval` refuses before starting, naming it
    for p in sorted((home / "datasets").rglob("*"), reverse=True):
        p.unlink() if p.is_file() else p.rmdir()
    proc = lmtui("eval", str(run), "--only", "sst2", "--force", cwd=tmp_path, env=env)
    assert proc.returncode == 2
    assert "error: [eval.tasks.sst2.dataset] dataset nyu-mll/glue (sst2) is not in the datasets cache" in proc.stderr
