"""The pretraining loop, run under ``accelerate launch -m lmtui.train.pretrain RUN_DIR``.

Reads like nanoGPT's train.py or litgpt's ``fit``: :func:`main` opens the run, makes the
accelerator, the data, the model with AdamW and its schedule, resumes, then :func:`fit` loops
over :func:`train_step` (accumulate, clip, step, schedule), logging every N steps, evaluating
every N (:func:`evaluate`) and checkpointing every N (:mod:`lmtui.train.checkpoint`).
accelerate handles devices, mixed precision and data-parallel processes; only rank 0 writes
events.

Resume: the newest complete checkpoint (``checkpoints/step-N/trainer_state.json`` present) is
loaded with ``Accelerator.load_state`` and training continues at step N with the same data
order and masks (see :mod:`lmtui.data.batches`) and the checkpoint's :class:`TrainState`.

Stop: SIGINT or SIGTERM sets a flag; after the optimizer step under way the ranks agree on it
(one all-reduce per step with several processes), write a checkpoint, emit ``train_end`` with
status ``stopped`` and exit 0.

Failure: an exception that ends a rank is recorded as a ``train_error`` event
(:func:`report_error`: its class, message, and file and key when known) before the traceback
goes to train.log and the process exits 1; the driver reports it as the run's error.
"""

from __future__ import annotations

import itertools
import math
import os
import signal
import sys
import time
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

if __name__ == "__main__":  # a stop while torch loads ends the trainer quietly; the driver reports "stopped"
    signal.signal(signal.SIGINT, lambda signum, frame: sys.exit(128 + signum))
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))

import torch

from lmtui.data.batches import CHUNK_COST, MaskingConfig, Sequences, TrainStream, eval_batches
from lmtui.data.token_cache import TokenCache
from lmtui.distill.init import build_distillation
from lmtui.distill.loss import component_means
from lmtui.project.load import parse_project
from lmtui.runs.rundir import RunDir
from lmtui.train import tracking
from lmtui.train.checkpoint import TrainState, resume, save_checkpoint, save_final_model
from lmtui.train.devices import cpu_threads, resolve_mixed_precision, uses_cpu
from lmtui.train.flops import flops_per_token, gpu_peak_flops
from lmtui.train.model import (MaskedLMObjective, attention_kernel, build_model, parameter_counts, perplexity,
                               select_attention)
from lmtui.train.optim import pretraining_optimizer, schedule

STOP = {"requested": False}
DEVICE_KEYS = ("input_ids", "positions", "targets", "attention_mask")  # what the trainer's forward reads


def _request_stop(signum, frame):
    STOP["requested"] = True


def die_with_launcher() -> None:
    """Ask Linux to kill this process when its launcher dies.

    torchrun (also behind ``accelerate launch --multi_gpu``) starts every rank in a session of
    its own, out of reach of the run's process group: without this, killing a run (``lmtui stop
    --force``, a crash of the driver) would leave its ranks training as orphans. Only for ranks
    of torchrun's agent (``TORCHELASTIC_RUN_ID``), which signals its ranks and waits for them on
    a stop: a single-process ``accelerate launch`` exits on SIGINT before its child has written
    the stop checkpoint.
    """
    if not sys.platform.startswith("linux") or "TORCHELASTIC_RUN_ID" not in os.environ:
        return
    import ctypes

    launcher = os.getppid()
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # 1 = PR_SET_PDEATHSIG
    if os.getppid() != launcher:  # the launcher died before the request took effect
        os._exit(1)


def total_steps(tr, num_sequences: int) -> int:
    """``max_steps``, or the steps of ``epochs`` passes over ``num_sequences`` at ``batch_size``."""
    if tr.max_steps:
        return tr.max_steps
    return max(1, math.ceil(tr.epochs * num_sequences / tr.batch_size))


