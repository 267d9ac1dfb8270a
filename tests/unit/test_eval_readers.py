"""Task data readers on CoNLL-2003- and GLUE-format files (generated from Python's docs, tests/support/textdata.py),
and one clear message for bad input."""

from __future__ import annotations

import json

import pytest

from lmtui.evaluation.hub_tasks import load_task
from lmtui.evaluation.readers import (TaskDataError, iob1_to_iob2, read_conll, read_text_examples,
                                      token_label_list)
from lmtui.project.sections.eval import PRESETS, TaskSpec


def test_iob1_becomes_iob2():
    assert iob1_to_iob2(["I-PER", "I-PER", "O", "I-LOC", "B-LOC", "I-LOC", "I-ORG"]) == \
        ["B-PER", "I-PER", "O", "B-LOC", "B-LOC", "I-LOC", "B-ORG"]
    assert iob1_to_iob2(["B-PER", "I-PER"]) == ["B-PER", "I-PER"]


def _conll_sentences(path):
    """(words, tags) of each sentence of a CoNLL file, read with plain string operations."""
    out, words, tags = [], [], []
    for line in path.read_text(encoding="utf-8").splitlines() + [""]:
        if not line.strip() or line.startswith("-DOCSTART-"):
            if words:
                out.append((words, tags))
            words, tags = [], []
        else:
            fields = line.split()
            words.append(fields[0])
            tags.append(fields[-1])
    return out


def test_conll2003_files_read_every_sentence_and_become_iob2(data_dir):
    train = read_conll(data_dir / "conll2003/eng.train", tag_scheme="iob1")
    testb = read_conll(data_dir / "conll2003/eng.testb", tag_scheme="iob1")
    raw_train = _conll_sentences(data_dir / "conll2003/eng.train")
    assert (len(train), len(testb)) == (len(raw_train), len(_conll_sentences(data_dir / "conll2003/eng.testb")))
    assert [s.words for s in train] == [w for w, _ in raw_train]
    assert [s.tags for s in train] == [iob1_to_iob2(t) for _, t in raw_train]
    assert any("B-" in t for _, t in raw_train for t in t)  # the files hold IOB1's B- of adjacent entities
    assert all(not t.startswith("I-") or prev[2:] == t[2:]
               for s in train for prev, t in zip(["O"] + s.tags, s.tags))  # valid IOB2
    assert token_label_list(train) == ["O", "B-LOC", "I-LOC", "B-MISC", "I-MISC", "B-ORG", "I-ORG", "B-PER", "I-PER"]
    assert len(read_conll(data_dir / "conll2003/eng.testa", limit=5)) == 5


def _tsv_rows(path, header=True):
    import csv

    with open(path, newline="", encoding="utf-8-sig") as fh:
        rows = list(csv.reader(fh, delimiter="\t", quoting=csv.QUOTE_NONE))
    return rows[1:] if header else rows


def test_glue_presets_read_sst2_cola_and_mrpc(data_dir):
    sst2 = read_text_examples(data_dir / "glue/SST-2/dev.tsv", fmt="tsv", text_column="sentence",
                              label_column="label")
    rows = _tsv_rows(data_dir / "glue/SST-2/dev.tsv")
    assert [(e.text, e.label) for e in sst2] == [(r[0], r[1]) for r in rows]
    assert len(sst2) > 200 and {e.label for e in sst2} == {"0", "1"} and sst2[0].line == 2
    cola = read_text_examples(data_dir / "glue/CoLA/dev.tsv", fmt="tsv", text_column=3, label_column=1, header=False)
    assert [(e.text, e.label) for e in cola] == [(r[3], r[1]) for r in _tsv_rows(data_dir / "glue/CoLA/dev.tsv", False)]
    mrpc = read_text_examples(data_dir / "glue/MRPC/dev.tsv", fmt="tsv", **{k: PRESETS["mrpc"][k] for k in (
        "text_column", "text_pair_column", "label_column")})
    assert len(mrpc) == len(_tsv_rows(data_dir / "glue/MRPC/dev.tsv")) > 100
    assert mrpc[0].text_pair and mrpc[0].label in ("0", "1")  # header behind a UTF-8 BOM


