"""Batches for masked language modeling from a token cache, masked in the loader.

Sequences:
- packing (default): the split's token stream cut into blocks of ``max_seq_length`` tokens
  (documents keep their special tokens; no padding; the ``group_texts`` of run_mlm.py). With
  ``packing="concat"`` the documents of a block attend to each other; with ``"document"`` each
  block also carries its segment ids (:meth:`Sequences.segment_ids`), and the model attends
  within each document only, positions restarting at each (the packing of Krell et al. 2021,
  "Efficient Sequence Packing without Cross-contamination", and of ModernBERT). A document cut
  by a block boundary continues in the next block as a document of its own.
- line_by_line: one sequence per document, truncated to ``max_seq_length`` (the last kept
  token replaced by the end token), never padded to ``max_seq_length``: a training
  micro-batch is masked as a whole, then its sequences, sorted by length, are cut into
  chunks that are each padded to their own longest (:func:`split_by_length`). The trainer
  runs one forward/backward per chunk and weights each chunk's mean loss by its share of the
  micro-batch's masked tokens, so the gradient is that of the whole micro-batch (the mean over
  all its masked tokens) while padding costs almost nothing, and the data order stays random
  (unlike grouping whole batches by length, which would over-weight the tokens of short
  documents).

Order: the training stream is an endless sequence of epochs, each a permutation of the
sequences seeded with ``seed + epoch``. Optimizer step ``s`` of a run with global batch ``B``
consumes stream positions ``[s*B, (s+1)*B)``; rank ``r`` takes its contiguous share, in
micro-batches. Masks are drawn from a generator seeded with (seed, stream position), so a
resumed run sees exactly the batches it would have seen.

Padding: a batch is padded to its longest sequence rounded up to a multiple of 8 (tensor-core
friendly shapes), but never past ``max_seq_length``, the model's number of positions.

Held-out evaluation (:func:`eval_batches`): one fixed-mask scheme for the trainer's periodic
eval and the evaluate stage's perplexity (:func:`lmtui.evaluation.intrinsic.mlm_perplexity`).
Sequence ``i`` is masked at its own length with its own generator seeded by (``mask_seed``,
``i``), so its masks depend neither on the batch size, nor on the split between ranks, nor on the
padding of its batch: the same model, sequences and seed always score the same tokens. The
trainer uses :data:`EVAL_MASK_SEED`, the default ``[eval] mask_seed``.

Masking follows BERT (Devlin et al. 2019) as in transformers' DataCollatorForLanguageModeling:
``mlm_probability`` of the non-special tokens are selected; of those, ``mask_replace_prob``
become the mask token, ``random_replace_prob`` a random token, the rest stay. Labels are -100
elsewhere.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from lmtui.data.mixture import Mixture
from lmtui.data.token_cache import TokenCache

IGNORE_INDEX = -100
# The fixed cost of one more forward/backward pass, as a fraction of the micro-batch padded to
# max_seq_length (measured: 2% for the seed shape on a CPU; GPUs pay more per kernel launch).
CHUNK_COST = {"cpu": 0.03, "cuda": 0.1}
# Seed of the trainer's held-out masks; the default of [eval] mask_seed, so both report the same loss.
EVAL_MASK_SEED = 1234


@dataclass
class MaskingConfig:
    """Token ids and probabilities for BERT-style masking."""

    mask_token_id: int
    pad_token_id: int
    special_ids: tuple[int, ...]
    vocab_size: int
    mlm_probability: float = 0.15
    mask_replace_prob: float = 0.8
    random_replace_prob: float = 0.1

    @classmethod
    def from_tokenizer(cls, tokenizer, training=None) -> "MaskingConfig":
        """BERT masking with ``tokenizer``'s mask, pad and special ids and its full length as the
        vocabulary of random replacements; probabilities from a project's ``[training]`` section
        when given, else BERT's (0.15 selected; 80% masked, 10% random)."""
        kw = {}
        if training is not None:
            kw = dict(mlm_probability=training.mlm_probability, mask_replace_prob=training.mask_replace_prob,
                      random_replace_prob=training.random_replace_prob)
        return cls(mask_token_id=tokenizer.mask_token_id, pad_token_id=tokenizer.pad_token_id,
                   special_ids=tuple(tokenizer.all_special_ids), vocab_size=len(tokenizer), **kw)


