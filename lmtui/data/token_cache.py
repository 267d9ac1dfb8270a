"""The dataset stage: tokenize the corpus once into a memory-mapped token cache.

Cache folder ``<cache_dir>/datasets/<fingerprint>/``::

    train.bin, validation.bin   token ids of every document, concatenated (uint16 when the
                                vocabulary fits, else uint32); each document carries its
                                special tokens (<s> ... </s> or [CLS] ... [SEP])
    train.idx, validation.idx   int64 document start offsets, n_documents + 1 entries
    meta.json                   counts, dtype, byte sizes and BLAKE2b digests of the four files

The fingerprint covers the corpus contents, the [corpus] settings and the exact tokenizer
(its tokenizer.json bytes). The cache is written to a temporary folder and renamed; on load
its sizes and digests are checked, and a truncated or corrupted cache is rebuilt, never used.
Tokenization uses all cores (`tokenizers` batch encoding is multi-threaded).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from lmtui.data.corpus import CorpusStats, corpus_documents, corpus_fingerprint
from lmtui.data.fingerprint import digest_bytes, file_digest
from lmtui.fsutil import atomic_folder, atomic_write_json
from lmtui.project.paths import cache_dir

CACHE_VERSION = 1
ENCODE_BATCH = 4096
SPLITS = ("train", "validation")


def dataset_fingerprint(project, tokenizer_dir: Path) -> str:
    """Fingerprint of a token cache: corpus contents and settings, and the tokenizer's bytes."""
    return digest_bytes("dataset-v%d" % CACHE_VERSION, corpus_fingerprint(project, cache_dir(project)),
                        file_digest(tokenizer_dir / "tokenizer.json"))


def _write_split(documents: list[str], tokenizer, bin_path: Path, idx_path: Path, dtype) -> int:
    """Tokenize ``documents`` (with special tokens) into ``bin_path``/``idx_path``; returns tokens written."""
    offsets = [0]
    total = 0
    backend = tokenizer.backend_tokenizer
    with open(bin_path, "wb") as out:
        for start in range(0, len(documents), ENCODE_BATCH):
            # encode_batch_fast: the same ids without character offsets, about 25% faster
            ids = [e.ids for e in backend.encode_batch_fast(documents[start:start + ENCODE_BATCH],
                                                            add_special_tokens=True)]
            lengths = [len(x) for x in ids]
            flat = np.fromiter((i for x in ids for i in x), dtype=dtype, count=sum(lengths))
            out.write(flat.tobytes())
            for n in lengths:
                total += n
                offsets.append(total)
    np.asarray(offsets, dtype=np.int64).tofile(idx_path)
    return total


def verify_cache(folder: Path) -> dict | None:
    """The cache's meta.json if every file has its recorded size and digest, else None."""
    try:
        meta = json.loads((folder / "meta.json").read_text())
        if meta.get("version") != CACHE_VERSION:
            return None
        for name, info in meta["files"].items():
            p = folder / name
            if p.stat().st_size != info["bytes"] or file_digest(p) != info["digest"]:
                return None
        return meta
    except (OSError, ValueError, KeyError, TypeError):
        return None


def build_cache(project, tokenizer_dir: Path, folder: Path, log=print) -> dict:
    """Tokenize the project's corpus into ``folder`` (atomically); returns the meta dict."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir)
    stats = CorpusStats()
    train, valid = corpus_documents(project, stats)
    dtype = np.uint16 if len(tokenizer) <= 65535 else np.uint32
    with atomic_folder(folder) as tmp:
        t0 = time.perf_counter()
        counts = {}
        for split, docs in zip(SPLITS, (train, valid)):
            log(f"tokenizing {len(docs)} {split} documents")
            counts[split] = _write_split(docs, tokenizer, tmp / f"{split}.bin", tmp / f"{split}.idx", dtype)
        files = {}
        for split in SPLITS:
            for ext in ("bin", "idx"):
                p = tmp / f"{split}.{ext}"
                files[p.name] = {"bytes": p.stat().st_size, "digest": file_digest(p)}
        meta = {"version": CACHE_VERSION, "dtype": np.dtype(dtype).name, "vocab_size": len(tokenizer),
                "train_tokens": counts["train"], "validation_tokens": counts["validation"],
                "train_documents": len(train), "validation_documents": len(valid),
                "documents": stats.documents, "corpus_bytes": stats.bytes, "corpus_files": stats.files,
                "invalid_utf8_lines": stats.invalid_utf8_lines, "seconds": round(time.perf_counter() - t0, 3),
                "files": files}
        atomic_write_json(tmp / "meta.json", meta)
    return meta


def prepare_dataset(project, tokenizer_dir: Path, log=print) -> tuple[Path, dict, bool]:
    """Make sure the token cache of ``project`` exists and is intact.

    Returns:
        (cache folder, meta, cached): ``cached`` is True when an intact cache was reused.

    Raises:
        CorpusError: the corpus cannot be read or is empty.
    """
    folder = Path(cache_dir(project)) / "datasets" / dataset_fingerprint(project, tokenizer_dir)
    if folder.exists():
        meta = verify_cache(folder)
        if meta is not None:
            return folder, meta, True
        log(f"token cache {folder} is incomplete or corrupted: rebuilding it")
    return folder, build_cache(project, tokenizer_dir, folder, log), False


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
            meta = json.loads((self.folder / "meta.json").read_text())
            self._tokens = np.memmap(self.folder / f"{self.split}.bin", dtype=np.dtype(meta["dtype"]), mode="r")
        return self._tokens

    @property
    def offsets(self) -> np.ndarray:
        if self._offsets is None:
            self._offsets = np.fromfile(self.folder / f"{self.split}.idx", dtype=np.int64)
        return self._offsets

    @property
    def num_documents(self) -> int:
        return len(self.offsets) - 1

    @property
    def num_tokens(self) -> int:
        return int(self.offsets[-1])
