"""The README's quick start, copy-pasted verbatim (issue 16).

Its first command runs in a fresh virtual environment (``python -m venv
--system-site-packages``, so torch and the other dependencies come from this Python and
nothing big downloads) on a copy of the repository: the fast test stops the demo with Ctrl-C
(SIGINT to its process group) once its trainer starts (``train_start``), the ``long`` one lets it
finish. Its second command runs the test suite, so running it from a test would recurse: CI runs
it (``.ci/run``), and the test checks that CI's command is the README's, up to output-only flags.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from support.cli import REPO

OUTPUT_ONLY = ("-q", "-p no:cacheprovider")  # flags that change what pytest prints or caches, not what it runs


def quick_start() -> list[str]:
    """The command lines of the README's quick start (the first code block under its heading)."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    section = text.split("\n## Quick start\n", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```bash\n(.*?)```", section, re.S)
    assert block, "no bash block under ## Quick start"
    return [line for line in block.group(1).splitlines() if line.strip()]


def test_the_quick_start_is_exactly_two_commands_near_the_top():
    commands = quick_start()
    assert len(commands) == 2, commands
    text = (REPO / "README.md").read_text(encoding="utf-8")
    assert text.index("## Quick start") == text.index("\n## ") + 1  # the first section


def _pytest_words(command: str) -> list[str]:
    words = shlex.split(command)
    if words[:1] == ["python3"]:
        words[0] = "python"
    line = " ".join(words)
    for flag in OUTPUT_ONLY:
        line = line.replace(f" {flag} ", " ")
    return line.split()


def test_ci_runs_the_second_command_of_the_quick_start():
    install, tests = (part.strip() for part in quick_start()[1].split("&&"))
    assert shlex.split(install) == ["pip", "install", "-e", ".[test]"]
    ci = (REPO / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    installs = [[w for w in shlex.split(line) if w != "-q"] for line in ci if " pip install " in f" {line} "]
    assert any(words[-4:] == shlex.split(install) for words in installs), installs
    [ci_tests] = [line for line in ci if " -m pytest " in line]
    assert _pytest_words(ci_tests) == _pytest_words(tests)


def _fresh_copy(tmp_path: Path) -> tuple[Path, dict]:
    """A copy of the repository (without runs and caches) and the environment of a fresh venv in it."""
    work = tmp_path / "lmtui"
    caches = shutil.ignore_patterns(".git", "__pycache__", "*.egg-info", ".pytest_cache", ".benchmarks")

    def ignore(folder: str, names: list[str]) -> set[str]:  # what .gitignore leaves out, runs at the top only
        top = {"runs", "build", "dist", ".venv", "bench-work"} if Path(folder) == REPO else set()
        return set(caches(folder, names)) | (top & set(names))

    shutil.copytree(REPO, work, ignore=ignore)
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)], check=True)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    env.update(VIRTUAL_ENV=str(venv), PATH=f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}",
               PIP_DISABLE_PIP_VERSION_CHECK="1", PYTHONUNBUFFERED="1")
    return work, env


def _events(work: Path) -> list[dict]:
    out = []
    for path in (work / "runs").glob("demo-*/events.jsonl"):
        out += [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return out


def _start_first_command(tmp_path: Path):
    first = quick_start()[0]
    assert first == "pip install -e . && lmtui run projects/demo.toml"
    work, env = _fresh_copy(tmp_path)
    log = open(tmp_path / "quickstart.log", "w")
    proc = subprocess.Popen(["bash", "-c", first], cwd=work, env=env, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)
    return proc, work, tmp_path / "quickstart.log"


def test_the_first_command_installs_into_a_fresh_venv_and_trains_the_demo(tmp_path):
    proc, work, log = _start_first_command(tmp_path)
    deadline = time.monotonic() + 400
    try:
        while not any(e["type"] == "train_start" for e in _events(work)):  # the trainer is about to step
            assert proc.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.5)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C: the run checkpoints and stops
    assert proc.wait(timeout=120) == 130, log.read_text()
    [run] = list((work / "runs").glob("demo-*"))
    assert (tmp_path / "venv" / "bin" / "lmtui").is_file()
    assert json.loads((run / "run.json").read_text())["status"] == "stopped"
    assert Path(json.loads((run / "run.json").read_text())["project_path"]).resolve() == \
        (work / "projects" / "demo.toml").resolve()


@pytest.mark.long
def test_the_first_command_runs_the_demo_to_the_end(tmp_path):
    proc, work, log = _start_first_command(tmp_path)
    assert proc.wait(timeout=3600) == 0, log.read_text()
    [run] = list((work / "runs").glob("demo-*"))
    assert json.loads((run / "run.json").read_text())["status"] == "finished"
    assert (run / "model" / "model.safetensors").is_file()