def test_jsonl_and_csv_with_named_columns(tmp_path):
    (tmp_path / "a.jsonl").write_text("\n".join(json.dumps({"review": f"text {i}", "stars": i % 2}) for i in range(4)))
    rows = read_text_examples(tmp_path / "a.jsonl", fmt="jsonl", text_column="review", label_column="stars")
    assert [e.label for e in rows] == ["0", "1", "0", "1"]
    (tmp_path / "b.csv").write_text('text,label\n"hello, world",pos\n"multi\nline",neg\n')
    rows = read_text_examples(tmp_path / "b.csv", fmt="csv", text_column="text", label_column="label")
    assert [(e.text, e.label, e.line) for e in rows] == [("hello, world", "pos", 2), ("multi\nline", "neg", 4)]


def test_conll_line_with_wrong_number_of_columns_names_file_and_line(tmp_path):
    path = tmp_path / "bad.conll"
    path.write_text("-DOCSTART- -X- O O\n\nEU NNP I-NP I-ORG\nrejects VBZ I-VP O\nGerman JJ I-MISC\n")
    with pytest.raises(TaskDataError) as err:
        read_conll(path)
    assert f"{path}:5:" in err.value.format() and "expected 4 fields (as on line 3), found 3" in err.value.format()


def test_conll_label_column_outside_the_fields(tmp_path):
    path = tmp_path / "x.conll"
    path.write_text("EU NNP I-NP I-ORG\n")
    with pytest.raises(TaskDataError, match="label_column 5 is outside the 4 fields"):
        read_conll(path, label_column=5)
    with pytest.raises(TaskDataError, match="tag 'NNP' is not O, B-TYPE or I-TYPE"):
        read_conll(path, label_column=1)


def test_unknown_label_column_in_a_tsv_header(data_dir):
    with pytest.raises(TaskDataError) as err:
        read_text_examples(data_dir / "glue/SST-2/dev.tsv", fmt="tsv", text_column="sentence", label_column="labels")
    message = err.value.format()
    assert "dev.tsv:1:" in message and "unknown label column 'labels'" in message and "did you mean 'label'?" in message


def test_tsv_row_with_a_missing_column(tmp_path):
    path = tmp_path / "t.tsv"
    path.write_text("sentence\tlabel\ngood film\t1\nno label here\n")
    with pytest.raises(TaskDataError) as err:
        read_text_examples(path, fmt="tsv", text_column="sentence", label_column="label")
    assert f"{path}:3:" in err.value.format() and "expected 2 (as the header) columns, found 1" in err.value.format()


def test_label_missing_from_the_training_split_names_the_scored_file_and_line(tmp_path, data_dir):
    dev = tmp_path / "dev.tsv"
    dev.write_text("sentence\tlabel\nfine\t1\nodd one\t2\n")
    spec = TaskSpec(name="t", kind="classification", train_file=str(data_dir / "glue/SST-2/train.tsv"),
                    validation_file=str(dev), text_column="sentence", label_column="label", format="tsv",
                    metrics=["accuracy"], max_train_examples=200)
    with pytest.raises(TaskDataError) as err:
        load_task(spec)
    assert f"{dev}:3:" in err.value.format() and "label '2' of the validation split does not occur" in err.value.format()


def test_entity_type_missing_from_a_small_training_subset(tmp_path, data_dir):
    train = tmp_path / "train.conll"
    train.write_text("Peter NNP I-NP I-PER\nsleeps VBZ I-VP O\n")
    spec = TaskSpec(name="ner", kind="token_classification", train_file=str(train),
                    validation_file=str(data_dir / "conll2003/eng.testa"), format="conll", tag_scheme="iob1",
                    label_column=-1, metrics=["f1"])
    with pytest.raises(TaskDataError) as err:
        load_task(spec)
    assert "eng.testa:" in err.value.format() and "does not occur in the training split" in err.value.format()
