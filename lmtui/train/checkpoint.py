"""The trainer's state and its checkpoints: ``checkpoints/step-N/`` and the final ``model/``.

A checkpoint holds accelerate's state (model, optimizer, scheduler, every rank's random states:
``Accelerator.save_state``), the Hugging Face model + tokenizer under ``model/`` and
``trainer_state.json`` (:class:`TrainState`). It is written as ``.tmp-step-N`` and renamed, so
a folder with ``trainer_state.json`` is complete (see docs/events.md).
"""

from __future__ import annotations

import json
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path

from lmtui.fsutil import atomic_folder, atomic_write_json, replace_folder
from lmtui.runs.rundir import RunDir
from lmtui.train.model import parameter_counts

STATE_FILE = "trainer_state.json"


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


def resume(accelerator, run: RunDir, max_steps: int) -> TrainState:
    """Load the newest complete checkpoint into ``accelerator``'s prepared objects; its state, or a fresh one."""
    checkpoints = run.checkpoints()
    if not checkpoints:
        return TrainState(max_steps=max_steps)
    _, last = checkpoints[-1]
    accelerator.load_state(str(last))
    state = TrainState.from_json(json.loads((last / STATE_FILE).read_text()), max_steps)
    print(f"resumed from {last} at step {state.step}", flush=True)
    return state


def save_checkpoint(accelerator, run: RunDir, objective, tokenizer, state: TrainState, keep: int) -> Path:
    """Write ``checkpoints/step-N`` atomically (temporary folder + rename), keep the newest ``keep``
    and emit ``checkpoint``. Every rank calls it (each saves its random states)."""
    step = state.step
    final = run.checkpoints_dir / f"step-{step}"
    tmp = run.checkpoints_dir / f".tmp-step-{step}"
    if accelerator.is_main_process:
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
    accelerator.wait_for_everyone()
    accelerator.save_state(str(tmp))
    accelerator.wait_for_everyone()  # every rank has written its files (random_states_<rank>.pkl) before the rename
    if accelerator.is_main_process:
        model = accelerator.unwrap_model(objective).model
        model.save_pretrained(tmp / "model", safe_serialization=True)
        tokenizer.save_pretrained(tmp / "model")
        atomic_write_json(tmp / STATE_FILE, state.to_json())
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
