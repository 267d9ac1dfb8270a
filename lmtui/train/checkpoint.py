"""The trainer's state and its checkpoints: ``checkpoints/step-N/`` and the final ``model/``.

A checkpoint holds accelerate's state (model, optimizer, scheduler, every rank's random states:
``Accelerator.save_state``), the Hugging Face model + tokenizer under ``model/`` and
``trainer_state.json`` (:class:`TrainState`). It is written as ``.tmp-step-N`` and renamed, so
a folder with ``trainer_state.json`` is complete (see docs/events.md).

``manifest.json`` records the byte size and BLAKE2b digest of every other file of the
checkpoint (as the token cache's ``meta.json`` does). :func:`resume` checks them and skips a
checkpoint damaged after it was written (a full disk, a copy cut short): it is moved to
``checkpoints/invalid-step-N``, named in a ``checkpoint_invalid`` event and a warning, and the
next older intact one is loaded. A checkpoint without a manifest (written before it was kept)
is loaded unchecked.
"""

from __future__ import annotations

import json
import logging
import shutil
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

from lmtui.data.fingerprint import file_digest
from lmtui.fsutil import atomic_folder, atomic_write_json, replace_folder
from lmtui.runs.rundir import RunDir
from lmtui.train.model import parameter_counts

STATE_FILE = "trainer_state.json"
MANIFEST_FILE = "manifest.json"


@dataclass
class TrainState:
    """Where training stands after ``step`` optimizer steps; ``trainer_state.json`` holds it whole.

    ``tokens``: real (non-padding) training tokens of all processes in those steps;
    ``train_seconds``: wall-clock seconds of those steps, evaluation excluded; ``max_steps``: the
    run's step count. Both counters grow at every step (:meth:`advance`), so a checkpoint written
    at any step carries exact counts.
    """

    step: int = 0
    tokens: int = 0
    train_seconds: float = 0.0
    max_steps: int = 0

    def advance(self, tokens: int, seconds: float) -> None:
        """Count one optimizer step of ``tokens`` real tokens that took ``seconds``."""
        self.step += 1
        self.tokens += tokens
        self.train_seconds += seconds

    def to_json(self) -> dict:
        return {**asdict(self), "train_seconds": round(self.train_seconds, 3)}

    @classmethod
    def from_json(cls, saved: dict, max_steps: int) -> "TrainState":
        """The state in ``saved`` (a ``trainer_state.json``), continuing towards ``max_steps``.

        Checkpoints written before ``train_seconds`` was kept resume with 0 seconds.
        """
        return cls(step=int(saved["step"]), tokens=int(saved["tokens"]),
                   train_seconds=float(saved.get("train_seconds", 0.0)), max_steps=max_steps)


def write_manifest(folder: Path) -> dict:
    """Write ``folder/manifest.json``: ``{"files": {relative path: {"bytes", "digest"}}}`` for every
    file under ``folder`` but the manifest (digest: :func:`lmtui.data.fingerprint.file_digest`)."""
    files = {p.relative_to(folder).as_posix(): {"bytes": p.stat().st_size, "digest": file_digest(p)}
             for p in sorted(folder.rglob("*")) if p.is_file() and p.name != MANIFEST_FILE}
    manifest = {"version": 1, "files": files}
    atomic_write_json(folder / MANIFEST_FILE, manifest)
    return manifest


def checkpoint_problem(folder: Path) -> str | None:
    """What is wrong with the checkpoint ``folder`` against its manifest, or None when every
    recorded file has its size and digest (or there is no manifest: an older checkpoint)."""
    from lmtui.state import StateError, object_check, read_json_state

    try:
        manifest = read_json_state(folder / MANIFEST_FILE, object_check({}, {"files": dict}), what=MANIFEST_FILE,
                                   fix="the checkpoint is set aside")
        if manifest is not None and (folder / STATE_FILE).exists():
            read_json_state(folder / STATE_FILE, object_check(), what=STATE_FILE, fix="the checkpoint is set aside")
    except StateError as exc:
        return exc.message
    if manifest is None:
        return None
    for name, info in manifest.get("files", {}).items():
        if not isinstance(info, dict) or not isinstance(info.get("bytes"), int) or not isinstance(info.get("digest"), str):
            return f"{MANIFEST_FILE} records {name!r} as {info!r}, not {{bytes, digest}}"
        path = folder / name
        try:
            size = path.stat().st_size
            if size != info["bytes"]:
                return f"{name} has {size} bytes, {info['bytes']} were written"
            if file_digest(path) != info["digest"]:
                return f"{name} does not match its digest"
        except OSError as exc:
            return f"{name} is unreadable ({exc.strerror or exc})"
    return None


