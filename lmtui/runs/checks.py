"""The folders a run writes (the check layer, :mod:`lmtui.checks`, runs this before anything is
written): ``output_dir`` is no file, and the output and cache folders are created (when
missing) and written with a probe file, then removed again, so a folder under ``/proc``, under
a regular file or on a read-only filesystem is refused (:func:`check_writable`)."""

from __future__ import annotations

import os
from pathlib import Path

from lmtui.errors import ProjectError
from lmtui.project.lines import line_of
from lmtui.project.paths import cache_dir, output_dir

def check_writable(folder: str, *, file: str, key: str, line: int | None) -> None:
    """Create ``folder`` (with its missing parents), write and delete a probe file in it, and
    remove the folders created, so nothing is left behind.

    Raises:
        ProjectError: a part of the path is a regular file, or the folder cannot be created or
            written (``/proc``, a read-only filesystem, no permission), naming ``key``.
    """
    target = Path(folder)
    missing, existing = [], target
    while not existing.exists() and existing != existing.parent:
        missing.append(existing)
        existing = existing.parent
    name = key.rpartition(".")[2]
    if not existing.is_dir():
        raise ProjectError(f"{name} {folder!r} cannot be created: {str(existing)!r} is a file", file=file, key=key,
                           line=line, hint="choose a folder path, or move that file away")
    created = []
    try:
        for part in reversed(missing):
            part.mkdir()
            created.append(part)
        probe = target / f".lmtui-probe-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise ProjectError(f"{name} {folder!r} cannot be written: {exc.strerror or exc}", file=file, key=key,
                           line=line, hint="choose a folder on a writable filesystem where you may write") from None
    finally:
        for part in reversed(created):
            try:
                part.rmdir()
            except OSError:
                pass


def check_folders(project, text: str = "") -> None:
    """``output_dir`` is not a file, and the output and cache folders are writable (:func:`check_writable`).

    Raises:
        ProjectError: naming ``project.output_dir`` (or ``project.cache_dir``) and its line.
    """
    file = project.path or "<project>"
    out = Path(output_dir(project))
    if out.exists() and not out.is_dir():
        raise ProjectError(f"output_dir {str(out)!r} is a file", file=file, key="project.output_dir",
                           line=line_of(text, "project", "output_dir"),
                           hint="choose a folder path, or move that file away")
    check_writable(output_dir(project), file=file, key="project.output_dir",
                   line=line_of(text, "project", "output_dir"))
    cache_line = line_of(text, "project", "cache_dir") or line_of(text, "project", "output_dir")
    check_writable(cache_dir(project), file=file,
                   key="project.cache_dir" if project.project.cache_dir else "project.output_dir", line=cache_line)
