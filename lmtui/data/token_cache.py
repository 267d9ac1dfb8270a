"""The dataset stage: tokenize the corpus once into a memory-mapped token cache, streaming.

Cache folder ``<cache_dir>/datasets/<fingerprint>/``::

    train.bin, validation.bin   token ids of every document, concatenated (uint16 when the
                                vocabulary fits, else uint32); each document carries its
                                special tokens (<s> ... </s> or [CLS] ... [SEP])
    train.idx, validation.idx   int64 document start offsets, n_documents + 1 entries
    meta.json                   counts, dtype, byte sizes and BLAKE2b digests of the four files,
                                and per source (a mixture) its document and token ranges

The documents come from :class:`lmtui.data.stream.CorpusStream` in batches of at most
:data:`ENCODE_BATCH` documents or :data:`BATCH_BYTES` of text (or one shard's), encoded by `tokenizers`'
``encode_batch_fast`` (multi-threaded: all cores) and appended to the current shard of the
build (:mod:`lmtui.data.shards`); a shard ends after the batch that brings it to
:data:`SHARD_BYTES` of text. Memory is bounded by the batch and the offsets of one shard, not by
the corpus. A killed build resumes at its first unfinished shard (the stream is read again up
to there, without encoding). When every shard is done, they are concatenated into the four
files of a temporary folder, digested, and renamed into place; so a resumed build gives the
same bytes as one built in one go.

The fingerprint covers the corpus contents, the [corpus] settings and the exact tokenizer
(its tokenizer.json bytes). On load the sizes and digests are checked (digests remembered
under size, mtime and inode, so a cached start costs no reading), and a truncated or
overwritten cache is rebuilt, never used. The fast path trusts that a file whose size, mtime
and inode did not change holds the same bytes; ``verify=True`` (`lmtui prepare --verify`, and
the resume of a crashed run) hashes every corpus and cache file again instead. A ``meta.json``
or ``shards.json`` that does not validate (:mod:`lmtui.state`) means a rebuild, with a warning.
"""

from __future__ import annotations

import errno
import shutil
import time
from itertools import chain
from pathlib import Path
from typing import Callable

import numpy as np

from lmtui.data.corpus import CorpusStats
from lmtui.data.fingerprint import digest_bytes, file_digest, file_digests
from lmtui.data.progress import ProgressMeter
from lmtui.data.shards import ShardBuild, clean_stale, mark_owner
from lmtui.data.sources import corpus_fingerprint
from lmtui.data.stream import CorpusStream
from lmtui.errors import CorpusError
from lmtui.fsutil import atomic_folder, atomic_write_json
from lmtui.project.paths import cache_dir
from lmtui.state import is_type, object_check, read_json_cache

CACHE_VERSION = 2
ENCODE_BATCH = 4096
BATCH_BYTES = 4 << 20
SHARD_BYTES = 64 << 20
SPLITS = ("train", "validation")


def dataset_fingerprint(project, tokenizer_dir: Path) -> str:
    """Fingerprint of a token cache: corpus contents and settings, and the tokenizer's bytes."""
    return digest_bytes("dataset-v%d" % CACHE_VERSION, corpus_fingerprint(project, cache_dir(project)),
                        file_digest(tokenizer_dir / "tokenizer.json"))


def _write_split(documents: list[str], tokenizer, bin_path: Path, idx_path: Path, dtype) -> int:
    """Tokenize in-memory ``documents`` (with special tokens) into ``bin_path``/``idx_path``, laid out
    as one split of the cache; returns tokens written (the evaluation's small held-out sets)."""
    offsets = [0]
    total = 0
    with open(bin_path, "wb") as out:
        for start in range(0, len(documents), ENCODE_BATCH):
            ids = _encode(tokenizer, documents[start:start + ENCODE_BATCH])
            lengths = [len(x) for x in ids]
            out.write(np.fromiter(chain.from_iterable(ids), dtype=dtype, count=sum(lengths)).tobytes())
            for n in lengths:
                total += n
                offsets.append(total)
    np.asarray(offsets, dtype=np.int64).tofile(idx_path)
    return total


