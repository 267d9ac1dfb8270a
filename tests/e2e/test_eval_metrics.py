"""Offline metrics and the encoding of pre-split words for token classification."""

from __future__ import annotations

import pytest

from lmtui.evaluation.metrics import classification_metrics, entity_metrics, mean_std
from lmtui.evaluation.readers import Sentence


def test_classification_metrics():
    gold = ["1", "1", "0", "0", "1"]
    pred = ["1", "0", "0", "1", "1"]
    m = classification_metrics(gold, pred, ["accuracy", "f1", "matthews_correlation"], "1")
    assert m["accuracy"] == pytest.approx(0.6)
    assert m["f1"] == pytest.approx(2 / 3)  # precision 2/3, recall 2/3
    assert m["matthews_correlation"] == pytest.approx(1 / 6)


def test_entity_metrics_are_entity_level_and_per_type():
    gold = [["B-PER", "I-PER", "O", "B-LOC"], ["B-ORG", "O"]]
    pred = [["B-PER", "I-PER", "O", "B-ORG"], ["B-ORG", "O"]]
    m, per_type = entity_metrics(gold, pred, ["f1", "precision", "recall", "accuracy"])
    assert m["precision"] == pytest.approx(2 / 3) and m["recall"] == pytest.approx(2 / 3)
    assert m["accuracy"] == pytest.approx(5 / 6)
    assert per_type["PER"]["f1"] == 1.0 and per_type["LOC"]["f1"] == 0.0 and per_type["LOC"]["support"] == 1


def test_mean_and_sample_standard_deviation():
    assert mean_std([0.8, 0.9, 1.0]) == pytest.approx({"mean": 0.9, "std": 0.1, "values": [0.8, 0.9, 1.0]})
    assert mean_std([0.5])["std"] == 0.0


@pytest.fixture(scope="module")
def trained_tokenizer(data_dir):
    """A function kind -> tokenizer trained on docstring prose lines (each kind trained once)."""
    from lmtui.data.tokenizer import train_tokenizer

    lines = (data_dir / "prose/train.txt").read_text().splitlines()
    documents = [line.strip() for line in lines if line.strip()][:1500]
    cache = {}

    def get(kind):
        if kind not in cache:
            cache[kind] = train_tokenizer(documents, kind, vocab_size=2000)
        return cache[kind]
    return get


@pytest.mark.parametrize("kind", ["byte_level_bpe", "wordpiece", "unigram"])
def test_pre_split_words_tokenize_like_the_joined_sentence(trained_tokenizer, kind):
    """Byte-level BPE must see 'Ġword' for every word after the first, as in pretraining."""
    from lmtui.evaluation.finetune import encode_words, word_inputs

    tokenizer = trained_tokenizer(kind)
    sentences = [Sentence(["EU", "rejects", "German", "call", "to", "boycott", "British", "lamb", "."],
                          ["B-ORG", "O", "B-MISC", "O", "O", "O", "B-MISC", "O", "O"], 1),
                 Sentence(["S&P", "U.S.", "1,234.5", "--", "'s"], ["B-ORG", "B-LOC", "O", "O", "O"], 1)]
    for s in sentences:
        split = tokenizer(word_inputs(s.words), is_split_into_words=True)["input_ids"]
        assert split == tokenizer(" ".join(s.words))["input_ids"]
    labels = {t: i for i, t in enumerate(["O", "B-ORG", "B-MISC", "B-LOC"])}
    enc = encode_words(tokenizer, sentences, labels, max_length=64, token_types=False)
    first = sentences[0]
    positions = enc.first_tokens[0]
    assert len(positions) == len(first.words) and positions[0] == 1  # after the CLS/<s> token
    assert [enc.labels[0][p] for p in positions] == [labels[t] for t in first.tags]
    assert sum(label != -100 for label in enc.labels[0]) == len(first.words)  # only first sub-tokens
    if kind == "byte_level_bpe":
        pieces = tokenizer.convert_ids_to_tokens(enc.input_ids[0])
        assert pieces[positions[1]].startswith("Ġ")


def test_words_beyond_max_length_are_marked_truncated(trained_tokenizer):
    from lmtui.evaluation.finetune import encode_words

    tokenizer = trained_tokenizer("wordpiece")
    s = Sentence(["the"] * 40, ["O"] * 40, 1)  # one piece per word
    enc = encode_words(tokenizer, [s], {"O": 0}, max_length=16, token_types=False)
    assert enc.first_tokens[0].count(-1) == 40 - 14


def test_sentence_pairs_get_both_segments_and_token_types(trained_tokenizer, data_dir):
    from lmtui.evaluation.finetune import collate, encode_text
    from lmtui.evaluation.readers import read_text_examples
    from lmtui.project.sections.eval import PRESETS

    tokenizer = trained_tokenizer("wordpiece")
    pairs = read_text_examples(data_dir / "glue/MRPC/dev.tsv", fmt="tsv", limit=4, **{
        k: PRESETS["mrpc"][k] for k in ("text_column", "text_pair_column", "label_column")})
    enc = encode_text(tokenizer, pairs, {"0": 0, "1": 1}, max_length=32, token_types=True)
    assert all(len(ids) <= 32 for ids in enc.input_ids)
    pieces = tokenizer.convert_ids_to_tokens(enc.input_ids[0])
    assert pieces[0] == "[CLS]" and pieces.count("[SEP]") == 2
    assert set(enc.token_type_ids[0]) == {0, 1}
    batch = collate(enc, [0, 1, 2, 3], tokenizer.pad_token_id)
    assert batch["token_type_ids"].shape == batch["input_ids"].shape
    assert batch["labels"].tolist() == [int(p.label) for p in pairs]
