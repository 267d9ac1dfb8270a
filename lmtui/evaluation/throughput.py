"""Inference throughput of a masked LM: sequences per second at a given batch and sequence length.

Measured as serving would see it: the model's whole forward (encoder and MLM head on every
position) under ``torch.inference_mode``, on full-length sequences of random token ids, after
one warm-up batch, for at least ``min_seconds`` of wall-clock time (CUDA synchronised before
each clock read). A distillation's teacher and student are measured with the same batch, length
and device, so their ratio is the student's speed-up.
"""

from __future__ import annotations

import time


def measure_throughput(model, *, batch_size: int, seq_length: int, device, min_seconds: float = 1.0,
                       min_batches: int = 3, seed: int = 0) -> dict:
    """Sequences/s of ``model`` (a ``*ForMaskedLM``) on (``batch_size``, ``seq_length``) batches on ``device``.

    Returns:
        {"sequences_per_s", "batch_size", "seq_length", "batches", "seconds", "device", "params"}.
    """
    import torch

    generator = torch.Generator().manual_seed(seed)
    ids = torch.randint(5, model.config.vocab_size, (batch_size, seq_length), generator=generator).to(device)
    mask = torch.ones_like(ids)
    sync = torch.cuda.synchronize if torch.device(device).type == "cuda" else (lambda: None)
    model.eval()
    with torch.inference_mode():
        model(input_ids=ids, attention_mask=mask)  # warm-up: allocations, kernel selection
        sync()
        batches, start = 0, time.perf_counter()
        while batches < min_batches or time.perf_counter() - start < min_seconds:
            model(input_ids=ids, attention_mask=mask)
            sync()
            batches += 1
        seconds = time.perf_counter() - start
    return {"sequences_per_s": round(batches * batch_size / seconds, 2), "batch_size": batch_size,
            "seq_length": seq_length, "batches": batches, "seconds": round(seconds, 3), "device": str(device),
            "params": sum(p.numel() for p in model.parameters())}
