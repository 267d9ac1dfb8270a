"""docs/reference.md is the key reference generated from the schema, and `lmtui keys` prints it."""

from __future__ import annotations

from support.cli import REPO

from lmtui.project.reference import REGENERATE, reference_page
from lmtui.project.schema import SECTIONS, section_keys


def test_docs_reference_is_the_generated_reference():
    page = (REPO / "docs" / "reference.md").read_text(encoding="utf-8")
    assert page == reference_page(), f"docs/reference.md is stale: run `{REGENERATE}`"
    assert REGENERATE in page.splitlines()[2]  # the regeneration command at the top


def test_the_reference_has_every_key_of_every_section():
    page = reference_page()
    for section, cls in SECTIONS.items():
        assert f"\n## [{section}]\n" in page
        body = page.split(f"\n## [{section}]\n", 1)[1].split("\n## ", 1)[0]
        for key, *_ in section_keys(cls):
            assert f"| `{key}` |" in body, (section, key)


def test_the_readme_links_to_the_reference():
    assert "(docs/reference.md)" in (REPO / "README.md").read_text(encoding="utf-8")
