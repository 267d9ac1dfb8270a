"""Intrinsic evaluation of a masked language model: held-out MLM loss, perplexity and masked-token
accuracy with fixed masks; pseudo-perplexity; fill-mask probes.

- Perplexity: the held-out documents are tokenized with the model's tokenizer (special tokens
  per document) and packed into blocks of ``seq_length`` tokens, as pretraining does; each of
  the first ``max_sequences`` blocks is masked BERT-style (:func:`lmtui.data.batches.mask_tokens`) with a
  generator seeded by (``mask_seed``, block index), so the same model always gets the same
  number, whatever the batch size. perplexity = exp(mean cross-entropy over the masked tokens).
- Pseudo-perplexity (Salazar et al. 2020, "Masked Language Model Scoring"): for a seeded sample
  of documents (each cut to ``seq_length`` tokens), every non-special token is masked in turn
  (one copy of the sequence per token) and scored; PPPL = exp(-(sum of log p(token)) / tokens).
- Probes: sentences with ``<mask>``/``[MASK]`` placeholders; the ``top_k`` tokens per mask with
  their probabilities.
"""

from __future__ import annotations

import math
import random

import numpy as np
import torch

from lmtui.data.batches import MaskingConfig, collate, mask_tokens
from lmtui.errors import LmtuiError
from lmtui.project.sections.eval import MASK_PLACEHOLDERS
from lmtui.train.model import IGNORE_INDEX, MaskedLMObjective


class _Blocks:
    """Fixed-length token blocks (``len``/``get`` like :class:`lmtui.data.batches.Sequences`)."""

    def __init__(self, blocks: list[np.ndarray]):
        self.blocks = blocks

    def __len__(self) -> int:
        return len(self.blocks)

    def get(self, i: int) -> np.ndarray:
        return self.blocks[i]


def pack_documents(tokenizer, documents: list[str], seq_length: int, max_sequences: int) -> list[np.ndarray]:
    """Tokenize ``documents`` (special tokens per document) and cut the stream into blocks.

    Returns at most ``max_sequences`` (0: all) int64 arrays of ``seq_length`` ids; the tail
    shorter than a block is dropped unless it is the only block.
    """
    backend = tokenizer.backend_tokenizer
    stream: list[int] = []
    need = max_sequences * seq_length if max_sequences else None
    for start in range(0, len(documents), 1024):
        for enc in backend.encode_batch(documents[start:start + 1024], add_special_tokens=True):
            stream.extend(enc.ids)
        if need is not None and len(stream) >= need:
            break
    n = len(stream) // seq_length
    if max_sequences:
        n = min(n, max_sequences)
    if n == 0 and stream:
        return [np.asarray(stream, dtype=np.int64)]
    return [np.asarray(stream[i * seq_length:(i + 1) * seq_length], dtype=np.int64) for i in range(n)]


def masked_batches(blocks: _Blocks, masking: MaskingConfig, *, batch_size: int, mask_seed: int):
    """Batches of the blocks, each block masked with its own generator seeded by (mask_seed, index),
    so the masks do not depend on the batch size: every evaluation with the same text, length
    and seed scores the same tokens."""
    for start in range(0, len(blocks), batch_size):
        ids, valid = collate([blocks.get(i) for i in range(start, min(start + batch_size, len(blocks)))],
                             masking.pad_token_id)
        valid = np.ones(ids.shape, dtype=bool) if valid is None else valid
        inputs, labels = ids.copy(), np.full(ids.shape, IGNORE_INDEX, dtype=np.int64)
        for r in range(ids.shape[0]):
            rng = np.random.default_rng([mask_seed, start + r])
            inputs[r:r + 1], labels[r:r + 1] = mask_tokens(ids[r:r + 1], valid[r:r + 1], masking, rng)
        yield {"input_ids": torch.from_numpy(inputs), "labels": torch.from_numpy(labels),
               "attention_mask": None if valid.all() else torch.from_numpy(valid.astype(np.int64))}


class _Scorer:
    """Masked-LM loss over selected positions for any ``*ForMaskedLM`` (head on masked rows only
    for the four lmtui architectures, full logits otherwise)."""

    def __init__(self, model):
        self.model = model
        try:
            self.objective = MaskedLMObjective(model)
        except ValueError:
            self.objective = None

    @torch.no_grad()
    def __call__(self, input_ids, labels, attention_mask=None) -> tuple[float, int, int]:
        """(sum of cross-entropy over selected tokens, correct predictions, selected tokens)."""
        if self.objective is not None:
            loss, correct, count = self.objective(input_ids, labels, attention_mask)
            return float(loss) * count, int(correct), int(count)
        logits = self.model(input_ids=input_ids, attention_mask=attention_mask).logits
        selected = labels != IGNORE_INDEX
        sel_logits, targets = logits[selected].float(), labels[selected]
        loss = torch.nn.functional.cross_entropy(sel_logits, targets, reduction="sum")
        return float(loss), int((sel_logits.argmax(-1) == targets).sum()), int(targets.numel())


