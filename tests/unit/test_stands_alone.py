"""The repository stands alone: nothing a user clones may need a folder beside it.

A clone has no workshop folder beside it (the development machine's data and scripts): the package, the
tests, the README, docs/ and projects/ must not name it, and `.ci/run` runs the tests from a
copy of the repository in a folder with nothing beside it, so such a dependency fails in CI.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from support.cli import REPO

# Written in pieces so that this file does not name what it looks for.
FORBIDDEN = re.compile("|".join(re.escape(s) for s in (".." + "/shared", "shared" + "/data", "shared" + "/bench")))
CHECKED = ("lmtui", "tests", "docs", "projects", "README.md", "pyproject.toml", ".ci")
SKIPPED_DIRS = {"__pycache__", ".pytest_cache", "__snapshots__"}


def _files() -> list[Path]:
    out = []
    for name in CHECKED:
        path = REPO / name
        if path.is_file():
            out.append(path)
        elif path.is_dir():
            out += [p for p in sorted(path.rglob("*")) if p.is_file() and not SKIPPED_DIRS & set(p.parts)
                    and ".egg-info" not in str(p)]
    return out


def test_no_file_of_the_package_tests_docs_or_projects_names_the_workshop_folder():
    found = []
    for path in _files():
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
        found += [f"{path.relative_to(REPO)}:{text.count(chr(10), 0, m.start()) + 1}: {m.group()}"
                  for m in FORBIDDEN.finditer(text)]
    assert not found, "these lines name a folder outside the repository:\n" + "\n".join(found)


def test_the_guard_sees_a_file_that_names_it(tmp_path):
    probe = ".." + "/shared" + "/data/x.txt"
    assert FORBIDDEN.search(f'train_files = ["{probe}"]')
    assert len(_files()) > 100 and Path(__file__) in _files()


def test_ci_runs_the_tests_from_a_copy_with_nothing_beside_it():
    ci = (REPO / ".ci" / "run").read_text(encoding="utf-8")
    copy, cd, tests = ci.index("cp --parents"), ci.index('cd "$WORK/lmtui"'), ci.index(" -m pytest ")
    assert copy < cd < tests and 'mktemp -d' in ci
    assert subprocess.run(["bash", "-n", str(REPO / ".ci" / "run")]).returncode == 0
