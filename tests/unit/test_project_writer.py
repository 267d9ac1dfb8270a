"""The TOML writer of frozen projects, ``--set`` and the edit form: what it writes reads back
the same, for every key type of every section, quoted keys and non-finite floats included."""

from __future__ import annotations

import math
import tomllib
from dataclasses import fields

import pytest
from support.cli import DATA, write_project

from lmtui.errors import ProjectError
from lmtui.project.freeze import dump_toml, frozen_text, toml_value
from lmtui.project.load import load_project, parse_project
from lmtui.project.schema import SECTIONS
from lmtui.project.tomledit import set_key

STRINGS = ["plain", 'quote " and \\ backslash', "tab\tnew\nline", "ünïcødé ✓", "", "# not a comment", "'single'"]
FLOATS = [0.0, -0.0, 1.5, 1e-12, 6.02e23, -2.5, math.inf, -math.inf, math.nan]
SAMPLES = {
    "str": STRINGS,
    "int": [0, -7, 2**62],
    "float": FLOATS,
    "bool": [True, False],
    "list": [[], ["a", "b c"], STRINGS],
    "list[int]": [[], [0, 2, 4], [-1]],
    "dict": [{}, {"hidden_size": 64, "layer_norm_eps": 1e-12, "bare-key_1": -math.inf,
                  "quoted key": "v", "dotted.key": [1, 2.5, "x"], "nested": {"deep": True}}],
}


def _same(a, b) -> bool:
    """Equal, with NaN equal to NaN and -0.0 told from 0.0."""
    if isinstance(a, float) and isinstance(b, float):
        return (math.isnan(a) and math.isnan(b)) or (a == b and math.copysign(1, a) == math.copysign(1, b))
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    return type(a) is type(b) and a == b


def _every_key_of_every_section(variant: int) -> dict[str, dict]:
    tables = {}
    for name, cls in SECTIONS.items():
        table = {}
        for f in fields(cls):
            samples = SAMPLES[f.type if isinstance(f.type, str) else f.type.__name__]
            table[f.name] = samples[variant % len(samples)]
        tables[name] = table
    tables["eval"]["tasks"] = {
        "sst2": {"preset": "sst2", "data_dir": "/data/glue/SST-2", "epochs": 2.5, "header": False},
        "glue sst2": {"kind": "classification", "text_column": 3, "labels": ["0", "1"], "learning_rate": -math.inf},
        "ner.conll": {"preset": "conll2003", "metrics": ["f1", "precision"], "label_column": -1},
        "": {"kind": "token_classification"},
    }
    return tables


@pytest.mark.parametrize("variant", range(len(STRINGS)))
def test_dump_toml_round_trips_every_key_type_of_every_section(variant):
    tables = _every_key_of_every_section(variant)
    assert _same(tomllib.loads(dump_toml(tables)), tables)


@pytest.mark.parametrize("value", [v for samples in SAMPLES.values() for v in samples], ids=repr)
def test_toml_value_is_one_line_that_reads_back_the_same(value):
    written = toml_value(value)
    assert "\n" not in written
    assert _same(tomllib.loads(f"v = {written}")["v"], value)


def test_non_finite_floats_keep_their_sign():
    assert [toml_value(v) for v in (math.inf, -math.inf, math.nan)] == ["inf", "-inf", "nan"]


def test_edit_form_writes_values_that_read_back(tmp_path):
    text = '[model]\nsize = "tiny"\n\n[training]\nmax_grad_norm = 1.0\n'
    for value in (-math.inf, 'say "hi"', ["a", "b"], {"quoted key": 1, "x": -math.inf}):
        out = set_key(text, "training", "max_grad_norm", value)
        assert _same(tomllib.loads(out)["training"]["max_grad_norm"], value)
        assert tomllib.loads(out)["model"] == {"size": "tiny"}


QUOTED = f"""
[project]
name = "quoted"
output_dir = "runs"

[corpus]
train_files = ["{DATA}/prose/train.txt"]

[tokenizer]
vocab_size = 2000

[model]
architecture = "roberta"
size = "tiny"
config_overrides = {{ layer_norm_eps = 1e-12, "hidden_dropout_prob" = 0.0 }}

[training]
max_seq_length = 64
batch_size = 32
micro_batch_size = 16
max_steps = 10

[eval.tasks."glue sst2"]
preset = "sst2"
data_dir = "{DATA}/glue/SST-2"
epochs = 1.5

[hub]
tags = ["a b", "c\\"d"]
"""


def test_frozen_project_with_quoted_table_names_reads_back(tmp_path):
    project = load_project(write_project(tmp_path, "quoted", QUOTED))
    frozen = parse_project(frozen_text(project), "frozen.toml", str(tmp_path / "frozen.toml"))
    assert frozen.eval.tasks["glue sst2"]["epochs"] == 1.5
    assert frozen.eval.tasks["glue sst2"]["data_dir"] == f"{DATA}/glue/SST-2"
    assert frozen.model.config_overrides == {"layer_norm_eps": 1e-12, "hidden_dropout_prob": 0.0}
    assert frozen.hub.tags == ["a b", 'c"d']
    assert frozen.corpus == project.corpus and frozen.training == project.training


def test_set_works_on_a_project_with_quoted_table_names(tmp_path):
    from lmtui.runs.launcher import load_with_overrides

    path = write_project(tmp_path, "quoted", QUOTED)
    project = load_with_overrides(str(path), ["training.max_steps=5", "eval.seeds=2"])
    assert (project.training.max_steps, project.eval.seeds) == (5, 2)
    assert project.eval.tasks["glue sst2"]["preset"] == "sst2"


def test_an_error_from_set_names_the_set_argument_not_a_line(tmp_path):
    from lmtui.runs.launcher import load_with_overrides

    path = write_project(tmp_path, "quoted", QUOTED)
    with pytest.raises(ProjectError) as err:
        load_with_overrides(str(path), ["training.batch_size=abc"])
    assert err.value.line is None
    assert err.value.format().startswith(f"{path}: [training.batch_size] expected an integer, got a string "
                                         "('abc'), from --set training.batch_size=abc")


def test_an_error_elsewhere_keeps_the_line_of_the_users_file(tmp_path):
    from lmtui.runs.launcher import load_with_overrides

    path = write_project(tmp_path, "quoted", QUOTED.replace("max_steps = 10", "max_steps = 10\nseed = true"))
    with pytest.raises(ProjectError) as err:
        load_with_overrides(str(path), ["training.max_steps=5"])
    line = path.read_text().splitlines().index("seed = true") + 1
    assert err.value.format().startswith(f"{path}:{line}: [training.seed] expected an integer")
