"""Shared fixtures: the real data folder beside the repo, project files, and a trained tiny run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DATA = (REPO.parent / "shared" / "data").resolve()


def lmtui(*args: str, cwd: Path | None = None, timeout: float = 600, env: dict | None = None,
          check: bool = False) -> subprocess.CompletedProcess:
    """Run the `lmtui` command line as a user would (a subprocess); returns the completed process."""
    full_env = dict(os.environ, PYTHONUNBUFFERED="1", **(env or {}))
    proc = subprocess.run([sys.executable, "-m", "lmtui", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, env=full_env)
    if check and proc.returncode != 0:
        raise AssertionError(f"lmtui {' '.join(args)} exited {proc.returncode}\n{proc.stdout}\n{proc.stderr}")
    return proc


def write_project(folder: Path, name: str, body: str) -> Path:
    """Write ``folder/name.toml`` with ``body`` (dedented) and return its path."""
    path = folder / f"{name}.toml"
    path.write_text(textwrap.dedent(body).lstrip())
    return path


def wikitext_bert_project(folder: Path, name: str = "wikibert", *, max_steps: int = 40, logging_steps: int = 5,
                          save_steps: int = 10, extra: str = "") -> Path:
    """A BERT + WordPiece project on WikiText-2 (train on test.txt, validate on valid.txt), tiny model."""
    return write_project(folder, name, f"""
        [project]
        name = "{name}"
        output_dir = "runs"

        [corpus]
        train_files = ["{DATA}/wikitext-2/test.txt"]
        validation_files = ["{DATA}/wikitext-2/valid.txt"]

        [tokenizer]
        kind = "wordpiece"
        vocab_size = 4000
        lowercase = true

        [model]
        architecture = "bert"
        size = "tiny"
        config_overrides = {{ hidden_size = 64, num_attention_heads = 2, intermediate_size = 128 }}

        [training]
        max_seq_length = 64
        batch_size = 32
        micro_batch_size = 16
        max_steps = {max_steps}
        learning_rate = 2e-3
        warmup_steps = 5
        logging_steps = {logging_steps}
        eval_steps = 20
        save_steps = {save_steps}
        max_eval_samples = 128
        {extra}
    """)


def events(run_dir: Path, type_: str | None = None) -> list[dict]:
    out = [json.loads(line) for line in (run_dir / "events.jsonl").read_text().splitlines() if line.strip()]
    return [e for e in out if type_ is None or e["type"] == type_]


def only_run(output_dir: Path) -> Path:
    runs = [p for p in output_dir.iterdir() if (p / "run.json").is_file()]
    assert len(runs) == 1, runs
    return runs[0]


@pytest.fixture(scope="session")
def data_dir() -> Path:
    if not DATA.is_dir():
        pytest.fail(f"the shared test data is missing: {DATA} (it sits beside the repository)")
    return DATA


@pytest.fixture(scope="session")
def trained_run(tmp_path_factory, data_dir) -> Path:
    """A finished `lmtui run` of the WikiText-2 BERT project (tiny model): its run directory."""
    folder = tmp_path_factory.mktemp("trained")
    project = wikitext_bert_project(folder)
    proc = lmtui("run", str(project), cwd=folder)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return only_run(folder / "runs")


def pytest_collection_modifyitems(config, items):
    """Tests that share the trained run go to one xdist worker (`--dist loadgroup`), so it trains once."""
    for item in items:
        if "trained_run" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.xdist_group("trained_run"))
