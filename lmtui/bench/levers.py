"""`lmtui bench --levers`: the training step with one speed lever changed at a time.

Every variant trains its own copy of the same model (the bench shape) on the same masked
micro-batches of lmtui's token cache, interleaved step by step, and is timed in CPU seconds of
this process (``time.process_time``) on one thread by default: a shared machine then changes
the absolute numbers little and the ratios not at all. The reference is lmtui's step as the
trainer runs it; ``run_mlm.py step`` is what the baseline's Trainer computes per step (logits
for every position, the loss over the masked ones, foreach AdamW, line_by_line padded to
max_seq_length) without the Trainer's own overhead.
"""

from __future__ import annotations

import contextlib
import time

import torch

from lmtui.data.batches import CHUNK_COST, IGNORE_INDEX, MaskingConfig, Sequences, TrainStream
from lmtui.data.token_cache import TokenCache, prepare_dataset
from lmtui.train.model import MaskedLMObjective
from lmtui.train.optim import adamw
from lmtui.train.pretrain import objective_loss, train_step

LEVERS = ("run_mlm.py step", "lmtui step", "foreach AdamW (not fused)", "accuracy in the training step",
          "MLM head on every position", "eager attention", "bf16 autocast", "no dropout", "torch.compile")
LINE_BY_LINE_LEVERS = ("run_mlm.py step", "lmtui step", "one chunk (pad to the longest)", "pad to max_seq_length")


class Variant:
    """A model + optimizer trained with one lever changed; accumulates CPU seconds and real tokens.

    Each step is the trainer's :func:`lmtui.train.pretrain.train_step` (one micro-batch, clipping
    at 1.0, AdamW with the trainer's decay split); the lever changes what it is given: the loss
    (``full_head``: transformers' ``*ForMaskedLM`` loss over logits of every position;
    ``accuracy``), bf16 autocast (``amp``), a compiled encoder, the AdamW implementation.
    """

    def __init__(self, name: str, make_model, *, full_head=False, amp=False, compile_=False, fused=True,
                 accuracy=False, chunk_cost=None, pad_to_max=False):
        self.name, self.amp = name, amp
        self.chunk_cost, self.pad_to_max = chunk_cost, pad_to_max
        self.model = make_model()
        self.objective = MaskedLMObjective(self.model)
        if compile_:
            self.objective.encoder = torch.compile(self.objective.encoder, dynamic=True)
        if full_head:  # what transformers' *ForMaskedLM computes with labels
            self.loss_of = lambda c: self.model(input_ids=c["input_ids"], attention_mask=c["attention_mask"],
                                                labels=c["labels"]).loss
        else:
            self.loss_of = objective_loss(self.objective, accuracy=accuracy)
        self.optimizer = adamw(self.model, lr=5e-5, weight_decay=0.01, fused=fused or None,
                               foreach=None if fused else True)
        self.seconds, self.tokens = 0.0, 0

    def step(self, chunks: list[dict], num_targets: int, num_tokens: int) -> None:
        autocast = (lambda: torch.autocast("cpu", dtype=torch.bfloat16)) if self.amp else contextlib.nullcontext
        micro_batch = {"chunks": chunks, "num_targets": num_targets, "num_tokens": num_tokens}
        train_step(iter([micro_batch]), 1, self.loss_of, self.optimizer, model=self.model, device=torch.device("cpu"),
                   max_grad_norm=1.0, autocast=autocast)


