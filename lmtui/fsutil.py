"""Atomic writes of files and folders: a reader sees the old version or the new one, never half of one.

A file is written to a temporary name in the same folder, flushed to disk and renamed over
the old one (``os.replace`` is atomic on POSIX). A folder is filled under a temporary name
beside its final place and renamed into place when complete.

``tempfile.mkstemp`` and ``mkdtemp`` create 0600 files and 0700 folders whatever the umask, and
some writers (safetensors) do the same; so before the rename a file gets the mode the user's
umask gives a plain file (0644 under umask 022) and a folder's tree gets 0755 folders and 0644
files (:func:`file_mode`, :func:`share_tree`): a colleague on the same machine can read the run.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Iterator

_UMASK: int | None = None


def umask() -> int:
    """This process's umask (read once: from /proc/self/status where Linux gives it, else by
    setting and restoring it, which is not thread-safe, before other threads exist)."""
    global _UMASK
    if _UMASK is None:
        try:
            for line in Path("/proc/self/status").read_text().splitlines():
                if line.startswith("Umask:"):
                    _UMASK = int(line.split()[1], 8)
                    break
        except OSError:
            pass
        if _UMASK is None:
            _UMASK = os.umask(0o022)
            os.umask(_UMASK)
    return _UMASK


def file_mode(executable: bool = False) -> int:
    """The mode ``open()`` gives a new file under this umask: ``0o666 & ~umask`` (``0o777`` for an
    executable or a folder), e.g. 0644 (0755) under umask 022 and 0600 (0700) under 077."""
    return (0o777 if executable else 0o666) & ~umask()


def share_tree(folder: str | os.PathLike) -> None:
    """Give ``folder``, every folder below it and every file in them the umask's modes
    (:func:`file_mode`; files with an execute bit stay executable). Symbolic links are left alone."""
    folder = Path(folder)
    os.chmod(folder, file_mode(executable=True))
    for root, dirs, files in os.walk(folder):
        for name in dirs:
            path = os.path.join(root, name)
            if not os.path.islink(path):
                os.chmod(path, file_mode(executable=True))
        for name in files:
            path = os.path.join(root, name)
            if not os.path.islink(path):
                os.chmod(path, file_mode(executable=bool(os.stat(path).st_mode & 0o111)))


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same folder, fsync and a rename:
    a reader sees the old file or the whole new one, never a part."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, file_mode())  # mkstemp made it 0600
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically (:func:`atomic_write_bytes`)."""
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | os.PathLike, data: dict) -> None:
    """Write ``data`` as indented JSON to ``path`` atomically (temporary file + rename)."""
    atomic_write_text(path, json.dumps(data, indent=2, sort_keys=True) + "\n")


def replace_folder(tmp: Path, final: Path) -> None:
    """Put the finished folder ``tmp`` in place of ``final`` (removing an earlier ``final``) by a rename,
    its tree first given the umask's modes (:func:`share_tree`)."""
    share_tree(tmp)
    if final.exists():
        shutil.rmtree(final)
    tmp.rename(final)


@contextlib.contextmanager
def atomic_folder(final: str | os.PathLike, tmp_name: str | None = None) -> Iterator[Path]:
    """Write a folder atomically: yields an empty temporary folder beside ``final``, which
    replaces ``final`` when the block ends and is removed when it raises.

    Args:
        final: the folder's name once complete.
        tmp_name: a fixed name for the temporary folder (a leftover of an interrupted write is
            then reused); default: a unique ``.tmp-<name>-*`` folder (safe for concurrent writers).
    """
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    if tmp_name is None:
        tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{final.name}-", dir=final.parent))
    else:
        tmp = final.parent / tmp_name
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir()
    try:
        yield tmp
        replace_folder(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
