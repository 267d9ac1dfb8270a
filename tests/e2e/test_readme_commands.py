"""The README's headless commands, run as written on a project with two finished runs.

Every `lmtui ...` line of the bash blocks of the README and of the docs pages that took the
README's text (``PAGES``) is collected. Placeholders become real
values (RUN and RUN_A/RUN_B: the two run ids; the example run id and checkpoint step: real
ones; `[--option]`: the line with and without it). Left out, with the reason: the TUI (`lmtui`
alone, or with project files: the tmux test drives it), `--follow` (never returns on a finished
run, covered in test_runs_cli), `lmtui bench` (its own test), `--model ~/bert-mini` (a model this
machine lacks). A push without `--dry-run` would reach the Hub, so it runs with `--dry-run`
added: the rest of the line is parsed and planned as written.
"""

from __future__ import annotations

import itertools
import json
import re
import shlex

import pytest
from support.cli import DATA, REPO, lmtui

pytestmark = pytest.mark.slow

SKIPPED = ("--follow", "lmtui bench", "~/bert-mini")
EXAMPLE_RUN_ID = re.compile(r"\bdemo-\d{8}-\d{6}\b")
PAGES = ("README.md", "docs/training.md", "docs/checks.md")


def readme_commands() -> list[str]:
    """The `lmtui` lines of the bash blocks of ``PAGES``, comments removed, optional parts expanded."""
    text = "\n".join((REPO / page).read_text(encoding="utf-8") for page in PAGES)
    lines = []
    for block in re.findall(r"```bash\n(.*?)```", text, flags=re.S):
        for line in block.splitlines():
            line = line.split("  #")[0].strip()
            if line.startswith("lmtui "):
                lines.append(line)
    out = []
    for line in lines:
        options = re.findall(r"\[([^\]]+)\]", line)
        bare = re.sub(r"\s*\[[^\]]+\]", "", line)
        for chosen in itertools.product((False, True), repeat=len(options)):
            out.append(" ".join([bare] + [o for o, keep in zip(options, chosen) if keep]))
    return list(dict.fromkeys(out))


def runs_tui(argv: list[str]) -> bool:
    return len(argv) == 1 or argv[1].endswith(".toml") or argv[1].startswith("~")


@pytest.fixture(scope="module")
def demo_work(tmp_path_factory):
    """./projects/demo.toml (the repository's demo, shortened, with an SST-2 task) and two finished runs."""
    work = tmp_path_factory.mktemp("readme")
    (work / "projects").mkdir()
    text = (REPO / "projects" / "demo.toml").read_text()
    for old, new in (("max_steps = 600", "max_steps = 10"), ("eval_steps = 100", "eval_steps = 5"),
                     ("save_steps = 200", "save_steps = 5"), ("logging_steps = 10", "logging_steps = 5")):
        assert old in text, old
        text = text.replace(old, new)
    text += f"""
[eval]
after_pretraining = false
epochs = 1
max_train_examples = 16
max_eval_examples = 16

[eval.tasks.sst2]
preset = "sst2"
data_dir = "{DATA}/glue/SST-2"
"""
    (work / "projects" / "demo.toml").write_text(text)
    distill = (REPO / "projects" / "distill.toml").read_text()  # the README's distillation of the demo, shortened
    for old, new in (("max_steps = 300", "max_steps = 6"), ("eval_steps = 100", "eval_steps = 3"),
                     ("save_steps = 100", "save_steps = 3"), ("logging_steps = 10", "logging_steps = 3")):
        assert old in distill, old
        distill = distill.replace(old, new)
    (work / "projects" / "distill.toml").write_text(distill)
    for extra in ([], ["--fresh"]):
        proc = lmtui("run", "projects/demo.toml", *extra, cwd=work)
        assert proc.returncode == 0, proc.stdout + proc.stderr
    runs = json.loads(lmtui("runs", "--json", cwd=work, check=True).stdout)
    assert [r["status"] for r in runs] == ["finished", "finished"], runs
    return work, [r["run_id"] for r in runs]


def test_the_readme_commands_run_as_written_with_two_finished_runs(demo_work, tmp_path):
    work, (newest, older) = demo_work
    steps = sorted(int(p.name[5:]) for p in (work / "runs" / newest / "checkpoints").iterdir()
                   if p.name.startswith("step-"))
    commands = readme_commands()
    assert any(c.startswith("lmtui push demo") for c in commands)  # the README still shows what is tested here
    ran = []
    for line in commands:
        argv = shlex.split(line)
        if runs_tui(argv) or any(s in line for s in SKIPPED):
            continue
        line = EXAMPLE_RUN_ID.sub(newest, line)
        line = re.sub(r"\bRUN_A\b", newest, re.sub(r"\bRUN_B\b", older, line))
        line = re.sub(r"\bRUN\b", newest, line).replace("--checkpoint 400", f"--checkpoint {steps[0]}")
        argv = shlex.split(line)
        if argv[1] == "push" and "--dry-run" not in argv:
            argv += ["--dry-run", "--out", str(tmp_path / f"push-{len(ran)}")]
        if "--out" in argv:
            argv[argv.index("--out") + 1] = str(tmp_path / f"out-{len(ran)}")
        proc = lmtui(*argv[1:], cwd=work, env={"HF_TOKEN": ""})
        message = f"{' '.join(argv)} exited {proc.returncode}\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}"
        assert "Traceback" not in proc.stderr, message
        if argv[1] in ("stop", "resume"):  # both runs are finished: a clear refusal, nothing changed
            assert proc.returncode != 0 and "finished" in proc.stderr, message
        else:
            assert proc.returncode == 0, message
        ran.append(argv[1])
    assert {"runs", "logs", "stop", "resume", "eval", "compare", "push", "check", "prepare", "run"} <= set(ran), ran
