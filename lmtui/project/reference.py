"""The project-file key reference (markdown), generated from the schema: docs/reference.md.

``lmtui keys`` prints :func:`reference_page` and ``lmtui keys --output docs/reference.md``
writes it; a test keeps the committed page equal to it, so the reference cannot drift from
what the loader accepts.
"""

from __future__ import annotations

from lmtui.project.freeze import toml_value
from lmtui.project.schema import SECTIONS, section_keys

REGENERATE = "lmtui keys --output docs/reference.md"


def reference_markdown(level: int = 2) -> str:
    """One table per section (a heading of ``level`` ``#``), key, default and meaning (allowed values)."""
    out = []
    for section, cls in SECTIONS.items():
        out += [f"{'#' * level} [{section}]", "", "| key | default | meaning |", "|---|---|---|"]
        for key, default, doc, choices in section_keys(cls):
            shown = toml_value(default).replace("|", "\\|")
            out.append(f"| `{key}` | `{shown}` | {doc.replace('|', '/')} |")
        out.append("")
    return "\n".join(out).rstrip() + "\n"


def reference_page() -> str:
    """The text of docs/reference.md: a title, how to regenerate it, then every section's table."""
    head = [
        "# Project-file key reference",
        "",
        f"Generated from the schema (`lmtui/project/schema.py`); regenerate with `{REGENERATE}`.",
        "",
        "A project is one TOML file with the sections below; every key is optional except the corpus.",
        "Relative paths are relative to the project file, and unknown keys are errors (with a \"did you",
        "mean\"). `lmtui new NAME` writes a starter file with every key and its meaning as comments.",
        "How the keys fit together: [training.md](training.md#the-project-file).",
        "",
    ]
    return "\n".join(head) + "\n" + reference_markdown(2)
