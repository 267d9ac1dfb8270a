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


def update_readme(path: str) -> None:
    """Replace the text between ``<!-- keys:start -->`` and ``<!-- keys:end -->`` in ``path``."""
    import re

    from lmtui.fsutil import atomic_write_text

    with open(path, encoding="utf-8") as fh:
        text = fh.read()
    block = "<!-- keys:start -->\n" + reference_markdown() + "<!-- keys:end -->"
    atomic_write_text(path, re.sub(r"<!-- keys:start -->.*?<!-- keys:end -->", lambda m: block, text, flags=re.S))


if __name__ == "__main__":
    import sys

    update_readme(sys.argv[1] if len(sys.argv) > 1 else "README.md")
