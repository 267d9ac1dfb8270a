"""The `lmtui` command line: `lmtui` alone opens the terminal UI; subcommands work headless.

Each subcommand lives in ``lmtui/commands/<name>.py`` with ``register(subparsers)``, which adds
its parser and sets ``func(args) -> int``; :data:`COMMANDS` lists them. Heavy libraries (torch, transformers) are imported
inside the commands that need them, so `lmtui --help` and the UI start fast.
"""

from __future__ import annotations

import argparse
import os
import sys

from lmtui import __version__
from lmtui.commands import bench, completion, doctor, evaluate, export, project, push, queue, run, runs, sweep
from lmtui.errors import LmtuiError

COMMANDS = (
    project,   # new, check, keys
    run,       # run, prepare
    runs,      # runs, logs, stop, resume
    evaluate,  # eval, compare
    push,      # push
    bench,     # bench
    queue,     # queue [up|pause|unpause|cancel RUN]
    sweep,     # sweep PROJECT --grid ..., sweep status SWEEP
    export,    # export RUN --csv|--parquet|--png
    doctor,    # doctor [PROJECT]
    completion,  # completion bash|zsh|fish
)


def build_parser() -> tuple[argparse.ArgumentParser, dict]:
    """The argument parser and its subcommand parsers by name."""
    parser = argparse.ArgumentParser(
        prog="lmtui",
        description="Train masked language models from one project file. `lmtui [PROJECT.toml ...]` without a command opens the terminal UI.")
    parser.add_argument("--version", action="version", version=f"lmtui {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in COMMANDS:
        module.register(sub)
    parser.set_defaults(parsers=(parser, sub.choices))  # `lmtui completion` writes the script of the whole parser
    return parser, sub.choices


# 128 + SIGPIPE (13): what a shell reports for `ls` or `git log` when the reader of their output is gone.
EXIT_CLOSED_PIPE = 141


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `lmtui` console script; returns the process exit code.

    When the reader of standard output goes away (``lmtui compare --json | head``), the
    command stops quietly with :data:`EXIT_CLOSED_PIPE` (141), as `ls` and `git` do: under
    ``set -o pipefail`` a script sees the status it sees from them, and not 0, since the
    output was cut short. SIGPIPE keeps Python's handler (the docs' "Note on SIGPIPE"), so a
    dropped connection during `lmtui push` is an error, not a silent death.
    """
    try:
        try:
            return _dispatch(sys.argv[1:] if argv is None else argv)
        finally:
            sys.stdout.flush()
    except BrokenPipeError:
        # Point stdout at devnull, so that the interpreter's own flush at exit finds no closed pipe either.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_CLOSED_PIPE
    except SystemExit as exc:
        # rich's Console.on_broken_pipe has already pointed stdout at devnull and raised SystemExit(1).
        if exc.code == 1 and _stdout_is_devnull():
            return EXIT_CLOSED_PIPE
        raise


def _stdout_is_devnull() -> bool:
    try:
        return os.path.samestat(os.fstat(sys.stdout.fileno()), os.stat(os.devnull))
    except (OSError, ValueError):  # no file descriptor behind sys.stdout
        return False


def _dispatch(argv: list[str]) -> int:
    """Open the TUI, or parse ``argv`` and run its subcommand; returns the exit code."""
    parser, commands = build_parser()
    if not argv or not argv[0].startswith("-") and argv[0] not in commands:
        from lmtui.tui.app import run_app

        return run_app(argv)
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    try:
        return int(args.func(args) or 0)
    except LmtuiError as exc:
        print(f"error: {exc.format()}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
