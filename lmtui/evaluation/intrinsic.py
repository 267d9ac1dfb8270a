"""Intrinsic evaluation of a masked language model: held-out MLM loss, perplexity and masked-token
accuracy with fixed masks; pseudo-perplexity; fill-mask probes.

- Perplexity: the held-out documents are tokenized with the model's tokenizer (special tokens
  per document) and cut into sequences of at most ``seq_length`` tokens as pretraining cuts its
  validation split (packed blocks, or one per document with ``line_by_line``), and scored with
  the run's ``packing``: with ``"document"`` each document of a packed block attends to its own
  tokens only, positions restarting at each, as the trainer's held-out evaluation does; the first
  ``max_sequences`` are masked and batched by :func:`lmtui.data.batches.eval_batches`, the
  trainer's periodic evaluation (sequence ``i`` masked BERT-style with a generator seeded by
  (``mask_seed``, ``i``)), so the same model always gets the same number whatever the batch size,
  and the trainer's held-out loss on the same sequences with the same seed
  (:data:`lmtui.data.batches.EVAL_MASK_SEED`, the default ``mask_seed``).
  perplexity = exp(mean cross-entropy over the masked tokens) (:func:`lmtui.train.model.perplexity`).
- Pseudo-perplexity (Salazar et al. 2020, "Masked Language Model Scoring"): for a seeded sample
  of documents (each cut to ``seq_length`` tokens), every non-special token is masked in turn
  (one copy of the sequence per token) and scored; PPPL = exp(-(sum of log p(token)) / tokens).
- Probes: sentences with ``<mask>``/``[MASK]`` placeholders; the ``top_k`` tokens per mask with
  their probabilities.
"""

from __future__ import annotations

import random

import numpy as np
import torch

from lmtui.data.batches import IGNORE_INDEX, MaskingConfig, Sequences, eval_batches
from lmtui.errors import LmtuiError
from lmtui.project.sections.eval import MASK_PLACEHOLDERS
from lmtui.train.model import MaskedLMObjective, document_inputs, perplexity


class _TokenizedDocuments:
    """Documents tokenized in memory, laid out like a split of :class:`lmtui.data.token_cache.TokenCache`.

    Attributes:
        tokens: 1-D int64 array of every document's ids, concatenated.
        offsets: 1-D int64 array of document starts, shape (n_documents + 1,).
    """

    def __init__(self, ids: list[int], lengths: list[int]):
        self.tokens = np.asarray(ids, dtype=np.int64)
        self.offsets = np.concatenate([[0], np.cumsum(lengths, dtype=np.int64)])
        self.num_tokens, self.num_documents = len(self.tokens), len(lengths)


def held_out_sequences(tokenizer, documents: list[str], seq_length: int, max_sequences: int,
                       line_by_line: bool = False, packing: str = "concat") -> Sequences:
    """The trainer's sequences of ``documents``: tokenized as the token cache does (special tokens
    per document), then packed into blocks of ``seq_length`` ids (the tail dropped unless it is
    the only block) or, with ``line_by_line``, one per document truncated to ``seq_length``
    (:class:`lmtui.data.batches.Sequences`; ``packing`` as ``[training] packing``: with
    ``"document"`` the blocks carry their document segments). Tokenizing stops once the first
    ``max_sequences`` (0: all) sequences are complete.
    """
    backend = tokenizer.backend_tokenizer
    ids: list[int] = []
    lengths: list[int] = []
    for start in range(0, len(documents), 1024):
        for enc in backend.encode_batch(documents[start:start + 1024], add_special_tokens=True):
            ids.extend(enc.ids)
            lengths.append(len(enc.ids))
        if max_sequences and (len(lengths) if line_by_line else len(ids) // seq_length) >= max_sequences:
            break
    return Sequences(_TokenizedDocuments(ids, lengths), seq_length, line_by_line, tokenizer.sep_token_id, packing)


class _Scorer:
    """Masked-LM loss over selected positions for any ``*ForMaskedLM`` (head on masked rows only
    for the four lmtui architectures, full logits otherwise). With ``documents``, the attention
    mask of a batch holds the segment ids of packed documents (:func:`lmtui.train.model.document_inputs`)."""

    def __init__(self, model, documents: bool = False):
        self.model = model
        self.documents = documents
        try:
            self.objective = MaskedLMObjective(model, documents=documents)
        except ValueError:
            self.objective = None

    @torch.no_grad()
    def __call__(self, input_ids, labels, attention_mask=None) -> tuple[float, int, int]:
        """(sum of cross-entropy over selected tokens, correct predictions, selected tokens)."""
        if self.objective is not None:
            loss, correct, count = self.objective(input_ids, labels, attention_mask)
            return float(loss) * count, int(correct), int(count)
        inputs = {"attention_mask": attention_mask}
        if self.documents and attention_mask is not None:
            inputs = document_inputs(self.model, attention_mask)
        logits = self.model(input_ids=input_ids, **inputs).logits
        selected = labels != IGNORE_INDEX
        sel_logits, targets = logits[selected].float(), labels[selected]
        loss = torch.nn.functional.cross_entropy(sel_logits, targets, reduction="sum")
        return float(loss), int((sel_logits.argmax(-1) == targets).sum()), int(targets.numel())


def mlm_perplexity(model, tokenizer, documents: list[str], *, seq_length: int, max_sequences: int, mask_seed: int,
                   batch_size: int, masking: MaskingConfig, device, line_by_line: bool = False,
                   packing: str = "concat") -> dict:
    """Held-out MLM loss, perplexity and masked-token accuracy with fixed masks, over the first
    ``max_sequences`` (0: all) of :func:`held_out_sequences`, packed as the run packs
    (``packing``: ``"concat"`` or ``"document"``).

    Returns:
        {"loss", "perplexity", "accuracy", "tokens" (masked tokens scored), "sequences",
         "seq_length", "mask_seed"}.
    """
    sequences = held_out_sequences(tokenizer, documents, seq_length, max_sequences, line_by_line, packing)
    scored = min(max_sequences, len(sequences)) if max_sequences else len(sequences)
    if not scored:
        raise LmtuiError("no held-out text to score", hint="set [eval] text_files, or check the validation split")
    scorer = _Scorer(model, documents=sequences.documents)
    loss_sum, correct, count = 0.0, 0, 0
    for batch in eval_batches(sequences, masking, micro_batch_size=batch_size, max_samples=scored, seed=mask_seed):
        mask = batch["attention_mask"]
        s, c, n = scorer(batch["input_ids"].to(device), batch["labels"].to(device),
                         None if mask is None else mask.to(device))
        loss_sum, correct, count = loss_sum + s, correct + c, count + n
    loss = loss_sum / max(count, 1)
    return {"loss": round(loss, 5), "perplexity": round(perplexity(loss), 4),
            "accuracy": round(correct / max(count, 1), 5), "tokens": count, "sequences": scored,
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
    return {"pseudo_perplexity": round(perplexity(nll / len(rows)), 4), "tokens": len(rows),
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