def _encode(tokenizer, texts: list[str]) -> list[list[int]]:
    # encode_batch_fast: the same ids as encode_batch without character offsets, about 25% faster
    return [e.ids for e in tokenizer.backend_tokenizer.encode_batch_fast(texts, add_special_tokens=True)]


def _meta_check(value) -> str | None:
    problem = object_check({"version": int, "dtype": str, "files": dict, "train_tokens": int,
                            "validation_tokens": int}, {"sources": list})(value)
    if problem is None:
        bad = [n for n, info in value["files"].items()
               if not isinstance(info, dict) or not is_type(info.get("bytes"), int) or not isinstance(info.get("digest"), str)]
        if bad:
            return f"the record of {bad[0]!r} is not {{bytes, digest}}"
    return problem


def read_meta(folder: Path, on_invalid=None) -> dict | None:
    """The cache's meta.json when it validates, else None (a warning names a file of the wrong shape)."""
    return read_json_cache(folder / "meta.json", _meta_check, what="the token cache's meta.json",
                           rebuild="rebuilding the cache", on_invalid=on_invalid)


def verify_cache(folder: Path, memo_dir: Path | None = None, *, verify: bool = False) -> dict | None:
    """The cache's meta.json if every file has its recorded size and digest, else None.

    With ``memo_dir``, digests come from :func:`lmtui.data.fingerprint.file_digests` (remembered
    under size, mtime and inode), so a cached start does not re-read gigabytes of tokens; a file
    written since (truncated, overwritten) is hashed again. ``verify`` hashes every file again.
    """
    try:
        meta = read_meta(folder)
        if meta is None or meta.get("version") != CACHE_VERSION:
            return None
        for name, info in meta["files"].items():
            p = folder / name
            if p.stat().st_size != info["bytes"]:
                return None
            digest = (file_digests([p], memo_dir, verify=verify)[0] if memo_dir is not None else file_digest(p))
            if digest != info["digest"]:
                return None
        return meta
    except (OSError, ValueError, KeyError, TypeError):
        return None


class _Shard:
    """The four open files of the shard being written, and its counts per source and split."""

    def __init__(self, build: ShardBuild, n_sources: int):
        self.build = build
        self.number = len(build.shards)
        self.files = {f"{split}.{ext}": open(build.shard_path(self.number, f"{split}.{ext}"), "wb")
                      for split in SPLITS for ext in ("bin", "len")}
        self.counts = [[0, 0, 0, 0] for _ in range(n_sources)]  # train docs, train tokens, valid docs, valid tokens
        self.documents = 0
        self.text_bytes = 0

    def add(self, docs: list, ids: list[list[int]], dtype) -> int:
        """Append encoded ``docs``; returns their tokens."""
        for side, split in enumerate(SPLITS):
            rows = [(d, x) for d, x in zip(docs, ids) if d.validation == bool(side)]
            if not rows:
                continue
            lengths = np.fromiter((len(x) for _, x in rows), dtype=np.int64, count=len(rows))
            flat = np.fromiter(chain.from_iterable(x for _, x in rows), dtype=dtype, count=int(lengths.sum()))
            self.files[f"{split}.bin"].write(flat.tobytes())
            self.files[f"{split}.len"].write(lengths.tobytes())
            for (d, _), n in zip(rows, lengths):
                row = self.counts[d.source]
                row[2 * side] += 1
                row[2 * side + 1] += int(n)
        return sum(len(x) for x in ids)

    def finish(self) -> None:
        for fh in self.files.values():
            fh.close()
        self.build.finish_shard([name for name in self.files], self.documents, {"sources": self.counts})


