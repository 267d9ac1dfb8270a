"""The project-file key reference (markdown), generated from the schema for the README."""

from __future__ import annotations

from lmtui.project.freeze import toml_value
from lmtui.project.schema import SECTIONS, section_keys


def reference_markdown() -> str:
    """One table per section: key, default, meaning (and allowed values)."""
    out = []
    for section, cls in SECTIONS.items():
        out += [f"#### [{section}]", "", "| key | default | meaning |", "|---|---|---|"]
        for key, default, doc, choices in section_keys(cls):
            shown = toml_value(default).replace("|", "\\|")
            out.append(f"| `{key}` | `{shown}` | {doc.replace('|', '/')} |")
        out.append("")
    return "\n".join(out).rstrip() + "\n"
