"""Fine-tune a pretrained encoder on one task with one seed and score it: a short loop on accelerate.

Sequence classification (one text or a pair): ``AutoModelForSequenceClassification`` on the
model folder, labels in the order of the task's label list. Token classification (CoNLL):
``AutoModelForTokenClassification``; each word's label sits on its first sub-token, the other
sub-tokens and the special tokens are ignored (-100), and a word's prediction is the label of its
first sub-token. Words cut off by ``max_seq_length`` are predicted ``O`` (counted as
``truncated_words``).

Pre-split words are encoded as the words of the joined sentence are: every word after the first
is given its leading space (``is_split_into_words=True`` with ``" " + word``), so a byte-level
BPE or Metaspace tokenizer produces the same pieces (``Ġword``/``▁word``) it saw in pretraining,
whatever its pre-tokenizer's ``add_prefix_space`` (PITFALLS: transformers 5 ignores the
``add_prefix_space`` argument of a backend tokenizer).

Recipe: AdamW (no decay on biases and normalisation weights), linear warmup over
``warmup_ratio`` of the steps then linear decay to 0, gradient clipping at 1.0, dynamic padding,
a fresh permutation of the training examples every epoch from ``torch.Generator(seed)``. The
seed also sets the head's initialisation and dropout (``accelerate.utils.set_seed``), so one
seed on one machine gives the same numbers every time. The model after the last step is
scored (no best-epoch selection on the scored splits).

Progress: a ``finetune`` event of state ``step`` (docs/evaluation.md) every ``max_steps // 50``
steps, at every epoch end, at the last step, and whenever :data:`PROGRESS_SECONDS` passed since
the previous one, so a slow fine-tuning reports at least that often and a fast one at most
about 50 + epochs times. It carries the mean loss and the training accuracy of the steps since
the previous one, and the ETA at the mean step time so far.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import torch

from lmtui.data.batches import IGNORE_INDEX
from lmtui.evaluation.metrics import (classification_metrics, entity_metrics, majority_accuracy,
                                     no_better_than_majority)
from lmtui.evaluation.readers import Sentence, TaskData, TextExample
from lmtui.fmt import fmt_clock
from lmtui.train.optim import adamw

GRAD_CLIP = 1.0

# A progress event at least this often (seconds), on top of every max_steps // 50 steps and every epoch end.
PROGRESS_SECONDS = 2.0


class StopRequested(Exception):
    """The worker received SIGINT/SIGTERM during fine-tuning."""


def max_positions(config) -> int:
    """Longest input (tokens) the model's position embeddings allow."""
    n = getattr(config, "max_position_embeddings", None) or 512
    if config.model_type in ("roberta", "xlm-roberta", "camembert", "data2vec-text"):
        n -= (config.pad_token_id if config.pad_token_id is not None else 1) + 1
    return n


def uses_token_types(config) -> bool:
    return (getattr(config, "type_vocab_size", 0) or 0) > 1


def word_inputs(words: list[str]) -> list[str]:
    """Words as ``is_split_into_words`` input that tokenizes like the joined sentence."""
    return [w if i == 0 else " " + w for i, w in enumerate(words)]


@dataclass
class Encoded:
    """Tokenized examples: ids (and token types), labels (an id per example or per token), and for
    token classification the position of every word's first sub-token (-1 when truncated)."""

    input_ids: list[list[int]]
    token_type_ids: list[list[int]] | None
    labels: list
    first_tokens: list[list[int]] | None = None

    def __len__(self) -> int:
        return len(self.input_ids)


def encode_text(tokenizer, examples: list[TextExample], label_ids: dict[str, int], max_length: int,
                token_types: bool) -> Encoded:
    texts = [e.text for e in examples]
    pairs = [e.text_pair for e in examples] if examples and examples[0].text_pair is not None else None
    enc = tokenizer(texts, pairs, truncation=True, max_length=max_length, return_token_type_ids=token_types)
    return Encoded(enc["input_ids"], enc.get("token_type_ids") if token_types else None,
                   [label_ids[e.label] for e in examples])


def encode_words(tokenizer, sentences: list[Sentence], label_ids: dict[str, int], max_length: int,
                 token_types: bool) -> Encoded:
    enc = tokenizer([word_inputs(s.words) for s in sentences], is_split_into_words=True, truncation=True,
                    max_length=max_length, return_token_type_ids=token_types)
    labels, firsts = [], []
    for i, s in enumerate(sentences):
        word_ids = enc.word_ids(i)
        row = [IGNORE_INDEX] * len(word_ids)
        first = [-1] * len(s.words)
        previous = None
        for pos, w in enumerate(word_ids):
            if w is not None and w != previous:
                row[pos] = label_ids[s.tags[w]]
                first[w] = pos
            previous = w
        labels.append(row)
        firsts.append(first)
    return Encoded(enc["input_ids"], enc.get("token_type_ids") if token_types else None, labels, firsts)