def resume(accelerator, run: RunDir, max_steps: int) -> TrainState:
    """Load the newest intact checkpoint into ``accelerator``'s prepared objects; its state, or a
    fresh one when there is none.

    Every rank checks the checkpoints itself (:func:`checkpoint_problem`), newest first; the main
    process moves a damaged one to ``invalid-step-N``, emits ``checkpoint_invalid`` and prints a
    warning. A checkpoint another rank has just moved away reads as unreadable, so every rank
    loads the same one.
    """
    for step, folder in reversed(run.checkpoints()):
        problem = checkpoint_problem(folder)
        if problem is None:
            accelerator.load_state(str(folder))
            state = TrainState.from_json(json.loads((folder / STATE_FILE).read_text()), max_steps)
            print(f"resumed from {folder} at step {state.step}", flush=True)
            return state
        if accelerator.is_main_process:
            _set_aside(run, step, folder, problem)
    return TrainState(max_steps=max_steps)


def _set_aside(run: RunDir, step: int, folder: Path, problem: str) -> None:
    """Move the damaged checkpoint ``folder`` to ``invalid-step-N`` (kept for a look, out of
    :meth:`RunDir.checkpoints`), emit ``checkpoint_invalid`` and a warning ``log`` event, print it."""
    moved = folder.with_name(f"invalid-{folder.name}")
    shutil.rmtree(moved, ignore_errors=True)
    folder.rename(moved)
    message = f"warning: checkpoint {folder} is damaged ({problem}); moved to {moved.name}, not resumed from"
    print(message, flush=True)
    run.emit("checkpoint_invalid", step=step, path=str(folder), moved_to=str(moved), problem=problem)
    run.emit("log", level="warning", message=message)


class _SharedTensorFilter(logging.Filter):
    """Drops accelerate's "Removed shared tensor {...} while saving" warning."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "Removed shared tensor" not in record.getMessage()  # accelerate may prefix "[RANK n] "


@contextmanager
def _expected_shared_tensors():
    """Silence accelerate's "Removed shared tensor" warning (a few kilobytes per checkpoint in
    train.log) for the block. It is expected for :class:`lmtui.train.model.MaskedLMObjective`:
    the objective registers the encoder and MLM head of the model it wraps under second names
    (``encoder.*``, ``head.*`` beside ``model.*``) and the decoder is tied to the word
    embeddings, so ``accelerate.utils.other.clean_state_dict_for_safetensors`` keeps one copy
    of each shared tensor, and ``load_state`` fills every name again through the same modules."""
    target = logging.getLogger("accelerate.utils.other")
    quiet = _SharedTensorFilter()
    target.addFilter(quiet)
    try:
        yield
    finally:
        target.removeFilter(quiet)


def save_checkpoint(accelerator, run: RunDir, objective, tokenizer, state: TrainState, keep: int) -> Path:
    """Write ``checkpoints/step-N`` atomically (temporary folder + rename) with its manifest
    (:func:`write_manifest`, once every rank has written its files), keep the newest ``keep``
    and emit ``checkpoint``. Every rank calls it (each saves its random states)."""
    step = state.step
    final = run.checkpoints_dir / f"step-{step}"
    tmp = run.checkpoints_dir / f".tmp-step-{step}"
    if accelerator.is_main_process:
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
    accelerator.wait_for_everyone()
    with _expected_shared_tensors():
        accelerator.save_state(str(tmp))
    accelerator.wait_for_everyone()  # every rank has written its files (random_states_<rank>.pkl) before the rename
    if accelerator.is_main_process:
        model = accelerator.unwrap_model(objective).model
        model.save_pretrained(tmp / "model", safe_serialization=True)
        tokenizer.save_pretrained(tmp / "model")
        atomic_write_json(tmp / STATE_FILE, state.to_json())
        write_manifest(tmp)
        replace_folder(tmp, final)
        for _, old in run.checkpoints()[:-keep]:
            shutil.rmtree(old, ignore_errors=True)
        run.emit("checkpoint", step=step, path=str(final))
    accelerator.wait_for_everyone()
    return final


def save_final_model(accelerator, run: RunDir, objective, tokenizer) -> int:
    """Save the Hugging Face model + tokenizer to ``model/`` atomically, emit ``model``; returns the parameter count."""
    model = accelerator.unwrap_model(objective).model
    params = parameter_counts(model)[0]
    if accelerator.is_main_process:
        with atomic_folder(run.model_dir, ".tmp-model") as tmp:
            model.save_pretrained(tmp, safe_serialization=True)
            tokenizer.save_pretrained(tmp)
        run.emit("model", path=str(run.model_dir), params=params)
    accelerator.wait_for_everyone()
    return params