def peak_memory(device: torch.device) -> dict:
    """Peak resident memory of this process in MiB and, on CUDA, the peak memory allocated by torch."""
    import resource

    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux, bytes on macOS
    out = {"peak_rss_mb": round(rss / (2 ** 20 if sys.platform == "darwin" else 1024), 1)}
    if device.type == "cuda":
        out["peak_gpu_memory_mb"] = round(torch.cuda.max_memory_allocated(device) / 2 ** 20, 1)
    return out


@dataclass
class StepResult:
    """One optimizer step of one process: ``loss_sum`` (0-dim, detached, on the device) is the sum
    over its ``micro_batches`` of each micro-batch's mean masked-token loss; ``tokens`` its real
    tokens; ``grad_norm`` the total gradient norm before clipping (None without clipping)."""

    loss_sum: torch.Tensor
    micro_batches: int
    tokens: int
    grad_norm: torch.Tensor | None


def objective_loss(objective, accuracy: bool = False) -> Callable[[dict], torch.Tensor]:
    """A chunk's mean masked-token loss through :class:`MaskedLMObjective` (the head on masked positions only)."""
    return lambda c: objective(c["input_ids"], c["targets"], c["attention_mask"], c["positions"],
                               accuracy=accuracy)[0]


def train_step(micro_batches: Iterator[dict], accumulation: int, loss_of: Callable[[dict], torch.Tensor],
               optimizer, *, model, device, max_grad_norm: float, accelerator=None, scheduler=None,
               autocast: Callable = nullcontext) -> StepResult:
    """One optimizer step: forward and backward over ``accumulation`` micro-batches and their chunks, clip, step.

    ``micro_batches`` yields :class:`lmtui.data.batches.TrainStream` micro-batches (``chunks``,
    ``num_tokens``, ``num_targets``); each chunk's :data:`DEVICE_KEYS` go to ``device`` and
    ``loss_of(chunk)`` (inside ``autocast()``) gives its mean loss. A chunk's loss is weighted by
    its share of the micro-batch's masked tokens and by 1/``accumulation``, so the gradients add
    up to the gradient of the mean over micro-batches of each one's mean loss. With
    ``accelerator``: its ``backward`` (loss scaling, mixed precision), gradient all-reduce only on
    the last backward (``no_sync(model)`` before), its ``clip_grad_norm_``; without: plain torch.
    Clips ``model``'s gradients to ``max_grad_norm`` (0: no clipping), steps ``optimizer`` and
    ``scheduler`` (when given) and zeroes the gradients.
    """
    backward = accelerator.backward if accelerator is not None else torch.Tensor.backward
    loss_sum = torch.zeros((), device=device)
    tokens = 0
    for k in range(accumulation):
        batch = next(micro_batches)
        tokens += batch["num_tokens"]
        chunks = batch["chunks"]
        for c, chunk in enumerate(chunks):
            weight = len(chunk["targets"]) / max(batch["num_targets"], 1)
            chunk = {key: v.to(device, non_blocking=True) if key in DEVICE_KEYS and v is not None else v
                     for key, v in chunk.items()}
            sync = accelerator is None or (k == accumulation - 1 and c == len(chunks) - 1)
            with nullcontext() if sync else accelerator.no_sync(model):
                with autocast():
                    loss = loss_of(chunk)
                backward(loss * (weight / accumulation))
            loss_sum += loss.detach() * weight
    grad_norm = None
    if max_grad_norm:
        clip = accelerator.clip_grad_norm_ if accelerator is not None else torch.nn.utils.clip_grad_norm_
        grad_norm = clip(model.parameters(), max_grad_norm)
    optimizer.step()
    if scheduler is not None:
        scheduler.step()
    optimizer.zero_grad(set_to_none=True)
    return StepResult(loss_sum, accumulation, tokens, grad_norm)


