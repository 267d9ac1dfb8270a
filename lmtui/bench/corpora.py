"""Benchmark corpora every machine has: the Python Language Reference and the standard library's docstrings.

CPython ships its Language Reference as ``pydoc_data/topics.py`` (a dict of str) and documents
its standard library in docstrings, so both exist wherever Python does: no download, no data
folder beside the repository. The benchmarks write them out as plain text files, one document
per line, so that both the run_mlm.py baseline (``datasets.load_dataset("text")``) and lmtui
(``format = "text"``) read the same bytes.

- :func:`language_reference`: the documents of ``topics.py`` read the way lmtui reads
  ``format = "python"`` with ``document_delimiter = "blank_line"`` (the demo project's
  reading), every :data:`VALIDATION_EVERY`-th document held out for validation.
- :func:`stdlib_docstrings`: module, class and function docstrings of the standard library
  (``ast.get_docstring``; tests excluded), one paragraph per line: extra tokenizer text when a
  training file alone gives fewer pieces than the vocabulary asks for.
"""

from __future__ import annotations

import ast
import sysconfig
from pathlib import Path

from lmtui.fsutil import atomic_write_text

VALIDATION_EVERY = 20  # 1 document in 20 (5%) is held out, as the demo's validation_split = 0.05
_SKIP_PARTS = {"site-packages", "dist-packages", "test", "tests", "idle_test"}


def topics_path() -> Path:
    """The Language Reference file of this Python (``pydoc_data/topics.py``)."""
    import pydoc_data.topics

    return Path(pydoc_data.topics.__file__)


def language_reference(folder: Path) -> tuple[Path, Path]:
    """Write the Language Reference to ``folder``/language-reference-{train,validation}.txt (once).

    Documents are the paragraphs of the string literals of ``topics.py`` as
    :func:`lmtui.data.corpus.read_documents` yields them for ``format = "python"``,
    ``document_delimiter = "blank_line"``, each distinct document once; document ``i`` goes to validation when
    ``i % VALIDATION_EVERY == VALIDATION_EVERY - 1`` (deterministic, spread over the whole
    reference). Returns (train file, validation file): about 340 kB and 16 kB of UTF-8 text (Python 3.11).
    """
    from lmtui.data.corpus import read_documents

    train, validation = folder / "language-reference-train.txt", folder / "language-reference-validation.txt"
    if train.is_file() and validation.is_file():
        return train, validation
    # The reference repeats some paragraphs under several topics: each is kept once (its first
    # place), so that no validation document is also a training one.
    docs = list(dict.fromkeys(read_documents([topics_path()], fmt="python", delimiter="blank_line")))
    held = [d for i, d in enumerate(docs) if i % VALIDATION_EVERY == VALIDATION_EVERY - 1]
    kept = [d for i, d in enumerate(docs) if i % VALIDATION_EVERY != VALIDATION_EVERY - 1]
    atomic_write_text(validation, "".join(d + "\n" for d in held))
    atomic_write_text(train, "".join(d + "\n" for d in kept))
    return train, validation


def docstring_paragraphs(stdlib: Path | None = None, skip: set[str] | frozenset[str] = frozenset(_SKIP_PARTS)):
    """The docstrings of the standard library, module by module: yields (path relative to the
    standard library, as posix text; the raw paragraphs of its module, class and function
    docstrings in ``ast.walk`` order, split at blank lines, their line breaks kept).

    Files are read in sorted path order (the same on every run of one Python); files under a
    folder named in ``skip`` and files that do not parse are left out.
    """
    stdlib = Path(stdlib or sysconfig.get_paths()["stdlib"])
    for path in sorted(stdlib.rglob("*.py")):
        rel = path.relative_to(stdlib)
        if skip & set(rel.parts[:-1]):
            continue
        try:
            tree = ast.parse(path.read_bytes(), filename=str(path))
        except (SyntaxError, ValueError):
            continue
        yield rel.as_posix(), [paragraph for node in ast.walk(tree)
                               if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
                               for paragraph in (ast.get_docstring(node) or "").split("\n\n")]


def docstrings(stdlib: Path | None = None) -> list[str]:
    """Every module, class and function docstring of the standard library
    (:func:`docstring_paragraphs`, tests and site-packages left out), one paragraph per item,
    each paragraph's lines joined into one."""
    out: list[str] = []
    for _, paragraphs in docstring_paragraphs(stdlib):
        for paragraph in paragraphs:
            line = " ".join(part.strip() for part in paragraph.splitlines() if part.strip())
            if line:
                out.append(line)
    return out


def stdlib_docstrings(folder: Path) -> Path:
    """Write :func:`docstrings` to ``folder``/stdlib-docstrings.txt (once); about 1.8 MB of text."""
    path = folder / "stdlib-docstrings.txt"
    if not path.is_file():
        atomic_write_text(path, "".join(line + "\n" for line in docstrings()))
    return path
