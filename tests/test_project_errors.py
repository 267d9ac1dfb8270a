"""Bad project files: one clear message naming file, key and line; exit code 2; nothing written."""

from __future__ import annotations

import pytest
from conftest import DATA, lmtui, write_project

GOOD = f"""
[project]
name = "bad"
output_dir = "out"

[corpus]
train_files = ["{DATA}/wikitext-2/test.txt"]

[tokenizer]
vocab_size = 2000

[model]
architecture = "roberta"
size = "tiny"

[training]
max_seq_length = 128
batch_size = 32
micro_batch_size = 16
max_steps = 10
"""


def _variant(old: str, new: str) -> str:
    assert old in GOOD, old
    return GOOD.replace(old, new, 1)


CASES = {
    "toml_syntax": (_variant('size = "tiny"', "size = tiny"), ["TOML syntax error", ":13:"]),
    "unknown_key": (_variant("max_steps = 10", "max_step = 10"),
                    ["[training.max_step] unknown key", "did you mean 'max_steps'", ":19:"]),
    "unknown_section": (GOOD + "\n[trainng]\nseed = 1\n", ["unknown section [trainng]", "did you mean [training]"]),
    "wrong_type": (_variant("batch_size = 32", 'batch_size = "32"'),
                   ["[training.batch_size] expected an integer", ":17:"]),
    "missing_corpus": (_variant(f'train_files = ["{DATA}/wikitext-2/test.txt"]', "train_files = []"),
                       ["[corpus.train_files] no training corpus", ":6:"]),
    "corpus_not_found": (_variant("wikitext-2/test.txt", "wikitext-2/nope.txt"),
                         ["[corpus.train_files] corpus file", "not found", ":6:"]),
    "unknown_architecture": (_variant('architecture = "roberta"', 'architecture = "robertta"'),
                             ["[model.architecture] unknown value 'robertta'", "did you mean 'roberta'", ":12:"]),
    "unknown_size": (_variant('size = "tiny"', 'size = "huge"'), ["[model.size] unknown value 'huge'", "tiny, mini"]),
    "heads_do_not_divide_hidden": (
        _variant('size = "tiny"', 'size = "tiny"\nconfig_overrides = { num_attention_heads = 3 }'),
        ["hidden size 128 is not divisible by the 3 attention heads", "[model.config_overrides]"]),
    "sequence_longer_than_positions": (
        _variant('size = "tiny"', 'size = "tiny"\nconfig_overrides = { max_position_embeddings = 66 }'),
        ["max_seq_length 128 is longer than the model's 64 positions", "[training.max_seq_length]"]),
    "vocab_too_small": (_variant("vocab_size = 2000", "vocab_size = 100"),
                        ["[tokenizer.vocab_size] vocab_size 100 is too small", "need 261", ":9:"]),
    "batch_not_divisible": (_variant("batch_size = 32", "batch_size = 40"),
                            ["[training.batch_size] batch_size 40 is not divisible by micro_batch_size 16",
                             "use a multiple of 16, e.g. 32 or 48"]),
    "value_out_of_range": (_variant("max_steps = 10", "max_steps = 10\nmlm_probability = 1.5"),
                           ["[training.mlm_probability] 1.5 is above the maximum 0.9"]),
    "unknown_config_override": (
        _variant('size = "tiny"', 'size = "tiny"\nconfig_overrides = { hiden_dropout_prob = 0.0 }'),
        ["RobertaConfig has no field 'hiden_dropout_prob'", "[model.config_overrides.hiden_dropout_prob]"]),
}


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("command", ["check", "run"])
def test_bad_project_gives_one_clear_message_and_writes_nothing(tmp_path, case, command):
    text, expected = CASES[case]
    project = write_project(tmp_path, "bad", text)
    proc = lmtui(command, str(project), cwd=tmp_path)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    message = proc.stderr
    assert message.startswith(f"error: {project}"), message
    for fragment in expected:
        assert fragment in message, (fragment, message)
    assert "Traceback" not in message
    lines = message.strip().splitlines()
    assert len(lines) == 2 and lines[1].startswith("  fix: "), message  # one message and its fix
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.toml"]  # nothing written


def test_output_dir_that_is_a_file_is_rejected(tmp_path):
    (tmp_path / "out").write_text("not a folder")
    project = write_project(tmp_path, "bad", GOOD)
    proc = lmtui("run", str(project), cwd=tmp_path)
    assert proc.returncode == 2
    assert "[project.output_dir] output_dir" in proc.stderr and "is a file" in proc.stderr
    assert (tmp_path / "out").read_text() == "not a folder"


def test_empty_corpus_file_is_rejected(tmp_path):
    (tmp_path / "empty.txt").write_text("")
    project = write_project(tmp_path, "bad", _variant(f"{DATA}/wikitext-2/test.txt", "empty.txt"))
    proc = lmtui("check", str(project), cwd=tmp_path)
    assert proc.returncode == 2
    assert "empty.txt' is empty" in proc.stderr and "[corpus.train_files]" in proc.stderr


def test_missing_project_file(tmp_path):
    proc = lmtui("run", str(tmp_path / "nope.toml"))
    assert proc.returncode == 2
    assert "nope.toml: project file not found" in proc.stderr and "lmtui new" in proc.stderr


def test_new_writes_a_starter_that_check_explains(tmp_path):
    proc = lmtui("new", "mymodel", "--dir", str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    starter = tmp_path / "mymodel.toml"
    assert "[training]" in starter.read_text() and "# mlm_probability = 0.15" in starter.read_text()
    proc = lmtui("check", str(starter))
    assert proc.returncode == 2  # the starter's corpus glob matches nothing yet
    assert "[corpus.train_files] corpus file 'data/*.txt' not found" in proc.stderr
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "a.txt").write_text("some text to train on\n")
    proc = lmtui("check", str(starter))
    assert proc.returncode == 0, proc.stderr
    assert "ok (roberta/small" in proc.stdout
    assert lmtui("new", "mymodel", "--dir", str(tmp_path)).returncode == 2  # never overwrites silently


def test_readme_documents_every_key():
    from pathlib import Path

    from lmtui.project.reference import reference_markdown

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    assert reference_markdown() in readme, "README's key reference is stale: run `python -m lmtui.project.reference README.md`"
