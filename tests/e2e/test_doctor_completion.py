"""`lmtui doctor` on this CPU machine and `lmtui completion` (issue 16)."""

from __future__ import annotations

import os
import platform
import shutil
import subprocess

import pytest
from support.cli import lmtui, write_project

NO_TOKEN = {"HF_TOKEN": "", "HUGGING_FACE_HUB_TOKEN": ""}


def _env(tmp_path) -> dict:
    return {**NO_TOKEN, "HF_HOME": str(tmp_path / "hf"), "HF_HUB_OFFLINE": "1"}


def test_doctor_reports_this_cpu_machine_and_passes_a_runnable_project(tmp_path):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this test describes a machine without CUDA")
    demo = write_project(tmp_path, "cpu", f"""
        [corpus]
        train_files = ["{os.__file__}"]  # the standard library's os.py, wherever this Python keeps it
        [tokenizer]
        vocab_size = 1000
        [model]
        size = "tiny"
        [tracking]
        report_to = []
    """)
    proc = lmtui("doctor", str(demo), cwd=tmp_path, env=_env(tmp_path))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = proc.stdout
    assert f"python           {platform.python_version()}" in out
    assert f"torch            {torch.__version__}, " + ("CPU-only build" if not torch.version.cuda else "") in out
    assert "gpus             none" in out and "runs use the CPU" in out
    assert "disk output_dir" in out and "GiB free under" in out
    assert "hub login        not logged in" in out
    assert "offline          HF_HUB_OFFLINE=1" in out
    assert f"this machine can run {demo}" in out


def test_doctor_exits_1_with_the_fix_when_the_project_cannot_run_here(tmp_path):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this test describes a machine without CUDA")
    project = write_project(tmp_path, "gpu", f"""
        [corpus]
        train_files = ["{os.__file__}"]  # the standard library's os.py, wherever this Python keeps it
        [hardware]
        device = "cuda"
    """)
    proc = lmtui("doctor", str(project), cwd=tmp_path, env=_env(tmp_path))
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "fail  project" in proc.stdout and "torch sees no CUDA device" in proc.stdout
    assert 'fix: set device = "auto"' in proc.stdout
    assert "1 problem to fix before running" in proc.stdout


def test_completion_scripts_are_generated_and_bash_completes_run_ids_and_projects(runs_root, tmp_path):
    for shell in ("bash", "zsh", "fish"):
        proc = lmtui("completion", shell, cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr
        assert "export" in proc.stdout and "doctor" in proc.stdout
    script = tmp_path / "lmtui.bash"
    script.write_text(lmtui("completion", "bash", cwd=tmp_path).stdout)
    assert subprocess.run(["bash", "-n", str(script)]).returncode == 0
    if not shutil.which("lmtui"):
        pytest.skip("the lmtui console script is not on PATH")
    work = runs_root.parent
    (work / "projects").mkdir()
    (work / "projects" / "demo.toml").write_text("")

    def complete(*words: str) -> list[str]:
        line = f"source {script}; COMP_WORDS=(lmtui {' '.join(words)}); COMP_CWORD={len(words)}; " \
               f"_shtab_lmtui lmtui; printf '%s\\n' \"${{COMPREPLY[@]}}\""
        return subprocess.run(["bash", "-c", line], cwd=work, capture_output=True, text=True).stdout.split()

    assert "demo-20270115-075900" in complete("logs", "demo-2027")
    assert not [w for w in complete("logs", "demo-2027") if not w.startswith("demo-2027")]
    assert "projects/demo.toml" in complete("run", "projects/")
    assert set(complete("exp")) == {"export"}
