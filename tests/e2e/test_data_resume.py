"""A token-cache build killed with SIGKILL mid-way resumes at its first unfinished shard, and the
cache it publishes has the bytes of `lmtui prepare` run in one go (issue 10)."""

from __future__ import annotations

import json
import subprocess
import sys

from support.cli import DATA, lmtui, write_project

# Builds the cache with 100 kB shards; with "kill", SIGKILLs itself once two shards are recorded.
BUILD = """
import os, signal, sys
from lmtui.data import shards, token_cache
from lmtui.data.tokenizer import prepare_tokenizer
from lmtui.project.load import load_project

project = load_project(sys.argv[1])
tokenizer, _ = prepare_tokenizer(project, log=lambda m: None)
token_cache.SHARD_BYTES = 100_000
record = shards.ShardBuild.finish_shard

def finish_then_kill(self, *args, **kwargs):
    record(self, *args, **kwargs)
    if sys.argv[2] == "kill" and len(self.shards) == 2:
        os.kill(os.getpid(), signal.SIGKILL)

shards.ShardBuild.finish_shard = finish_then_kill
folder, meta, cached = token_cache.prepare_dataset(project, tokenizer, log=print)
print("built", folder)
"""


def _files(folder):
    return json.loads((folder / "meta.json").read_text())["files"]


def test_a_build_killed_mid_way_resumes_and_publishes_the_one_go_bytes(tmp_path):
    text = (DATA / "prose" / "valid.txt").read_text()
    (tmp_path / "train.txt").write_text(text)
    project = write_project(tmp_path, "resume", """
        [corpus]
        train_files = ["train.txt"]
        [tokenizer]
        vocab_size = 800
        max_training_documents = 1000
        [model]
        size = "tiny"
    """)
    killed = subprocess.run([sys.executable, "-c", BUILD, str(project), "kill"], cwd=tmp_path,
                            capture_output=True, text=True, timeout=300)
    assert killed.returncode == -9, killed.stderr
    datasets = tmp_path / "runs" / "cache" / "datasets"
    build = next(datasets.glob(".build-*"))
    assert len(json.loads((build / "shards.json").read_text())["shards"]) == 2
    assert not [p for p in datasets.iterdir() if not p.name.startswith(".")]  # nothing published

    resumed = subprocess.run([sys.executable, "-c", BUILD, str(project), "finish"], cwd=tmp_path,
                             capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    assert "resuming the token cache after 2 finished shard(s)" in resumed.stdout
    folder = datasets / build.name[len(".build-"):]
    assert not build.exists() and folder.is_dir()
    resumed_files = _files(folder)

    (datasets / folder.name).rename(tmp_path / "resumed-cache")
    one_go = lmtui("prepare", str(project), cwd=tmp_path)
    assert one_go.returncode == 0, one_go.stderr
    assert "(cached)" not in one_go.stdout.split("dataset:")[-1]
    assert _files(folder) == resumed_files
