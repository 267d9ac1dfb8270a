"""Import hygiene: what the UI and the CLI load at start-up, and which package imports which.

The start-up checks import in a fresh interpreter (``subprocess``), so ``sys.modules`` holds
only what that import pulled in. The layering checks read the source with ``ast`` and import
nothing. Each checker is also run on a small fake package written to ``tmp_path``, so every
rule is shown to fail on a breach.

Rules:
- ``import lmtui.tui.app`` and ``import lmtui.cli`` (building its parser) load neither torch,
  numpy (the app) nor transformers; ``lmtui.hardware`` loads no Textual;
- ``lmtui/commands`` imports nothing of ``lmtui.tui`` but ``lmtui.tui.app``, anywhere in a file;
- ``lmtui/runs`` and ``lmtui/project`` never import ``textual`` or ``lmtui.tui``;
- no import cycle among lmtui modules at module level (imports inside functions run late and
  ``if TYPE_CHECKING:`` blocks never run, so neither counts);
- no ``importlib.import_module`` (nor ``__import__``): in-package modules are imported plainly.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
import textwrap
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PACKAGE = REPO / "lmtui"
HEAVY = ("torch", "numpy", "transformers")


# --- start-up imports, in a fresh interpreter ---------------------------------------------


def loaded_after(statement: str, watched: tuple[str, ...], path: Path = REPO) -> list[str]:
    """The top-level modules of ``watched`` in ``sys.modules`` after running ``statement`` in a
    fresh interpreter started in ``path`` (put first on ``sys.path``)."""
    code = (f"import sys\nsys.path.insert(0, {str(path)!r})\n{statement}\n"
            f"import json\nprint(json.dumps(sorted(m for m in {list(watched)!r} if m in sys.modules)))")
    proc = subprocess.run([sys.executable, "-c", code], cwd=path, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_the_tui_app_imports_no_torch_numpy_or_transformers():
    assert loaded_after("import lmtui.tui.app", HEAVY) == []


def test_the_cli_parser_imports_no_torch_or_transformers():
    assert loaded_after("import lmtui.cli\nlmtui.cli.build_parser()", ("torch", "transformers")) == []


def test_the_hardware_readings_import_no_textual_and_no_torch():
    assert loaded_after("import lmtui.hardware", ("textual", "torch")) == []


def test_loaded_after_sees_a_heavy_import(tmp_path):
    (tmp_path / "fake_app.py").write_text("import json\nimport numpy\n")
    assert loaded_after("import fake_app", HEAVY, tmp_path) == ["numpy"]


# --- the import graph, read from the source ----------------------------------------------


def modules(root: Path) -> dict[str, Path]:
    """Dotted module name -> file, for every ``.py`` under package folder ``root`` (a package's
    ``__init__.py`` is named by the package; a folder without one is a namespace package)."""
    out = {}
    for path in sorted(root.rglob("*.py")):
        parts = path.relative_to(root.parent).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def _package_of(name: str, path: Path) -> str:
    return name if path.name == "__init__.py" else name.rpartition(".")[0]


def _targets(node: ast.Import | ast.ImportFrom, package: str, known: dict) -> list[str]:
    """The modules an import statement loads: ``import a.b`` -> a.b; ``from a import b`` -> a.b
    when that is a module of ``known``, else a (relative imports resolved against ``package``)."""
    if isinstance(node, ast.Import):
        return [a.name for a in node.names]
    base = node.module or ""
    if node.level:
        parts = package.split(".")
        parts = parts[: len(parts) - node.level + 1]
        base = ".".join(parts + ([base] if base else []))
    out = []
    for alias in node.names:
        sub = f"{base}.{alias.name}"
        out.append(sub if sub in known else base)
    return out


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _load_time_imports(body: list[ast.stmt]):
    """Import statements that run when the module is imported: everything outside function
    bodies, except the ``if TYPE_CHECKING:`` branch."""
    for stmt in body:
        if isinstance(stmt, (ast.Import, ast.ImportFrom)):
            yield stmt
        elif isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        elif isinstance(stmt, ast.If) and _is_type_checking(stmt.test):
            yield from _load_time_imports(stmt.orelse)
        else:
            for field in ("body", "orelse", "finalbody", "handlers", "cases"):
                inner = getattr(stmt, field, None)
                if inner:
                    yield from _load_time_imports(inner)


def imports(root: Path, *, load_time_only: bool) -> dict[str, list[tuple[str, int]]]:
    """Module -> [(imported module, line)] for every module under ``root``; ``load_time_only``
    keeps the imports that run at import time, else every import statement in the file."""
    known = modules(root)
    out = {}
    for name, path in known.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        nodes = (_load_time_imports(tree.body) if load_time_only
                 else (n for n in ast.walk(tree) if isinstance(n, (ast.Import, ast.ImportFrom))))
        package = _package_of(name, path)
        out[name] = [(t, node.lineno) for node in nodes for t in _targets(node, package, known)]
    return out


def _within(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def layering_breaches(root: Path) -> list[str]:
    """``file:line: imports X`` for each import that breaks the layering rules (module docstring)."""
    pkg, files = root.name, modules(root)
    found = []
    for module, targets in imports(root, load_time_only=False).items():
        for target, line in targets:
            where = f"{files[module].relative_to(root.parent)}:{line}"
            if _within(module, f"{pkg}.commands") and _within(target, f"{pkg}.tui") \
                    and not _within(target, f"{pkg}.tui.app"):
                found.append(f"{where}: imports {target}")
            if (_within(module, f"{pkg}.runs") or _within(module, f"{pkg}.project")) \
                    and (_within(target, "textual") or target.startswith("textual_") or _within(target, f"{pkg}.tui")):
                found.append(f"{where}: imports {target}")
    return found


def import_cycles(root: Path) -> list[list[str]]:
    """The strongly connected components (Tarjan 1972) of more than one module, or of one module
    importing itself, in the graph of load-time imports between modules under ``root``."""
    known = modules(root)
    graph = {m: sorted({t for t, _ in ts if t in known}) for m, ts in imports(root, load_time_only=True).items()}
    index, low, on_stack, stack, cycles = {}, {}, set(), [], []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while not component or component[-1] != v:
                component.append(stack.pop())
                on_stack.discard(component[-1])
            if len(component) > 1 or v in graph[v]:
                cycles.append(sorted(component))

    for v in graph:
        if v not in index:
            visit(v)
    return cycles


def dynamic_imports(root: Path) -> list[str]:
    """``file:line`` of each ``importlib.import_module``, ``import_module`` or ``__import__`` call."""
    found = []
    for path in modules(root).values():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call):
                func = node.func
                name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
                if name in ("import_module", "__import__"):
                    found.append(f"{path.relative_to(root.parent)}:{node.lineno}: {name}")
    return found


def test_commands_runs_and_project_respect_the_layers():
    assert layering_breaches(PACKAGE) == []


def test_no_import_cycle_at_module_level():
    assert import_cycles(PACKAGE) == []


def test_no_dynamic_imports():
    assert dynamic_imports(PACKAGE) == []


# --- the checkers on a fake package ------------------------------------------------------


def fake_package(tmp_path: Path, files: dict[str, str]) -> Path:
    """Write ``files`` (path under the package -> source) as package ``pkg`` in ``tmp_path``."""
    root = tmp_path / "pkg"
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    return root


def test_layering_breaches_are_found_at_module_level_and_inside_functions(tmp_path):
    root = fake_package(tmp_path, {
        "__init__.py": "",
        "tui/__init__.py": "",
        "tui/app.py": "",
        "tui/screen.py": "",
        "commands/ok.py": "from pkg.tui.app import run\nfrom pkg.tui import app\n",
        "commands/bad.py": "def f():\n    from pkg.tui.screen import S\n",
        "runs/__init__.py": "from ..tui import app\n",
        "project/bad.py": "def g():\n    import textual.app\n",
    })
    assert sorted(layering_breaches(root)) == [
        "pkg/commands/bad.py:2: imports pkg.tui.screen",
        "pkg/project/bad.py:2: imports textual.app",
        "pkg/runs/__init__.py:1: imports pkg.tui.app",
    ]


def test_cycles_count_load_time_imports_only(tmp_path):
    root = fake_package(tmp_path, {
        "__init__.py": "",
        "a.py": "from pkg import b\n",
        "b.py": "try:\n    from pkg.c import x\nexcept ImportError:\n    pass\n",
        "c.py": "import pkg.a\n",
        "d.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg.e import y\n",
        "e.py": "from pkg.d import z\ndef late():\n    from pkg import e\n",
    })
    assert import_cycles(root) == [["pkg.a", "pkg.b", "pkg.c"]]


def test_dynamic_imports_are_found(tmp_path):
    root = fake_package(tmp_path, {
        "__init__.py": "",
        "a.py": "import importlib\nm = importlib.import_module('pkg.b')\n",
        "b.py": "from importlib import import_module\n\ndef f():\n    return __import__('json')\n",
    })
    assert dynamic_imports(root) == ["pkg/a.py:2: import_module", "pkg/b.py:4: __import__"]
