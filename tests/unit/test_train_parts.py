"""The trainer's named parts without training: GPU peak lookup, TrainState, train_step, agree, AdamW split."""

from __future__ import annotations

import json

import pytest
import torch


@pytest.mark.parametrize("name, peak", [
    ("NVIDIA L40S", 362e12), ("NVIDIA L40", 181e12), ("NVIDIA L4", 121e12), ("NVIDIA H100 80GB HBM3", 989e12),
    ("NVIDIA A100-SXM4-40GB", 312e12), ("NVIDIA A10", 125e12), ("Some Future Accelerator", None)])
def test_gpu_peak_is_the_longest_model_name_the_device_name_contains(monkeypatch, name, peak):
    from lmtui.train import flops

    assert flops.peak_flops_for(name) == peak
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda *a: name)
    assert flops.gpu_peak_flops() == peak


def test_train_state_round_trips_through_the_keys_of_trainer_state_json():
    from lmtui.train.checkpoint import TrainState

    state = TrainState(max_steps=10)
    state.advance(2048, 0.25)
    state.advance(1500, 0.5)
    saved = json.loads(json.dumps(state.to_json()))
    assert saved == {"step": 2, "tokens": 3548, "train_seconds": 0.75, "max_steps": 10}
    assert TrainState.from_json(saved, 10) == state


def test_a_checkpoint_from_before_train_seconds_resumes_at_zero_seconds():
    from lmtui.train.checkpoint import TrainState

    assert TrainState.from_json({"step": 30, "tokens": 30720}, 40) == TrainState(30, 30720, 0.0, 40)


def _micro_batch(values: list[float], targets: list[int], tokens: int) -> dict:
    chunks = [{"input_ids": torch.tensor([v]), "targets": torch.zeros(n, dtype=torch.long), "positions": None,
               "attention_mask": None} for v, n in zip(values, targets)]
    return {"chunks": chunks, "num_tokens": tokens, "num_targets": sum(targets)}


def test_train_step_weights_chunks_by_masked_tokens_and_averages_micro_batches():
    from lmtui.train.pretrain import train_step

    w = torch.nn.Parameter(torch.tensor(1.0))
    model = torch.nn.Module()
    model.w = w
    optimizer = torch.optim.SGD([w], lr=1.0)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 0.5)
    batches = iter([_micro_batch([1.0, 3.0], [1, 3], 10), _micro_batch([2.0], [4], 7), _micro_batch([9.0], [1], 1)])
    out = train_step(batches, 2, lambda c: w * c["input_ids"].float().sum(), optimizer, model=model,
                     device=torch.device("cpu"), max_grad_norm=0.0, scheduler=scheduler)
    # loss = mean over micro-batches of (chunk loss x its share of masked tokens): (1/4 + 9/4 + 2) / 2 = 2.25 w
    assert w.item() == pytest.approx(1.0 - 0.5 * 2.25)  # one SGD step at the scheduled rate 0.5
    assert out.tokens == 17 and out.micro_batches == 2 and out.grad_norm is None
    assert out.loss_sum.item() == pytest.approx(2 * 2.25)  # summed over the micro-batches, at w = 1
    assert w.grad is None and next(batches)["num_tokens"] == 1  # gradients zeroed; the third micro-batch unread
    assert optimizer.param_groups[0]["lr"] == 0.5


def test_train_step_clips_the_gradient_norm():
    from lmtui.train.pretrain import train_step

    w = torch.nn.Parameter(torch.tensor(1.0))
    model = torch.nn.Module()
    model.w = w
    optimizer = torch.optim.SGD([w], lr=1.0)
    out = train_step(iter([_micro_batch([8.0], [2], 2)]), 1, lambda c: w * c["input_ids"].float().sum(), optimizer,
                     model=model, device=torch.device("cpu"), max_grad_norm=2.0)
    assert out.grad_norm.item() == pytest.approx(8.0) and w.item() == pytest.approx(1.0 - 2.0)
    assert out.loss_sum.item() == pytest.approx(8.0)


class _Ranks:
    """An accelerator of ``n`` processes where every other rank reports what this one does."""

    def __init__(self, n: int):
        self.num_processes, self.device, self.reduced = n, torch.device("cpu"), 0

    def reduce(self, tensor, reduction):
        assert reduction == "sum" and tensor.dtype == torch.int64
        self.reduced += 1
        return tensor * self.num_processes


def test_ranks_agree_on_stop_and_tokens_at_every_step():
    from lmtui.train.pretrain import agree

    assert agree(_Ranks(1), True, 100) == (True, 100)
    ranks = _Ranks(2)
    assert agree(ranks, False, 100) == (False, 200)
    assert agree(ranks, True, 100) == (True, 200)
    assert ranks.reduced == 2


def test_adamw_decays_matrices_but_not_biases_or_norm_weights():
    from lmtui.evaluation.finetune import _optimizer
    from lmtui.train.optim import decay_groups

    model = torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.LayerNorm(4))
    decay, no_decay = decay_groups(model, 0.1)
    assert decay["params"] == [model[0].weight] and decay["weight_decay"] == 0.1
    assert no_decay["params"] == [model[0].bias, model[1].weight, model[1].bias] and no_decay["weight_decay"] == 0.0
    groups = _optimizer(model, 1e-3, 0.1).param_groups
    assert [(g["params"], g["weight_decay"]) for g in groups] == [(decay["params"], 0.1), (no_decay["params"], 0.0)]
