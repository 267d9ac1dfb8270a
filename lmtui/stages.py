"""The stages of a run, in order: tokenizer, dataset, pretrain, evaluate, publish.

Each :class:`Stage` has a ``name``, ``wanted(project)`` (does this project ask for it),
``done(run, project)`` (its output exists for the same inputs, so the driver skips it and says
so in events) and ``run(run, project)``. The driver (:mod:`lmtui.driver`) walks
:data:`STAGES`; a stage writes its outputs into the run directory and its progress as events.

- tokenizer: train one (or load ``[tokenizer] path`` / the ``init_from`` model's), cached by
  fingerprint and copied to ``<run>/tokenizer``; it always runs, since the cache check is
  cheap and the ``tokenizer`` event starts every session's log.
- dataset: the memory-mapped token cache (:mod:`lmtui.data.token_cache`), same.
- pretrain: ``accelerate launch -m lmtui.train.pretrain`` as a child in the driver's process
  group (:mod:`lmtui.train.launch`); done when the final model exists and pretraining ended
  ``finished``.
- evaluate (:mod:`lmtui.evaluation.stage`) when ``[eval]`` asks for more than perplexity;
  it skips the parts whose results are current itself.
- publish (:mod:`lmtui.hub.stage`) when ``[hub] push_at_end`` is set.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from dataclasses import dataclass
from typing import Callable

from lmtui.errors import LmtuiError
from lmtui.evaluation import stage as evaluate_stage
from lmtui.fsutil import atomic_folder
from lmtui.hub import stage as publish_stage
from lmtui.procs import wait_group
from lmtui.runs.rundir import RunDir


class Stopped(Exception):
    """The run was asked to stop (SIGINT/SIGTERM reached the driver, or the trainer stopped)."""


@dataclass(frozen=True)
class Stage:
    """One step of the pipeline (see the module docstring)."""

    name: str
    wanted: Callable[[object], bool]
    done: Callable[[RunDir, object], bool]
    run: Callable[[RunDir, object], None]


def always(project) -> bool:
    return True


def never_done(run: RunDir, project) -> bool:
    return False


def _log(message: str) -> None:
    print(message, flush=True)


def run_tokenizer(run: RunDir, project) -> None:
    """Prepare the project's tokenizer and copy it into the run (kept once checkpoints exist)."""
    from transformers import AutoTokenizer

    from lmtui.data.fingerprint import file_digest
    from lmtui.data.tokenizer import prepare_tokenizer

    folder, cached = prepare_tokenizer(project, log=_log)
    current = run.tokenizer_dir / "tokenizer.json"
    # A run keeps the tokenizer its checkpoints were trained with; before the first checkpoint
    # it follows the project (the corpus may have been fixed after a failed start).
    if current.is_file() and not run.checkpoints() and file_digest(current) != file_digest(folder / "tokenizer.json"):
        shutil.rmtree(run.tokenizer_dir)
    if not current.is_file():
        with atomic_folder(run.tokenizer_dir, ".tmp-tokenizer") as tmp:
            shutil.copytree(folder, tmp, dirs_exist_ok=True)
    tokenizer = AutoTokenizer.from_pretrained(run.tokenizer_dir)
    preview_file = folder / "preview.json"
    if preview_file.is_file():
        pieces = json.loads(preview_file.read_text())
    else:
        from lmtui.data.corpus import corpus_documents
        from lmtui.data.tokenizer import preview

        pieces = preview(tokenizer, corpus_documents(project)[0])
    for row in pieces:
        _log("tokenizer preview: " + " ".join(row))
    pretrained = bool(project.tokenizer.path or project.model.init_from)
    run.emit("tokenizer", kind="pretrained" if pretrained else project.tokenizer.kind,
             vocab_size=len(tokenizer), cached=cached, path=str(folder), preview=pieces)


def run_dataset(run: RunDir, project) -> None:
    """Build (or find cached) the token cache and record it in run.json's ``dataset_dir``."""
    from lmtui.data.token_cache import prepare_dataset

    t0 = time.perf_counter()
    folder, meta, cached = prepare_dataset(project, run.tokenizer_dir, log=_log)
    run.update_state(dataset_dir=str(folder))
    L = project.training.max_seq_length
    run.emit("dataset", cached=cached, seconds=round(time.perf_counter() - t0, 3), fingerprint=folder.name,
             train_tokens=meta["train_tokens"], validation_tokens=meta["validation_tokens"],
             train_sequences=meta["train_documents"] if project.training.line_by_line else meta["train_tokens"] // L,
             validation_sequences=(meta["validation_documents"] if project.training.line_by_line
                                   else max(1, meta["validation_tokens"] // L)),
             documents=meta["documents"], corpus_bytes=meta["corpus_bytes"], corpus_files=meta["corpus_files"],
             invalid_utf8_lines=meta["invalid_utf8_lines"])
    if meta["invalid_utf8_lines"]:
        _log(f"warning: {meta['invalid_utf8_lines']} corpus lines had invalid UTF-8 (replaced)")


def pretrain_done(run: RunDir, project=None) -> bool:
    """Whether pretraining finished: the final model exists and a ``train_end`` says finished."""
    end = run.last_event("train_end")
    return run.model_dir.joinpath("config.json").is_file() and bool(end) and end.get("status") == "finished"


def run_pretrain(run: RunDir, project) -> None:
    """Start the trainer in this process group and wait for all of it.

    Raises:
        Stopped: the trainer stopped on request (after writing its checkpoint).
        LmtuiError: it exited before finishing.
    """
    from lmtui.train.launch import launch_command

    cmd = launch_command(project, run.path)
    _log("$ " + " ".join(cmd))
    env = dict(os.environ, PYTHONUNBUFFERED="1", TOKENIZERS_PARALLELISM="false")
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, env=env)
    code = wait_group(proc, keep_waiting_on=(Stopped,))
    end = run.last_event("train_end")
    if end and end.get("status") == "stopped":
        raise Stopped("stop requested")
    if not pretrain_done(run):
        raise LmtuiError(f"pretraining exited with code {code} before finishing",
                         file=str(run.log_file), hint="read the end of train.log for the cause")


STAGES: tuple[Stage, ...] = (
    Stage("tokenizer", always, never_done, run_tokenizer),
    Stage("dataset", always, never_done, run_dataset),
    Stage("pretrain", always, pretrain_done, run_pretrain),
    Stage("evaluate", evaluate_stage.wanted, never_done, evaluate_stage.run_stage),
    Stage("publish", publish_stage.wanted, never_done, publish_stage.run_stage),
)
