"""The run_mlm.py baseline's preprocessing (lmtui/bench/baseline.py): group_texts blocks and line_by_line
sequences from datasets.map equal what the tokenizer gives line by line, cut by hand; and the benchmark's
default corpus (the Python Language Reference) is split the same way on every call."""

from __future__ import annotations

from itertools import chain

import pytest
from pydoc_data.topics import topics
from tokenizers import Tokenizer

from lmtui.bench.baseline import MAP_BATCH, group_texts, preprocess
from lmtui.bench.corpora import language_reference
from lmtui.bench.tokenizer import train_bpe

BLOCK = 32


def _lines() -> list[str]:
    """1,700 lines of the Language Reference, with its blank lines and (every 97th line) whitespace-only ones."""
    out = []
    for name in sorted(topics):
        out += topics[name].splitlines()
    return ["   " if i % 97 == 96 else line for i, line in enumerate(out[:1700])]


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("baseline")
    lines = _lines()
    assert len(lines) > MAP_BATCH + 200 and "" in lines and any(ln.isspace() for ln in lines)
    train, valid = folder / "train.txt", folder / "valid.txt"
    train.write_text("\n".join(lines) + "\n", encoding="utf-8")
    valid.write_text("\n".join(lines[:50]) + "\n", encoding="utf-8")
    train_bpe([train], 600, folder / "tok")
    from transformers import AutoTokenizer

    return lines, train, valid, AutoTokenizer.from_pretrained(folder / "tok"), folder / "tok" / "tokenizer.json"


def test_group_texts_cuts_each_map_batch_into_full_blocks_and_drops_its_remainder():
    batch = {"input_ids": [[1, 2, 3], [4, 5], [6, 7, 8, 9]], "attention_mask": [[1] * 3, [1] * 2, [1] * 4]}
    assert group_texts(batch, 4) == {"input_ids": [[1, 2, 3, 4], [5, 6, 7, 8]], "attention_mask": [[1] * 4] * 2}
    assert group_texts({"input_ids": [[1, 2]]}, 4) == {"input_ids": []}


def test_group_texts_blocks_match_the_tokenized_lines_batch_by_batch(files):
    lines, train, valid, tokenizer, tokenizer_json = files
    data = preprocess(str(train), str(valid), tokenizer, BLOCK)
    plain = Tokenizer.from_file(str(tokenizer_json))  # the `tokenizers` library alone, not transformers
    expected = []
    for start in range(0, len(lines), MAP_BATCH):  # one remainder dropped per map batch of 1,000 lines
        ids = list(chain.from_iterable(plain.encode(line).ids for line in lines[start:start + MAP_BATCH]))
        expected += [ids[i:i + BLOCK] for i in range(0, len(ids) - len(ids) % BLOCK, BLOCK)]
    train_rows = data["train"]
    assert train_rows["input_ids"] == expected
    assert all(len(row) == BLOCK for row in train_rows["attention_mask"])
    assert all(set(row) == {1} for row in train_rows["attention_mask"])
    specials = set(tokenizer.all_special_ids)
    assert [[int(t in specials) for t in row] for row in expected] == train_rows["special_tokens_mask"]


@pytest.mark.parametrize("pad", [False, True])
def test_line_by_line_gives_one_truncated_sequence_per_non_blank_line(files, pad):
    lines, train, valid, tokenizer, tokenizer_json = files
    data = preprocess(str(train), str(valid), tokenizer, BLOCK, line_by_line=True, pad_to_max_length=pad)
    plain = Tokenizer.from_file(str(tokenizer_json))
    kept = [line for line in lines if line.strip()]
    assert len(kept) < len(lines)
    expected = []
    for line in kept:
        ids = plain.encode(line).ids
        if len(ids) > BLOCK:  # truncation keeps the closing </s>
            ids = ids[:BLOCK - 1] + [ids[-1]]
        expected.append(ids)
    pad_id = tokenizer.pad_token_id
    got = data["train"]
    if pad:
        assert got["input_ids"] == [ids + [pad_id] * (BLOCK - len(ids)) for ids in expected]
        assert got["attention_mask"] == [[1] * len(ids) + [0] * (BLOCK - len(ids)) for ids in expected]
    else:
        assert got["input_ids"] == expected
        assert got["attention_mask"] == [[1] * len(ids) for ids in expected]
    assert any(len(ids) == BLOCK for ids in expected) and any(len(ids) < BLOCK // 2 for ids in expected)


def test_the_language_reference_split_is_deterministic_and_disjoint(tmp_path):
    train, valid = language_reference(tmp_path / "a")
    again_train, again_valid = language_reference(tmp_path / "b")
    assert train.read_bytes() == again_train.read_bytes() and valid.read_bytes() == again_valid.read_bytes()
    held, kept = valid.read_text().splitlines(), train.read_text().splitlines()
    assert 0.04 < len(held) / (len(held) + len(kept)) < 0.06
    assert not set(held) & set(kept) - {""}
    assert any("for_stmt" in line or "The \"for\" statement" in line for line in kept + held)


def test_a_training_file_named_alone_holds_out_every_20th_line_and_max_lines_cuts_both(tmp_path):
    from lmtui.bench.compare import resolve_corpus

    lines = [f"{name}: {topics[name].split(chr(10))[0]}\n" for name in sorted(topics)]
    source = tmp_path / "topics.txt"
    source.write_text("".join(lines))
    corpus = resolve_corpus(str(source), tmp_path / "work")
    assert corpus.validation.read_text() == "".join(lines[19::20])
    assert corpus.train.read_text() == "".join(ln for i, ln in enumerate(lines) if i % 20 != 19)
    assert corpus.tokenizer_files == [corpus.train]
    cut = resolve_corpus(f"{source},{source}", tmp_path / "work", max_lines=7)
    assert cut.train.read_text() == cut.validation.read_text() == "".join(lines[:7])

