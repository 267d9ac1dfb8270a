"""line_by_line micro-batches are cut into chunks by length without changing what the model learns."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lmtui.data.batches import MaskingConfig, Sequences, TrainStream, collate, mask_tokens, split_by_length


class _Documents:
    """A token cache stand-in holding documents of the given lengths (ids 5.. in order, then </s>=2)."""

    def __init__(self, lengths):
        docs = [np.r_[0, np.arange(5, 5 + n - 2) % 900 + 5, 2] for n in lengths]
        self.tokens = np.concatenate(docs)
        self.offsets = np.r_[0, np.cumsum([len(d) for d in docs])]
        self.num_tokens, self.num_documents = int(self.offsets[-1]), len(docs)


MASKING = MaskingConfig(mask_token_id=4, pad_token_id=1, special_ids=(0, 1, 2, 3, 4), vocab_size=1000)


def test_split_by_length_covers_every_row_once_longest_first():
    lengths = np.array([5, 128, 7, 60, 128, 64, 6, 128, 58, 5] * 3)
    chunks = split_by_length(lengths, 128, chunk_cost=0.03)
    rows = np.concatenate(chunks)
    assert sorted(rows.tolist()) == list(range(len(lengths)))
    assert [int(lengths[c].max()) for c in chunks] == sorted((int(lengths[c].max()) for c in chunks), reverse=True)
    assert len(chunks) == 3  # 128s, ~60s, short ones
    padded = sum(len(c) * -(-int(lengths[c].max()) // 8) * 8 for c in chunks)
    assert lengths.sum() / padded > 0.9


def test_split_by_length_keeps_one_chunk_when_cutting_does_not_pay():
    assert len(split_by_length(np.full(32, 128), 128)) == 1
    assert len(split_by_length(np.array([120, 128, 124, 128]), 128)) == 1
    assert len(split_by_length(np.array([128, 8]), 128, chunk_cost=10.0)) == 1


def test_line_by_line_chunks_hold_the_same_masked_tokens_as_the_padded_micro_batch():
    lengths = np.random.default_rng(0).integers(3, 200, size=64)
    seqs = Sequences(_Documents(lengths), 128, True, 2)
    stream = TrainStream(seqs, MASKING, seed=7, batch_size=32, micro_batch_size=16, rank=0, world_size=1,
                         chunk_cost=0.03)
    for j in range(4):
        batch = stream[j]
        rows = [seqs.get(int(stream._permutation(0)[q])) for q in stream.positions(j)]
        ids, valid = collate(rows, MASKING.pad_token_id)
        inputs, labels = mask_tokens(ids, valid, MASKING, np.random.default_rng([7, stream.positions(j).start]))
        assert len(batch["chunks"]) > 1
        assert batch["num_tokens"] == sum(len(r) for r in rows) == int(valid.sum())
        assert batch["num_targets"] == int((labels != -100).sum())
        chunk_rows = sorted((tuple(c["input_ids"][r][c["attention_mask"][r].bool()].tolist()
                                   if c["attention_mask"] is not None else c["input_ids"][r].tolist())
                             for c in batch["chunks"] for r in range(len(c["input_ids"]))))
        assert chunk_rows == sorted(tuple(inputs[r][valid[r]].tolist()) for r in range(len(rows)))
        for c in batch["chunks"]:
            assert int((c["labels"] != -100).sum()) == len(c["positions"])  # every selected token, once
            assert torch.equal(c["labels"].flatten()[c["positions"]], c["targets"])


def test_chunked_gradient_equals_the_gradient_of_the_whole_micro_batch():
    from transformers import BertConfig, BertForMaskedLM

    from lmtui.train.model import MaskedLMObjective

    torch.manual_seed(0)
    config = BertConfig(vocab_size=1000, hidden_size=32, intermediate_size=64, num_attention_heads=2,
                        num_hidden_layers=2, max_position_embeddings=128, hidden_dropout_prob=0.0,
                        attention_probs_dropout_prob=0.0, pad_token_id=1)
    objective = MaskedLMObjective(BertForMaskedLM(config).double())
    seqs = Sequences(_Documents(np.random.default_rng(1).integers(3, 150, size=32)), 128, True, 2)
    stream = TrainStream(seqs, MASKING, seed=3, batch_size=16, micro_batch_size=16, rank=0, world_size=1,
                         chunk_cost=0.01)
    batch = stream[0]
    assert len(batch["chunks"]) > 1

    for c in batch["chunks"]:
        loss, _, n = objective(c["input_ids"], c["targets"], c["attention_mask"], c["positions"], accuracy=False)
        (loss * (n / batch["num_targets"])).backward()
    chunked = [p.grad.clone() for p in objective.parameters()]
    objective.zero_grad()

    rows = [seqs.get(int(stream._permutation(0)[q])) for q in stream.positions(0)]
    ids, valid = collate(rows, MASKING.pad_token_id)
    inputs, labels = mask_tokens(ids, valid, MASKING, np.random.default_rng([3, 0]))
    loss, _, _ = objective(torch.from_numpy(inputs), torch.from_numpy(labels), torch.from_numpy(valid.astype(np.int64)))
    loss.backward()
    for g, p in zip(chunked, objective.parameters()):
        assert torch.allclose(g, p.grad, rtol=1e-5, atol=1e-8)  # the loss is taken in float32


def test_an_empty_selection_gives_zero_loss_not_nan():
    from transformers import BertConfig, BertForMaskedLM

    from lmtui.train.model import MaskedLMObjective

    model = BertForMaskedLM(BertConfig(vocab_size=100, hidden_size=16, intermediate_size=32, num_attention_heads=2,
                                       num_hidden_layers=1))
    loss, _, n = MaskedLMObjective(model)(torch.randint(5, 100, (2, 8)), torch.empty(0, dtype=torch.long), None,
                                          torch.empty(0, dtype=torch.long), accuracy=False)
    assert n == 0 and loss.item() == pytest.approx(0.0)
