"""What people expect of any command line tool: every `lmtui` subcommand and every bench script answers
``--help``; output piped into ``head`` ends the command quietly (no traceback, exit status 141 as `ls`
and `git` give under a closed pipe); and the folders that lmtui, the benchmarks and the tests write
are ignored by git."""

from __future__ import annotations

import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from support.cli import REPO
from support.runs import write_run

from lmtui.cli import EXIT_CLOSED_PIPE, build_parser
from lmtui.evaluation import results as res

SUBCOMMANDS = sorted(build_parser()[1])
BENCH_SCRIPTS = sorted(p.relative_to(REPO).as_posix() for p in (REPO / "bench").glob("*.py"))
BIG = 1 << 18  # bytes: well past a pipe's buffer (64 KiB on Linux), so the writer outlives `head`


def piped(command: list[str], cwd: Path) -> subprocess.CompletedProcess:
    """``COMMAND | head -1`` in bash; the return code is COMMAND's (``${PIPESTATUS[0]}``)."""
    return subprocess.run(["bash", "-c", f"{shlex.join(command)} | head -1; exit ${{PIPESTATUS[0]}}"], cwd=cwd,
                          capture_output=True, text=True, timeout=120)


def quiet(proc: subprocess.CompletedProcess) -> bool:
    return "Traceback" not in proc.stderr and "Exception ignored" not in proc.stderr


def test_the_parser_lists_every_command():
    assert {"new", "check", "keys", "run", "prepare", "runs", "logs", "stop", "resume", "eval", "compare",
            "push", "bench"} <= set(SUBCOMMANDS)
    assert {"bench/tui_bench.py", "bench/cross_eval.py"} <= set(BENCH_SCRIPTS)


@pytest.mark.parametrize("command", SUBCOMMANDS)
def test_every_subcommand_answers_help(command, tmp_path):
    proc = subprocess.run([sys.executable, "-m", "lmtui", command, "--help"], cwd=tmp_path, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0 and quiet(proc), proc.stderr
    assert proc.stdout.startswith(f"usage: lmtui {command}")
    proc = piped([sys.executable, "-m", "lmtui", command, "--help"], tmp_path)
    assert proc.returncode in (0, EXIT_CLOSED_PIPE) and quiet(proc), proc.stderr
    assert proc.stdout.startswith(f"usage: lmtui {command}") and proc.stdout.count("\n") == 1


@pytest.mark.parametrize("script", BENCH_SCRIPTS)
def test_every_bench_script_answers_help(script, tmp_path):
    proc = subprocess.run([sys.executable, str(REPO / script), "--help"], cwd=tmp_path, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0 and quiet(proc), proc.stderr
    assert proc.stdout.startswith("usage: ")
    proc = piped([sys.executable, str(REPO / script), "--help"], tmp_path)
    assert proc.returncode in (0, EXIT_CLOSED_PIPE) and quiet(proc), proc.stderr
    assert proc.stdout.startswith("usage: ") and proc.stdout.count("\n") == 1


@pytest.fixture(scope="module")
def work(tmp_path_factory) -> Path:
    """A folder with ./runs: a finished run with a long train.log and many evaluated tasks, and a failed
    run with a long error, so that `logs`, `compare` and `runs --json` each print more than BIG bytes."""
    work = tmp_path_factory.mktemp("habits")
    runs = work / "runs"
    runs.mkdir()
    run = write_run(runs, "demo-20270115-070000", log_lines=BIG // 12)
    write_run(runs, "demo-20270115-071500", status="failed", steps=40, error="RuntimeError: " + "x" * BIG)
    split = {"validation": {"examples": 872, "accuracy": {"mean": 0.8, "std": 0.01, "values": [0.79, 0.81]}}}
    tasks = {f"task{i:04d}": {"kind": "classification", "metrics_order": ["accuracy"], "splits": split}
             for i in range(BIG // 80)}
    res.update_entry(run.path, "final", {"perplexity": {"loss": 3.0, "perplexity": 20.09, "accuracy": 0.4},
                                         "tasks": tasks}, model_fingerprint="m")
    return work


# (arguments, whether a write is sure to come after `head` has gone: a print of more than BIG bytes, then
# its newline; one big write that `head` cuts short is not an error, so `logs` and rich's tables may end 0)
PIPED = [(["runs"], False), (["runs", "--json"], True), (["keys"], False),
         (["compare", "demo-20270115-070000", "--json"], True), (["compare", "demo-20270115-070000"], False),
         (["logs", "demo-20270115-070000"], False)]


@pytest.mark.parametrize("args,long", PIPED, ids=[" ".join(a) for a, _ in PIPED])
def test_output_piped_into_head_ends_quietly(work, args, long):
    proc = piped([sys.executable, "-m", "lmtui", *args], work)
    assert quiet(proc), proc.stderr
    assert proc.returncode in ((EXIT_CLOSED_PIPE,) if long else (0, EXIT_CLOSED_PIPE)), proc.stderr
    assert proc.stdout.count("\n") == 1


def test_a_closed_pipe_under_rich_output_ends_with_the_same_status(tmp_path):
    """rich's Console handles the broken pipe itself (stdout to devnull, SystemExit(1)): still 141, quietly."""
    script = ("import sys\n"
              "from rich.console import Console\n"
              "from lmtui import cli\n"
              "from lmtui.commands import runs\n"
              "def many_lines(args):\n"
              "    for _ in range(3):\n"
              f"        Console().print('line\\n' * {BIG // 5})\n"
              "    return 0\n"
              "runs.cmd_runs = many_lines  # `lmtui runs`, printing a lot through rich\n"
              "sys.exit(cli.main(['runs']))\n")
    proc = piped([sys.executable, "-c", script], tmp_path)
    assert proc.returncode == EXIT_CLOSED_PIPE and quiet(proc), proc.stderr
    assert proc.stdout == "line\n"


def test_generated_folders_are_ignored_and_sources_are_not():
    if not (REPO / ".git").exists():
        pytest.skip("not a git checkout")
    generated = ["bench-work/results.json", "bench-work/runs/lmtui/run.json", "runs/demo-20270115-070000/run.json",
                 "runs/cache/tokenizer-0123/vocab.json", "projects/runs/demo-20270115-070000/events.jsonl",
                 "snapshot_report.html", "lmtui/__pycache__/cli.cpython-311.pyc", ".pytest_cache/v/cache/nodeids",
                 ".benchmarks/Linux-CPython-3.11-64bit/0001.json", "lmtui.egg-info/PKG-INFO"]
    sources = ["lmtui/runs/rundir.py", "lmtui/bench/compare.py", "bench/tui_bench.py", "projects/demo.toml",
               "tests/tui/__snapshots__/test_snapshots/test_runs_screen.svg", "docs/architecture.md"]

    def ignored(paths: list[str]) -> set[str]:
        proc = subprocess.run(["git", "check-ignore", "--no-index", *paths], cwd=REPO, capture_output=True,
                              text=True, timeout=60)
        assert proc.returncode in (0, 1), proc.stderr  # 1: none of them is ignored
        return set(proc.stdout.split())

    assert ignored(generated) == set(generated)
    assert ignored(sources) == set()
