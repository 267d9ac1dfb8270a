"""Mixtures of corpora in the training stream: which source, and which of its sequences, each
stream position draws.

Each source of a mixture owns a contiguous range of the training split's sequences (the token
cache writes sources one after another; a packed block belongs to the source of its first
token). Its **share** is the fraction of the training tokens it should supply: its ``weight``
normalised over the sources, or its ``epochs`` times its tokens, normalised, or (neither given)
its own tokens, the natural proportion. Shares of tokens become probabilities of sequences by
dividing by the source's mean sequence length (equal for packed blocks; documents differ in
line_by_line mode).

The order is the interleaving of blended datasets (Megatron-LM's ``BlendableDataset``, made
random): stream positions are cut into windows of :data:`WINDOW` positions; each window holds
every source a fixed number of times (its probability x :data:`WINDOW`, largest-remainder
rounded) in an order drawn from a generator seeded with (seed, window). The ``k``-th draw from a
source takes its sequence ``perm[k mod n]`` of a permutation seeded with (seed, source,
``k div n``), so a source smaller than its share is repeated (epochs) and a larger one is
subsampled. Everything is a function of (seed, position): a resumed run draws the same
sequences, and every position is computed directly (no replay from the start).

A run's weights reach the trainer through a small view of the cache in the run directory
(:func:`write_view`): the cache is keyed by the documents, so changing weights retokenizes
nothing.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from lmtui.errors import LmtuiError
from lmtui.fsutil import atomic_folder

WINDOW = 4096


def token_shares(sources: list, tokens: list[int]) -> dict[str, float]:
    """Each source's share of the training tokens.

    Args:
        sources: :class:`lmtui.data.sources.Source` objects (``name``, ``weight``, ``epochs``).
        tokens: each source's training tokens in the cache.

    Raises:
        LmtuiError: every share is 0 (no tokens, or every weight 0).
    """
    if all(s.weight is not None for s in sources):
        raw = [s.weight for s in sources]
    else:
        raw = [(s.epochs if s.epochs is not None else 1.0) * n for s, n in zip(sources, tokens)]
    total = float(sum(raw))
    if total <= 0:
        raise LmtuiError("the mixture's weights are all 0", key="corpus.sources",
                         hint="give at least one source a weight above 0")
    return {s.name: w / total for s, w in zip(sources, raw)}


def write_view(folder: Path, cache: Path, meta: dict, shares: dict[str, float]) -> None:
    """A view of the token ``cache`` in ``folder``: links to its four files and its meta.json with
    ``mixture`` (the run's shares) added, read by :class:`lmtui.data.token_cache.TokenCache` alike."""
    with atomic_folder(folder) as tmp:
        for name in meta["files"]:
            os.symlink(cache / name, tmp / name)
        (tmp / "meta.json").write_text(json.dumps(dict(meta, mixture=shares, cache=str(cache)), indent=2) + "\n")


def source_ranges(sequences) -> list[tuple[int, int]]:
    """The [start, end) sequence indices of each source of ``sequences`` (a
    :class:`lmtui.data.batches.Sequences` over a mixture's training split)."""
    n = len(sequences)
    out = []
    for s in sequences.cache.sources:
        if sequences.line_by_line:
            lo, hi = s["documents"]
        else:
            a, b = s["tokens"]
            L = sequences.length
            lo, hi = -(-a // L), min(-(-b // L), n)
        out.append((lo, hi))
    return out


class Mixture:
    """The mixture order of a training stream (see the module docstring).

    Args:
        sequences: :class:`lmtui.data.batches.Sequences` whose cache has two or more sources.
        seed: the training seed.

    Raises:
        LmtuiError: a source with a positive share owns no training sequence.
    """

    def __init__(self, sequences, seed: int):
        self.seed = seed
        sources = sequences.cache.sources
        self.names = [s["name"] for s in sources]
        self.ranges = source_ranges(sequences)
        tokens = np.array([s["tokens"][1] - s["tokens"][0] for s in sources], dtype=np.float64)
        shares = np.array([s["share"] if s["share"] is not None else t / max(tokens.sum(), 1)
                           for s, t in zip(sources, tokens)])
        for name, (lo, hi), share in zip(self.names, self.ranges, shares):
            if share > 0 and hi <= lo:
                raise LmtuiError(f"source {name!r} has no training sequence (fewer tokens than max_seq_length)",
                                 key=f"corpus.sources.{name}", hint="give it more text, or remove it")
        self.probabilities = shares / self._mean_lengths(sequences)
        self.probabilities /= self.probabilities.sum()
        self.counts = _largest_remainder(self.probabilities, WINDOW)
        self._window = (-1, None, None)
        self._perms: dict[int, tuple[int, np.ndarray]] = {}

    def _mean_lengths(self, sequences) -> np.ndarray:
        if not sequences.line_by_line:
            return np.ones(len(self.ranges))
        offsets = sequences.cache.offsets
        return np.array([np.minimum(np.diff(offsets[lo:hi + 1]), sequences.length).mean() if hi > lo else 1.0
                         for lo, hi in self.ranges])

    def _arrangement(self, window: int) -> tuple[np.ndarray, np.ndarray]:
        if self._window[0] != window:
            order = np.random.default_rng([self.seed, 0x6D6978, window]).permutation(
                np.repeat(np.arange(len(self.counts)), self.counts))
            rank = np.zeros(len(order), dtype=np.int64)
            for s in range(len(self.counts)):
                where = order == s
                rank[where] = np.arange(int(where.sum()))
            self._window = (window, order, rank)
        return self._window[1], self._window[2]

    def source_of(self, q: int) -> int:
        """The source that stream position ``q`` draws from."""
        order, _ = self._arrangement(q // WINDOW)
        return int(order[q % WINDOW])

    def sequence(self, q: int) -> int:
        """The training sequence (index into the split's sequences) at stream position ``q``."""
        window, offset = divmod(q, WINDOW)
        order, rank = self._arrangement(window)
        s = int(order[offset])
        k = window * int(self.counts[s]) + int(rank[offset])
        lo, hi = self.ranges[s]
        epoch, i = divmod(k, hi - lo)
        cached = self._perms.get(s)
        if cached is None or cached[0] != epoch:
            cached = (epoch, np.random.default_rng([self.seed, s, epoch]).permutation(hi - lo))
            self._perms[s] = cached
        return lo + int(cached[1][i])


def _largest_remainder(p: np.ndarray, total: int) -> np.ndarray:
    """Integer counts summing to ``total`` proportional to ``p`` (largest-remainder rounding), at
    least 1 for every positive ``p``."""
    exact = p * total
    counts = np.floor(exact).astype(np.int64)
    counts[(p > 0) & (counts == 0)] = 1
    order = np.argsort(-(exact - np.floor(exact)), kind="stable")
    i = 0
    while counts.sum() < total:
        counts[order[i % len(order)]] += 1
        i += 1
    while counts.sum() > total:
        counts[int(np.argmax(counts))] -= 1
    return counts
