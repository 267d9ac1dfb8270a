"""The command line refuses bad input with one message and exit code 2, writing nothing:
a bad ``--set`` names the argument, and `lmtui push` validates the project's ``[hub]``."""

from __future__ import annotations

from support.cli import DATA, lmtui, write_project

from lmtui.runs.rundir import RunDir

PROJECT = f"""
[project]
name = "setbad"
output_dir = "out"

[corpus]
train_files = ["{DATA}/prose/train.txt"]

[tokenizer]
vocab_size = 2000

[model]
architecture = "roberta"
size = "tiny"

[training]
max_seq_length = 64
batch_size = 32
micro_batch_size = 16
max_steps = 10

[eval.tasks."glue sst2"]
preset = "sst2"
data_dir = "{DATA}/glue/SST-2"
"""


def test_run_with_a_bad_set_names_the_argument_and_writes_nothing(tmp_path):
    project = write_project(tmp_path, "setbad", PROJECT)
    proc = lmtui("run", str(project), "--set", "training.max_steps=5", "--set", "training.batch_size=abc",
                 cwd=tmp_path)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert proc.stderr.startswith(f"error: {project}: [training.batch_size] expected an integer, got a string "
                                  "('abc'), from --set training.batch_size=abc"), proc.stderr
    assert "Traceback" not in proc.stderr and not (tmp_path / "out").exists()


def test_push_refuses_a_mistyped_hub_key(tmp_path):
    project = write_project(tmp_path, "src", '[hub]\nrepo_id = "alice/x"\ninclude_checkpoints = "no"\n')
    run = RunDir(tmp_path / "src-run")
    run.path.mkdir()
    run.project_file.write_text('[project]\nname = "src"\n')
    run.update_state(run_id=run.run_id, project_name="src", project_path=str(project), status="finished")
    proc = lmtui("push", str(run.path), "--dry-run", cwd=tmp_path)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert proc.stderr.startswith(f"error: {project}:3: [hub.include_checkpoints] expected true or false"), proc.stderr
    assert not (run.path / "hub-dry-run").exists()