def agree(accelerator, stop_requested: bool, tokens: int) -> tuple[bool, int]:
    """After a step, what every rank agrees on: whether any rank was asked to stop, and the real
    tokens of all ranks' micro-batches. One all-reduce of two int64 with several processes."""
    if accelerator.num_processes == 1:
        return stop_requested, tokens
    flag, total = accelerator.reduce(torch.tensor([int(stop_requested), tokens], device=accelerator.device),
                                     reduction="sum").tolist()
    return flag > 0, total


def evaluate(objective, accelerator, sequences, masking, tr) -> dict:
    """Held-out MLM loss, perplexity and masked-token accuracy with a fixed masking seed."""
    objective.eval()
    loss_sum = torch.zeros((), device=accelerator.device, dtype=torch.float64)
    correct = torch.zeros((), device=accelerator.device, dtype=torch.float64)
    count = torch.zeros((), device=accelerator.device, dtype=torch.float64)
    with torch.no_grad():
        for batch in eval_batches(sequences, masking, micro_batch_size=tr.micro_batch_size,
                                  max_samples=tr.max_eval_samples, rank=accelerator.process_index,
                                  world_size=accelerator.num_processes):
            b = {k: v.to(accelerator.device) for k, v in batch.items() if isinstance(v, torch.Tensor)}
            loss, ok, n = objective(b["input_ids"], b["labels"], b.get("attention_mask"))
            if n:
                loss_sum += loss.double() * n
                correct += ok
                count += n
    totals = accelerator.reduce(torch.stack([loss_sum, correct, count]), reduction="sum").tolist()
    objective.train()
    loss = totals[0] / max(totals[2], 1)
    return {"loss": round(loss, 5), "perplexity": round(perplexity(loss), 4),
            "accuracy": round(totals[1] / max(totals[2], 1), 5), "tokens": int(totals[2])}


@dataclass
class Training:
    """What :func:`main` builds for :func:`fit`: the run, the prepared model, optimizer and schedule, the data."""

    run: RunDir
    tr: object  # the project's [training] section
    accelerator: object
    tokenizer: object
    model: torch.nn.Module  # the Hugging Face *ForMaskedLM
    objective: torch.nn.Module  # MaskedLMObjective over it, prepared by accelerate
    optimizer: torch.optim.Optimizer
    scheduler: object
    max_steps: int
    warmup_steps: int
    masking: MaskingConfig
    train_seqs: Sequences
    valid_seqs: Sequences
    accumulation: int  # micro-batches per process per optimizer step

    def emit(self, type_: str, **fields) -> None:
        """An event in the run's events.jsonl, from rank 0 only."""
        if self.accelerator.is_main_process:
            self.run.emit(type_, **fields)


