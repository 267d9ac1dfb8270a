"""The [eval] section: task tables validated with file, key and line; presets; when the stage runs."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import pytest

from lmtui.errors import ProjectError
from lmtui.evaluation.stage import resolved_specs, wanted
from lmtui.project.load import load_project, parse_project
from lmtui.project.sections.eval import EvalSection

HEAD = """
[project]
name = "p"

[corpus]
train_files = ["{data}/prose/train.txt"]

"""


def project_file(tmp_path: Path, data_dir: Path, body: str) -> Path:
    path = tmp_path / "p.toml"
    path.write_text(HEAD.format(data=data_dir) + textwrap.dedent(body))
    return path


def check(path: Path):
    """The project's [eval] through the file's rules, then its files (lmtui.evaluation.checks.check_eval)."""
    from lmtui.evaluation.checks import check_eval

    project = load_project(path)
    check_eval(project, path.read_text())
    return project


def test_presets_fill_in_files_columns_and_metrics_relative_to_the_project(tmp_path, data_dir):
    glue = os.path.relpath(data_dir / "glue", tmp_path)
    path = project_file(tmp_path, data_dir, """
        [eval]
        seeds = 3
        epochs = 2

        [eval.tasks.sst2]
        preset = "sst2"
        data_dir = "{glue}/SST-2"

        [eval.tasks.cola]
        preset = "cola"
        data_dir = "{glue}/CoLA"
        epochs = 5

        [eval.tasks.ner]
        preset = "conll2003"
        data_dir = "{data}/conll2003"
    """.replace("{glue}", glue).replace("{data}", str(data_dir)))
    project = check(path)
    _, specs = resolved_specs(None, project)
    by_name = {s.name: s for s in specs}
    sst2 = by_name["sst2"]
    assert sst2.train_file == str(data_dir / "glue/SST-2/train.tsv")  # relative to the project file
    assert (sst2.kind, sst2.text_column, sst2.label_column, sst2.metrics) == ("classification", "sentence", "label",
                                                                            ["accuracy"])
    assert (sst2.seeds, sst2.epochs) == (3, 2.0)
    cola = by_name["cola"]
    assert (cola.header, cola.text_column, cola.metrics[0], cola.epochs) == (False, 3, "matthews_correlation", 5.0)
    ner = by_name["ner"]
    assert ner.kind == "token_classification" and ner.tag_scheme == "iob1"
    assert ner.splits == {"validation": str(data_dir / "conll2003/eng.testa"),
                          "test": str(data_dir / "conll2003/eng.testb")}


def test_unknown_task_key_names_file_key_line_and_suggestion(tmp_path, data_dir):
    path = project_file(tmp_path, data_dir, """
        [eval.tasks.sst2]
        preset = "sst2"
        data_dir = "%s/glue/SST-2"
        lable_column = "label"
    """ % data_dir)
    with pytest.raises(ProjectError) as err:
        check(path)
    message = err.value.format()
    line = path.read_text().splitlines().index('lable_column = "label"') + 1
    assert f"{path}:{line}:" in message
    assert "[eval.tasks.sst2.lable_column]" in message and "did you mean 'label_column'?" in message


@pytest.mark.parametrize("body, expected", [
    ('preset = "sst3"', "did you mean 'sst2'?"),
    ('kind = "classification"', "has no train_file"),
    ('preset = "sst2"\ndataset = "nyu-mll/glue"\ndata_dir = "x"', "exclude each other"),
    ('preset = "sst2"\ndata_dir = "nowhere"', "not found"),
    ('preset = "sst2"\ndata_dir = "{data}/glue/SST-2"\nmetrics = ["f1", "bleu"]', "metric 'bleu' is not available"),
    ('preset = "sst2"\ndata_dir = "{data}/glue/SST-2"\nepochs = "three"', "expected a number"),
])
def test_bad_task_tables_fail_with_one_clear_message(tmp_path, data_dir, body, expected):
    path = project_file(tmp_path, data_dir, "[eval.tasks.t]\n" + body.format(data=data_dir) + "\n")
    with pytest.raises(ProjectError) as err:
        check(path)
    assert expected in err.value.format()
    assert str(path) in err.value.format() and "eval.tasks.t" in err.value.format()


def test_probe_without_a_mask_is_rejected(tmp_path, data_dir):
    path = project_file(tmp_path, data_dir, '[eval]\nprobes = ["Paris is the capital of France."]\n')
    with pytest.raises(ProjectError, match="has no mask"):
        check(path)


def test_the_stage_runs_only_when_the_section_asks_for_more_than_perplexity(tmp_path, data_dir):
    def project(body: str):
        return parse_project(HEAD.format(data=data_dir) + body, "p.toml", str(tmp_path / "p.toml"))

    assert not wanted(project(""))
    assert wanted(project('[eval]\nprobes = ["a <mask> b"]\n'))
    assert wanted(project("[eval]\npseudo_perplexity_samples = 10\n"))
    assert not wanted(project('[eval]\nafter_pretraining = false\nprobes = ["a <mask> b"]\n'))


def test_resolved_section_makes_task_paths_absolute(tmp_path, data_dir):
    path = project_file(tmp_path, data_dir, """
        [eval]
        text_files = ["held/out.txt"]

        [eval.tasks.mine]
        kind = "classification"
        train_file = "data/train.jsonl"
        validation_file = "data/dev.jsonl"
    """)
    project = load_project(path, check=False)  # the files need not exist to be resolved
    table = project.eval.resolved(project)
    assert table["text_files"] == [str(tmp_path / "held/out.txt")]
    assert table["tasks"]["mine"]["train_file"] == str(tmp_path / "data/train.jsonl")
    assert isinstance(EvalSection().tasks, dict)
