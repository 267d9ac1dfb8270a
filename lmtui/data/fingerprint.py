"""Content fingerprints for caches: corpus files, tokenizer settings, token caches.

File digests are BLAKE2b over the bytes. To keep a cached start fast, each file's digest
is remembered in ``<cache_dir>/digests.json`` under its (path, size, mtime_ns, inode); a
file whose size or modification time changed is hashed again.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from lmtui.fsutil import atomic_write_json


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


def files_digest(paths: list[Path], cache_dir: str | os.PathLike) -> str:
    """One digest over the contents of ``paths`` (in order), memoised per file in the cache folder."""
    return digest_bytes(file_digests(paths, cache_dir))


def file_digests(paths: list[Path], cache_dir: str | os.PathLike) -> list[str]:
    """The content digest of each of ``paths``, memoised in ``<cache_dir>/digests.json`` under
    (size, mtime_ns, inode), so an unchanged file is not read again."""
    memo_path = Path(cache_dir) / "digests.json"
    try:
        memo = json.loads(memo_path.read_text())
    except (OSError, ValueError):
        memo = {}
    changed = False
    digests = []
    for p in paths:
        st = p.stat()
        stamp = f"{st.st_size}:{st.st_mtime_ns}:{st.st_ino}"
        entry = memo.get(str(p))
        if not entry or entry.get("stamp") != stamp:
            entry = {"stamp": stamp, "digest": file_digest(p)}
            memo[str(p)] = entry
            changed = True
        digests.append(entry["digest"])
    if changed:
        atomic_write_json(memo_path, memo)
    return digests
