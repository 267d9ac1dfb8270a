"""Tokenizers reload exactly; models build from presets with tokenizer ids; the masked-only loss is the MLM loss."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from support.cli import DATA

from lmtui.data.batches import MaskingConfig, Sequences, TrainStream, collate, mask_tokens
from lmtui.data.corpus import read_documents
from lmtui.data.tokenizer import train_tokenizer
from lmtui.project.load import parse_project

DOCS = list(read_documents([DATA / "prose" / "valid.txt"]))


@pytest.fixture(scope="module", params=["byte_level_bpe", "wordpiece", "unigram"])
def saved_tokenizer(request, tmp_path_factory):
    folder = tmp_path_factory.mktemp(request.param)
    tok = train_tokenizer(DOCS, request.param, vocab_size=2000, lowercase=request.param == "wordpiece",
                          model_max_length=128)
    tok.save_pretrained(folder)
    return request.param, tok, folder


def test_autotokenizer_reproduces_the_trained_tokenizer(saved_tokenizer):
    from transformers import AutoTokenizer

    kind, trained, folder = saved_tokenizer
    loaded = AutoTokenizer.from_pretrained(folder)
    for doc in DOCS[:50] + ["Mixed CASE Text, with punctuation!"]:
        assert loaded(doc)["input_ids"] == trained(doc)["input_ids"]
    assert loaded.model_max_length == 128 and len(loaded) == 2000
    assert loaded.mask_token_id is not None and loaded.pad_token_id is not None
    ids = loaded("hello")["input_ids"]
    assert ids[0] == loaded.cls_token_id and ids[-1] == loaded.sep_token_id
    if kind == "wordpiece":
        assert loaded.pad_token_id == 0
        assert loaded.tokenize("The BIG Cat") == loaded.tokenize("the big cat")  # lowercasing survives reload
    else:
        assert (loaded.bos_token_id, loaded.pad_token_id, loaded.eos_token_id) == (0, 1, 2)


@pytest.mark.parametrize("kind", ["wordpiece", "unigram"])
def test_canonical_ids_keep_the_pieces_and_number_them_the_same_way_every_time(kind):
    from tokenizers import Tokenizer

    from lmtui.data.tokenizer import _build, canonical_ids

    tok, trainer = _build(kind, lowercase=False, vocab_size=1500, min_frequency=2)
    tok.train_from_iterator(DOCS, trainer=trainer)
    renumbered = canonical_ids(Tokenizer.from_str(tok.to_str()), kind)
    for doc in DOCS[:200]:
        assert renumbered.encode(doc).tokens == tok.encode(doc).tokens  # same pieces, same segmentation
    vocab = renumbered.get_vocab()
    assert sorted(vocab.values()) == list(range(len(vocab)))
    assert {t: tok.token_to_id(t) for t in ("[PAD]", "[UNK]", "[MASK]", "<s>", "<unk>", "<mask>") if t in vocab} == \
        {t: vocab[t] for t in ("[PAD]", "[UNK]", "[MASK]", "<s>", "<unk>", "<mask>") if t in vocab}
    ordinary = sorted((i, t) for t, i in vocab.items() if i >= 5)
    if kind == "wordpiece":  # ids follow the text of the pieces, whatever order training found them in
        assert [t for _, t in ordinary] == sorted(t for _, t in ordinary)
    else:  # ids follow decreasing score
        scores = dict(map(tuple, json.loads(renumbered.to_str())["model"]["vocab"]))
        assert all(scores[a] >= scores[b] for (_, a), (_, b) in zip(ordinary, ordinary[1:]))


def test_mask_token_absorbs_the_space_before_it(saved_tokenizer):
    kind, tok, _ = saved_tokenizer
    pieces = tok.convert_ids_to_tokens(tok(f"the {tok.mask_token} is")["input_ids"])
    i = pieces.index(tok.mask_token)
    assert pieces[i - 1] not in ("Ġ", "▁", " ")


def _project(arch: str, kind: str, tmp_path, overrides: str = "") -> object:
    text = f"""
