"""`lmtui new`, `lmtui check`, `lmtui keys`: create and validate project files."""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from lmtui.errors import LmtuiError, ProjectError
from lmtui.fsutil import atomic_write_text
from lmtui.project.freeze import toml_value
from lmtui.project.load import load_project, project_text
from lmtui.project.recipes import resolved_recipe
from lmtui.project.reference import REGENERATE, reference_page
from lmtui.project.template import starter_text


def cmd_new(args) -> int:
    path = Path(args.dir) / f"{args.name}.toml"
    if path.exists() and not args.force:
        raise ProjectError("file exists", file=str(path), hint="choose another name, or pass --force to overwrite")
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.\-]*", args.name):
        raise ProjectError(f"name {args.name!r} is not usable as a file name",
                           hint="use letters, digits, '-', '_' and '.' only")
    atomic_write_text(path, starter_text(args.name, str(path)))
    print(f"wrote {path}: set [corpus] train_files, then `lmtui check {path}` and `lmtui run {path}`")
    return 0


def cmd_check(args) -> int:
    """Check every file given, printing ``FILE: ok`` or its error; 2 when any failed, else 0.
    The checks are those `lmtui run` makes before it writes anything (:func:`lmtui.checks.require`)."""
    from lmtui.checks import require

    failed = 0
    for file in args.files:
        try:
            project = load_project(file, check=False)
            summary = require(project, project_text(project), deep=args.deep)  # the checks of `lmtui run`
        except LmtuiError as exc:
            failed += 1
            print(f"error: {exc.format()}", file=sys.stderr)
            continue
        print(f"{file}: ok" + (f" ({summary})" if summary else ""))
        print_recipe(project)
    if failed and len(args.files) > 1:
        print(f"{failed} of {len(args.files)} project files have errors", file=sys.stderr)
    return LmtuiError.exit_code if failed else 0


def print_recipe(project) -> None:
    """The resolved ``[training] recipe``: each key it sets, its value and its source (or that the
    project overrides it); nothing when no recipe is chosen."""
    tr = project.training
    rows = resolved_recipe(tr, project.raw.get("training", {}))
    if rows:
        print(f"  recipe {tr.recipe}:")
        width = max(len(k) for k, _, _ in rows)
        for k, value, origin in rows:
            print(f"    {k:<{width}} = {toml_value(value):<8} {origin}")


def cmd_keys(args) -> int:
    """Print the key reference (docs/reference.md's text), or write it atomically to ``--output``."""
    if args.output:
        try:
            atomic_write_text(args.output, reference_page())
        except OSError as exc:
            raise LmtuiError(f"cannot write the key reference: {exc.strerror or exc}", file=args.output,
                             hint="choose a path in a writable folder") from None
        print(f"wrote {args.output}")
    else:
        sys.stdout.write(reference_page())
    return 0


def register(sub) -> None:
    p = sub.add_parser("new", help="write a commented starter project file")
    p.add_argument("name", help="project name (the file is NAME.toml)")
    p.add_argument("--dir", default="projects", help="folder for the file (default: projects)")
    p.add_argument("--force", action="store_true", help="overwrite an existing file")
    p.set_defaults(func=cmd_new)

    p = sub.add_parser("check", help="validate project files without running anything (every one given; "
                                     "exit code 2 when any is invalid)")
    p.add_argument("files", nargs="+", metavar="FILE")
    p.add_argument("--no-deep", dest="deep", action="store_false",
                   help="skip building the model config (faster; no transformers import; the device, "
                        "the folders and a sample of every data file are still checked)")
    p.set_defaults(func=cmd_check)

    p = sub.add_parser("keys", help="print the reference of every project-file key (markdown, docs/reference.md)",
                       formatter_class=argparse.RawDescriptionHelpFormatter,
                       epilog=f"docs/reference.md is this output: regenerate it with `{REGENERATE}`.")
    p.add_argument("-o", "--output", metavar="FILE", help="write the reference to FILE instead of printing it")
    p.set_defaults(func=cmd_keys)