def collate(enc: Encoded, indices: list[int], pad_id: int, *, with_labels: bool = True) -> dict:
    """A padded batch of the examples ``indices`` (tensors on the CPU)."""
    width = max(len(enc.input_ids[i]) for i in indices)
    ids = torch.full((len(indices), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(indices), width), dtype=torch.long)
    for r, i in enumerate(indices):
        row = enc.input_ids[i]
        ids[r, :len(row)] = torch.tensor(row)
        mask[r, :len(row)] = 1
    batch = {"input_ids": ids, "attention_mask": mask}
    if enc.token_type_ids is not None:
        types = torch.zeros((len(indices), width), dtype=torch.long)
        for r, i in enumerate(indices):
            types[r, :len(enc.token_type_ids[i])] = torch.tensor(enc.token_type_ids[i])
        batch["token_type_ids"] = types
    if with_labels:
        if enc.first_tokens is None:
            batch["labels"] = torch.tensor([enc.labels[i] for i in indices], dtype=torch.long)
        else:
            labels = torch.full((len(indices), width), IGNORE_INDEX, dtype=torch.long)
            for r, i in enumerate(indices):
                labels[r, :len(enc.labels[i])] = torch.tensor(enc.labels[i])
            batch["labels"] = labels
    return batch


def hits(logits, labels) -> tuple[int, int]:
    """(correct, scored) predictions of a batch: the argmax of ``logits`` (batch, [tokens,] labels)
    against ``labels`` (batch[, tokens]), positions labelled -100 left out."""
    scored = labels != IGNORE_INDEX
    correct = (logits.argmax(-1) == labels) & scored
    return int(correct.sum()), int(scored.sum())


def _optimizer(model, lr: float, weight_decay: float):
    return adamw(model, lr=lr, weight_decay=weight_decay)


@torch.no_grad()
def predict(model, enc: Encoded, pad_id: int, batch_size: int, device) -> list:
    """Predicted label ids: one per example, or per token (a list per example)."""
    model.eval()
    order = sorted(range(len(enc)), key=lambda i: len(enc.input_ids[i]))
    out: list = [None] * len(enc)
    for start in range(0, len(order), batch_size):
        idx = order[start:start + batch_size]
        batch = {k: v.to(device) for k, v in collate(enc, idx, pad_id, with_labels=False).items()}
        logits = model(**batch).logits.float()
        best = logits.argmax(-1).tolist()
        for r, i in enumerate(idx):
            out[i] = best[r] if enc.first_tokens is None else best[r][:len(enc.input_ids[i])]
    model.train()
    return out


def score(spec, examples: list, enc: Encoded, predictions: list, labels: list[str],
          train_labels: list[str] = ()) -> tuple[dict, dict | None]:
    """(metrics, per-type metrics or None) of one scored split. Classification adds
    ``majority_accuracy``: the accuracy of always answering the training split's most frequent
    label (``train_labels``), the floor a fine-tuned model must clear."""
    if spec.kind == "classification":
        gold = [e.label for e in examples]
        pred = [labels[p] for p in predictions]
        metrics = classification_metrics(gold, pred, spec.metrics, spec.positive_label)
        metrics["majority_accuracy"] = majority_accuracy(gold, list(train_labels))
        accuracy = sum(g == p for g, p in zip(gold, pred)) / max(len(gold), 1)
        metrics["no_better_than_majority"] = no_better_than_majority(accuracy, metrics["majority_accuracy"], len(gold))
        return metrics, None
    gold, pred, truncated = [], [], 0
    for s, first, p in zip(examples, enc.first_tokens, predictions):
        gold.append(list(s.tags))
        row = []
        for pos in first:
            if pos < 0:
                truncated += 1
                row.append("O")
            else:
                row.append(labels[p[pos]])
        pred.append(row)
    metrics, per_type = entity_metrics(gold, pred, spec.metrics)
    metrics["truncated_words"] = truncated
    return metrics, per_type


def score_splits(spec, data: TaskData, scored: dict, model, pad_id: int, device) -> dict:
    """Predict and score every encoded split of ``scored`` ({split: :class:`Encoded`}) with ``model``.

    Returns:
        {"splits": {split: metrics with "examples"}, "per_type": {split: {TYPE: ...}} (token classification)}.
    """
    out = {"splits": {}, "per_type": {}}
    for split, enc in scored.items():
        predictions = predict(model, enc, pad_id, 2 * spec.batch_size, device)
        metrics, per_type = score(spec, data.splits[split], enc, predictions, data.labels,
                                  [e.label for e in data.train] if spec.kind == "classification" else ())
        metrics["examples"] = len(enc)
        out["splits"][split] = metrics
        if per_type is not None:
            out["per_type"][split] = per_type
    return out