[corpus]
train_files = ["{DATA}/prose/valid.txt"]
[tokenizer]
kind = "{kind}"
vocab_size = 2000
[model]
architecture = "{arch}"
size = "tiny"
{overrides}
[training]
max_seq_length = 64
"""
    path = tmp_path / "p.toml"
    path.write_text(text)
    return parse_project(text, str(path), str(path))


@pytest.mark.parametrize("arch", ["bert", "roberta", "distilbert", "modernbert"])
def test_every_architecture_builds_and_its_masked_only_loss_equals_the_full_mlm_loss(arch, tmp_path):
    from lmtui.train.model import MaskedLMObjective, build_model

    kind = "wordpiece" if arch in ("bert", "distilbert") else "byte_level_bpe"
    tok = train_tokenizer(DOCS, kind, vocab_size=2000, model_max_length=64)
    project = _project(arch, kind, tmp_path)
    torch.manual_seed(0)
    model = build_model(project, tok).eval()
    cfg = model.config
    assert cfg.vocab_size == 2048  # 2000 rounded up to a multiple of 64
    assert cfg.pad_token_id == tok.pad_token_id
    if arch == "roberta":
        assert cfg.max_position_embeddings == 64 + 2
    masking = MaskingConfig(tok.mask_token_id, tok.pad_token_id, tuple(tok.all_special_ids), len(tok))
    ids = np.stack([np.asarray(tok(d, truncation=True, max_length=64, padding="max_length")["input_ids"])
                    for d in DOCS[1:5]])
    valid = ids != tok.pad_token_id
    inputs, labels = mask_tokens(ids, valid, masking, np.random.default_rng(0))
    inputs, labels = torch.from_numpy(inputs), torch.from_numpy(labels)
    attention = torch.from_numpy(valid.astype(np.int64))
    with torch.no_grad():
        full = model(input_ids=inputs, attention_mask=attention, labels=labels).loss
        sparse, correct, count = MaskedLMObjective(model)(inputs, labels, attention)
    assert count == int((labels != -100).sum()) > 0
    assert sparse.item() == pytest.approx(full.item(), rel=1e-4)


def test_masking_follows_the_80_10_10_recipe_and_never_masks_special_tokens():
    rng = np.random.default_rng(0)
    cfg = MaskingConfig(mask_token_id=4, pad_token_id=1, special_ids=(0, 1, 2, 3, 4), vocab_size=1000)
    ids = rng.integers(5, 1000, size=(256, 128))
    ids[:, 0], ids[:, -1] = 0, 2
    inputs, labels = mask_tokens(ids, np.ones(ids.shape, dtype=bool), cfg, rng)
    selected = labels != -100
    assert not selected[:, 0].any() and not selected[:, -1].any()
    assert selected.mean() == pytest.approx(0.15 * 126 / 128, abs=0.005)
    assert (inputs[selected] == 4).mean() == pytest.approx(0.8, abs=0.01)
    unchanged = (inputs[selected] == ids[selected]).mean()
    assert unchanged == pytest.approx(0.1, abs=0.01)
    assert (labels[selected] == ids[selected]).all() and (inputs[~selected] == ids[~selected]).all()


def test_line_by_line_batches_pad_only_to_the_longest_sequence():
    ids, valid = collate([np.arange(5), np.arange(11), np.arange(3)], pad_token_id=1)
    assert ids.shape == (3, 16) and valid.sum() == 19
    same, none = collate([np.arange(8), np.arange(8)], pad_token_id=1)
    assert same.shape == (2, 8) and none is None


class _Cache:
    def __init__(self, n_tokens):
        self.tokens = np.arange(n_tokens)
        self.offsets = np.array([0, n_tokens])
        self.num_tokens, self.num_documents = n_tokens, 1


def test_ranks_and_accumulation_split_each_global_batch_without_overlap():
    seqs = Sequences(_Cache(64 * 100), 64, False, 2)
    cfg = MaskingConfig(4, 1, (0, 1, 2), 1000)
    one = TrainStream(seqs, cfg, seed=3, batch_size=16, micro_batch_size=4, rank=0, world_size=1)
    two = [TrainStream(seqs, cfg, seed=3, batch_size=16, micro_batch_size=4, rank=r, world_size=2) for r in (0, 1)]
    for step in range(3):
        single = [q for j in range(step * 4, step * 4 + 4) for q in one.positions(j)]
        split = [q for s in two for j in range(step * 2, step * 2 + 2) for q in s.positions(j)]
        assert sorted(single) == sorted(split) == list(range(step * 16, step * 16 + 16))
    first_epoch = [one[j]["num_tokens"] for j in range(25)]
    assert sum(first_epoch) == 100 * 64