def _fill(stream: CorpusStream, build: ShardBuild, tokenizer, dtype, shard_bytes: int, meter: ProgressMeter) -> None:
    """Encode the stream's documents after the finished shards into new shards."""
    skip = build.documents_done
    shard = None
    batch: list = []
    batch_bytes = 0
    tokens = 0

    def flush():
        nonlocal shard, batch, batch_bytes, tokens
        if shard is None:
            shard = _Shard(build, len(stream.sources))
        tokens += shard.add(batch, _encode(tokenizer, [d.text for d in batch]), dtype)
        shard.documents += len(batch)
        shard.text_bytes += batch_bytes
        meter.update(stream.stats.disk_bytes, documents=meter.documents + len(batch), tokens=tokens)
        batch, batch_bytes = [], 0
        if shard.text_bytes >= shard_bytes:
            shard.finish()
            shard = None

    for n, doc in enumerate(stream.documents()):
        if n < skip:
            if n % ENCODE_BATCH == 0:
                meter.update(stream.stats.disk_bytes)
            continue
        batch.append(doc)
        batch_bytes += len(doc.text)
        if len(batch) >= ENCODE_BATCH or batch_bytes >= min(BATCH_BYTES, shard_bytes):
            flush()
    if batch:
        flush()
    if shard is not None:
        shard.finish()


DISK_FULL = (errno.ENOSPC, errno.EDQUOT)


class DiskFullError(CorpusError):
    """The disk (or quota) filled up while the token cache was written; its finished shards are kept."""


def disk_full_error(folder: Path, needed: int | None, phase: str, *, shards: bool = True) -> DiskFullError:
    """The one message of a full disk (or quota) while writing ``folder``: the folder, the space
    ``needed`` (bytes; None when unknown) and the space free now (``shutil.disk_usage``).

    Args:
        phase: what was being done, e.g. ``"publishing the token cache in"``.
        shards: finished shards are kept (the hint says the build resumes from them).
    """
    from lmtui.fmt import fmt_bytes

    where = folder
    while not where.exists() and where != where.parent:
        where = where.parent
    try:
        free = fmt_bytes(shutil.disk_usage(where).free)
    except OSError:
        free = "unknown"
    need = f"needs about {fmt_bytes(needed)} more" if needed else "needs more space"
    resume = ": the finished shards are kept and the build resumes from them" if shards else ""
    return DiskFullError(f"the disk is full while {phase} {folder}: it {need} there, {free} is free",
                         file=str(folder), hint="free space there (or set [project] cache_dir to a folder on a "
                                                f"larger disk) and run again{resume}")


def _publish_bytes(build: ShardBuild) -> int:
    """Bytes the published cache takes: the shards' token files plus one offset per document."""
    return sum(info["bytes"] + (8 if name.endswith(".len") else 0)
               for shard in build.shards for name, info in shard["files"].items())


def _publish(build: ShardBuild, folder: Path, stream: CorpusStream, dtype, vocab_size: int, t0: float) -> dict:
    """Concatenate the shards into the cache folder (atomically); returns its meta."""
    totals = np.zeros((len(stream.sources), 4), dtype=np.int64)
    for shard in build.shards:
        totals += np.asarray(shard["counts"]["sources"], dtype=np.int64)
    with atomic_folder(folder) as tmp:
        mark_owner(tmp)
        files = {}
        for split in SPLITS:
            total = 0
            with open(tmp / f"{split}.bin", "wb") as out, open(tmp / f"{split}.idx", "wb") as idx:
                idx.write(np.zeros(1, dtype=np.int64).tobytes())
                for shard in build.shards:
                    with open(build.shard_path(shard["number"], f"{split}.bin"), "rb") as fh:
                        shutil.copyfileobj(fh, out, 1 << 22)
                    lengths = np.fromfile(build.shard_path(shard["number"], f"{split}.len"), dtype=np.int64)
                    idx.write((np.cumsum(lengths) + total).tobytes())
                    total += int(lengths.sum())
            for ext in ("bin", "idx"):
                p = tmp / f"{split}.{ext}"
                files[p.name] = {"bytes": p.stat().st_size, "digest": file_digest(p)}
        stats = stream.stats
        meta = {"version": CACHE_VERSION, "dtype": np.dtype(dtype).name, "vocab_size": vocab_size,
                "train_tokens": int(totals[:, 1].sum()), "validation_tokens": int(totals[:, 3].sum()),
                "train_documents": int(totals[:, 0].sum()), "validation_documents": int(totals[:, 2].sum()),
                "documents": stats.documents, "corpus_bytes": stats.bytes, "corpus_files": stats.files,
                "invalid_utf8_lines": stats.invalid_utf8_lines, "duplicates_dropped": stream.duplicates,
                "shards": len(build.shards), "seconds": round(time.perf_counter() - t0, 3),
                "sources": _source_ranges(stream, totals), "files": files}
        atomic_write_json(tmp / "meta.json", meta)
        (tmp / "owner.json").unlink()
    return meta


