"""The commented starter project written by `lmtui new NAME` (and the TUI's "new project")."""

from __future__ import annotations

import shlex
import textwrap

from lmtui.project.freeze import toml_value
from lmtui.project.schema import SECTIONS, section_keys

EXAMPLES = {
    ("project", "name"): None,
    ("corpus", "train_files"): ["data/*.txt"],
}


def starter_text(name: str, path: str | None = None) -> str:
    """A complete project file for ``name``: every section and key, defaults filled in, each
    key preceded by its meaning. Optional keys are commented out; the corpus is the one thing
    to edit. ``path``: the file as the user names it from the folder they work in (the
    ``lmtui run`` line of the header gives it; default ``NAME.toml``)."""
    lines = [f"# lmtui project '{name}'. Reference of every key: docs/reference.md (or `lmtui keys`).",
             f"# Run it with: lmtui run {shlex.quote(path or f'{name}.toml')}", ""]
    for section, cls in SECTIONS.items():
        lines.append(f"[{section}]")
        for key, default, doc, _ in section_keys(cls):
            for row in textwrap.wrap(doc, 92):
                lines.append(f"# {row}")
            if (section, key) == ("project", "name"):
                lines.append(f"name = {toml_value(name)}")
            elif (section, key) in EXAMPLES:
                lines.append(f"{key} = {toml_value(EXAMPLES[(section, key)])}")
            else:
                lines.append(f"# {key} = {toml_value(default)}")
        lines.append("")
    return "\n".join(lines)