def mlm_perplexity(model, tokenizer, documents: list[str], *, seq_length: int, max_sequences: int, mask_seed: int,
                   batch_size: int, masking: MaskingConfig, device) -> dict:
    """Held-out MLM loss, perplexity and masked-token accuracy with fixed masks.

    Returns:
        {"loss", "perplexity", "accuracy", "tokens" (masked tokens scored), "sequences",
         "seq_length", "mask_seed"}.
    """
    blocks = _Blocks(pack_documents(tokenizer, documents, seq_length, max_sequences))
    if not len(blocks):
        raise LmtuiError("no held-out text to score", hint="set [eval] text_files, or check the validation split")
    scorer = _Scorer(model)
    loss_sum, correct, count = 0.0, 0, 0
    for batch in masked_batches(blocks, masking, batch_size=batch_size, mask_seed=mask_seed):
        mask = batch["attention_mask"]
        s, c, n = scorer(batch["input_ids"].to(device), batch["labels"].to(device),
                         None if mask is None else mask.to(device))
        loss_sum, correct, count = loss_sum + s, correct + c, count + n
    loss = loss_sum / max(count, 1)
    return {"loss": round(loss, 5), "perplexity": round(math.exp(min(loss, 50.0)), 4),
            "accuracy": round(correct / max(count, 1), 5), "tokens": count, "sequences": len(blocks),
            "seq_length": seq_length, "mask_seed": mask_seed}


def pseudo_perplexity(model, tokenizer, documents: list[str], *, samples: int, seed: int, seq_length: int,
                      batch_size: int, device) -> dict:
    """Pseudo-perplexity of a seeded sample of ``samples`` documents (each cut to ``seq_length``).

    Returns:
        {"pseudo_perplexity", "tokens" (tokens scored), "samples" (documents scored)}.
    """
    docs = [d for d in documents if d.strip()]
    chosen = random.Random(seed).sample(docs, min(samples, len(docs)))
    scorer = _Scorer(model)
    special = set(tokenizer.all_special_ids)
    rows: list[tuple[list[int], int, int]] = []  # (ids, masked position, original id)
    for doc in chosen:
        ids = tokenizer(doc, truncation=True, max_length=seq_length)["input_ids"]
        rows.extend((ids, i, t) for i, t in enumerate(ids) if t not in special)
    if not rows:
        raise LmtuiError("no held-out text for pseudo-perplexity", hint="set [eval] text_files")
    nll = 0.0
    for start in range(0, len(rows), batch_size):
        chunk = rows[start:start + batch_size]
        width = max(len(r[0]) for r in chunk)
        ids = torch.full((len(chunk), width), tokenizer.pad_token_id, dtype=torch.long)
        labels = torch.full((len(chunk), width), IGNORE_INDEX, dtype=torch.long)
        mask = torch.zeros((len(chunk), width), dtype=torch.long)
        for r, (seq, pos, target) in enumerate(chunk):
            ids[r, :len(seq)] = torch.tensor(seq)
            ids[r, pos] = tokenizer.mask_token_id
            labels[r, pos] = target
            mask[r, :len(seq)] = 1
        s, _, _ = scorer(ids.to(device), labels.to(device), mask.to(device))
        nll += s
    return {"pseudo_perplexity": round(math.exp(min(nll / len(rows), 50.0)), 4), "tokens": len(rows),
            "samples": len(chosen)}


def _shown(tokenizer, token_id: int) -> str:
    """A predicted token as text: decoded and stripped; a whitespace piece as ``␣``."""
    text = tokenizer.decode([token_id])
    return text.strip() or ("␣" if text else tokenizer.convert_ids_to_tokens(token_id))


@torch.no_grad()
def fill_mask_probes(model, tokenizer, probes: list[str], *, top_k: int, device) -> list[dict]:
    """Top-k predictions for every mask of every probe.

    Returns:
        [{"text": probe as written, "predictions": [[{"token", "score"}, ...] per mask]}].

    Raises:
        LmtuiError: the tokenizer has no mask token.
    """
    if tokenizer.mask_token is None:
        raise LmtuiError("the model's tokenizer has no mask token, so probes cannot be filled")
    out = []
    for text in probes:
        filled = text
        for placeholder in MASK_PLACEHOLDERS:
            filled = filled.replace(placeholder, tokenizer.mask_token)
        enc = tokenizer(filled, return_tensors="pt")
        logits = model(input_ids=enc["input_ids"].to(device), attention_mask=enc["attention_mask"].to(device)).logits
        positions = (enc["input_ids"][0] == tokenizer.mask_token_id).nonzero().flatten().tolist()
        predictions = []
        for pos in positions:
            probs = logits[0, pos, :len(tokenizer)].float().softmax(-1)  # padded vocabulary rows excluded
            scores, ids = probs.topk(top_k)
            predictions.append([{"token": _shown(tokenizer, i), "score": round(float(s), 5)}
                                for s, i in zip(scores.tolist(), ids.tolist())])
        out.append({"text": text, "predictions": predictions})
    return out
