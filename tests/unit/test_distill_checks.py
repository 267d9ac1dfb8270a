"""[distill] checks (lmtui.distill.checks through the check layer, lmtui.checks): one ProjectError
naming the key (and its line) before anything runs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from support.cli import write_project

from lmtui.checks import require
from lmtui.errors import ProjectError
from lmtui.project.load import load_project as load_file
from lmtui.project.load import parse_project
from lmtui.runs.launcher import frozen_project_text as frozen_text


def load_project(path: Path):
    """The project at ``path`` through the checks of `lmtui check --no-deep` (:func:`lmtui.checks.require`)."""
    project = load_file(path, check=False)
    require(project, deep=False)
    return project


def teacher_folder(folder: Path, *, model_type="bert", architectures=("BertForMaskedLM",), layers=4, vocab=64,
                   tokens=40, positions=64) -> Path:
    """A model folder as save_pretrained writes it, config.json and tokenizer.json only (the checks read no weights)."""
    from tokenizers import Tokenizer
    from tokenizers.models import WordLevel

    folder.mkdir(parents=True)
    (folder / "config.json").write_text(json.dumps({
        "model_type": model_type, "architectures": list(architectures), "num_hidden_layers": layers, "hidden_size": 64,
        "num_attention_heads": 2, "intermediate_size": 128, "vocab_size": vocab, "max_position_embeddings": positions}))
    vocab_table = {f"w{i}": i for i in range(tokens)}
    Tokenizer(WordLevel(vocab_table, unk_token="w0")).save(str(folder / "tokenizer.json"))
    return folder


def project_file(tmp_path: Path, distill: str, *, model: str = 'architecture = "bert"', tokenizer: str = "",
                 training: str = "max_seq_length = 32") -> Path:
    (tmp_path / "train.txt").write_text("some text\n" * 20)
    return write_project(tmp_path, "student", f"""
        [corpus]
        train_files = ["train.txt"]

        [tokenizer]
        {tokenizer}

        [model]
        {model}

        [training]
        {training}

        [distill]
        {distill}
    """)


def error(path: Path) -> ProjectError:
    with pytest.raises(ProjectError) as info:
        load_project(path)
    return info.value


@pytest.fixture
def teacher(tmp_path) -> Path:
    return teacher_folder(tmp_path / "teacher")


def test_a_good_distillation_project_loads_and_freezes_the_teacher_folder(tmp_path, teacher):
    path = project_file(tmp_path, 'teacher = "teacher"\nlayers = [1, 3]')
    project = load_project(path)
    assert project.distill.layers == [1, 3]
    frozen = parse_project(frozen_text(project), "frozen.toml")
    assert frozen.distill.teacher == str(teacher.resolve()) and frozen.distill.layers == [1, 3]


@pytest.mark.parametrize("distill,extra,key,fragment", [
    ('teacher = "nowhere"', {}, "distill.teacher", "teacher 'nowhere' is not a model folder"),
    ('teacher = "./nowhere"', {}, "distill.teacher", "teacher './nowhere' does not exist"),
    ('teacher = "teacher"\nlayers = [0, 4]', {}, "distill.layers", "layers [4] out of range"),
    ('teacher = "teacher"\nlayers = [0, 1, 2]', {"model": 'architecture = "bert"\nconfig_overrides = '
                                                          '{ num_hidden_layers = 2 }'},
     "distill.layers", "layers has 3 entries, longer than the student's 2 layers"),
    ('teacher = "teacher"\nlayers = [1, 1]', {}, "distill.layers", "twice"),
    ('teacher = "teacher"\nlayers = ["a"]', {}, "distill.layers", "expected a list of integers"),
    ('teacher = "teacher"', {"model": 'architecture = "roberta"'}, "model.architecture", "cannot be initialised"),
    ('teacher = "teacher"', {"model": 'architecture = "bert"\nsize = "mini"'}, "model.size", "teacher's width"),
    ('teacher = "teacher"', {"model": 'architecture = "bert"\nconfig_overrides = { hidden_size = 128 }'},
     "model.config_overrides", "contradicts the teacher's 64"),
    ('teacher = "teacher"', {"model": 'architecture = "bert"\nconfig_overrides = { num_hidden_layers = 6 }'},
     "model.config_overrides", "more than the teacher's 4"),
    ('teacher = "teacher"', {"tokenizer": "vocab_size = 500"}, "tokenizer.vocab_size", "teacher's tokenizer is used"),
    ('teacher = "teacher"', {"training": "max_seq_length = 128"}, "training.max_seq_length", "64 positions"),
    ('teacher = "teacher"\ninit = "random"\nlayers = [0]', {}, "distill.layers", "a random student copies no layer"),
    ('teacher = "teacher"\ninit = "random"', {"model": 'architecture = "bert"\nsize = "tiny"'}, "distill.alpha_cos",
     "hidden size 128 is not the teacher's 64"),
    ('teacher = "teacher"\nalpha_ce = 0\nalpha_mlm = 0\nalpha_cos = 0', {}, "distill.alpha_ce", "all 0"),
])
def test_bad_distillation_gives_one_clear_error(tmp_path, teacher, distill, extra, key, fragment):
    exc = error(project_file(tmp_path, distill, **extra))
    assert exc.key == key and fragment in exc.message, (exc.key, exc.message)
    assert exc.line is not None and exc.hint
    assert exc.exit_code == 2


def test_a_teacher_that_is_not_a_masked_lm(tmp_path):
    teacher_folder(tmp_path / "teacher", architectures=("BertForSequenceClassification",))
    exc = error(project_file(tmp_path, 'teacher = "teacher"'))
    assert exc.key == "distill.teacher" and "not a masked language model" in exc.message
    (tmp_path / "gpt").mkdir()
    teacher_folder(tmp_path / "gpt" / "m", model_type="gpt2", architectures=("GPT2LMHeadModel",))
    assert "not a masked language model" in error(project_file(tmp_path, 'teacher = "gpt/m"')).message


def test_a_tokenizer_with_another_vocabulary_than_the_teachers(tmp_path, teacher):
    teacher_folder(tmp_path / "other", tokens=30)
    exc = error(project_file(tmp_path, 'teacher = "teacher"', tokenizer='path = "other"'))
    assert exc.key == "tokenizer.path" and "another vocabulary than the teacher's" in exc.message
    load_project(project_file(tmp_path, 'teacher = "teacher"', tokenizer='path = "teacher"'))  # the same one is fine


def test_a_tokenizer_larger_than_the_teachers_embeddings(tmp_path):
    teacher_folder(tmp_path / "teacher", vocab=32, tokens=40)
    exc = error(project_file(tmp_path, 'teacher = "teacher"'))
    assert exc.key == "distill.teacher" and "40 tokens but the teacher" in exc.message


def test_init_from_and_a_teacher_together(tmp_path, teacher):
    exc = error(project_file(tmp_path, 'teacher = "teacher"', model='architecture = "bert"\ninit_from = "teacher"'))
    assert exc.key == "model.init_from"


def test_the_check_summary_and_the_projects_screen_line_name_teacher_and_student(tmp_path, teacher):
    from lmtui.distill.checks import distill_summary
    from lmtui.tui.screens.projects import ProjectsScreen

    project = load_project(project_file(tmp_path, 'teacher = "teacher"'))
    line = distill_summary(project)
    assert line == (f"distils model folder {teacher.resolve()} (bert, 4 layers, hidden 64) into a 2-layer bert "
                    "student (layers [0, 2] copied)")
    assert ProjectsScreen.distill_line(project) == line
    (teacher / "config.json").unlink()
    assert ProjectsScreen.distill_line(project).startswith("teacher teacher: ")


def test_a_changed_distillation_recipe_is_a_changed_project_on_resume(tmp_path, teacher):
    """[distill] decides what trains: a run is not resumed silently under another temperature."""
    from lmtui.runs.launcher import _changed_sections
    from lmtui.runs.rundir import RunDir

    project = load_project(project_file(tmp_path, f'teacher = "{teacher}"\ntemperature = 2.0'))
    run = RunDir(tmp_path / "runs" / "student-20270101-000000")
    run.path.mkdir(parents=True)
    run.project_file.write_text(frozen_text(project))
    assert _changed_sections(run, project) == []
    warmer = load_project(project_file(tmp_path, f'teacher = "{teacher}"\ntemperature = 4.0'))
    assert _changed_sections(run, warmer) == ["distill"]
