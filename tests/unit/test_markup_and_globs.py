"""Messages keep their brackets (rich markup escaped), `lmtui check` reports every file, a `**`
glob over symlink loops ends, and a trainer failure reads as its cause (issue 15, items 3, 4, 9, 10)."""

from __future__ import annotations

import argparse
import io
import threading

import pytest
from rich.console import Console
from support.runs import NOW, write_run

from lmtui.commands import project as project_commands
from lmtui.commands import run as run_commands
from lmtui.commands import runs as runs_commands
from lmtui.data.corpus import resolve_files
from lmtui.runs.rundir import RunDir

BRACKETED = "corpus.jsonl: [corpus.text_column] no column 'text' in line 1\n  fix: set [corpus] text_column"


def console() -> tuple[Console, io.StringIO]:
    out = io.StringIO()
    return Console(file=out, width=200, highlight=False, soft_wrap=True), out


# --- item 4: markup -------------------------------------------------------------------------


def test_the_report_of_a_failed_run_prints_its_error_verbatim(tmp_path):
    run = write_run(tmp_path, "demo-20270115-071500", status="failed", steps=40, error=BRACKETED)
    con, out = console()
    assert run_commands.report(run, "failed", con) == 1
    assert BRACKETED in out.getvalue()


def test_followed_log_events_keep_their_brackets(tmp_path):
    run = write_run(tmp_path, "demo-20270115-071500", status="failed", steps=40, error="boom")
    offset = run.events_file.stat().st_size
    run.emit("log", level="warning", message="set [hub] repo_id; [corpus.text_column] is unset")
    run.emit("end", status="failed", error="boom")
    con, out = console()
    assert run_commands.follow(run, con, offset=offset) == "failed"
    assert "set [hub] repo_id; [corpus.text_column] is unset" in out.getvalue()


def test_lmtui_runs_prints_a_failed_runs_error_verbatim(tmp_path, monkeypatch, capsys):
    write_run(tmp_path / "runs", "demo-20270115-071500", status="failed", steps=40, start=NOW - 600,
              error=BRACKETED)
    monkeypatch.chdir(tmp_path)
    args = argparse.Namespace(dir=None, status=None, json=False)
    assert runs_commands.cmd_runs(args) == 0
    assert f"demo-20270115-071500 failed: {BRACKETED}" in capsys.readouterr().out


# --- item 9: `lmtui check A B C` ------------------------------------------------------------


def test_check_reports_every_file_and_fails_if_any_failed(project_dir, capsys):
    projects = project_dir / "projects"
    (projects / "syntax.toml").write_text("[project\nname = 'x'\n")
    files = [str(projects / "broken.toml"), str(projects / "good.toml"), str(projects / "syntax.toml")]
    code = project_commands.cmd_check(argparse.Namespace(files=files, deep=False))
    out, err = capsys.readouterr()
    assert code == 2
    assert f"{files[1]}: ok" in out
    assert "missing.txt" in err and "[corpus.train_files]" in err
    assert "syntax.toml" in err
    assert "2 of 3 project files have errors" in err


def test_check_of_good_files_exits_0(project_dir, capsys):
    good = str(project_dir / "projects" / "good.toml")
    assert project_commands.cmd_check(argparse.Namespace(files=[good, good], deep=False)) == 0
    assert capsys.readouterr().out.count(f"{good}: ok") == 2


# --- item 10: globs over symlink loops ------------------------------------------------------


@pytest.fixture
def looped(tmp_path):
    """corpus/ with a.txt, sub/b.txt, a hidden file, and two links that point back up."""
    root = tmp_path / "corpus"
    (root / "sub" / "deeper").mkdir(parents=True)
    (root / "a.txt").write_text("one line\n")
    (root / "sub" / "b.txt").write_text("another line\n")
    (root / "sub" / "deeper" / "c.md").write_text("a third line\n")
    (root / "sub" / ".hidden.txt").write_text("skipped\n")
    (root / "sub" / "up").symlink_to("..")
    (root / "sub" / "deeper" / "top").symlink_to("../..")
    return root.resolve()


def resolve_within(patterns: list[str], base, seconds: float = 20.0) -> list:
    """resolve_files in a thread; fails (instead of hanging) when it does not return in time."""
    result: dict = {}
    worker = threading.Thread(target=lambda: result.update(files=resolve_files(patterns, base)), daemon=True)
    worker.start()
    worker.join(seconds)
    assert not worker.is_alive(), f"resolve_files({patterns}) still walking after {seconds} s"
    return result["files"]


def test_a_recursive_glob_over_symlink_loops_returns_each_file_once(looped):
    files = resolve_within(["corpus/**/*.txt"], looped.parent)
    assert files == [looped / "a.txt", looped / "sub" / "b.txt"]
    assert resolve_within(["corpus/**"], looped.parent) == sorted(
        [looped / "a.txt", looped / "sub" / "b.txt", looped / "sub" / "deeper" / "c.md"])


def test_a_folder_with_symlink_loops_lists_each_file_once(looped):
    assert resolve_within(["corpus"], looped.parent) == [looped / "a.txt", looped / "sub" / "b.txt",
                                                         looped / "sub" / "deeper" / "c.md"]


def test_recursive_globs_match_like_glob(looped):
    assert resolve_within(["corpus/**/deeper/*.md"], looped.parent) == [looped / "sub" / "deeper" / "c.md"]
    assert resolve_within(["corpus/*/b.txt"], looped.parent) == [looped / "sub" / "b.txt"]
    assert resolve_within(["corpus/**/a.txt"], looped.parent) == [looped / "a.txt"]


# --- item 3: the cause of a trainer failure -------------------------------------------------


def test_a_trainer_killed_by_a_signal_is_named():
    from lmtui.stages import killed_by

    assert killed_by(-9, "") == "SIGKILL"
    assert killed_by(137, "") == "SIGKILL"
    assert killed_by(1, "subprocess.CalledProcessError: Command '['python']' died with <Signals.SIGKILL: 9>.") \
        == "SIGKILL"
    assert killed_by(1, "  traceback : Signal 11 (SIGSEGV) received by PID 4242") == "SIGSEGV"
    assert killed_by(1, "Traceback (most recent call last):\nValueError: x") is None


def test_the_trainers_error_event_is_the_failure(tmp_path):
    from lmtui.stages import trainer_failure

    run = RunDir(tmp_path)
    error = {"type": "train_error", "exception": "OSError", "message": "[Errno 28] No space left on device",
             "file": "/runs/x/checkpoints/.tmp-step-10/model.safetensors", "rank": 0}
    text = trainer_failure(run, 1, [{"type": "train_start"}, error], "").format()
    assert text.startswith("/runs/x/checkpoints/.tmp-step-10/model.safetensors: ")
    assert "OSError: [Errno 28] No space left on device" in text and "exited with code" not in text
    oom = trainer_failure(run, 1, [dict(error, exception="OutOfMemoryError", message="CUDA out of memory",
                                        file=None)], "").format()
    assert "[training.micro_batch_size] pretraining failed: OutOfMemoryError: CUDA out of memory" in oom
    killed = trainer_failure(run, 1, [], "died with <Signals.SIGKILL: 9>.").format()
    assert "the trainer was killed by SIGKILL (out of memory?)" in killed
    assert "exited with code 3" in trainer_failure(run, 3, [], "").format()
