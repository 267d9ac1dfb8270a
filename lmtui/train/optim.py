"""AdamW with decoupled weight decay (Loshchilov & Hutter 2019) and the learning-rate schedule.

Weight decay applies to the matrices only: biases and normalisation weights (any parameter with
fewer than two dimensions, or whose name contains "norm") are in a group without decay, as in
BERT's optimizer, nanoGPT's ``configure_optimizers`` and transformers' Trainer.
"""

from __future__ import annotations

import math

import torch


def decay_groups(model: torch.nn.Module, weight_decay: float) -> list[dict]:
    """Two AdamW parameter groups of ``model``'s trainable parameters: decayed, then not decayed."""
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        if p.requires_grad:
            (no_decay if p.ndim < 2 or "norm" in name.lower() else decay).append(p)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


def adamw(model: torch.nn.Module, *, lr: float, weight_decay: float, betas: tuple[float, float] = (0.9, 0.999),
          eps: float = 1e-8, fused: bool | None = None, foreach: bool | None = None) -> torch.optim.AdamW:
    """``torch.optim.AdamW`` over :func:`decay_groups`; ``fused``/``foreach`` pick torch's implementation
    (None: torch's default)."""
    return torch.optim.AdamW(decay_groups(model, weight_decay), lr=lr, betas=betas, eps=eps, fused=fused,
                             foreach=foreach)


def pretraining_optimizer(model: torch.nn.Module, tr, fused: bool) -> torch.optim.AdamW:
    """AdamW with the ``[training]`` section's learning rate, weight decay, betas and epsilon."""
    return adamw(model, lr=tr.learning_rate, weight_decay=tr.weight_decay, betas=(tr.adam_beta1, tr.adam_beta2),
                 eps=tr.adam_epsilon, fused=fused)


def wsd_phases(max_steps: int, warmup: int, decay_ratio: float) -> tuple[int, int, int]:
    """(warmup, stable, decay) steps of a warmup-stable-decay schedule over ``max_steps``: the decay
    takes the last ``decay_ratio`` of the steps (rounded up, at least one when the ratio is above
    0), the warmup what it asks of the rest, the stable phase what remains."""
    decay = min(max_steps, math.ceil(decay_ratio * max_steps))
    warmup = min(warmup, max_steps - decay)
    return warmup, max_steps - warmup - decay, decay


def schedule(optimizer, tr, max_steps: int):
    """The ``[training]`` section's schedule (transformers ``get_scheduler``) over ``max_steps``:
    (scheduler, warmup steps). Warmup is ``warmup_steps``, else ``warmup_ratio`` of the steps;
    ``constant`` holds the learning rate after warmup.

    ``wsd`` is warmup-stable-decay (Hu et al. 2024, MiniCPM; Hägele et al. 2024, "Scaling Laws
    and Compute-Optimal Training beyond Fixed Training Durations"): linear warmup, the peak
    learning rate held, then a decay to 0 over the last ``decay_ratio`` of the steps with the
    1-sqrt shape ``1 - sqrt(progress)`` that Hägele et al. found best (transformers
    ``get_wsd_schedule``, phases from :func:`wsd_phases`)."""
    from transformers import get_scheduler, get_wsd_schedule

    warmup = tr.warmup_steps or int(tr.warmup_ratio * max_steps)
    if tr.lr_scheduler == "wsd":
        warmup, stable, decay = wsd_phases(max_steps, warmup, tr.decay_ratio)
        return get_wsd_schedule(optimizer, num_warmup_steps=warmup, num_stable_steps=stable,
                                num_decay_steps=decay, decay_type="1-sqrt"), warmup
    name = "constant_with_warmup" if tr.lr_scheduler == "constant" else tr.lr_scheduler
    return get_scheduler(name, optimizer, num_warmup_steps=warmup, num_training_steps=max_steps), warmup
