"""A token cache under construction: shards written as the stream is encoded, recorded when
finished, so a build killed at any point resumes at its first unfinished shard.

Build folder ``<cache_dir>/datasets/.build-<fingerprint>/``::

    lock            held (``fcntl.flock``) by the one process building; the kernel releases it
                    when that process dies, however it dies (kill -9 included)
    owner.json      pid and start time of that process, for messages and stale cleanup
    shards.json     settings of the build and the finished shards, in order, each with its
                    document count in the stream, counts per source and split, and the size
                    and BLAKE2b digest of each of its files (written atomically after the files)
    NNNNN-train.bin, NNNNN-train.len, NNNNN-validation.bin, NNNNN-validation.len
                    the token ids and the int64 document lengths of shard NNNNN's documents

A shard is written, flushed, digested, then recorded; a shard file that does not match its
record (or a shard not recorded) is discarded on resume, with every later shard; a
``shards.json`` or ``owner.json`` that does not validate (:mod:`lmtui.state`) is treated as absent
(the build starts over, with a warning naming it).
:func:`clean_stale` removes the ``.tmp-*`` folders of writers that are gone (issue 15).
"""

from __future__ import annotations

import fcntl
import os
import shutil
from pathlib import Path

from lmtui.data.fingerprint import file_digest
from lmtui.errors import CorpusError
from lmtui.fsutil import atomic_write_json
from lmtui.procs import pid_alive, process_start_time
from lmtui.state import is_type, object_check, read_json_cache

_OWNER_CHECK = object_check({"pid": int}, {"start_time": (float, type(None))})


def read_owner(folder: Path) -> dict:
    """``folder/owner.json`` when it validates (pid an integer), else {} (missing or of the wrong shape)."""
    return read_json_cache(folder / OWNER, _OWNER_CHECK, what="the writer record owner.json",
                           rebuild="treating its writer as unknown") or {}


def _manifest_check(value) -> str | None:
    problem = object_check({"settings": dict, "shards": list})(value)
    if problem:
        return problem
    shard_check = object_check({"number": int, "documents": int, "counts": dict, "files": dict})
    for shard in value["shards"]:
        problem = shard_check(shard)
        if problem:
            return f"a shard record: {problem}"
        for info in shard["files"].values():
            if not isinstance(info, dict) or not is_type(info.get("bytes"), int) or not isinstance(info.get("digest"), str):
                return "a shard's file record is not {bytes, digest}"
    return None

OWNER = "owner.json"


def owner_record() -> dict:
    """This process's pid and start time (:func:`lmtui.procs.pid_alive` tells a reused pid apart)."""
    return {"pid": os.getpid(), "start_time": process_start_time(os.getpid())}


def mark_owner(folder: Path) -> None:
    """Record this process as the writer of the temporary ``folder``."""
    atomic_write_json(folder / OWNER, owner_record())


def owner_gone(folder: Path) -> bool:
    """Whether the process recorded in ``folder/owner.json`` is gone (False when none is recorded)."""
    owner = read_owner(folder)
    if not owner:
        return False
    return not pid_alive(owner["pid"], owner.get("start_time"))


def clean_stale(parent: Path) -> list[Path]:
    """Remove the ``.tmp-*`` folders in ``parent`` whose recorded writer is gone; returns them.

    A folder without an owner record is left alone (its writer may be starting).
    """
    removed = []
    if not parent.is_dir():
        return removed
    for tmp in parent.glob(".tmp-*"):
        if tmp.is_dir() and owner_gone(tmp):
            shutil.rmtree(tmp, ignore_errors=True)
            removed.append(tmp)
    return removed


class ShardBuild:
    """The bookkeeping of one cache build (see the module docstring).

    Args:
        folder: the build folder.
        settings: what the shards depend on beyond the fingerprint (shard size, dtype, split
            fallback); a build folder with other settings is started over.

    Raises:
        CorpusError: another live process is building the same cache.
    """

    def __init__(self, folder: Path, settings: dict):
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self._lock = open(folder / "lock", "a+")
        try:
            fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._lock.close()
            owner = read_owner(folder)
            raise CorpusError(f"another process (pid {owner.get('pid', '?')}) is building this token cache",
                              file=str(folder),
                              hint="wait for it to finish, or stop it; the next run reuses its work") from None
        mark_owner(folder)
        self.settings = settings
        self.shards: list[dict] = []
        manifest = read_json_cache(folder / "shards.json", _manifest_check, what="the shard record shards.json",
                                   rebuild="starting the token cache build over") or {}
        if manifest.get("settings") == settings:
            for shard in manifest.get("shards", []):
                if not self._intact(shard):
                    break
                self.shards.append(shard)
        self._drop_unrecorded()

    def _intact(self, shard: dict) -> bool:
        for name, info in shard["files"].items():
            p = self.folder / name
            try:
                if p.stat().st_size != info["bytes"] or file_digest(p) != info["digest"]:
                    return False
            except OSError:
                return False
        return True

    def _drop_unrecorded(self) -> None:
        keep = {name for shard in self.shards for name in shard["files"]} | {"lock", OWNER, "shards.json"}
        for p in self.folder.iterdir():
            if p.name not in keep:
                p.unlink()
        self._save()

    def _save(self) -> None:
        atomic_write_json(self.folder / "shards.json", {"settings": self.settings, "shards": self.shards})

    @property
    def documents_done(self) -> int:
        """Stream documents covered by the finished shards."""
        return sum(s["documents"] for s in self.shards)

    def shard_path(self, number: int, name: str) -> Path:
        return self.folder / f"{number:05d}-{name}"

    def finish_shard(self, names: list[str], documents: int, counts: dict) -> None:
        """Record shard ``len(self.shards)``: its files ``names`` (already written and closed),
        the stream ``documents`` it covers and its ``counts``."""
        number = len(self.shards)
        files = {}
        for name in names:
            p = self.shard_path(number, name)
            with open(p, "rb") as fh:
                os.fsync(fh.fileno())
            files[p.name] = {"bytes": p.stat().st_size, "digest": file_digest(p)}
        self.shards.append({"number": number, "documents": documents, "counts": counts, "files": files})
        self._save()

    def restart(self, settings: dict) -> None:
        """Forget every shard and continue under new ``settings``."""
        self.settings = settings
        self.shards = []
        self._drop_unrecorded()

    def close(self, *, remove: bool) -> None:
        """Release the lock; with ``remove``, delete the build folder (published or abandoned)."""
        if remove:
            shutil.rmtree(self.folder, ignore_errors=True)
        self._lock.close()
