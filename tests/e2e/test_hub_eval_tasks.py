"""Acceptance of issue 21's Hub tasks, as a user meets them: offline, `lmtui check` refuses the
sst2 preset's dataset (``nyu-mll/glue``, subset sst2) and prints the command that fetches it;
that command, run where the Hub is reachable, fills the datasets cache once; then, with
HF_DATASETS_OFFLINE=1, `lmtui run` trains a small model and `lmtui eval` fine-tunes SST-2 from
the cache, and from local GLUE TSV files as before: the same examples, seed and label order
give the same numbers both ways.

No network: the Hub is ``tests/support/fake_hub.py`` on 127.0.0.1 (``HF_ENDPOINT``), serving a
repository shaped like nyu-mll/glue made by ``tests/support/hub_datasets.py`` from the Python
Language Reference (sentences labelled by the word "not"); HF_HOME is under tmp_path.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import textwrap

import pytest
from support.cli import events, lmtui, only_run
from support.fake_hub import FakeHub
from support.hub_datasets import negation_examples, reference_sentences, write_glue_like

pytestmark = [pytest.mark.slow]

TRAIN, VALIDATION = 240, 80


@pytest.fixture
def hub():
    """The fake Hub, serving nothing yet (tests add dataset repositories)."""
    server = FakeHub({}).start()
    try:
        yield server
    finally:
        server.stop()


def test_lmtui_eval_fine_tunes_sst2_from_the_hub_dataset_fetched_once_then_offline(tmp_path, hub):
    home = tmp_path / "hf-home"
    env = {"HF_HOME": str(home), "HF_DATASETS_OFFLINE": "1", "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1",
           "HF_ENDPOINT": hub.url, "HF_HUB_DISABLE_XET": "1", "NO_PROXY": "127.0.0.1,localhost"}
    hub.add_dataset("nyu-mll/glue", write_glue_like(tmp_path / "repo" / "glue", train=TRAIN, validation=VALIDATION))
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
    assert proc.returncode == 2 and "[eval.tasks.sst2.dataset] dataset nyu-mll/glue (sst2) is not in" in proc.stderr
    fetch = proc.stderr.split("fix: fetch it once where the Hub is reachable: ", 1)[1].split("; on a machine")[0]
    argv = shlex.split(fetch)
    assert argv[0] == "python"
    online = {k: v for k, v in {**os.environ, **env}.items() if k not in ("HF_DATASETS_OFFLINE", "HF_HUB_OFFLINE")}
    done = subprocess.run([sys.executable, *argv[1:]], env=online, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert ("GET", "/datasets/nyu-mll/glue/resolve/" + hub.datasets["nyu-mll/glue"]["sha"]
            + "/sst2/train-00000-of-00001.parquet") in hub.requests
    fetched = len(hub.requests)  # from here on offline: nothing more is asked of the Hub

    proc = lmtui("check", str(project), cwd=tmp_path, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    proc = lmtui("run", str(project), cwd=tmp_path, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    run = only_run(tmp_path / "runs")

    proc = lmtui("eval", str(run), cwd=tmp_path, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    tasks = json.loads((run / "eval" / "results.json").read_text())["models"]["final"]["tasks"]
    from_hub, from_files = tasks["sst2"], tasks["sst2_tsv"]
    assert from_hub["train_examples"] == from_files["train_examples"] == TRAIN
    assert from_hub["splits"]["validation"]["examples"] == VALIDATION
    assert set(from_hub["splits"]) == {"validation"}  # GLUE's unlabelled test split is not scored
    accuracy = from_hub["splits"]["validation"]["accuracy"]["mean"]
    assert 0.6 < accuracy <= 1.0  # the balanced split's chance level is 0.5: the "not" rule is learnt (0.8 here)
    # the same examples, label order (negative, positive = 0, 1) and seed: the same numbers
    assert from_hub["splits"]["validation"]["accuracy"] == from_files["splits"]["validation"]["accuracy"]
    steps = [e for e in events(run, "finetune") if e["state"] == "step" and e["task"] == "sst2"]
    assert steps and steps[-1]["step"] == steps[-1]["max_steps"] == 4 * TRAIN // 16
    assert "sst2 accuracy (validation)" in proc.stdout
    assert len(hub.requests) == fetched

    # the dataset gone from the cache: `lmtui eval` refuses before starting, naming it
    for p in sorted((home / "datasets").rglob("*"), reverse=True):
        p.unlink() if p.is_file() else p.rmdir()
    proc = lmtui("eval", str(run), "--only", "sst2", "--force", cwd=tmp_path, env=env)
    assert proc.returncode == 2
    assert "error: [eval.tasks.sst2.dataset] dataset nyu-mll/glue (sst2) is not in the datasets cache" in proc.stderr
