"""The corpus as a stream of documents: sources in order, the validation split and deduplication
decided per document, nothing held but the document at hand.

- Order: source after source (:func:`lmtui.data.sources.project_sources`), each source's
  training files in sorted order (:func:`lmtui.data.corpus.resolve_files`), then its
  validation files.
- Validation split: without validation_files, document ``i`` of a file goes to validation when
  :func:`split_hash` of (``split_seed``, the file's content digest, ``i``) is below
  ``validation_split``: a seeded random sample, the same on every run, never the first or last
  N%, and a file's documents keep their side when other files are added, removed or renamed.
  A corpus too small to draw any validation document gives its lowest-hash training document
  to validation (and, symmetrically, its highest-hash validation document to training), as
  :func:`lmtui.data.corpus.split_documents` does in memory.
- Deduplication (``[corpus] deduplicate``): a document whose 64-bit BLAKE2b hash was seen
  before in the stream is dropped (:class:`SeenHashes`), before the split, so no text is both
  trained on and held out.
- ``max_documents``: reading a source stops after that many training documents.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from typing import Iterator

import numpy as np

from lmtui.data.corpus import CorpusStats, CsvDialect, hub_documents, read_documents, split_hash
from lmtui.data.fingerprint import file_digests
from lmtui.data.sources import Source, project_sources
from lmtui.errors import CorpusError
from lmtui.project.paths import cache_dir



def document_hash(text: str) -> int:
    """64-bit BLAKE2b hash of a document's UTF-8 text, the key of exact deduplication."""
    return int.from_bytes(hashlib.blake2b(text.encode("utf-8"), digest_size=8).digest(), "little")


class SeenHashes:
    """A set of 64-bit hashes in sorted numpy runs (8 bytes per document, not a Python set's ~70).

    New hashes collect in a small Python set; when it reaches ``buffer`` entries it becomes a
    sorted run, and runs of similar size are merged (a log-structured merge), so membership
    costs a binary search per run, of which there are O(log n).
    """

    def __init__(self, buffer: int = 1 << 16):
        self.buffer = buffer
        self.recent: set[int] = set()
        self.runs: list[np.ndarray] = []

    def add(self, h: int) -> bool:
        """Record ``h``; returns False when it was already there."""
        if h in self.recent or any(_contains(run, h) for run in self.runs):
            return False
        self.recent.add(h)
        if len(self.recent) >= self.buffer:
            run = np.sort(np.fromiter(self.recent, dtype=np.uint64, count=len(self.recent)))
            self.recent = set()
            while self.runs and len(self.runs[-1]) <= len(run):
                run = np.union1d(self.runs.pop(), run)
            self.runs.append(run)
        return True


def _contains(run: np.ndarray, h: int) -> bool:
    i = int(np.searchsorted(run, np.uint64(h)))
    return i < len(run) and int(run[i]) == h


@dataclass
class Document:
    """One document of the stream: its source's index, its side of the split, its text and its
    key (split key of its file, position in the file)."""

    source: int
    validation: bool
    text: str
    key: tuple = ()


@dataclass
class SourceCounts:
    """Per-source counts of the stream: documents per split and duplicates dropped."""

    train_documents: int = 0
    validation_documents: int = 0
    duplicates: int = 0


