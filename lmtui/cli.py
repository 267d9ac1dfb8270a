"""The `lmtui` command line: `lmtui` alone opens the terminal UI; subcommands work headless.

Each subcommand lives in ``lmtui/commands/<name>.py`` with ``register(subparsers)``, which adds
its parser and sets ``func(args) -> int``; :data:`COMMANDS` lists them. Heavy libraries (torch, transformers) are imported
inside the commands that need them, so `lmtui --help` and the UI start fast.
"""

from __future__ import annotations

import argparse
import sys

from lmtui import __version__
from lmtui.commands import bench, evaluate, project, push, run, runs
from lmtui.errors import LmtuiError

COMMANDS = (
    project,   # new, check, keys
    run,       # run, prepare
    runs,      # runs, logs, stop, resume
    evaluate,  # eval, compare
    push,      # push
    bench,     # bench
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
    return parser, sub.choices


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `lmtui` console script; returns the process exit code."""
    argv = sys.argv[1:] if argv is None else argv
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
