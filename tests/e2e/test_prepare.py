"""`lmtui prepare`: the token cache is built once, reused, and rebuilt when damaged."""

from __future__ import annotations

import shutil

from support.cli import DATA, lmtui, write_project

WIKI = DATA / "prose" / "valid.txt"


def test_prepare_twice_reuses_the_cache_and_rebuilds_a_corrupted_one(tmp_path):
    shutil.copy(WIKI, tmp_path / "train.txt")
    project = write_project(tmp_path, "cache", """
        [corpus]
        train_files = ["train.txt"]
        [tokenizer]
        vocab_size = 1000
        [model]
        size = "tiny"
    """)
    first = lmtui("prepare", str(project), cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert "(cached)" not in first.stdout.split("dataset:")[1]
    second = lmtui("prepare", str(project), cwd=tmp_path)
    assert "tokenizer:" in second.stdout and second.stdout.count("(cached)") == 2

    cache = next((tmp_path / "runs" / "cache" / "datasets").iterdir())
    data = cache / "train.bin"
    data.write_bytes(data.read_bytes()[:-100])  # truncated
    third = lmtui("prepare", str(project), cwd=tmp_path)
    assert "incomplete or corrupted: rebuilding" in third.stdout
    blob = bytearray(data.read_bytes())
    blob[10] ^= 0xFF  # same size, flipped bits
    data.write_bytes(bytes(blob))
    fourth = lmtui("prepare", str(project), cwd=tmp_path)
    assert "incomplete or corrupted: rebuilding" in fourth.stdout

    with open(tmp_path / "train.txt", "a") as fh:  # a changed corpus gives a new cache
        fh.write("one more line of text\n")
    fifth = lmtui("prepare", str(project), cwd=tmp_path)
    assert fifth.stdout.count("(cached)") == 0
    assert len(list((tmp_path / "runs" / "cache" / "datasets").iterdir())) == 2