def finetune(spec, data: TaskData, model_dir: str, seed: int, *, accelerator, emit, log, stop_requested) -> dict:
    """Fine-tune ``model_dir`` on ``data`` with ``seed``; score every split of ``data``.

    Args:
        spec: the :class:`~lmtui.project.sections.eval.TaskSpec`.
        data: the task's examples and label list.
        emit: ``emit(type, **fields)`` for the ``finetune`` events (start, progress, end).
        log: prints a line to the run's log.
        stop_requested: returns True once the worker was asked to stop.

    Returns:
        {"splits": {split: metrics}, "per_type": {split: {TYPE: ...}} (token classification),
         "train_examples", "steps", "seconds", "max_seq_length"}.

    Raises:
        StopRequested: a stop was requested between two steps.
    """
    from accelerate.utils import set_seed
    from transformers import (AutoConfig, AutoModelForSequenceClassification, AutoModelForTokenClassification,
                              AutoTokenizer, get_scheduler)

    t0 = time.perf_counter()
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    config = AutoConfig.from_pretrained(model_dir)
    max_length = min(spec.max_seq_length, max_positions(config))
    token_types = uses_token_types(config)
    labels = data.labels
    label_ids = {lab: i for i, lab in enumerate(labels)}
    encode = encode_text if spec.kind == "classification" else encode_words
    train = encode(tokenizer, data.train, label_ids, max_length, token_types)
    scored = {split: encode(tokenizer, examples, label_ids, max_length, token_types)
              for split, examples in data.splits.items()}
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0

    set_seed(seed)
    cls = AutoModelForSequenceClassification if spec.kind == "classification" else AutoModelForTokenClassification
    model = cls.from_pretrained(model_dir, num_labels=len(labels), id2label=dict(enumerate(labels)),
                                label2id=label_ids)
    n = len(train)
    steps_per_epoch = math.ceil(n / spec.batch_size)
    max_steps = math.ceil(spec.epochs * steps_per_epoch)
    optimizer = _optimizer(model, spec.learning_rate, spec.weight_decay)
    scheduler = get_scheduler("linear", optimizer, num_warmup_steps=int(spec.warmup_ratio * max_steps),
                              num_training_steps=max(max_steps, 1))
    model, optimizer = accelerator.prepare(model, optimizer)
    generator = torch.Generator().manual_seed(seed)
    log_every = max(1, max_steps // 50)
    where = dict(task=spec.name, seed=seed)
    emit("finetune", state="start", max_steps=max_steps, epochs=spec.epochs, train_examples=n, labels=labels,
         **where)
    log(f"[{spec.name} seed {seed}] fine-tuning on {n} examples, {max_steps} steps "
        f"(batch {spec.batch_size}, lr {spec.learning_rate:g}, max length {max_length})")

    model.train()
    loss_sum, loss_count, correct, counted = 0.0, 0, 0, 0
    permutation = None
    started = reported = time.perf_counter()
    for step in range(max_steps):
        if stop_requested():
            raise StopRequested()
        epoch, j = divmod(step, steps_per_epoch)
        if j == 0:
            permutation = torch.randperm(n, generator=generator).tolist()
        idx = permutation[j * spec.batch_size:(j + 1) * spec.batch_size]
        batch = {k: v.to(accelerator.device) for k, v in collate(train, idx, pad_id).items()}
        out = model(**batch)
        loss = out.loss
        accelerator.backward(loss)
        accelerator.clip_grad_norm_(model.parameters(), GRAD_CLIP)
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        loss_sum += float(loss.detach())
        loss_count += 1
        right, scored_now = hits(out.logits.detach(), batch["labels"])
        correct, counted = correct + right, counted + scored_now
        done, now = step + 1, time.perf_counter()
        if (done % log_every == 0 or done % steps_per_epoch == 0 or done == max_steps
                or now - reported >= PROGRESS_SECONDS):
            mean, epoch = loss_sum / loss_count, done / steps_per_epoch
            eta = (now - started) / done * (max_steps - done)
            emit("finetune", state="step", step=done, max_steps=max_steps, epoch=round(epoch, 3),
                 epochs=spec.epochs, loss=round(mean, 5), train_accuracy=round(correct / max(counted, 1), 4),
                 learning_rate=scheduler.get_last_lr()[0], elapsed_s=round(now - started, 2), eta_s=round(eta, 1),
                 **where)
            log(f"[{spec.name} seed {seed}] epoch {epoch:.2f}/{spec.epochs:g} step {done}/{max_steps} "
                f"loss {mean:.4f} ETA {fmt_clock(eta)}")
            loss_sum, loss_count, correct, counted, reported = 0.0, 0, 0, 0, now

    result = {"train_examples": n, "steps": max_steps, "max_seq_length": max_length,
              **score_splits(spec, data, scored, model, pad_id, accelerator.device)}
    result["seconds"] = round(time.perf_counter() - t0, 2)
    emit("finetune", state="end", seconds=result["seconds"], **where)
    accelerator.free_memory()
    del model, optimizer
    return result
