"""Run directories for the UI tests, written through the documented writer API.

Each run is what a worker writes (docs/events.md): run.json through ``RunDir.update_state``
and events through ``RunDir.emit``, with the clock fixed so that times, elapsed and ETA are
the same on every machine. A "running" run belongs to a live process (this test process or
a child), a "crashed" one to a process that has exited.
"""

from __future__ import annotations

import math
import subprocess
import sys
import textwrap
from pathlib import Path
from unittest import mock

import psutil

from lmtui.hardware import HardwareSample
from lmtui.runs.rundir import RunDir

NOW = 1_800_000_000.0  # the tests' fixed "now" (2027-01-15)

PROJECT_TOML = textwrap.dedent("""
    [project]
    name = "{name}"
    output_dir = "{out}"

    [corpus]
    train_files = ["{corpus}"]

    [tokenizer]
    kind = "byte_level_bpe"
    vocab_size = 1000

    [model]
    architecture = "roberta"
    size = "tiny"

    [training]
    max_seq_length = 64
    batch_size = 16
    micro_batch_size = 16
    max_steps = {max_steps}
    logging_steps = 10
    eval_steps = 50
    save_steps = 100

    [hardware]
    device = "cpu"
""").lstrip()


class Clock:
    """A settable clock for the writer API (time.time while a run is being written)."""

    def __init__(self, t: float):
        self.t = t

    def __call__(self) -> float:
        return self.t


def fixed_hardware() -> HardwareSample:
    return HardwareSample(gpus=[], cpu_percent=37.0, memory_used=6 << 30, memory_total=16 << 30)


def dead_pid() -> tuple[int, float]:
    """A pid whose process has exited (and its start time), for a crashed run."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    start = psutil.Process(proc.pid).create_time()
    proc.wait()
    return proc.pid, start


def write_run(root: Path, run_id: str, *, project: str = "demo", status: str = "finished", steps: int = 200,
              max_steps: int = 200, start: float = NOW - 3600, step_seconds: float = 2.0, corpus: str | None = None,
              error: str | None = None, pid: int | None = None, pid_start_time: float | None = None,
              log_lines: int = 40, loss0: float = 9.0) -> RunDir:
    """Write a run directory as a worker would: project.toml, run.json, events.jsonl, train.log.

    The run trains ``steps`` of ``max_steps`` steps (a train event every 10, an eval every 50,
    a checkpoint every 100), then ends with ``status``; ``running``/``queued`` leave it open.
    """
    clock = Clock(start)
    run = RunDir(root / run_id)
    run.path.mkdir(parents=True)
    corpus = corpus or str(root / "corpus.txt")
    run.project_file.write_text(PROJECT_TOML.format(name=project, out=root, corpus=corpus, max_steps=max_steps))
    log = []
    with mock.patch("time.time", clock):
        run.update_state(version=1, run_id=run_id, project_name=project, project_path=str(root / f"{project}.toml"),
                         status="queued", stage=None, created=start, host="gpu-box")
        run.update_state(status="running", pid=pid, pid_start_time=pid_start_time, started=start)
        run.emit("run_start", run_id=run_id, resumed=False, host="gpu-box")
        for stage in ("tokenizer", "dataset"):
            run.update_state(stage=stage)
            run.emit("stage", stage=stage, state="start")
            clock.t += 1.5
            if stage == "tokenizer":
                run.emit("tokenizer", kind="byte_level_bpe", vocab_size=1000, cached=False,
                         preview=[["<s>", "The", "Ġmodel", "</s>"]])
            else:
                run.emit("dataset", cached=False, seconds=1.5, train_tokens=250_000, validation_tokens=12_000,
                         train_sequences=3900, validation_sequences=180, documents=2600, invalid_utf8_lines=0,
                         fingerprint="0" * 32)
            run.emit("stage", stage=stage, state="done", seconds=1.5)
        run.update_state(stage="pretrain")
        run.emit("stage", stage="pretrain", state="start")
        run.emit("train_start", max_steps=max_steps, start_step=0, batch_size=16, micro_batch_size=16,
                 gradient_accumulation_steps=1, num_processes=1, device="cuda", mixed_precision="bf16",
                 params=1_247_680, non_embedding_params=419_904, tokens_per_step=1024)
        log.append(f"training RobertaForMaskedLM (1.25M parameters) on cuda x1, steps 0->{max_steps}")
        t0 = clock.t
        for step in range(10, steps + 1, 10):
            clock.t = t0 + step * step_seconds
            loss = 2.0 + (loss0 - 2.0) * math.exp(-step / 60) + 0.15 * math.sin(step / 7)
            lr = 1e-3 * min(1.0, step / 20) * (1 - step / (max_steps + 1))
            run.emit("train", step=step, max_steps=max_steps, epoch=step / 240, loss=round(loss, 5), learning_rate=lr,
                     grad_norm=1.1, tokens=step * 1024, tokens_per_s=5000.0 + 40 * (step % 50), elapsed_s=step * 2.0,
                     eta_s=(max_steps - step) * step_seconds)
            log.append(f"step {step}/{max_steps} loss {loss:.4f} lr {lr:.2e} 5,000 tok/s")
            if step % 50 == 0:
                ev = loss + 0.2
                run.emit("eval", step=step, loss=round(ev, 5), perplexity=round(math.exp(ev), 4), accuracy=0.3,
                         tokens=4000)
            if step % 100 == 0:
                ckpt = run.checkpoints_dir / f"step-{step}"
                ckpt.mkdir(parents=True)
                (ckpt / "trainer_state.json").write_text('{"step": %d}' % step)
                run.emit("checkpoint", step=step, path=str(ckpt))
        run.update_state(step=steps, max_steps=max_steps, device="cuda")
        log.extend(f"detail line {i}" for i in range(max(0, log_lines - len(log))))
        if status in ("finished", "failed", "stopped"):
            clock.t += 3
            ended = {"finished": {"metrics": {"loss": 2.3, "perplexity": 9.97, "accuracy": 0.31}},
                     "failed": {"error": error or "RuntimeError: CUDA out of memory"}, "stopped": {}}[status]
            if status == "stopped":
                run.emit("stopping", signal="SIGINT")
            run.emit("end", status=status, **ended)
            run.update_state(status=status, ended=clock.t, exit_code=0 if status != "failed" else 1,
                             error=ended.get("error"), stage=None if status == "finished" else "pretrain")
            log.append(f"run {status}")
    run.log_file.write_text("\n".join(log) + "\n")
    return run
