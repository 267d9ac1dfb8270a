"""Datasets for the dataset-task tests, made from Python's own text, and a datasets cache filled
the way a fetch from the Hub fills it, without a network.

- :func:`negation_examples`: sentences of the Python Language Reference (``pydoc_data``),
  labelled ``positive`` when the sentence holds the word "not" and ``negative`` otherwise (a
  rule a bag of words learns), balanced, in a fixed order.
- :func:`write_glue_like`: a local dataset folder shaped like the Hub repository ``nyu-mll/glue``
  (``sst2/train-00000-of-00001.parquet``, ``sst2/validation-...``, a README.md whose
  ``configs`` name the files per subset), with the ``sentence``/``label``/``idx`` columns and
  a ``ClassLabel`` label, as on the Hub.
- :func:`cache_as_hub_dataset`: prepare such a folder with ``datasets`` (public API) and move
  the prepared copy to where a download of ``REPO_ID`` lands in the datasets cache
  (``<cache>/<namespace>___<name>/<subset>/<version>/<hash>/``, ``<name>-<split>.arrow``, read
  in ``datasets/builder.py``: ``_relative_data_dir``), so that ``load_dataset(REPO_ID, subset)``
  with ``HF_DATASETS_OFFLINE=1`` reads it as it reads a copy fetched from the Hub.
- :func:`keyword_sentences`: word-split docstrings of the standard library tagged with entities
  (Python keywords: ``KW``, one word each; runs of other capitalised words: ``CAP``), for the
  IOB1 files vs IOB2 dataset comparison.
"""

from __future__ import annotations

import inspect
import keyword
import re
import shutil
import textwrap
from pathlib import Path


def reference_sentences() -> list[str]:
    """Sentences of the Python Language Reference (pydoc_data.topics), 6 to 40 words, in topic order."""
    from pydoc_data.topics import topics

    out, seen = [], set()
    for name in sorted(topics):
        for raw in re.split(r"(?<=[.!?])\s+", " ".join(topics[name].split())):
            words = raw.split()
            if 6 <= len(words) <= 40 and raw not in seen and raw[0].isupper():
                seen.add(raw)
                out.append(raw)
    return out


def negation_examples(n: int) -> list[tuple[str, int]]:
    """``n`` (sentence, label) pairs, half of each label, alternating: label 1 (positive) when the
    sentence holds the word "not", else 0 (negative)."""
    sentences = reference_sentences()
    pos = [s for s in sentences if re.search(r"\bnot\b", s)]
    neg = [s for s in sentences if not re.search(r"\bnot\b", s)]
    half = n // 2
    assert len(pos) >= n - half and len(neg) >= half, "the Language Reference has fewer sentences than asked for"
    out = []
    for i in range(n):
        out.append((pos[i // 2], 1) if i % 2 == 0 else (neg[i // 2], 0))
    return out


GLUE_README = """---
configs:
- config_name: {subset}
  data_files:
  - split: train
    path: {subset}/train-*
  - split: validation
    path: {subset}/validation-*
  - split: test
    path: {subset}/test-*
---
"""


def write_glue_like(folder: Path, subset: str = "sst2", *, train: int = 200, validation: int = 60,
                    test: int = 20) -> Path:
    """A folder shaped like nyu-mll/glue holding ``subset`` (negation-labelled sentences; the test
    split has label -1, as GLUE's hidden test labels). Returns ``folder``."""
    from datasets import ClassLabel, Dataset, Features, Value

    features = Features({"sentence": Value("string"), "label": ClassLabel(names=["negative", "positive"]),
                         "idx": Value("int32")})
    examples = negation_examples(train + validation + test)
    parts = {"train": examples[:train], "validation": examples[train:train + validation],
             "test": [(s, -1) for s, _ in examples[train + validation:]]}
    (folder / subset).mkdir(parents=True, exist_ok=True)
    for split, rows in parts.items():
        ds = Dataset.from_dict({"sentence": [s for s, _ in rows], "label": [lab for _, lab in rows],
                                "idx": list(range(len(rows)))}, features=features)
        ds.to_parquet(str(folder / subset / f"{split}-00000-of-00001.parquet"))
    (folder / "README.md").write_text(GLUE_README.format(subset=subset))
    return folder


def cache_as_hub_dataset(folder: Path, repo_id: str, subset: str, cache_dir: Path) -> Path:
    """Prepare the local dataset ``folder`` (its subset ``subset``) into ``cache_dir`` (a
    HF_DATASETS_CACHE) under the name of ``repo_id``; return the prepared folder.

    The folder's name must be the repository's name (``glue`` for ``nyu-mll/glue``): ``datasets``
    names the prepared arrow files after it, as it does for a Hub download.
    """
    import datasets

    namespace, name = repo_id.split("/")
    assert folder.name == name, f"name the folder {name!r}, as the repository"
    stage = cache_dir.parent / f".stage-{name}"
    builder = datasets.load_dataset_builder(str(folder), subset, cache_dir=str(stage))
    builder.download_and_prepare()
    target = cache_dir / f"{namespace}___{name}"
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(str(stage / name), str(target))
    shutil.rmtree(stage, ignore_errors=True)
    return next(p for p in (target / subset).glob("*/*") if p.is_dir())


CONLL_README = textwrap.dedent("""
    ---
    configs:
    - config_name: default
      data_files:
      - split: train
        path: train.parquet
      - split: validation
        path: validation.parquet
    ---
""").lstrip()


def keyword_sentences(n: int) -> list[tuple[list[str], list[str]]]:
    """``n`` (words, IOB2 tags) sentences from standard-library docstrings: each Python keyword
    word is a one-word ``KW`` entity (two keywords in a row are two entities), each run of other
    capitalised words a ``CAP`` entity. Only sentences with at least one entity are kept."""
    import collections
    import json
    import os
    import string

    out = []
    for module in (os, json, collections, string, inspect, re, shutil, textwrap):
        for _, obj in [(module.__name__, module)] + inspect.getmembers(module):
            doc = inspect.getdoc(obj) if callable(obj) or inspect.ismodule(obj) else None
            for raw in re.split(r"(?<=[.!?])\s+", " ".join((doc or "").split())):
                words = [w.strip(".,;:()`'\"") for w in raw.split()]
                words = [w for w in words if w]
                if not 4 <= len(words) <= 30:
                    continue
                tags, previous = [], "O"
                for w in words:
                    if w in keyword.kwlist:
                        tag = "B-KW"
                    elif w[0].isupper() and w.isalpha():
                        tag = "I-CAP" if previous.endswith("CAP") else "B-CAP"
                    else:
                        tag = "O"
                    tags.append(tag)
                    previous = tag
                if any(t != "O" for t in tags) and (words, tags) not in out:
                    out.append((words, tags))
                if len(out) == n:
                    return out
    raise AssertionError(f"the docstrings hold only {len(out)} tagged sentences")


def iob2_to_iob1(tags: list[str]) -> list[str]:
    """IOB1 form of IOB2 tags: ``B-X`` stays only where it follows an entity of the same type."""
    out, previous = [], "O"
    for tag in tags:
        if tag.startswith("B-") and not (previous != "O" and previous[2:] == tag[2:]):
            tag = "I-" + tag[2:]
        out.append(tag)
        previous = tag
    return out
