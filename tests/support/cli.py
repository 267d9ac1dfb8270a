"""The CLI as a user runs it, project files written for the tests, and reading a run's results.

``REPO`` is this repository, ``DATA`` the test data generated from Python's own text
(:mod:`support.textdata`).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from support.textdata import DATA

REPO = Path(__file__).resolve().parents[2]


def lmtui(*args: str, cwd: Path | None = None, timeout: float = 600, env: dict | None = None,
          check: bool = False) -> subprocess.CompletedProcess:
    """Run the `lmtui` command line as a user would (a subprocess); returns the completed process."""
    full_env = dict(os.environ, PYTHONUNBUFFERED="1", **(env or {}))
    proc = subprocess.run([sys.executable, "-m", "lmtui", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, env=full_env)
    if check and proc.returncode != 0:
        raise AssertionError(f"lmtui {' '.join(args)} exited {proc.returncode}\n{proc.stdout}\n{proc.stderr}")
    return proc


def wait_for(predicate, timeout: float = 300, what: str = "the condition", poll: float = 0.2):
    """Call ``predicate`` every ``poll`` seconds until it returns a true value, and return that value.

    Raises:
        AssertionError: ``timeout`` seconds passed first (the message names ``what``).
    """
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(poll)


def write_project(folder: Path, name: str, body: str) -> Path:
    """Write ``folder/name.toml`` with ``body`` (dedented) and return its path."""
    path = folder / f"{name}.toml"
    path.write_text(textwrap.dedent(body).lstrip())
    return path


def prose_bert_project(folder: Path, name: str = "wikibert", *, max_steps: int = 40, logging_steps: int = 5,
                          save_steps: int = 10, extra: str = "") -> Path:
    """A BERT + WordPiece project on the docstring prose (train on prose/train.txt, validate on prose/valid.txt), tiny model."""
    return write_project(folder, name, f"""
        [project]
        name = "{name}"
        output_dir = "runs"

        [corpus]
        train_files = ["{DATA}/prose/train.txt"]
        validation_files = ["{DATA}/prose/valid.txt"]

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
