"""The pretraining loop, run under ``accelerate launch -m lmtui.train.pretrain RUN_DIR``.

Reads top to bottom like nanoGPT's train.py: settings from the run's frozen project, data from
the memory-mapped token cache, the model, AdamW and its schedule, then the loop (accumulate,
clip, step, log every N, evaluate every N, checkpoint every N). accelerate handles devices,
mixed precision and data-parallel processes; only rank 0 writes events.

Resume: the newest complete checkpoint (``checkpoints/step-N/trainer_state.json`` present) is
loaded with ``Accelerator.load_state`` and training continues at step N with the same data
order and masks (see :mod:`lmtui.data.batches`).

Stop: SIGINT or SIGTERM sets a flag; at the next step boundary the worker writes a checkpoint,
emits ``train_end`` with status ``stopped`` and exits 0.
"""

from __future__ import annotations

import itertools
import json
import math
import os
import shutil
import signal
import sys
import time
from contextlib import nullcontext
from pathlib import Path

import torch

from lmtui.data.batches import CHUNK_COST, MaskingConfig, Sequences, TrainStream, eval_batches
from lmtui.data.token_cache import TokenCache
from lmtui.fsutil import atomic_folder, atomic_write_json, replace_folder
from lmtui.project.load import parse_project
from lmtui.runs.rundir import RunDir
from lmtui.train.devices import resolve_mixed_precision, uses_cpu
from lmtui.train.model import (MaskedLMObjective, build_model, flops_per_token, gpu_peak_flops, parameter_counts,
                               perplexity)

STOP = {"requested": False}


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