def _source_ranges(stream: CorpusStream, totals: np.ndarray) -> list[dict]:
    """Each source's name and its [start, end) document and token ranges per split (the weights are
    the run's, not the cache's: :func:`lmtui.data.mixture.write_view`)."""
    out = []
    start = np.zeros(4, dtype=np.int64)
    for s, row in zip(stream.sources, totals):
        end = start + row
        entry = {"name": s.name, "label": s.label, "duplicates_dropped": stream.counts[len(out)].duplicates}
        for side, split in enumerate(SPLITS):
            entry[split] = {"documents": [int(start[2 * side]), int(end[2 * side])],
                            "tokens": [int(start[2 * side + 1]), int(end[2 * side + 1])]}
        out.append(entry)
        start = end
    return out


def build_cache(project, tokenizer_dir: Path, folder: Path, log=print, progress: Callable | None = None,
                *, shard_bytes: int | None = None) -> dict:
    """Tokenize the project's corpus into ``folder`` (resumably, then atomically); returns the meta dict.

    Args:
        progress: called with a ``dataset_progress`` dict (:class:`lmtui.data.progress.ProgressMeter`)
            about once a second.
        shard_bytes: text bytes per shard, the granularity of resuming (default :data:`SHARD_BYTES`).

    Raises:
        CorpusError: a file cannot be read (the build folder is removed, nothing is published),
            a source has no documents, no validation document, or another process is building
            the same cache.
    """
    from transformers import AutoTokenizer

    shard_bytes = shard_bytes or SHARD_BYTES
    tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir)
    dtype = np.uint16 if len(tokenizer) <= 65535 else np.uint32
    clean_stale(folder.parent)
    flips: frozenset = frozenset()

    def settings():
        return {"version": CACHE_VERSION, "shard_bytes": shard_bytes, "dtype": np.dtype(dtype).name,
                "flips": sorted([list(k) for k in flips])}

    build = ShardBuild(folder.parent / f".build-{folder.name}", settings())
    t0 = time.perf_counter()
    try:
        while True:
            stream = CorpusStream(project, CorpusStats(), flips=flips)
            if build.shards:
                log(f"resuming the token cache after {len(build.shards)} finished shard(s) "
                    f"({build.documents_done:,} documents)")
            meter = ProgressMeter("dataset", stream.total_bytes, progress)
            try:
                _fill(stream, build, tokenizer, dtype, shard_bytes, meter)
            except OSError as exc:
                if exc.errno not in DISK_FULL:
                    raise
                done = stream.stats.disk_bytes or 1
                written = sum(info["bytes"] for sh in build.shards for info in sh["files"].values())
                rest = int(written / done * max(0, stream.total_bytes - done)) if stream.total_bytes else None
                build.close(remove=False)
                raise disk_full_error(build.folder, rest, "writing the shards of the token cache in") from None
            found = stream.fallback_flips()
            if found == flips:
                break
            flips = found
            build.restart(settings())
        meter.done()
        try:
            meta = _publish(build, folder, stream, dtype, len(tokenizer), t0)
        except OSError as exc:
            if exc.errno not in DISK_FULL:
                raise
            build.close(remove=False)
            raise disk_full_error(folder, _publish_bytes(build), "publishing the token cache in") from None
    except DiskFullError:
        raise  # the build folder is kept (closed above): the next run resumes from its shards
    except CorpusError:
        build.close(remove=True)
        raise
    except BaseException:
        build.close(remove=False)
        raise
    build.close(remove=True)
    return meta


