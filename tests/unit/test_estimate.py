"""Project summary estimates, checked against the models transformers builds."""

from __future__ import annotations

import pytest

from lmtui.data.estimate import estimate_parameters, summarize, tokens_per_step
from lmtui.project.load import parse_project


def project(arch: str, size: str = "tiny", extra: str = "", corpus: str = "x.txt", training: str = "max_steps = 100"):
    text = f"""
[corpus]
train_files = ["{corpus}"]
[tokenizer]
kind = "{'wordpiece' if arch == 'bert' else 'byte_level_bpe'}"
vocab_size = 5000
[model]
architecture = "{arch}"
size = "{size}"
{extra}
[training]
max_seq_length = 128
batch_size = 32
micro_batch_size = 16
{training}
"""
    return parse_project(text, "p.toml", None)


def word_level_tokenizer(size: int):
    """A real fast tokenizer with ``size`` entries and RoBERTa's special tokens first."""
    from tokenizers import Tokenizer
    from tokenizers.models import WordLevel
    from transformers import PreTrainedTokenizerFast

    special = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]
    vocab = {tok: i for i, tok in enumerate(special + [f"w{i}" for i in range(size - len(special))])}
    return PreTrainedTokenizerFast(tokenizer_object=Tokenizer(WordLevel(vocab, unk_token="<unk>")),
                                   bos_token="<s>", eos_token="</s>", cls_token="<s>", sep_token="</s>",
                                   pad_token="<pad>", unk_token="<unk>", mask_token="<mask>")


@pytest.mark.parametrize("arch", ["bert", "roberta", "distilbert", "modernbert"])
def test_parameter_estimate_is_within_two_percent_of_the_real_model(arch):
    from transformers import AutoModelForMaskedLM

    from lmtui.train.model import build_config

    p = project(arch)
    config = build_config(p, word_level_tokenizer(5000))
    real = AutoModelForMaskedLM.from_config(config).num_parameters()
    assert abs(estimate_parameters(p) - real) / real < 0.02, (estimate_parameters(p), real)


def test_summary_lists_corpus_files_and_estimates_run_time(tmp_path):
    corpus = tmp_path / "train.txt"
    corpus.write_text("some words\n" * 1000)
    p = project("roberta", corpus=str(corpus))
    s = summarize(p, measured_tokens_per_s=4096.0)
    assert s.files == [(corpus, corpus.stat().st_size)]
    assert s.tokens_per_step == tokens_per_step(p) == 32 * 128
    assert s.steps == 100 and not s.steps_estimated
    assert s.seconds == pytest.approx(100.0)
    assert "measured" in s.throughput_source
    rough = summarize(p, device="cpu")
    assert rough.seconds > 0 and "assumed" in rough.throughput_source


def test_epoch_based_projects_estimate_steps_from_the_corpus_size(tmp_path):
    corpus = tmp_path / "train.txt"
    corpus.write_bytes(b"x" * 4_000_000)
    p = project("bert", corpus=str(corpus), training="epochs = 2.0")
    s = summarize(p, device="cpu")
    assert s.steps_estimated
    assert s.steps == int(4_000_000 * 0.95 / 4 * 2 / (32 * 128))


def test_a_missing_corpus_is_reported_not_raised():
    s = summarize(project("bert", corpus="/nonexistent/x.txt"), device="cpu")
    assert "not found" in s.corpus_error and s.files == []
