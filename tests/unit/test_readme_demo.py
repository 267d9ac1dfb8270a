"""What the README says about the demo agrees with the files it names (issue 23, item 9)."""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

import pydoc_data.topics

README = Path(__file__).resolve().parents[2] / "README.md"


def demo_paragraph() -> str:
    text = README.read_text(encoding="utf-8")
    start = text.index("The demo trains")
    return " ".join(text[start:text.index("```", start)].split())


def test_the_demo_corpus_size_is_the_size_of_the_file_it_names():
    stated = re.search(r"`pydoc_data/topics\.py` \(([\d,]+) bytes of English prose in Python (3\.\d+)", demo_paragraph())
    assert stated, "the demo paragraph states the corpus size in bytes and the Python version it was read from"
    size, version = int(stated.group(1).replace(",", "")), stated.group(2)
    real = os.path.getsize(pydoc_data.topics.__file__)
    if version == f"{sys.version_info.major}.{sys.version_info.minor}":
        assert size == real
    else:  # another Python's Language Reference: the same text within a few percent
        assert abs(size - real) / real < 0.1, (size, real)


def test_the_demo_time_says_what_was_measured_and_at_what_load():
    paragraph = demo_paragraph()
    assert "a few minutes" not in paragraph
    assert re.search(r"Measured on two CPU cores .*load average [\d.]+ to [\d.]+\): its first \d+ steps took \d+ s",
                     paragraph), paragraph
