"""`lmtui run` on a mixture of two corpora (issue 10): the dataset event gives each source's tokens
and share, the trainer reads the run's view of the cache, and the model card lists the sources."""

from __future__ import annotations

import json

import pytest
from support.cli import DATA, events, lmtui, only_run, write_project


@pytest.mark.long
def test_a_mixture_project_trains_and_reports_tokens_per_source(tmp_path):
    project = write_project(tmp_path, "mix", f"""
        [corpus]
        deduplicate = true

        [corpus.sources.wiki]
        files = ["{DATA}/prose/valid.txt"]
        weight = 0.7

        [corpus.sources.shakespeare]
        files = ["{DATA}/reference/topics.txt"]
        weight = 0.3

        [tokenizer]
        vocab_size = 800

        [model]
        size = "tiny"

        [training]
        max_seq_length = 32
        batch_size = 16
        micro_batch_size = 16
        max_steps = 10
        eval_steps = 10
        save_steps = 10
        max_eval_samples = 32
    """)
    done = lmtui("run", str(project), cwd=tmp_path, timeout=900)
    assert done.returncode == 0, done.stdout + done.stderr
    run = only_run(tmp_path / "runs")
    dataset = events(run, "dataset")[-1]
    assert [s["name"] for s in dataset["sources"]] == ["wiki", "shakespeare"]
    assert [s["share"] for s in dataset["sources"]] == [0.7, 0.3]
    assert all(s["train_tokens"] > 0 for s in dataset["sources"]) and dataset["duplicates_dropped"] > 0
    assert events(run, "dataset_progress")[-1]["final"]
    state = json.loads((run / "run.json").read_text())
    assert state["dataset_dir"] == str(run / "dataset")
    meta = json.loads((run / "dataset" / "meta.json").read_text())
    assert meta["mixture"] == {"wiki": 0.7, "shakespeare": 0.3}

    from lmtui.hub.card import card_data, collect
    from lmtui.runs.rundir import RunDir

    text = "\n".join(card_data(collect(RunDir(run))))
    assert "source `wiki`" in text and "70% of the training stream" in text
