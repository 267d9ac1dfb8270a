"""The command line refuses bad input with one message and exit code 2, writing nothing:
a bad ``--set`` names the argument, and `lmtui push` validates the project's ``[hub]``."""

from __future__ import annotations

from support.cli import DATA, lmtui
from support.projects import line_of_key, write_project

from lmtui.runs.rundir import RunDir

TASK = {"glue sst2": {"preset": "sst2", "data_dir": f"{DATA}/glue/SST-2"}}


def test_run_with_a_bad_set_names_the_argument_and_writes_nothing(tmp_path):
    project = write_project(tmp_path, "setbad", {"project.output_dir": "out", "corpus.validation_files": None},
                            eval={"tasks": TASK})
    proc = lmtui("run", str(project), "--set", "training.max_steps=5", "--set", "training.batch_size=abc",
                 cwd=tmp_path)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert proc.stderr.startswith(f"error: {project}: [training.batch_size] expected an integer, got a string "
                                  "('abc'), from --set training.batch_size=abc"), proc.stderr
    assert "Traceback" not in proc.stderr and not (tmp_path / "out").exists()


def test_push_refuses_a_mistyped_hub_key(tmp_path):
    project = write_project(tmp_path, "src", base={}, hub={"repo_id": "alice/x", "include_checkpoints": "no"})
    run = RunDir(tmp_path / "src-run")
    run.path.mkdir()
    run.project_file.write_text('[project]\nname = "src"\n')
    run.update_state(run_id=run.run_id, project_name="src", project_path=str(project), status="finished")
    proc = lmtui("push", str(run.path), "--dry-run", cwd=tmp_path)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    line = line_of_key(project.read_text(), "include_checkpoints")
    assert proc.stderr.startswith(f"error: {project}:{line}: [hub.include_checkpoints] expected true or false"), \
        proc.stderr
    assert not (run.path / "hub-dry-run").exists()
