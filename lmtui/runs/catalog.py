"""Where the projects and runs are: the folders the UI and `lmtui runs` look in.

Projects: every ``*.toml`` under ``./projects`` (and under folders given on the command line;
files given by name too), skipping hidden folders and run directories (their frozen
``project.toml``). Runs: run directories under ``./runs``, under the ``output_dir`` of every
project found, and under (or at) the paths given on the command line. Plain Python.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from lmtui.errors import LmtuiError
from lmtui.project.load import load_project
from lmtui.project.paths import output_dir
from lmtui.project.schema import Project
from lmtui.runs.rundir import RunDir, list_runs

SCAN_DEPTH = 3
SKIP_FILES = {"pyproject.toml"}


@dataclass
class ProjectEntry:
    """One project file and what validating it gave.

    Attributes:
        path: absolute path of the file.
        project: the loaded project (also when only the consistency check failed), or None.
        error: the validation error (file, key, line, message, hint), or None when valid.
        mtime: the file's modification time when it was read.
    """

    path: Path
    project: Project | None
    error: LmtuiError | None
    mtime: float

    @property
    def name(self) -> str:
        return self.project.project.name if self.project else self.path.stem

    @property
    def valid(self) -> bool:
        return self.error is None


def _listed(path: Path) -> Project:
    """The project at ``path`` with the checks a project list can afford on every refresh: the
    file's own rules, and its corpus files found (:func:`lmtui.data.sources.project_sources`,
    no file read); the rest is :mod:`lmtui.checks`', run by `lmtui check` and every launch."""
    from lmtui.data.sources import project_sources

    project = load_project(path)
    project_sources(project, path.read_text(encoding="utf-8"))
    return project


def load_entry(path: Path) -> ProjectEntry:
    """Validate the project file at ``path`` for a project list (:func:`_listed`: its own rules and
    its corpus files found); never raises."""
    try:
        mtime = path.stat().st_mtime
    except OSError:
        mtime = 0.0
    try:
        return ProjectEntry(path, _listed(path), None, mtime)
    except LmtuiError as exc:
        try:
            project = load_project(path, check=False)
        except LmtuiError:
            project = None
        return ProjectEntry(path, project, exc, mtime)
    except Exception as exc:  # an unexpected failure still shows as this file's error
        return ProjectEntry(path, None, LmtuiError(f"{type(exc).__name__}: {exc}", file=str(path)), mtime)


def find_project_files(root: Path, depth: int = SCAN_DEPTH) -> list[Path]:
    """``*.toml`` files below ``root`` (``depth`` folders deep), outside hidden folders and run directories."""
    out = []
    root = root.resolve()
    for folder, dirs, files in os.walk(root):
        rel = Path(folder).relative_to(root)
        if "run.json" in files:
            dirs[:] = []
            continue
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and len(rel.parts) < depth)
        out.extend(Path(folder) / f for f in sorted(files) if f.endswith(".toml") and f not in SKIP_FILES)
    return out


class Catalog:
    """The projects and runs reachable from the working directory and the command line.

    Args:
        paths: command-line paths: project files, folders of projects or runs, run directories.
        cwd: the working directory (``./projects`` and ``./runs`` are looked up there).
    """

    def __init__(self, paths: list[str] | None = None, cwd: str | os.PathLike | None = None):
        self.cwd = Path(cwd or Path.cwd()).resolve()
        self.project_files: list[Path] = []
        self.project_roots: list[Path] = []
        self.run_roots: list[Path] = []
        for raw in paths or []:
            p = (self.cwd / raw).resolve()
            if p.is_file():
                self.project_files.append(p)
            elif (p / "run.json").is_file():
                self.run_roots.append(p)
            else:
                self.project_roots.append(p)
                self.run_roots.append(p)
        default_projects = self.cwd / "projects"
        if default_projects not in self.project_roots:
            self.project_roots.insert(0, default_projects)
        self._entries: dict[Path, ProjectEntry] = {}

    @property
    def projects_dir(self) -> Path:
        """Where new projects are written: the first project folder (``./projects`` by default)."""
        return self.project_roots[0]

    def display_path(self, path: str | os.PathLike) -> str:
        """``path`` relative to the working directory when it lies below it, else absolute."""
        p = Path(path)
        try:
            return str(p.resolve().relative_to(self.cwd))
        except ValueError:
            return str(p)

    def project_paths(self) -> list[Path]:
        seen, out = set(), []
        for p in self.project_files + [f for root in self.project_roots if root.is_dir()
                                       for f in find_project_files(root)]:
            if p not in seen:
                seen.add(p)
                out.append(p)
        return out

    def projects(self) -> list[ProjectEntry]:
        """Every project file, validated; a file is read again only when its modification time changed."""
        entries = []
        for path in self.project_paths():
            try:
                mtime = path.stat().st_mtime
            except OSError:
                continue
            entry = self._entries.get(path)
            if entry is None or entry.mtime != mtime:
                entry = self._entries[path] = load_entry(path)
            entries.append(entry)
        return entries

    def forget(self, path: Path) -> None:
        """Drop the cached validation of ``path`` (after it was edited within the same second)."""
        self._entries.pop(Path(path).resolve(), None)

    def run_search_dirs(self) -> list[Path]:
        """./runs, every known project's output_dir, and the command-line folders, without repeats."""
        dirs = [self.cwd / "runs"]
        for entry in self._entries.values() or self.projects():
            if entry.project is not None:
                try:
                    dirs.append(Path(output_dir(entry.project)))
                except LmtuiError:
                    continue
        dirs.extend(self.run_roots)
        seen, out = set(), []
        for d in dirs:
            d = d.resolve()
            if d not in seen:
                seen.add(d)
                out.append(d)
        return out

    def runs(self) -> list[RunDir]:
        """Every run directory found, newest first."""
        found: dict[Path, RunDir] = {}
        for d in self.run_search_dirs():
            if (d / "run.json").is_file():
                found.setdefault(d, RunDir(d))
            for run in list_runs(d):
                found.setdefault(run.path, run)
        return sorted(found.values(), key=lambda r: r.read_state().get("created", 0), reverse=True)
