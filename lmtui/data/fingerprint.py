"""Content fingerprints for caches: corpus files, tokenizer settings, token caches.

File digests are BLAKE2b over the bytes. To keep a cached start fast, each file's digest
is remembered in ``<cache_dir>/digests.json`` under its (path, size, mtime_ns, inode); a
file whose size, modification time or inode changed is hashed again. That fast path trusts the
stamp: a file rewritten in place to the same size with its mtime set back (``touch -r``, some
copy tools) keeps its old digest. ``verify=True`` (`lmtui prepare --verify`, and the resume of
a crashed run) hashes every file again. A ``digests.json`` that does not validate (empty, cut
short, of the wrong shape) is rebuilt, with a warning naming it (:mod:`lmtui.state`).
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from lmtui.fsutil import atomic_write_json
from lmtui.state import read_json_cache


def digest_bytes(*parts: object) -> str:
    """Hex BLAKE2b-128 of the JSON encoding of ``parts`` (stable across runs and machines)."""
    return hashlib.blake2b(json.dumps(parts, sort_keys=True, default=str).encode(), digest_size=16).hexdigest()


def file_digest(path: Path) -> str:
    """Hex BLAKE2b-128 of the bytes of ``path``."""
    h = hashlib.blake2b(digest_size=16)
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 22), b""):
            h.update(block)
    return h.hexdigest()


def files_digest(paths: list[Path], cache_dir: str | os.PathLike, *, verify: bool = False) -> str:
    """One digest over the contents of ``paths`` (in order), memoised per file in the cache folder
    (``verify``: every file hashed again, :func:`file_digests`)."""
    return digest_bytes(file_digests(paths, cache_dir, verify=verify))


def _memo_check(value) -> str | None:
    if not isinstance(value, dict):
        return "it holds a list or a value where an object of files belongs"
    return None


def _entry_ok(entry) -> bool:
    return (isinstance(entry, dict) and isinstance(entry.get("stamp"), str)
            and isinstance(entry.get("digest"), str))


def file_digests(paths: list[Path], cache_dir: str | os.PathLike, *, verify: bool = False) -> list[str]:
    """The content digest of each of ``paths``, memoised in ``<cache_dir>/digests.json`` under
    (size, mtime_ns, inode), so an unchanged file is not read again.

    Args:
        verify: hash every file again, whatever its stamp (the memo is updated with the result).
    """
    memo_path = Path(cache_dir) / "digests.json"
    memo = read_json_cache(memo_path, _memo_check, what="the file-digest cache",
                           rebuild="hashing the files again and rewriting it")
    changed = memo is None and memo_path.exists()
    memo = memo or {}
    digests = []
    for p in paths:
        st = p.stat()
        stamp = f"{st.st_size}:{st.st_mtime_ns}:{st.st_ino}"
        entry = memo.get(str(p))
        if verify or not _entry_ok(entry) or entry["stamp"] != stamp:
            fresh = {"stamp": stamp, "digest": file_digest(p)}
            changed = changed or fresh != entry
            memo[str(p)] = entry = fresh
        digests.append(entry["digest"])
    if changed:
        atomic_write_json(memo_path, memo)
    return digests
