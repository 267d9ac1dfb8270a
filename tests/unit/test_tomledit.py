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


TASKS = """[project]
name = "tasks"

# the model's size, chosen for the demo
[model]
size = "mini"  # 4 layers

[eval.tasks."glue sst2"]
kind = "glue"   # GLUE-style TSV
seeds = [1, 2, 3]

[eval.tasks.ner]
kind = "conll"
"""


def test_comments_inline_and_above_are_kept_on_rewrite():
    out = set_key(TASKS, "model", "size", "small")
    assert '# the model\'s size, chosen for the demo\n[model]\nsize = "small"  # 4 layers\n' in out
    assert out.replace('"small"', '"mini"') == TASKS


def test_quoted_and_dotted_task_tables_are_edited_in_place():
    out = set_key(TASKS, "eval.tasks.glue sst2", "kind", "csv")
    assert 'kind = "csv"   # GLUE-style TSV' in out
    out = set_key(out, ("eval", "tasks", "glue sst2"), "seeds", [7])
    raw = tomllib.loads(out)
    assert raw["eval"]["tasks"]["glue sst2"] == {"kind": "csv", "seeds": [7]}
    assert raw["eval"]["tasks"]["ner"] == {"kind": "conll"}
    assert out.count("[eval.tasks.") == 2, out


def test_quoted_keys_and_arrays_are_written_as_toml():
    out = set_key(TASKS, "model", "config overrides", {"hidden size": 64})
    assert '"config overrides" = { "hidden size" = 64 }' in out
    out = set_key(out, "eval.tasks.ner", "seeds", [1, 2])
    assert tomllib.loads(out)["eval"]["tasks"]["ner"]["seeds"] == [1, 2]
    assert tomllib.loads(out)["model"]["config overrides"] == {"hidden size": 64}


def test_a_key_in_a_missing_table_adds_the_table_at_the_end():
    out = set_key(TASKS, "eval.tasks.sst2 small", "kind", "glue")
    assert out.startswith(TASKS.rstrip("\n") + "\n\n")
    assert out.endswith('[eval.tasks."sst2 small"]\nkind = "glue"\n')
    assert tomllib.loads(out)["eval"]["tasks"]["sst2 small"] == {"kind": "glue"}
    out = set_key('[model]\nsize = "tiny"', "training", "max_steps", 3)
    assert out == '[model]\nsize = "tiny"\n\n[training]\nmax_steps = 3\n'
    assert set_key("", "model", "size", "tiny") == '[model]\nsize = "tiny"\n'


def test_a_key_under_a_table_known_only_by_its_subtables_gets_its_header():
    out = set_key(TASKS, "eval", "batch_size", 16)
    raw = tomllib.loads(out)
    assert raw["eval"]["batch_size"] == 16 and set(raw["eval"]["tasks"]) == {"glue sst2", "ner"}


def test_removing_what_is_absent_changes_nothing():
    assert set_key(TASKS, "training", "max_steps", None) == TASKS
    assert set_key(TASKS, "model", "vocab_size", None) == TASKS
    out = set_key(TASKS, "eval.tasks.glue sst2", "seeds", None)
    assert "seeds" not in out and "# GLUE-style TSV" in out


def test_the_starter_template_keeps_every_comment_line():
    from lmtui.project.template import starter_text

    text = starter_text("demo")
    out = set_key(set_key(text, "training", "batch_size", 8), "project", "name", "demo2")
    kept = [line for line in text.splitlines() if line.startswith("#")]
    kept.remove("# batch_size = 64")  # [training]'s, now set; [eval]'s batch_size stays commented
    assert [line for line in out.splitlines() if line.startswith("#")] == kept
    assert len(out.splitlines()) == len(text.splitlines())
    assert tomllib.loads(out)["training"]["batch_size"] == 8