def make_optimizer(model, tr, fused: bool):
    """AdamW with decoupled weight decay, none on biases and normalisation weights."""
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        (no_decay if p.ndim < 2 or "norm" in name.lower() else decay).append(p)
    groups = [{"params": decay, "weight_decay": tr.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=tr.learning_rate, betas=(tr.adam_beta1, tr.adam_beta2),
                             eps=tr.adam_epsilon, fused=fused)


def peak_memory(device: torch.device) -> dict:
    """Peak resident memory of this process in MiB and, on CUDA, the peak memory allocated by torch."""
    import resource

    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux, bytes on macOS
    out = {"peak_rss_mb": round(rss / (2 ** 20 if sys.platform == "darwin" else 1024), 1)}
    if device.type == "cuda":
        out["peak_gpu_memory_mb"] = round(torch.cuda.max_memory_allocated(device) / 2 ** 20, 1)
    return out


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


def save_checkpoint(accelerator, run: RunDir, objective, tokenizer, state: dict, keep: int) -> Path:
    """Write ``checkpoints/step-N`` atomically (temporary folder + rename) and prune old ones."""
    step = state["step"]
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
        atomic_write_json(tmp / "trainer_state.json", state)
        replace_folder(tmp, final)
        for _, old in run.checkpoints()[:-keep]:
            shutil.rmtree(old, ignore_errors=True)
        run.emit("checkpoint", step=step, path=str(final))
    accelerator.wait_for_everyone()
    return final


def save_final_model(accelerator, run: RunDir, objective, tokenizer) -> int:
    """Save the Hugging Face model + tokenizer to ``model/`` atomically; returns the parameter count."""
    model = accelerator.unwrap_model(objective).model
    params = parameter_counts(model)[0]
    if accelerator.is_main_process:
        with atomic_folder(run.model_dir, ".tmp-model") as tmp:
            model.save_pretrained(tmp, safe_serialization=True)
            tokenizer.save_pretrained(tmp)
        run.emit("model", path=str(run.model_dir), params=params)
    accelerator.wait_for_everyone()
    return params


def main(run_path: str) -> int:
    from accelerate import Accelerator
    from accelerate.utils import set_seed
    from transformers import AutoTokenizer, get_scheduler
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    signal.signal(signal.SIGINT, _request_stop)
    signal.signal(signal.SIGTERM, _request_stop)
    run = RunDir(run_path)
    project = parse_project(run.project_file.read_text(encoding="utf-8"), str(run.project_file),
                            str(run.project_file))
    tr, hw = project.training, project.hardware
    state = run.read_state()

    cpu = uses_cpu(hw.device)
    accelerator = Accelerator(mixed_precision=resolve_mixed_precision(hw.mixed_precision, cpu), cpu=cpu)
    world, rank = accelerator.num_processes, accelerator.process_index
    main_process = accelerator.is_main_process
    emit = run.emit if main_process else (lambda *a, **k: None)
    if accelerator.device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    set_seed(tr.seed)

    tokenizer = AutoTokenizer.from_pretrained(run.tokenizer_dir)
    masking = MaskingConfig.from_tokenizer(tokenizer, tr)
    cache = Path(state["dataset_dir"])
    end_id = tokenizer.sep_token_id
    train_seqs = Sequences(TokenCache(cache, "train"), tr.max_seq_length, tr.line_by_line, end_id)
    valid_seqs = Sequences(TokenCache(cache, "validation"), tr.max_seq_length, tr.line_by_line, end_id)
    max_steps = total_steps(tr, len(train_seqs))
    accumulation = tr.batch_size // (tr.micro_batch_size * world)

    model = build_model(project, tokenizer)
    params, non_embedding = parameter_counts(model)
    objective = MaskedLMObjective(model)
    if tr.compile:
        objective.encoder = torch.compile(objective.encoder)
    optimizer = make_optimizer(model, tr, fused=accelerator.device.type in ("cuda", "cpu"))
    warmup = tr.warmup_steps or int(tr.warmup_ratio * max_steps)
    scheduler = get_scheduler("constant_with_warmup" if tr.lr_scheduler == "constant" else tr.lr_scheduler,
                              optimizer, num_warmup_steps=warmup, num_training_steps=max_steps)
    objective, optimizer = accelerator.prepare(objective, optimizer)
    accelerator.register_for_checkpointing(scheduler)

    step, tokens_seen, train_seconds = 0, 0, 0.0
    checkpoints = run.checkpoints()
    if checkpoints:
        last_step, last = checkpoints[-1]
        accelerator.load_state(str(last))
        saved = json.loads((last / "trainer_state.json").read_text())
        step, tokens_seen, train_seconds = saved["step"], saved["tokens"], saved.get("train_seconds", 0.0)
        print(f"resumed from {last} at step {step}", flush=True)

    stream = TrainStream(train_seqs, masking, seed=tr.seed, batch_size=tr.batch_size,
                         micro_batch_size=tr.micro_batch_size, rank=rank, world_size=world,
                         chunk_cost=CHUNK_COST.get(accelerator.device.type, CHUNK_COST["cuda"]))
    loader = torch.utils.data.DataLoader(
        stream, batch_size=None, sampler=itertools.count(step * accumulation), num_workers=hw.dataloader_num_workers,
        pin_memory=accelerator.device.type == "cuda", persistent_workers=hw.dataloader_num_workers > 0,
        prefetch_factor=4 if hw.dataloader_num_workers > 0 else None)
    batches = iter(loader)

    seq_for_flops = tr.max_seq_length
    fpt = flops_per_token(model, seq_for_flops, tr.mlm_probability)
    peak = gpu_peak_flops() if accelerator.device.type == "cuda" else None
    tokens_per_step = tr.batch_size * tr.max_seq_length
    emit("train_start", max_steps=max_steps, start_step=step, batch_size=tr.batch_size,
         micro_batch_size=tr.micro_batch_size, gradient_accumulation_steps=accumulation, num_processes=world,
         device=str(accelerator.device), backend=accelerator.state.backend,
         mixed_precision=accelerator.mixed_precision, params=params, non_embedding_params=non_embedding,
         tokens_per_step=tokens_per_step,
         train_sequences=len(train_seqs), validation_sequences=len(valid_seqs), warmup_steps=warmup,
         flops_per_token=fpt, peak_flops=peak)
    print(f"training {type(model).__name__} ({params / 1e6:.2f}M parameters) on {accelerator.device} x{world}, "
          f"steps {step}->{max_steps}, batch {tr.batch_size} = {tr.micro_batch_size} x {accumulation} "
          f"accumulation x {world} processes ({accelerator.state.backend or 'no'} backend), "
          f"precision {accelerator.mixed_precision}", flush=True)

    objective.train()
    loss_sum = torch.zeros((), device=accelerator.device)
    loss_count = 0
    interval_tokens = 0
    grad_norm = torch.zeros((), device=accelerator.device)
    interval_start = time.perf_counter()
    session_start, session_start_step = interval_start, step
    stopped = False
    if step == 0:
        metrics = evaluate(objective, accelerator, valid_seqs, masking, tr)
        emit("eval", step=0, **metrics)
        interval_start = session_start = time.perf_counter()  # throughput excludes evaluation
    while step < max_steps:
        for k in range(accumulation):
            batch = next(batches)
            interval_tokens += batch["num_tokens"]
            chunks = batch["chunks"]
            for c, chunk in enumerate(chunks):
                # a chunk's mean loss weighted by its share of the micro-batch's masked tokens: the
                # chunks' gradients add up to the gradient of the micro-batch's mean loss
                weight = len(chunk["targets"]) / max(batch["num_targets"], 1)
                ids = chunk["input_ids"].to(accelerator.device, non_blocking=True)
                positions = chunk["positions"].to(accelerator.device, non_blocking=True)
                targets = chunk["targets"].to(accelerator.device, non_blocking=True)
                mask = chunk["attention_mask"]
                mask = None if mask is None else mask.to(accelerator.device, non_blocking=True)
                sync = k == accumulation - 1 and c == len(chunks) - 1
                with nullcontext() if sync else accelerator.no_sync(objective):
                    loss, _, _ = objective(ids, targets, mask, positions, accuracy=False)
                    accelerator.backward(loss * (weight / accumulation))
                loss_sum += loss.detach() * weight
            loss_count += 1
        if tr.max_grad_norm:
            grad_norm = accelerator.clip_grad_norm_(objective.parameters(), tr.max_grad_norm)
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        step += 1

        if world == 1:
            stopped = STOP["requested"]
        if step % tr.logging_steps == 0 or step == max_steps:
            now = time.perf_counter()
            totals = accelerator.reduce(torch.stack([loss_sum / max(loss_count, 1),
                                                     torch.tensor(float(interval_tokens), device=loss_sum.device),
                                                     torch.tensor(float(STOP["requested"]), device=loss_sum.device)]),
                                        reduction="sum").tolist()
            seconds = now - interval_start
            train_seconds += seconds
            tokens_seen += int(totals[1])
            tps = totals[1] / max(seconds, 1e-9)
            rate = (now - session_start) / max(step - session_start_step, 1)
            event = dict(step=step, max_steps=max_steps, epoch=round(step * tr.batch_size / max(len(train_seqs), 1), 4),
                         loss=round(totals[0] / world, 5), learning_rate=scheduler.get_last_lr()[0],
                         grad_norm=round(float(grad_norm), 4), tokens=tokens_seen, tokens_per_s=round(tps, 1),
                         elapsed_s=round(train_seconds, 2), eta_s=round(rate * (max_steps - step), 1))
            if peak:
                event["mfu"] = round(tps * fpt / (peak * world), 4)
            emit("train", **event)
            print(f"step {step}/{max_steps} loss {event['loss']:.4f} lr {event['learning_rate']:.2e} "
                  f"{tps:,.0f} tok/s", flush=True)
            stopped = stopped or totals[2] > 0
            loss_sum.zero_()
            loss_count, interval_tokens = 0, 0
            interval_start = time.perf_counter()
        if step % tr.eval_steps == 0 or step == max_steps:
            eval_start = time.perf_counter()
            metrics = evaluate(objective, accelerator, valid_seqs, masking, tr)
            emit("eval", step=step, **metrics)
            interval_start += time.perf_counter() - eval_start  # throughput excludes evaluation
            print(f"eval at step {step}: loss {metrics['loss']:.4f} perplexity {metrics['perplexity']:.2f} "
                  f"accuracy {metrics['accuracy']:.3f}", flush=True)
        saved_state = {"step": step, "tokens": tokens_seen, "train_seconds": round(train_seconds, 3),
                       "max_steps": max_steps}
        if stopped:
            emit("stopping", signal="SIGINT/SIGTERM")
            save_checkpoint(accelerator, run, objective, tokenizer, saved_state, tr.save_total_limit)
            emit("train_end", status="stopped", step=step, **peak_memory(accelerator.device))
            print(f"stopped at step {step}; checkpoint written", flush=True)
            return 0
        if step % tr.save_steps == 0 or step == max_steps:
            save_checkpoint(accelerator, run, objective, tokenizer, saved_state, tr.save_total_limit)

    save_final_model(accelerator, run, objective, tokenizer)
    final = run.last_event("eval") if main_process else None
    emit("train_end", status="finished", step=step, **peak_memory(accelerator.device),
         metrics=final and {k: final[k] for k in ("loss", "perplexity", "accuracy")})
    accelerator.end_training()
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        print("usage: accelerate launch -m lmtui.train.pretrain RUN_DIR", file=sys.stderr)
        raise SystemExit(2)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    die_with_launcher()
    raise SystemExit(main(sys.argv[1]))
