"""AdamW with decoupled weight decay (Loshchilov & Hutter 2019) and the learning-rate schedule.

Weight decay applies to the matrices only: biases and normalisation weights (any parameter with
fewer than two dimensions, or whose name contains "norm") are in a group without decay, as in
BERT's optimizer, nanoGPT's ``configure_optimizers`` and transformers' Trainer.
"""

from __future__ import annotations

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


def schedule(optimizer, tr, max_steps: int):
    """The ``[training]`` section's schedule (transformers ``get_scheduler``) over ``max_steps``:
    (scheduler, warmup steps). Warmup is ``warmup_steps``, else ``warmup_ratio`` of the steps;
    ``constant`` holds the learning rate after warmup."""
    from transformers import get_scheduler

    warmup = tr.warmup_steps or int(tr.warmup_ratio * max_steps)
    name = "constant_with_warmup" if tr.lr_scheduler == "constant" else tr.lr_scheduler
    return get_scheduler(name, optimizer, num_warmup_steps=warmup, num_training_steps=max_steps), warmup
