"""docs/events.md lists only run.json keys that some part of lmtui writes."""

from __future__ import annotations

import ast
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

# Values named in the run.json paragraph that are not keys: statuses, stages and eval's kind.
VALUES = {"queued", "running", "finished", "failed", "stopped", "pruned", "crashed", "tokenizer", "dataset", "pretrain",
          "evaluate", "publish", "eval", ".lock"}


def _written_keys() -> set[str]:
    """The keyword names of every ``update_state(...)`` call in the package."""
    keys = set()
    for path in (REPO / "lmtui").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "update_state":
                keys.update(k.arg for k in node.keywords if k.arg)
    return keys | {"updated"}  # set by update_state itself


def test_every_documented_run_json_key_is_written():
    text = (REPO / "docs" / "events.md").read_text(encoding="utf-8")
    section = text.split("## run.json", 1)[1].split("\n## ", 1)[0]
    paragraph = section.split("Training progress", 1)[0]
    documented = set(re.findall(r"`([a-z_.]+)`", paragraph)) - VALUES
    assert documented - _written_keys() == set()
