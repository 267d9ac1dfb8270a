"""Editing project files in place: comments and untouched keys survive."""

from __future__ import annotations

import tomllib

from lmtui.project.tomledit import set_key, set_name

TEXT = """# my project
[project]
name = "a"  # the name

[corpus]
train_files = [
  "one.txt",
  "two.txt",
]
# validation_files = []

[training]
batch_size = 64
"""


def test_existing_keys_are_rewritten_and_comments_kept():
    out = set_key(TEXT, "training", "batch_size", 32)
    assert "batch_size = 32" in out and "# my project" in out
    assert tomllib.loads(out)["training"]["batch_size"] == 32


def test_multi_line_arrays_are_replaced_whole():
    out = set_key(TEXT, "corpus", "train_files", ["x.txt"])
    assert tomllib.loads(out)["corpus"]["train_files"] == ["x.txt"]
    assert "two.txt" not in out


def test_commented_out_keys_are_uncommented_with_the_value():
    out = set_key(TEXT, "corpus", "validation_files", ["v.txt"])
    assert 'validation_files = ["v.txt"]' in out and "# validation_files" not in out


def test_missing_keys_and_sections_are_added():
    out = set_key(TEXT, "training", "max_steps", 100)
    out = set_key(out, "model", "size", "mini")
    raw = tomllib.loads(out)
    assert raw["training"] == {"batch_size": 64, "max_steps": 100}
    assert raw["model"] == {"size": "mini"}


def test_none_removes_a_key_and_set_name_renames():
    out = set_key(TEXT, "corpus", "train_files", None)
    assert "train_files" not in tomllib.loads(out)["corpus"]
    assert tomllib.loads(set_name(TEXT, "b"))["project"]["name"] == "b"
