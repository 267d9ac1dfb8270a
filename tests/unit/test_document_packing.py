"""packing = "document": a packed row scores each document as if it ran alone.

Tolerance: fp32 on CPU, the largest absolute logit difference at most 1e-5 (measured: about
1e-7); across documents (packing = "concat") the same rows differ by more than 1e-3.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from transformers import AutoModelForMaskedLM, BertConfig, ModernBertConfig, RobertaConfig

from lmtui.data.batches import MaskingConfig, Sequences, TrainStream, eval_batches
from lmtui.train.model import MaskedLMObjective, attention_kernel, document_inputs, select_attention

TOLERANCE = 1e-5
LENGTHS = [7, 12, 13]  # one row of 32 tokens
TINY = dict(vocab_size=99, hidden_size=32, num_hidden_layers=3, num_attention_heads=2, intermediate_size=64,
            initializer_range=0.2)
CONFIGS = {
    "bert": lambda: BertConfig(max_position_embeddings=64, **TINY),
    "roberta": lambda: RobertaConfig(max_position_embeddings=66, pad_token_id=1, type_vocab_size=1, **TINY),
    # local_attention 8 < the documents' lengths: the sliding-window layers are exercised too
    "modernbert": lambda: ModernBertConfig(max_position_embeddings=64, local_attention=8, global_attn_every_n_layers=3,
                                           pad_token_id=0, bos_token_id=2, eos_token_id=3, cls_token_id=2,
                                           sep_token_id=3, **TINY),
}


def _model(arch: str, attn: str = "sdpa"):
    torch.manual_seed(0)
    return AutoModelForMaskedLM.from_config(CONFIGS[arch](), attn_implementation=attn).eval()


def _row():
    g = torch.Generator().manual_seed(1)
    docs = [torch.randint(4, 99, (n,), generator=g) for n in LENGTHS]
    segments = torch.cat([torch.full((n,), k + 1) for k, n in enumerate(LENGTHS)])[None]
    return docs, torch.cat(docs)[None], segments


@pytest.mark.parametrize("arch", list(CONFIGS))
@pytest.mark.parametrize("attn", ["sdpa", "eager"])
def test_packed_row_logits_equal_each_document_alone(arch, attn):
    model = _model(arch, attn)
    docs, row, segments = _row()
    with torch.no_grad():
        packed = model(input_ids=row, **document_inputs(model, segments)).logits[0]
        alone = torch.cat([model(input_ids=d[None]).logits[0] for d in docs])
        across = model(input_ids=row).logits[0]
    assert (packed - alone).abs().max().item() <= TOLERANCE
    assert (across - alone).abs().max().item() > 100 * TOLERANCE  # the test can tell the two apart


def test_positions_restart_per_document_and_roberta_starts_after_padding():
    segments = torch.tensor([[1, 1, 1, 2, 2, 3], [1, 2, 2, 2, 2, 2]])
    assert document_inputs(_model("bert"), segments)["position_ids"].tolist() == [[0, 1, 2, 0, 1, 0],
                                                                                  [0, 0, 1, 2, 3, 4]]
    assert document_inputs(_model("roberta"), segments)["position_ids"][0].tolist() == [2, 3, 4, 2, 3, 2]


def test_objective_with_documents_scores_the_documents_alone():
    model = _model("roberta")
    docs, row, segments = _row()
    labels = torch.full_like(row, -100)
    labels[0, [1, 9, 20, 30]] = row[0, [1, 9, 20, 30]]
    with torch.no_grad():
        alone = torch.cat([model(input_ids=d[None]).logits[0] for d in docs])
        expected = torch.nn.functional.cross_entropy(alone[labels[0] != -100], labels[0][labels[0] != -100])
        loss, _, count = MaskedLMObjective(model, documents=True)(row, labels, segments)
        mixed, _, _ = MaskedLMObjective(model)(row, labels, torch.ones_like(row))
    assert count == 4
    assert abs(loss.item() - expected.item()) <= TOLERANCE
    assert abs(mixed.item() - expected.item()) > 100 * TOLERANCE


def test_flex_attention_mask_is_the_block_diagonal_mask():
    """The FlexAttention path (chosen on CUDA) builds a BlockMask that allows exactly what the
    SDPA mask allows; the full forward through flex is in the long test below."""
    from torch.nn.attention.flex_attention import create_mask

    _, _, segments = _row()
    sdpa = document_inputs(_model("bert"), segments)["attention_mask"]
    block = document_inputs(_model("bert", "flex_attention"), segments)["attention_mask"]
    dense = create_mask(block.mask_mod, 1, None, segments.shape[1], segments.shape[1], device="cpu")
    assert torch.equal(dense.bool(), sdpa.bool())
    assert dense.sum().item() == sum(n * n for n in LENGTHS)


@pytest.mark.long
@pytest.mark.parametrize("arch", list(CONFIGS))
def test_flex_attention_logits_equal_sdpa(arch):
    """torch 2.13 runs FlexAttention on CPU (compiled by transformers: about a minute per model here)."""
    docs, row, segments = _row()
    out = {}
    for attn in ("sdpa", "flex_attention"):
        model = _model(arch, attn)
        with torch.no_grad():
            out[attn] = model(input_ids=row, **document_inputs(model, segments)).logits[0]
    assert (out["sdpa"] - out["flex_attention"]).abs().max().item() <= TOLERANCE


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device (bench/gpu_check.sh runs it)")
@pytest.mark.parametrize("arch", list(CONFIGS))
def test_flex_attention_on_cuda_scores_each_document_alone(arch):
    """The kernel the trainer picks on CUDA: FlexAttention with a document BlockMask (TF32 off, fp32)."""
    model = _model(arch).cuda()
    select_attention(model, True, "cuda")
    docs, row, segments = _row()
    with torch.no_grad():
        packed = model(input_ids=row.cuda(), **document_inputs(model, segments.cuda())).logits[0]
        alone = torch.cat([model(input_ids=d[None].cuda()).logits[0] for d in docs])
    assert attention_kernel(model, True) == "flex_attention (document block mask)"
    assert (packed - alone).abs().max().item() <= 1e-4


def test_the_kernel_is_chosen_by_device_and_reported():
    model = _model("bert")
    select_attention(model, True, "cpu")
    assert attention_kernel(model, False) == "sdpa"
    assert attention_kernel(model, True) == "sdpa (block-diagonal mask)"
    select_attention(model, False, "cuda")
    assert model.config._attn_implementation == "sdpa"
    select_attention(model, True, "cuda")  # the switch only; nothing runs on a GPU here
    assert attention_kernel(model, True) == "flex_attention (document block mask)"


class _Documents:
    """A token cache stand-in: documents of the given lengths, <s>=0 ... </s>=2."""

    def __init__(self, lengths):
        docs = [np.r_[0, np.arange(5, 5 + n - 2), 2] for n in lengths]
        self.tokens = np.concatenate(docs)
        self.offsets = np.r_[0, np.cumsum([len(d) for d in docs])]
        self.num_tokens, self.num_documents = int(self.offsets[-1]), len(docs)


MASKING = MaskingConfig(mask_token_id=4, pad_token_id=1, special_ids=(0, 1, 2, 3, 4), vocab_size=1000)


def test_segment_ids_follow_the_document_offsets_and_reach_the_batches():
    cache = _Documents([5, 10, 3, 20, 4])  # 42 tokens: blocks of 16 -> [5, 10, 1 of 3], [2 of 3, 14 of 20], ...
    seqs = Sequences(cache, 16, False, 2, packing="document")
    assert seqs.segment_ids([0, 1]).tolist() == [[1] * 5 + [2] * 10 + [3], [1] * 2 + [2] * 14]
    assert Sequences(cache, 16, False, 2).segment_ids([0]) is None
    assert Sequences(cache, 16, True, 2, packing="document").segment_ids([0]) is None
    stream = TrainStream(seqs, MASKING, seed=3, batch_size=2, micro_batch_size=2, rank=0, world_size=1)
    chunk = stream[0]["chunks"][0]
    picked = [int(stream._permutation(0)[q]) for q in stream.positions(0)]
    assert chunk["attention_mask"].tolist() == seqs.segment_ids(picked).tolist()
    held_out = next(iter(eval_batches(seqs, MASKING, micro_batch_size=2, max_samples=0)))
    assert held_out["attention_mask"].tolist() == seqs.segment_ids([0, 1]).tolist()