def mask_tokens(ids: np.ndarray, valid: np.ndarray, cfg: MaskingConfig, rng: np.random.Generator):
    """Apply BERT masking to a batch.

    Args:
        ids: int64 array (batch, seq) of token ids; modified copy is returned.
        valid: bool array (batch, seq), False on padding.
        cfg: ids and probabilities.
        rng: numpy generator (seeded by the caller for reproducibility).

    Returns:
        (input_ids, labels): int64 arrays (batch, seq); labels are -100 where not selected.
    """
    special = np.isin(ids, cfg.special_ids) | ~valid
    selected = (rng.random(ids.shape) < cfg.mlm_probability) & ~special
    labels = np.where(selected, ids, IGNORE_INDEX)
    inputs = ids.copy()
    roll = rng.random(ids.shape)
    to_mask = selected & (roll < cfg.mask_replace_prob)
    to_random = selected & (roll >= cfg.mask_replace_prob) & (roll < cfg.mask_replace_prob + cfg.random_replace_prob)
    inputs[to_mask] = cfg.mask_token_id
    inputs[to_random] = rng.integers(0, cfg.vocab_size, size=int(to_random.sum()))
    return inputs, labels


class Sequences:
    """The sequences of one split: packed blocks or truncated documents.

    ``packing`` ("concat" or "document") says whether packed blocks carry their document
    boundaries (:meth:`segment_ids`); it has no effect with ``line_by_line``."""

    def __init__(self, cache: TokenCache, max_seq_length: int, line_by_line: bool, end_token_id: int,
                 packing: str = "concat"):
        self.cache = cache
        self.length = max_seq_length
        self.line_by_line = line_by_line
        self.end_token_id = end_token_id
        self.documents = packing == "document" and not line_by_line

    def __len__(self) -> int:
        if self.line_by_line:
            return self.cache.num_documents
        return max(1, self.cache.num_tokens // self.length) if self.cache.num_tokens else 0

    def get(self, i: int) -> np.ndarray:
        """Sequence ``i`` as an int64 array of at most ``max_seq_length`` ids."""
        if not self.line_by_line:
            return np.asarray(self.cache.tokens[i * self.length:(i + 1) * self.length], dtype=np.int64)
        start, end = int(self.cache.offsets[i]), int(self.cache.offsets[i + 1])
        seq = np.asarray(self.cache.tokens[start:min(end, start + self.length)], dtype=np.int64)
        if end - start > self.length:
            seq[-1] = self.end_token_id
        return seq

    def segment_ids(self, indices) -> np.ndarray | None:
        """With document packing, the segment ids of the packed blocks ``indices``: int64
        (len(indices), block length), 1 for the block's first document (or the rest of one cut
        by the block's start), 2 for the next, ...; None without document packing."""
        if not self.documents:
            return None
        rows = []
        for i in indices:
            at = np.arange(i * self.length, min((i + 1) * self.length, self.cache.num_tokens))
            doc = np.searchsorted(np.asarray(self.cache.offsets), at, side="right")
            rows.append(doc - doc[0] + 1)
        return np.stack(rows).astype(np.int64)


def collate(seqs: list[np.ndarray], pad_token_id: int, pad_to_multiple_of: int = 8, *,
            max_length: int | None = None):
    """Stack sequences, padding to the longest rounded up to ``pad_to_multiple_of``, but never past
    ``max_length`` (the model's positions; sequences are at most that long).

    Returns:
        (ids, valid): int64 (batch, seq) and bool (batch, seq); ``valid`` is None when no
        sequence needed padding.
    """
    longest = max(len(s) for s in seqs)
    if all(len(s) == longest for s in seqs):
        return np.stack(seqs), None
    width = -(-longest // pad_to_multiple_of) * pad_to_multiple_of
    if max_length is not None:
        width = min(width, max_length)
    ids = np.full((len(seqs), width), pad_token_id, dtype=np.int64)
    valid = np.zeros((len(seqs), width), dtype=bool)
    for row, s in enumerate(seqs):
        ids[row, :len(s)] = s
        valid[row, :len(s)] = True
    return ids, valid


def masked_tensors(inputs: np.ndarray, labels: np.ndarray, valid: np.ndarray | None,
                   segments: np.ndarray | None = None) -> dict:
    """A masked micro-batch as tensors.

    Args:
        inputs, labels: int64 (B, T), as :func:`mask_tokens` returns them.
        valid: bool (B, T), False on padding; None when nothing is padded.
        segments: int64 (B, T) segment ids of packed documents (:meth:`Sequences.segment_ids`;
            0 on padding), or None.

    Returns:
        input_ids, labels (B, T) int64; attention_mask (B, T) int64 or None: the segment ids
        when ``segments`` is given (a 0/1 padding mask is the case of one document a row, and
        :class:`lmtui.train.model.MaskedLMObjective` with ``documents`` reads it so), else 1 on
        real tokens and 0 on padding; positions (n,)
        int64, the flat indices (row * T + column) of the n selected tokens, and targets (n,)
        their original ids, so the trainer gathers masked rows without a device-to-host sync;
        num_tokens, the real (non-padding) tokens of the batch.
    """
    positions = np.flatnonzero(labels != IGNORE_INDEX)
    if segments is not None:
        mask = segments if valid is None else np.where(valid, segments, 0)
    else:
        mask = None if valid is None else valid.astype(np.int64)
    return {"input_ids": torch.from_numpy(inputs), "labels": torch.from_numpy(labels),
            "attention_mask": None if mask is None else torch.from_numpy(np.ascontiguousarray(mask)),
            "positions": torch.from_numpy(positions), "targets": torch.from_numpy(labels.ravel()[positions]),
            "num_tokens": int(inputs.size if valid is None else valid.sum())}


def split_by_length(lengths: np.ndarray, max_length: int, chunk_cost: float = CHUNK_COST["cuda"],
                    multiple: int = 8) -> list[np.ndarray]:
    """Cut a micro-batch into chunks of rows of similar length, minimising padded work.

    Rows are sorted by decreasing length; a chunk of rows ``[i, j)`` costs ``(j - i) * w``
    token slots, ``w`` its longest length rounded up to ``multiple`` but at most ``max_length``,
    plus ``chunk_cost`` x rows x ``max_length`` for its own forward/backward pass. An exact dynamic program over the
    sorted rows picks the cheapest cut.

    Args:
        lengths: (B,) real tokens of each row.
        max_length: the sequence length rows are truncated to.

    Returns:
        arrays of row indices, one per chunk, longest rows first; a single chunk of every row
        when cutting does not pay.
    """
    order = np.argsort(-lengths, kind="stable")
    width = np.minimum(-(-lengths[order] // multiple) * multiple, max_length).astype(np.float64)
    n = len(order)
    overhead = chunk_cost * n * max_length
    best = np.zeros(n + 1)  # best[j]: cost of the cheapest cut of the first j sorted rows
    cut = np.zeros(n + 1, dtype=np.int64)  # cut[j]: where the last chunk of that cut starts
    for j in range(1, n + 1):
        costs = best[:j] + (j - np.arange(j)) * width[:j] + overhead
        cut[j] = int(np.argmin(costs))
        best[j] = costs[cut[j]]
    chunks, j = [], n
    while j > 0:
        chunks.append(order[cut[j]:j])
        j = cut[j]
    return chunks[::-1]


class TrainStream(torch.utils.data.Dataset):
    """Micro-batches of one rank, indexed by micro-batch number (map-style, for DataLoader workers).

    Micro-batch ``j`` of rank ``r`` covers stream positions
    ``step*B + r*(B/world) + k*micro`` for ``step, k = divmod(j, accumulation)``. Over a mixture
    of sources (a cache whose ``sources`` lists two or more), position ``q`` draws the sequence
    :meth:`lmtui.data.mixture.Mixture.sequence` gives; else the sequences of epoch ``q // n``
    come in a permutation seeded with ``seed + epoch``.
    """

    def __init__(self, sequences: Sequences, cfg: MaskingConfig, *, seed: int, batch_size: int,
                 micro_batch_size: int, rank: int, world_size: int, chunk_cost: float = CHUNK_COST["cuda"]):
        self.seqs = sequences
        self.chunk_cost = chunk_cost
        self.cfg = cfg
        self.seed = seed
        self.batch_size = batch_size
        self.micro = micro_batch_size
        self.rank = rank
        self.world = world_size
        self.accumulation = batch_size // (micro_batch_size * world_size)
        self._perm_epoch = -1
        self._perm = None
        self.mixture = Mixture(sequences, seed) if getattr(sequences.cache, "sources", None) else None

    def __len__(self) -> int:  # endless stream; the trainer stops by step count
        return 2 ** 62

    def _permutation(self, epoch: int) -> np.ndarray:
        if epoch != self._perm_epoch:
            self._perm = np.random.default_rng(self.seed + epoch).permutation(len(self.seqs))
            self._perm_epoch = epoch
        return self._perm

    def sequence(self, q: int) -> int:
        """The index of the sequence at stream position ``q``."""
        if self.mixture is not None:
            return self.mixture.sequence(q)
        epoch, i = divmod(q, len(self.seqs))
        return int(self._permutation(epoch)[i])

    def positions(self, j: int) -> range:
        step, k = divmod(j, self.accumulation)
        start = step * self.batch_size + self.rank * (self.batch_size // self.world) + k * self.micro
        return range(start, start + self.micro)

    def __getitem__(self, j: int) -> dict:
        """Micro-batch ``j``: ``chunks`` (dicts as :func:`masked_tensors` returns, one forward pass
        each), ``num_tokens`` (real tokens) and ``num_targets`` (masked tokens) of all chunks."""
        seqs, picked = [], []
        for q in self.positions(j):
            picked.append(self.sequence(q))
            seqs.append(self.seqs.get(picked[-1]))
        ids, valid = collate(seqs, self.cfg.pad_token_id, max_length=self.seqs.length)
        rng = np.random.default_rng([self.seed, self.positions(j).start])
        inputs, labels = mask_tokens(ids, valid if valid is not None else np.ones(ids.shape, dtype=bool), self.cfg,
                                     rng)
        if valid is None:
            chunks = [masked_tensors(inputs, labels, None, self.seqs.segment_ids(picked))]
        else:
            lengths = valid.sum(axis=1)
            chunks = []
            for rows in split_by_length(lengths, self.seqs.length, self.chunk_cost):
                width = min(-(-int(lengths[rows[0]]) // 8) * 8, ids.shape[1])
                sub_valid = valid[rows, :width]
                chunks.append(masked_tensors(inputs[rows, :width], labels[rows, :width],
                                             None if sub_valid.all() else sub_valid))
        return {"chunks": chunks, "num_tokens": sum(c["num_tokens"] for c in chunks),
                "num_targets": sum(len(c["targets"]) for c in chunks)}


def eval_batches(sequences: Sequences, cfg: MaskingConfig, *, micro_batch_size: int, max_samples: int,
                 rank: int = 0, world_size: int = 1, seed: int = EVAL_MASK_SEED):
    """Fixed-mask micro-batches of held-out sequences, as :func:`masked_tensors` returns them.

    Args:
        sequences: anything with ``len``, ``get(i)`` (int64 ids), ``segment_ids(indices)`` (None,
            or the document segments of packed blocks) and ``length`` (the longest allowed, the
            model's positions), e.g. :class:`Sequences`.
        max_samples: score the first ``max_samples`` sequences (all when 0).
        rank, world_size: rank ``r`` takes the micro-batches starting at ``r * micro_batch_size``,
            every ``micro_batch_size * world_size`` sequences.
        seed: the mask seed; sequence ``i`` is masked with a generator seeded by (seed, i), at its
            own length, so the masks do not depend on the batch size or the rank split.
    """
    n = len(sequences) if not max_samples else min(max_samples, len(sequences))
    for start in range(rank * micro_batch_size, n, micro_batch_size * world_size):
        masked = []
        for i in range(start, min(start + micro_batch_size, n)):
            seq = sequences.get(i)
            inputs, labels = mask_tokens(seq[None], np.ones((1, len(seq)), dtype=bool), cfg,
                                         np.random.default_rng([seed, i]))
            masked.append((inputs[0], labels[0]))
        inputs, valid = collate([m[0] for m in masked], cfg.pad_token_id, max_length=sequences.length)
        labels, _ = collate([m[1] for m in masked], IGNORE_INDEX, max_length=sequences.length)
        yield masked_tensors(inputs, labels, valid, sequences.segment_ids(range(start, start + len(masked))))