def prepare_dataset(project, tokenizer_dir: Path, log=print,
                    progress: Callable | None = None, *, verify: bool = False) -> tuple[Path, dict, bool]:
    """Make sure the token cache of ``project`` exists and is intact (building or resuming it).

    Args:
        verify: hash every file of the cache again instead of trusting its remembered (size,
            mtime, inode) stamp. The corpus files are verified by
            :func:`lmtui.data.corpus.verify_corpus_digests`, called first (before the tokenizer
            stage, whose fingerprint covers them too): a corpus file changed in place then gives
            a new fingerprint, hence a new cache.

    Returns:
        (cache folder, meta, cached): ``cached`` is True when an intact cache was reused.

    Raises:
        CorpusError: the corpus cannot be read or is empty, or the disk is full.
    """
    folder = Path(cache_dir(project)) / "datasets" / dataset_fingerprint(project, tokenizer_dir)
    if folder.exists():
        meta = verify_cache(folder, Path(cache_dir(project)), verify=verify)
        if meta is not None:
            return folder, meta, True
        log(f"token cache {folder} is incomplete or corrupted: rebuilding it")
    meta = build_cache(project, tokenizer_dir, folder, log, progress)
    file_digests([folder / name for name in meta["files"]], cache_dir(project))  # the next start reads nothing
    return folder, meta, False


class TokenCache:
    """Read-only view of one split of a token cache (memory-mapped).

    Attributes:
        tokens: 1-D array of token ids, shape (n_tokens,).
        offsets: 1-D int64 array of document starts, shape (n_documents + 1,).
    """

    def __init__(self, folder: str | Path, split: str):
        self.folder = Path(folder)
        self.split = split
        self._tokens = None
        self._offsets = None

    def __getstate__(self):  # data-loader workers reopen the memory map instead of copying it
        return {"folder": self.folder, "split": self.split}

    def __setstate__(self, state):
        self.__init__(state["folder"], state["split"])

    @property
    def tokens(self) -> np.ndarray:
        if self._tokens is None:
            meta = self._meta()
            self._tokens = np.memmap(self.folder / f"{self.split}.bin", dtype=np.dtype(meta["dtype"]), mode="r")
        return self._tokens

    @property
    def offsets(self) -> np.ndarray:
        if self._offsets is None:
            self._offsets = np.fromfile(self.folder / f"{self.split}.idx", dtype=np.int64)
        return self._offsets

    @property
    def sources(self) -> list[dict]:
        """Per source of a mixture: ``name``, ``share`` (its share of the training tokens, from a
        run's view, :func:`lmtui.data.mixture.write_view`; else None: its natural share) and this
        split's ``documents`` and ``tokens`` [start, end) ranges; empty for one source."""
        meta = self._meta()
        sources = meta.get("sources") or []
        if len(sources) < 2:
            return []
        shares = meta.get("mixture") or {}
        return [{"name": s["name"], "share": shares.get(s["name"]), **s[self.split]} for s in sources]

    def _meta(self) -> dict:
        from lmtui.state import read_json_state

        check = object_check({"dtype": str}, {"sources": list, "mixture": dict})  # what a reader of the split needs
        meta = read_json_state(self.folder / "meta.json", check, what="the token cache's meta.json",
                               fix="run `lmtui prepare --verify` (or run again) to rebuild the cache")
        if meta is None:
            raise CorpusError("the token cache has no meta.json", file=str(self.folder),
                              hint="run `lmtui prepare --verify` (or run again) to rebuild the cache")
        return meta

    @property
    def num_documents(self) -> int:
        return len(self.offsets) - 1

    @property
    def num_tokens(self) -> int:
        return int(self.offsets[-1])
