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
- the layers (:data:`LAYERS`, docs/architecture.md): a module imports modules of its own layer
  or below only, anywhere in its file (function-local imports count: they run all the same;
  ``if TYPE_CHECKING:`` blocks never run, so they do not). A module's layer is that of the
  longest prefix listed, so ``lmtui.runs.launcher`` sits above :mod:`lmtui.checks` while the rest
  of ``lmtui.runs`` sits below it;
- ``lmtui/project`` (the project file alone) imports no lmtui module but its own and
  ``errors``, ``fsutil``, ``fmt`` and ``numbers``;
- no import cycle among lmtui modules, drawn from every import (module-level and function-local);
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


def _all_imports(node: ast.AST):
    """Every import statement under ``node``, inside functions and classes too, except in the
    ``if TYPE_CHECKING:`` branch (which never runs)."""
    for child in ast.iter_child_nodes(node):
        if isinstance(child, (ast.Import, ast.ImportFrom)):
            yield child
        elif isinstance(child, ast.If) and _is_type_checking(child.test):
            for stmt in child.orelse:
                yield from _all_imports(ast.Module(body=[stmt], type_ignores=[]))
        else:
            yield from _all_imports(child)


def imports(root: Path, *, load_time_only: bool) -> dict[str, list[tuple[str, int]]]:
    """Module -> [(imported module, line)] for every module under ``root``; ``load_time_only``
    keeps the imports that run at import time, else every import statement in the file that
    can run (function-local ones included, ``if TYPE_CHECKING:`` blocks left out)."""
    known = modules(root)
    out = {}
    for name, path in known.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        nodes = _load_time_imports(tree.body) if load_time_only else _all_imports(tree)
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


# The layers, lowest first (docs/architecture.md). A module's layer is that of the longest
# prefix listed; a module may import modules of its own layer or a lower one only.
LAYERS = (
    ("lmtui", "lmtui.errors", "lmtui.fsutil", "lmtui.fmt", "lmtui.numbers", "lmtui.state", "lmtui.procs",
     "lmtui.hardware"),
    ("lmtui.project",),                                        # the project file alone
    ("lmtui.train", "lmtui.data", "lmtui.runs"),              # rundir, queue, events, catalog, modelref ...
    ("lmtui.hub", "lmtui.evaluation", "lmtui.distill"),       # features, each with its own checks
    ("lmtui.checks",),                                         # check(project) -> problems
    # the launch path, the stage walker, the processes
    ("lmtui.runs.launcher", "lmtui.runs.sweep", "lmtui.runs.controller", "lmtui.driver", "lmtui.stages",
     "lmtui.train.pretrain", "lmtui.train.launch", "lmtui.scaling", "lmtui.bench"),
    ("lmtui.cli", "lmtui.__main__", "lmtui.commands", "lmtui.tui", "lmtui.scaling.node"),  # entry points
)

# What lmtui/project may import besides its own modules.
PROJECT_MAY_IMPORT = ("lmtui.errors", "lmtui.fsutil", "lmtui.fmt", "lmtui.numbers")


def layer_of(module: str, layers=LAYERS) -> int | None:
    """The index in ``layers`` of the longest prefix naming ``module`` (None: not placed); the
    package's own name (no dot) names its ``__init__`` only."""
    best = None
    for i, names in enumerate(layers):
        for name in names:
            named = module == name if "." not in name else _within(module, name)
            if named and (best is None or len(name) > best[1]):
                best = (i, len(name))
    return best[0] if best else None


def _rename(layers, pkg: str):
    return tuple(tuple(pkg + n[len("lmtui"):] for n in names) for names in layers)


def layer_breaches(root: Path, layers=LAYERS) -> list[str]:
    """``file:line: LAYER module imports X from layer N`` for each import (anywhere in the file, not
    under ``if TYPE_CHECKING:``) of a module of a higher layer, and ``file: not in a layer`` for a
    module no layer names. ``layers`` name the package ``lmtui``; they are renamed to ``root``'s."""
    layers = _rename(layers, root.name)
    files, found = modules(root), []
    for module, targets in imports(root, load_time_only=False).items():
        own = layer_of(module, layers)
        if own is None:
            found.append(f"{files[module].relative_to(root.parent)}: not in a layer")
            continue
        for target, line in targets:
            theirs = layer_of(target, layers) if target in files else None
            if theirs is not None and theirs > own:
                found.append(f"{files[module].relative_to(root.parent)}:{line}: layer {own} module imports "
                             f"{target} from layer {theirs}")
    return found


