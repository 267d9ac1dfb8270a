"""One fixed-mask held-out evaluation for the trainer and the evaluate stage; no padding past max_seq_length."""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from support.cli import DATA

from lmtui.data.batches import EVAL_MASK_SEED, MaskingConfig, Sequences, TrainStream, collate, eval_batches

MASKING = MaskingConfig(mask_token_id=4, pad_token_id=1, special_ids=(0, 1, 2, 3, 4), vocab_size=1000)


class _Documents:
    """A token cache stand-in holding documents of the given lengths (<s>=0, ids 5.., </s>=2)."""

    def __init__(self, lengths):
        docs = [np.r_[0, np.arange(5, 5 + n - 2) % 900 + 5, 2] for n in lengths]
        self.tokens = np.concatenate(docs)
        self.offsets = np.r_[0, np.cumsum([len(d) for d in docs])]
        self.num_tokens, self.num_documents = int(self.offsets[-1]), len(docs)


def _line_by_line(max_seq_length: int, n: int = 48, seed: int = 0) -> Sequences:
    lengths = np.random.default_rng(seed).integers(3, 160, size=n)
    lengths[:4] = (97, 99, 150, 101)  # rounded up to 8 these would be 104 > 100
    return Sequences(_Documents(lengths), max_seq_length, True, 2)


def _train_chunks(seqs: Sequences, micro: int = 16):
    stream = TrainStream(seqs, MASKING, seed=5, batch_size=micro, micro_batch_size=micro, rank=0, world_size=1,
                         chunk_cost=0.01)
    return [c for j in range(len(seqs) // micro) for c in stream[j]["chunks"]]


def test_line_by_line_batches_are_never_padded_past_max_seq_length():
    seqs = _line_by_line(100)
    widths = [c["input_ids"].shape[1] for c in _train_chunks(seqs)]
    widths += [b["input_ids"].shape[1] for b in eval_batches(seqs, MASKING, micro_batch_size=8, max_samples=0)]
    assert max(widths) == 100
    ids, valid = collate([np.arange(97), np.arange(40)], 1, max_length=100)
    assert ids.shape == (2, 100) and valid.sum() == 137
    assert collate([np.arange(90), np.arange(40)], 1, max_length=100)[0].shape == (2, 96)


def test_a_bert_with_100_positions_runs_every_line_by_line_chunk_and_eval_batch():
    from transformers import BertConfig, BertForMaskedLM

    from lmtui.train.model import MaskedLMObjective

    torch.manual_seed(0)
    config = BertConfig(vocab_size=1000, hidden_size=16, intermediate_size=32, num_attention_heads=2,
                        num_hidden_layers=1, max_position_embeddings=100, pad_token_id=1)
    objective = MaskedLMObjective(BertForMaskedLM(config).eval())
    seqs = _line_by_line(100, n=32)
    with torch.no_grad():
        for c in _train_chunks(seqs):
            loss, _, n = objective(c["input_ids"], c["targets"], c["attention_mask"], c["positions"], accuracy=False)
            assert n == len(c["targets"]) and torch.isfinite(loss)
        for b in eval_batches(seqs, MASKING, micro_batch_size=8, max_samples=0):
            loss, _, n = objective(b["input_ids"], b["labels"], b["attention_mask"])
            assert torch.isfinite(loss)


def _masks_by_sequence(seqs: Sequences, micro: int, world: int, n: int = 40) -> dict[int, tuple]:
    """{sequence index: (inputs, labels) over its real tokens} from every rank's eval batches of the
    first ``n`` sequences (rank ``r`` takes the micro-batches starting at ``r*micro``, every ``micro*world``)."""
    out = {}
    for rank in range(world):
        indices = iter(i for s in range(rank * micro, n, micro * world) for i in range(s, min(s + micro, n)))
        for b in eval_batches(seqs, MASKING, micro_batch_size=micro, max_samples=n, rank=rank, world_size=world):
            for r in range(len(b["input_ids"])):
                real = slice(None) if b["attention_mask"] is None else b["attention_mask"][r].bool()
                out[next(indices)] = (tuple(b["input_ids"][r][real].tolist()), tuple(b["labels"][r][real].tolist()))
    return out


def test_eval_masks_do_not_depend_on_the_batch_size_or_the_rank_split():
    seqs = _line_by_line(128, n=60, seed=3)
    one = _masks_by_sequence(seqs, micro=1, world=1)
    assert sorted(one) == list(range(40))
    assert sum(sum(1 for t in labels if t != -100) for _, labels in one.values()) > 100
    assert _masks_by_sequence(seqs, micro=7, world=1) == one
    assert _masks_by_sequence(seqs, micro=3, world=2) == one
    other_seed = next(iter(eval_batches(seqs, MASKING, micro_batch_size=1, max_samples=1, seed=EVAL_MASK_SEED + 1)))
    assert tuple(other_seed["labels"][0].tolist()) != one[0][1]


@pytest.fixture(scope="module")
def tokenizer():
    from lmtui.data.corpus import read_documents
    from lmtui.data.tokenizer import train_tokenizer

    docs = list(read_documents([DATA / "prose" / "valid.txt"]))
    return train_tokenizer(docs, "wordpiece", vocab_size=2000, lowercase=True, model_max_length=64), docs


@pytest.mark.parametrize("line_by_line, packing", [(False, "concat"), (True, "concat"), (False, "document")])
def test_trainer_and_evaluate_stage_score_the_same_held_out_loss(tokenizer, tmp_path, line_by_line, packing):
    """The validation split of a token cache, scored by the trainer's periodic eval and by the
    evaluate stage's perplexity, with different batch sizes, gives the same loss, for each packing."""
    from accelerate import Accelerator
    from transformers import BertConfig, BertForMaskedLM

    from lmtui.data.token_cache import TokenCache, _write_split
    from lmtui.evaluation.intrinsic import mlm_perplexity
    from lmtui.train.model import MaskedLMObjective
    from lmtui.train.pretrain import evaluate

    tok, docs = tokenizer
    held_out = docs[:400]
    _write_split(held_out, tok, tmp_path / "validation.bin", tmp_path / "validation.idx", np.uint16)
    (tmp_path / "meta.json").write_text(json.dumps({"dtype": "uint16"}))
    sequences = Sequences(TokenCache(tmp_path, "validation"), 64, line_by_line, tok.sep_token_id, packing)
    torch.manual_seed(0)
    model = BertForMaskedLM(BertConfig(vocab_size=len(tok), hidden_size=32, intermediate_size=64,
                                       num_attention_heads=2, num_hidden_layers=2, max_position_embeddings=64,
                                       hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0,
                                       pad_token_id=tok.pad_token_id))  # evaluate() leaves it in train mode
    masking = MaskingConfig.from_tokenizer(tok)

    documents = packing == "document"
    trainer = evaluate(MaskedLMObjective(model, documents=documents), Accelerator(cpu=True), sequences, masking,
                       SimpleNamespace(micro_batch_size=4, max_eval_samples=30))
    stage = mlm_perplexity(model, tok, held_out, seq_length=64, max_sequences=30, mask_seed=EVAL_MASK_SEED,
                           batch_size=7, masking=masking, device="cpu", line_by_line=line_by_line,
                           packing=packing)
    assert len(sequences) > 30 and stage["sequences"] == 30
    assert stage["tokens"] == trainer["tokens"] > 100
    assert stage["loss"] == pytest.approx(trainer["loss"], abs=1e-6)
    assert stage["perplexity"] == pytest.approx(trainer["perplexity"], rel=1e-6)
    assert stage["accuracy"] == pytest.approx(trainer["accuracy"], abs=1e-6)
