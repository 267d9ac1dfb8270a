"""The README's key reference is the one generated from the schema."""

from __future__ import annotations

from support.cli import REPO


def test_readme_documents_every_key():
    from lmtui.project.reference import reference_markdown

    readme = (REPO / "README.md").read_text()
    assert reference_markdown() in readme, "README's key reference is stale: run `python -m lmtui.project.reference README.md`"