def project_breaches(root: Path, allowed=PROJECT_MAY_IMPORT) -> list[str]:
    """``file:line: imports X`` for each import in ``<root>/project`` of a module of the package
    outside ``project`` and ``allowed`` (named for ``lmtui``, renamed to ``root``'s)."""
    pkg = root.name
    allowed = tuple(pkg + a[len("lmtui"):] for a in allowed)
    files, found = modules(root), []
    for module, targets in imports(root, load_time_only=False).items():
        if not _within(module, f"{pkg}.project"):
            continue
        for target, line in targets:
            if _within(target, pkg) and target != pkg and not _within(target, f"{pkg}.project") \
                    and not any(_within(target, a) for a in allowed):
                found.append(f"{files[module].relative_to(root.parent)}:{line}: imports {target}")
    return found


def import_cycles(root: Path) -> list[list[str]]:
    """The strongly connected components (Tarjan 1972) of more than one module in the graph of
    every import between modules under ``root``
    (function-local ones included: a late import still ties the two modules together)."""
    known = modules(root)
    graph = {m: sorted({t for t, _ in ts if t in known and t != m})
             for m, ts in imports(root, load_time_only=False).items()}
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
            if len(component) > 1:
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


def test_no_import_cycle_from_any_import():
    assert import_cycles(PACKAGE) == []


def test_every_module_imports_only_its_layer_or_below():
    assert layer_breaches(PACKAGE) == []


def test_the_project_package_imports_only_the_bottom_modules():
    assert project_breaches(PACKAGE) == []


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


def test_cycles_count_every_import_but_type_checking_ones(tmp_path):
    root = fake_package(tmp_path, {
        "__init__.py": "",
        "a.py": "from pkg import b\n",
        "b.py": "try:\n    from pkg.c import x\nexcept ImportError:\n    pass\n",
        "c.py": "import pkg.a\n",
        "d.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg.e import y\n",
        "e.py": "from pkg.d import z\ndef late():\n    from pkg import e\n",
        "f.py": "class K:\n    def late(self):\n        if True:\n            from pkg import g\n",
        "g.py": "import pkg.f\n",
    })
    assert sorted(import_cycles(root)) == [["pkg.a", "pkg.b", "pkg.c"], ["pkg.f", "pkg.g"]]


def test_layer_breaches_are_found_anywhere_in_a_file_and_by_the_longest_prefix(tmp_path):
    root = fake_package(tmp_path, {
        "__init__.py": "",
        "errors.py": "",
        "numbers.py": "",
        "project/__init__.py": "",
        "project/load.py": "from pkg.errors import E\nfrom pkg import numbers\n",
        "project/bad.py": "def f():\n    from pkg.runs import rundir\n",
        "runs/__init__.py": "",
        "runs/rundir.py": "from pkg.project import load\n",
        "runs/launcher.py": "from pkg.checks import check\n",
        "runs/queue.py": "def f():\n    from pkg.runs.launcher import launch\n",
        "checks/__init__.py": "from pkg.runs import rundir\nfrom typing import TYPE_CHECKING\n"
                              "if TYPE_CHECKING:\n    from pkg.cli import main\n",
        "cli.py": "from pkg.runs.launcher import launch\n",
        "stray.py": "",
    })
    assert sorted(layer_breaches(root)) == [
        "pkg/project/bad.py:2: layer 1 module imports pkg.runs.rundir from layer 2",
        "pkg/runs/queue.py:2: layer 2 module imports pkg.runs.launcher from layer 5",
        "pkg/stray.py: not in a layer",
    ]
    assert sorted(project_breaches(root)) == ["pkg/project/bad.py:2: imports pkg.runs.rundir"]


def test_dynamic_imports_are_found(tmp_path):
    root = fake_package(tmp_path, {
        "__init__.py": "",
        "a.py": "import importlib\nm = importlib.import_module('pkg.b')\n",
        "b.py": "from importlib import import_module\n\ndef f():\n    return __import__('json')\n",
    })
    assert dynamic_imports(root) == ["pkg/a.py:2: import_module", "pkg/b.py:4: __import__"]