def _regroup(batch: dict, width: int | None, pad_token_id: int) -> list[dict]:
    """The chunks of a micro-batch merged into one, padded to ``width`` (its longest when None)."""
    chunks = batch["chunks"]
    longest = width or max(c["input_ids"].shape[1] for c in chunks)
    rows = sum(len(c["input_ids"]) for c in chunks)
    ids = torch.full((rows, longest), pad_token_id, dtype=torch.long)
    labels = torch.full((rows, longest), IGNORE_INDEX, dtype=torch.long)
    mask = torch.zeros((rows, longest), dtype=torch.long)
    r = 0
    for c in chunks:
        n, w = c["input_ids"].shape
        ids[r:r + n, :w], labels[r:r + n, :w] = c["input_ids"], c["labels"]
        mask[r:r + n, :w] = 1 if c["attention_mask"] is None else c["attention_mask"]
        r += n
    positions = torch.nonzero(labels.flatten() != IGNORE_INDEX).flatten()
    return [{"input_ids": ids, "labels": labels, "attention_mask": None if bool(mask.all()) else mask,
             "positions": positions, "targets": labels.flatten()[positions]}]


def measure(project, tokenizer_dir, *, line_by_line: bool, steps: int, threads: int, log=print) -> list[dict]:
    """Time every lever on ``steps`` micro-batches of the project's corpus; returns rows for the table."""
    from transformers import AutoModelForMaskedLM, AutoTokenizer

    from lmtui.train.model import build_config

    torch.set_num_threads(threads)
    tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir)
    folder, _, _ = prepare_dataset(project, tokenizer_dir, log=lambda m: None)
    tr = project.training
    masking = MaskingConfig.from_tokenizer(tokenizer)
    sequences = Sequences(TokenCache(folder, "train"), tr.max_seq_length, line_by_line, tokenizer.sep_token_id)
    stream = TrainStream(sequences, masking, seed=tr.seed, batch_size=tr.batch_size,
                         micro_batch_size=tr.batch_size, rank=0, world_size=1, chunk_cost=CHUNK_COST["cpu"])
    config = build_config(project, tokenizer)

    def make(dropout=None, attn="sdpa"):
        def build():
            cfg = config.__class__.from_dict(config.to_dict())
            if dropout is not None:
                cfg.hidden_dropout_prob = cfg.attention_probs_dropout_prob = dropout
            torch.manual_seed(0)
            return AutoModelForMaskedLM.from_config(cfg, attn_implementation=attn)
        return build

    if line_by_line:
        variants = [Variant(LINE_BY_LINE_LEVERS[0], make(), full_head=True, fused=False, pad_to_max=True),
                    Variant(LINE_BY_LINE_LEVERS[1], make()),
                    Variant(LINE_BY_LINE_LEVERS[2], make(), chunk_cost=float("inf")),
                    Variant(LINE_BY_LINE_LEVERS[3], make(), pad_to_max=True)]
    else:
        variants = [Variant(LEVERS[0], make(), full_head=True, fused=False), Variant(LEVERS[1], make()),
                    Variant(LEVERS[2], make(), fused=False), Variant(LEVERS[3], make(), accuracy=True),
                    Variant(LEVERS[4], make(), full_head=True), Variant(LEVERS[5], make(attn="eager")),
                    Variant(LEVERS[6], make(), amp=True), Variant(LEVERS[7], make(dropout=0.0)),
                    Variant(LEVERS[8], make(), compile_=True)]
    for j in range(steps + 2):
        batch = stream[j]
        for v in variants:
            chunks = batch["chunks"]
            if v.pad_to_max:
                chunks = _regroup(batch, tr.max_seq_length, tokenizer.pad_token_id)
            elif v.chunk_cost is not None:
                chunks = _regroup(batch, None, tokenizer.pad_token_id)
            t0 = time.process_time()
            v.step(chunks, batch["num_targets"], batch["num_tokens"])
            if j >= 2:  # the first two steps warm up kernels and compile
                v.seconds += time.process_time() - t0
                v.tokens += batch["num_tokens"]
        if j >= 2 and (j - 1) % 5 == 0:
            log(f"  {j - 1}/{steps} steps")
    reference = variants[1].tokens / variants[1].seconds
    return [{"lever": v.name, "tokens_per_cpu_s": round(v.tokens / v.seconds, 1),
             "vs_lmtui": round(v.tokens / v.seconds / reference, 3)} for v in variants]