def build(run: RunDir, project, accelerator) -> Training:
    """Tokenizer, token-cache sequences, the model, AdamW and its schedule, prepared by ``accelerator``."""
    from transformers import AutoTokenizer

    tr = project.training
    tokenizer = AutoTokenizer.from_pretrained(run.tokenizer_dir)
    masking = MaskingConfig.from_tokenizer(tokenizer, tr)
    cache = Path(run.read_state()["dataset_dir"])
    end_id = tokenizer.sep_token_id
    train_seqs = Sequences(TokenCache(cache, "train"), tr.max_seq_length, tr.line_by_line, end_id, tr.packing)
    valid_seqs = Sequences(TokenCache(cache, "validation"), tr.max_seq_length, tr.line_by_line, end_id, tr.packing)
    max_steps = total_steps(tr, len(train_seqs))

    if project.distill.teacher:  # the student from the teacher, trained on the distillation loss
        objective = build_distillation(project, tokenizer, accelerator.device)
        model = objective.model
    else:
        model = build_model(project, tokenizer)
        objective = MaskedLMObjective(model, documents=train_seqs.documents)
    select_attention(model, train_seqs.documents, accelerator.device.type)
    if tr.compile:
        objective.encoder = torch.compile(objective.encoder)
    optimizer = pretraining_optimizer(model, tr, fused=accelerator.device.type in ("cuda", "cpu"))
    scheduler, warmup = schedule(optimizer, tr, max_steps)
    objective, optimizer = accelerator.prepare(objective, optimizer)
    accelerator.register_for_checkpointing(scheduler)
    return Training(run, tr, accelerator, tokenizer, model, objective, optimizer, scheduler, max_steps, warmup,
                    masking, train_seqs, valid_seqs,
                    accumulation=tr.batch_size // (tr.micro_batch_size * accelerator.num_processes))


def train_batches(t: Training, hw, step: int) -> Iterator[dict]:
    """This rank's micro-batches from optimizer step ``step`` on, loaded by ``dataloader_num_workers`` workers.

    The loader has a generator of its own (seeded with ``[training] seed``): starting its
    iterator draws a base seed from it, not from torch's global random state, which
    accelerate's ``load_state`` has just restored for dropout, so a resumed run is bit-exact
    with an uninterrupted one (the batches and masks come from their own seeds, see TrainStream).
    """
    accelerator = t.accelerator
    stream = TrainStream(t.train_seqs, t.masking, seed=t.tr.seed, batch_size=t.tr.batch_size,
                         micro_batch_size=t.tr.micro_batch_size, rank=accelerator.process_index,
                         world_size=accelerator.num_processes,
                         chunk_cost=CHUNK_COST.get(accelerator.device.type, CHUNK_COST["cuda"]))
    workers = hw.dataloader_num_workers
    return iter(torch.utils.data.DataLoader(
        stream, batch_size=None, sampler=itertools.count(step * t.accumulation), num_workers=workers,
        pin_memory=accelerator.device.type == "cuda", persistent_workers=workers > 0,
        prefetch_factor=4 if workers > 0 else None, generator=torch.Generator().manual_seed(t.tr.seed)))


def announce(t: Training, state: TrainState) -> tuple[float, float | None]:
    """Emit ``train_start`` and print the setup; returns (training FLOPs per token, GPU peak FLOP/s or None)."""
    tr, accelerator, world = t.tr, t.accelerator, t.accelerator.num_processes
    params, non_embedding = parameter_counts(t.model)
    fpt = flops_per_token(t.model, tr.max_seq_length, tr.mlm_probability)
    peak = gpu_peak_flops() if accelerator.device.type == "cuda" else None
    t.emit("train_start", max_steps=state.max_steps, start_step=state.step, batch_size=tr.batch_size,
           micro_batch_size=tr.micro_batch_size, gradient_accumulation_steps=t.accumulation, num_processes=world,
           device=str(accelerator.device), backend=accelerator.state.backend,
           mixed_precision=accelerator.mixed_precision, params=params, non_embedding_params=non_embedding,
           tokens_per_step=tr.batch_size * tr.max_seq_length,
           train_sequences=len(t.train_seqs), validation_sequences=len(t.valid_seqs), warmup_steps=t.warmup_steps,
           flops_per_token=fpt, peak_flops=peak, attention=attention_kernel(t.model, t.train_seqs.documents))
    print(f"training {type(t.model).__name__} ({params / 1e6:.2f}M parameters) on {accelerator.device} x{world}, "
          f"steps {state.step}->{state.max_steps}, batch {tr.batch_size} = {tr.micro_batch_size} x "
          f"{t.accumulation} accumulation x {world} processes ({accelerator.state.backend or 'no'} backend), "
          f"precision {accelerator.mixed_precision}, attention {attention_kernel(t.model, t.train_seqs.documents)}",
          flush=True)
    return fpt, peak


@dataclass
class Interval:
    """Sums over the steps since the last ``train`` event: this process's ``loss_sum`` over
    ``micro_batches``, and all processes' real ``tokens`` in ``seconds``."""

    loss_sum: torch.Tensor
    micro_batches: int = 0
    tokens: int = 0
    seconds: float = 0.0

    def add(self, out: StepResult, tokens: int, seconds: float) -> None:
        """Count one step: this process's ``out``, and ``tokens`` of all processes in ``seconds``."""
        self.loss_sum += out.loss_sum
        self.micro_batches += out.micro_batches
        self.tokens += tokens
        self.seconds += seconds


def log_train(t: Training, state: TrainState, interval: Interval, grad_norm, eta_rate: float, fpt: float,
              peak: float | None) -> None:
    """Emit the ``train`` event of ``interval`` (loss averaged over micro-batches and processes) and print it."""
    world = t.accelerator.num_processes
    loss = t.accelerator.reduce(interval.loss_sum / max(interval.micro_batches, 1), reduction="sum").item() / world
    tps = interval.tokens / max(interval.seconds, 1e-9)
    event = dict(step=state.step, max_steps=state.max_steps,
                 epoch=round(state.step * t.tr.batch_size / max(len(t.train_seqs), 1), 4),
                 loss=round(loss, 5), learning_rate=t.scheduler.get_last_lr()[0],
                 grad_norm=round(float(grad_norm), 4), tokens=state.tokens, tokens_per_s=round(tps, 1),
                 elapsed_s=round(state.train_seconds, 2), eta_s=round(eta_rate * (state.max_steps - state.step), 1))
    if peak:
        event["mfu"] = round(tps * fpt / (peak * world), 4)
    event.update(component_means(t.accelerator, t.objective))  # distillation: loss_ce, loss_mlm, loss_cos
    t.emit("train", **event)
    tracking.log(t.accelerator, tracking.metrics("train", event, tracking.TRAIN_FIELDS), state.step)
    print(f"step {state.step}/{state.max_steps} loss {event['loss']:.4f} lr {event['learning_rate']:.2e} "
          f"{tps:,.0f} tok/s", flush=True)


def log_eval(t: Training, step: int) -> None:
    """Evaluate on the validation sequences, emit ``eval`` and print it."""
    metrics = evaluate(t.objective, t.accelerator, t.valid_seqs, t.masking, t.tr)
    t.emit("eval", step=step, **metrics)
    tracking.log(t.accelerator, tracking.metrics("eval", metrics, tracking.EVAL_FIELDS), step)
    print(f"eval at step {step}: loss {metrics['loss']:.4f} perplexity {metrics['perplexity']:.2f} "
          f"accuracy {metrics['accuracy']:.2%}", flush=True)


def fit(t: Training, state: TrainState, batches: Iterator[dict], fpt: float, peak: float | None) -> str:
    """Train from ``state.step`` to ``state.max_steps``; returns "finished", or "stopped" on a stop request.

    ``state`` counts every step's tokens and seconds (evaluation excluded), so a checkpoint at any
    step carries exact counts. Logs every ``logging_steps``, evaluates every ``eval_steps`` (and
    at step 0 of a fresh run), checkpoints every ``save_steps``, and at the last step does all three.
    """
    tr, accelerator = t.tr, t.accelerator
    device = accelerator.device
    t.objective.train()
    loss_of = objective_loss(t.objective)
    if state.step == 0:
        log_eval(t, 0)
    interval = Interval(torch.zeros((), device=device))
    grad_norm = torch.zeros((), device=device)
    mark = session_start = time.perf_counter()  # throughput excludes evaluation
    session_start_step = state.step
    while state.step < state.max_steps:
        out = train_step(batches, t.accumulation, loss_of, t.optimizer, model=t.objective, device=device,
                         max_grad_norm=tr.max_grad_norm, accelerator=accelerator, scheduler=t.scheduler)
        stopped, tokens = agree(accelerator, STOP["requested"], out.tokens)
        now = time.perf_counter()
        state.advance(tokens, now - mark)
        interval.add(out, tokens, now - mark)
        mark = now
        grad_norm = grad_norm if out.grad_norm is None else out.grad_norm
        last = state.step == state.max_steps
        if state.step % tr.logging_steps == 0 or last:
            rate = (now - session_start) / max(state.step - session_start_step, 1)
            log_train(t, state, interval, grad_norm, rate, fpt, peak)
            interval = Interval(torch.zeros((), device=device))
        if state.step % tr.eval_steps == 0 or last:
            log_eval(t, state.step)
            mark = time.perf_counter()
        if stopped:
            t.emit("stopping", signal="SIGINT/SIGTERM")
            save_checkpoint(accelerator, t.run, t.objective, t.tokenizer, state, tr.save_total_limit)
            t.emit("train_end", status="stopped", step=state.step, **peak_memory(device))
            print(f"stopped at step {state.step}; checkpoint written", flush=True)
            return "stopped"
        if state.step % tr.save_steps == 0 or last:
            save_checkpoint(accelerator, t.run, t.objective, t.tokenizer, state, tr.save_total_limit)
    return "finished"


def main(run_path: str) -> int:
    """Train the run at ``run_path`` (its frozen project, tokenizer and token cache); 0 when finished or stopped."""
    from accelerate import Accelerator
    from accelerate.utils import set_seed
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    signal.signal(signal.SIGINT, _request_stop)
    signal.signal(signal.SIGTERM, _request_stop)
    run = RunDir(run_path)
    project = parse_project(run.project_file.read_text(encoding="utf-8"), str(run.project_file),
                            str(run.project_file))
    tr, hw = project.training, project.hardware

    cpu = uses_cpu(hw.device)
    if cpu:
        torch.set_num_threads(cpu_threads())
    accelerator = Accelerator(mixed_precision=resolve_mixed_precision(hw.mixed_precision, cpu), cpu=cpu,
                              **tracking.accelerator_options(project, run))
    if accelerator.device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    set_seed(tr.seed)

    t = build(run, project, accelerator)
    state = resume(accelerator, run, t.max_steps)
    batches = train_batches(t, hw, state.step)
    fpt, peak = announce(t, state)
    tracking.start(accelerator, run, project, purge_step=state.step + 1 if state.step else 0)
    if fit(t, state, batches, fpt, peak) == "stopped":
        accelerator.end_training()
        return 0

    save_final_model(accelerator, run, t.objective, t.tokenizer)
    final = run.last_event("eval") if accelerator.is_main_process else None
    t.emit("train_end", status="finished", step=state.step, **peak_memory(accelerator.device),
           metrics=final and {k: final[k] for k in ("loss", "perplexity", "accuracy")})
    accelerator.end_training()
    return 0


def report_error(run: RunDir, exc: Exception) -> None:
    """Emit ``train_error`` for the exception that ends this rank: ``exception`` (class name),
    ``message``, ``rank``, and the user-level cause when known: ``file``, ``key``, ``line`` and
    ``hint`` of an :class:`~lmtui.errors.LmtuiError`, the ``file`` of an ``OSError``. The driver
    (:func:`lmtui.stages.run_pretrain`) turns it into the run's error. When the event cannot be
    written (a full disk), the traceback in train.log is all there is."""
    from lmtui.errors import LmtuiError

    fields = {"exception": type(exc).__name__, "message": str(exc), "rank": int(os.environ.get("RANK", 0))}
    if isinstance(exc, LmtuiError):
        fields.update(message=exc.message, file=exc.file, key=exc.key, line=exc.line, hint=exc.hint)
    elif isinstance(exc, OSError) and exc.filename:
        fields["file"] = str(exc.filename)
    try:
        run.emit("train_error", **{k: v for k, v in fields.items() if v is not None})
    except OSError as write_error:
        print(f"could not record the error in {run.events_file}: {write_error}", file=sys.stderr, flush=True)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        print("usage: accelerate launch -m lmtui.train.pretrain RUN_DIR", file=sys.stderr)
        raise SystemExit(2)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    die_with_launcher()
    try:
        code = main(sys.argv[1])
    except Exception as exc:  # recorded for the run's error, then the traceback goes to train.log
        report_error(RunDir(sys.argv[1]), exc)
        raise
    raise SystemExit(code)
