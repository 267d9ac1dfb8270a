"""Where a project's files are: relative paths, placeholders, the run and cache folders.

Paths in a project file are relative to the project file's folder; ``~`` and the
``{stdlib}`` / ``{purelib}`` placeholders are expanded. Plain Python (no lmtui imports at
run time), so every layer can use it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from lmtui.project.schema import Project


def expand_placeholders(pattern: str) -> str:
    """Replace ``{stdlib}`` / ``{purelib}`` by this Python's standard-library / site-packages folder."""
    if "{" not in pattern:
        return pattern
    import sysconfig

    paths = sysconfig.get_paths()
    return pattern.replace("{stdlib}", paths["stdlib"]).replace("{purelib}", paths["purelib"])


def project_dir(project: Project) -> Path:
    """The folder relative paths of ``project`` resolve against (its file's folder, else the cwd)."""
    return Path(project.path).parent if project.path else Path.cwd()


def resolve_path(project: Project, value: str) -> str:
    """``value`` with ``~`` expanded, made absolute against the project file's folder."""
    p = Path(os.path.expanduser(expand_placeholders(value)))
    return str(p if p.is_absolute() else (project_dir(project) / p).resolve())


def output_dir(project: Project) -> str:
    """Absolute folder holding this project's run directories."""
    return resolve_path(project, project.project.output_dir)


def cache_dir(project: Project) -> str:
    """Absolute folder of the shared tokenizer/token caches."""
    if project.project.cache_dir:
        return resolve_path(project, project.project.cache_dir)
    return str(Path(output_dir(project)) / "cache")
