"""The README is a short guide that links into docs/, and every relative link of it and of docs/ resolves."""

from __future__ import annotations

import re

from support.cli import REPO

MAX_README_LINES = 350
LINK = re.compile(r"\]\(([^)\s]+)\)")


def _pages():
    return [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]


def _anchor(heading: str) -> str:
    """GitHub's anchor of a markdown heading: lower case, punctuation dropped, spaces to '-'."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def test_the_readme_is_short():
    lines = (REPO / "README.md").read_text(encoding="utf-8").splitlines()
    assert len(lines) < MAX_README_LINES, f"README.md has {len(lines)} lines: move detail into docs/"


def test_the_readme_shows_one_screenshot_of_the_tui():
    text = (REPO / "README.md").read_text(encoding="utf-8")
    images = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", text)
    assert len(images) == 1, images
    image = REPO / images[0]
    assert image.suffix in (".svg", ".png") and image.is_file() and image.stat().st_size > 1000


def test_every_capability_section_links_to_its_page():
    text = (REPO / "README.md").read_text(encoding="utf-8")
    sections = text.split("\n## ")[1:]
    skipped = ("Quick start", "Setup")  # the first commands; nothing deeper to link to
    for section in sections:
        title = section.splitlines()[0]
        if title.startswith(skipped):
            continue
        assert "(docs/" in section, f"README section {title!r} links to no page in docs/"


def test_relative_links_of_the_readme_and_docs_resolve():
    bad = []
    for page in _pages():
        text = page.read_text(encoding="utf-8")
        text = re.sub(r"```.*?```", "", text, flags=re.S)
        for target in LINK.findall(text):
            if re.match(r"[a-z]+:", target):
                continue  # https:, mailto:
            path, _, anchor = target.partition("#")
            file = (page.parent / path).resolve() if path else page
            if not file.exists():
                bad.append(f"{page.relative_to(REPO)}: {target} (no such file)")
                continue
            if anchor and file.suffix == ".md":
                headings = re.findall(r"^#+ (.+)$", re.sub(r"```.*?```", "", file.read_text(encoding="utf-8"),
                                                           flags=re.S), flags=re.M)
                if anchor not in {_anchor(h) for h in headings}:
                    bad.append(f"{page.relative_to(REPO)}: {target} (no such heading)")
    assert not bad, "\n".join(bad)
