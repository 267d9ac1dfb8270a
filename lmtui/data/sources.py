"""The sources of a project's corpus with their files resolved: one (the [corpus] keys) or a
mixture of named ``[corpus.sources.NAME]`` tables (read and checked from the file alone by
:mod:`lmtui.project.sources`); the corpus files and fingerprint every stage reads.

Nothing heavy: the check layer resolves the files with :func:`project_sources`.
"""

from __future__ import annotations

from pathlib import Path

from lmtui.data.corpus import CsvDialect, resolve_files
from lmtui.project.paths import project_dir
from lmtui.project.sources import SOURCE_KEYS, Source, is_mixture, source_tables

__all__ = ["SOURCE_KEYS", "Source", "corpus_files", "corpus_fingerprint", "is_mixture", "project_sources",
           "verify_corpus_digests"]


def project_sources(project, text: str = "", *, resolve: bool = True) -> list[Source]:
    """The sources of ``project`` (:func:`lmtui.project.sources.source_tables`), their file
    patterns resolved to paths (:func:`lmtui.data.corpus.resolve_files`) with ``resolve``.

    Raises:
        ProjectError: a source table with an unknown key or a value of the wrong type.
        CorpusError: (with ``resolve``) a pattern that matches nothing, or an empty file.
    """
    base = project_dir(project)

    def files(patterns, where):
        return resolve_files(patterns, base, file=where["file"], key=where["key"], line=where["line"])

    return source_tables(project, text, files if resolve else None)


def corpus_files(project) -> tuple[list[Path], list[Path]]:
    """Resolved (training files, validation files) of a project's corpus, every source's together."""
    sources = project_sources(project)
    return ([Path(p) for s in sources for p in s.files + s.hf_data_files],
            [Path(p) for s in sources for p in s.validation_files])


def verify_corpus_digests(project, cache_dir: str) -> int:
    """Hash every corpus file of ``project`` again, whatever its remembered stamp, and update
    ``digests.json`` (:func:`lmtui.data.fingerprint.file_digests` with ``verify``): afterwards
    :func:`corpus_fingerprint` reflects the files' contents even if one changed without its size,
    mtime or inode changing. Returns the number of files hashed."""
    from lmtui.data.fingerprint import file_digests
    paths = [Path(p) for s in project_sources(project) for p in s.files + s.validation_files + s.hf_data_files]
    file_digests(paths, cache_dir, verify=True)
    return len(paths)


def corpus_fingerprint(project, cache_dir: str) -> str:
    """Fingerprint of the corpus contents and every [corpus] setting that changes the documents.

    Covers each source's files (contents, in sorted order), reading settings and Hub dataset
    name; not the weights, which change the training order, not the documents.
    """
    from dataclasses import asdict

    from lmtui.data.fingerprint import digest_bytes, files_digest
    parts = []
    for s in project_sources(project):
        settings = asdict(s)
        for k in ("files", "validation_files", "hf_data_files", "weight", "epochs"):
            settings.pop(k)
        parts.append([settings, files_digest(s.files, cache_dir), files_digest(s.validation_files, cache_dir),
                      files_digest(s.hf_data_files, cache_dir)])
    c = project.corpus
    return digest_bytes("corpus-v2", parts, c.validation_split, c.split_seed, c.max_documents, c.deduplicate,
                        asdict(CsvDialect.of(c)))