class CorpusStream:
    """The documents of a project's corpus, streamed (see the module docstring).

    Args:
        project: the loaded project.
        stats: counts updated while reading (files, bytes, documents, disk progress).
        training_only: skip validation files and drop validation documents (the tokenizer's input).
        flips: document keys whose side of the split is flipped (the small-corpus fallback,
            found by a first pass: :meth:`fallback_flips`).

    Attributes:
        sources: the :class:`~lmtui.data.sources.Source` list.
        total_bytes: on-disk bytes of every file to read (None when a Hub dataset has no files).
        counts: one :class:`SourceCounts` per source.
        duplicates: documents dropped as exact duplicates.
    """

    def __init__(self, project, stats: CorpusStats | None = None, *, training_only: bool = False,
                 flips: frozenset = frozenset()):
        c = project.corpus
        self.project = project
        self.sources: list[Source] = project_sources(project)
        self.stats = stats if stats is not None else CorpusStats()
        self.training_only = training_only
        self.flips = flips
        self.fraction = c.validation_split
        self.seed = c.split_seed
        self.max_documents = c.max_documents
        self.dedup = SeenHashes() if c.deduplicate else None
        self.counts = [SourceCounts() for _ in self.sources]
        self.duplicates = 0
        self.low: dict = {}
        self.high: dict = {}
        files = [p for s in self.sources for p in s.files + s.hf_data_files
                 + ([] if training_only else s.validation_files)]
        remote = any(s.hf_dataset and not s.hf_data_files for s in self.sources)
        self.total_bytes = None if remote else sum(_size(p) for p in files)

    def documents(self) -> Iterator[Document]:
        """Every kept document, in stream order.

        Raises:
            CorpusError: a file cannot be read (naming it), or a source gives no document.
        """
        for index, source in enumerate(self.sources):
            yield from self._source(index, source)
        self._check()

    def _source(self, index: int, s: Source) -> Iterator[Document]:
        counts = self.counts[index]
        taken = 0
        for key, docs, held_out in self._parts(s):
            if held_out is not True and self.max_documents and taken >= self.max_documents:
                continue
            for i, text in enumerate(docs):
                if self.dedup is not None and not self.dedup.add(document_hash(text)):
                    counts.duplicates += 1
                    self.duplicates += 1
                    continue
                validation = held_out
                if held_out is None:
                    h = split_hash(self.seed, key, i)
                    validation = (h < self.fraction) != ((key, i) in self.flips)
                    self._extremes(validation, h, (key, i))
                if validation:
                    counts.validation_documents += 1
                    if self.training_only:
                        continue
                else:
                    counts.train_documents += 1
                    taken += 1
                yield Document(index, validation, text, (key, i))
                if held_out is not True and self.max_documents and taken >= self.max_documents:
                    break

    def _extremes(self, validation: bool, h: float, key: tuple) -> None:
        """Remember the lowest-hash training and highest-hash validation document (the fallback)."""
        if not validation and (self.low.get("h", 2.0) > h):
            self.low = {"h": h, "key": key}
        if validation and (self.high.get("h", -1.0) < h):
            self.high = {"h": h, "key": key}

    def _parts(self, s: Source) -> Iterator[tuple[str, Iterator[str], bool | None]]:
        """(split key, documents, held out: True/False, or None to split by hash) of each part of ``s``."""
        read = dict(fmt=s.format, text_column=s.text_column, delimiter=s.document_delimiter, stats=self.stats,
                    csv_dialect=CsvDialect.of(self.project.corpus))
        if s.hf_dataset:
            yield (f"hf:{s.hf_dataset}/{s.hf_dataset_config}/{s.hf_split}",
                   self._hub(s), False if s.validation_files else None)
        else:
            for path, digest in zip(s.files, file_digests(s.files, cache_dir(self.project))):
                yield digest, read_documents([path], **read), False if s.validation_files else None
        if s.validation_files and not self.training_only:
            yield "", read_documents(s.validation_files, **read), True

    def _hub(self, s: Source) -> Iterator[str]:
        size = sum(_size(p) for p in s.hf_data_files)
        start_bytes = self.stats.bytes
        key = "corpus.hf_dataset" if s.name == "corpus" else f"corpus.sources.{s.name}.hf_dataset"
        for doc in hub_documents(s.hf_dataset, s.hf_dataset_config, s.hf_split, s.text_column, self.stats,
                                 self.project.path, data_files=s.hf_data_files, key=key):
            # streaming rows carry no file position: the text read stands in for the bytes read
            self.stats.disk_bytes = self.stats.disk_done + min(size, self.stats.bytes - start_bytes)
            yield doc
        self.stats.disk_done += size
        self.stats.disk_bytes = self.stats.disk_done

    def _check(self) -> None:
        file = self.project.path
        for s, counts in zip(self.sources, self.counts):
            if not counts.train_documents and not (counts.validation_documents and not s.validation_files):
                key = "corpus.train_files" if s.name == "corpus" else f"corpus.sources.{s.name}"
                raise CorpusError(f"source {s.name!r} has no documents (every document is empty"
                                  f"{' or a duplicate' if counts.duplicates else ''})", file=file, key=key,
                                  hint="point it at files with text, or remove it")

    def fallback_flips(self) -> frozenset:
        """After a full pass: the documents to flip so that both splits have one, else empty.

        Raises:
            CorpusError: no validation document can be had (one document in all, or a
                validation_split of 0 without validation_files).
        """
        if self.training_only:
            return frozenset()
        train = sum(c.train_documents for c in self.counts)
        valid = sum(c.validation_documents for c in self.counts)
        if valid == 0:
            if train > 1 and self.fraction > 0 and self.low:
                return frozenset([self.low["key"]])
            raise CorpusError("no validation documents", file=self.project.path, key="corpus.validation_split",
                              hint="give validation_files, or a validation_split above 0 with more than one document")
        if train == 0 and valid > 1 and self.high:
            return frozenset([self.high["key"]])
        if train == 0:
            raise CorpusError("the training corpus has no text (every document is empty)", file=self.project.path,
                              key="corpus.train_files", hint="point train_files at files with text")
        return frozenset()


def _size(path) -> int:
    try:
        return os.path.getsize(path)
    except OSError:
        return 0


def corpus_documents(project, stats: CorpusStats | None = None) -> tuple[list[str], list[str]]:
    """The project's (training documents, validation documents) as lists, for small corpora and
    tests (the pipeline itself streams them, :class:`lmtui.data.stream.CorpusStream`).

    Raises:
        CorpusError: files missing or unreadable, no documents at all, or no validation documents.
    """
    return _split_lists(project, stats, keep_train=True)


def validation_documents(project) -> list[str]:
    """The project's validation documents, read from a stream that holds no training document.

    Raises:
        CorpusError: as :func:`corpus_documents`.
    """
    return _split_lists(project, None, keep_train=False)[1]


def _split_lists(project, stats: CorpusStats | None, *, keep_train: bool) -> tuple[list[str], list[str]]:
    flips: frozenset = frozenset()
    while True:
        stream = CorpusStream(project, stats=stats if not flips else None, flips=flips)
        train, valid = [], []
        for doc in stream.documents():
            if doc.validation:
                valid.append(doc.text)
            elif keep_train:
                train.append(doc.text)
        flips = flips or stream.fallback_flips()
        if flips == stream.flips:
            return train, valid
