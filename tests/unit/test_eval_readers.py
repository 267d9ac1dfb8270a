"""Task data readers on the real CoNLL-2003 and GLUE files, and one clear message for bad input."""

from __future__ import annotations

import json

import pytest

from lmtui.evaluation.readers import (TaskDataError, iob1_to_iob2, load_task, read_conll, read_text_examples,
                                      token_label_list)
from lmtui.project.sections.eval import PRESETS, TaskSpec


def test_iob1_becomes_iob2():
    assert iob1_to_iob2(["I-PER", "I-PER", "O", "I-LOC", "B-LOC", "I-LOC", "I-ORG"]) == \
        ["B-PER", "I-PER", "O", "B-LOC", "B-LOC", "I-LOC", "B-ORG"]
    assert iob1_to_iob2(["B-PER", "I-PER"]) == ["B-PER", "I-PER"]


def test_conll2003_reads_with_the_standard_counts(data_dir):
    train = read_conll(data_dir / "conll2003/eng.train", tag_scheme="iob1")
    testb = read_conll(data_dir / "conll2003/eng.testb", tag_scheme="iob1")
    assert (len(train), len(testb)) == (14041, 3453)
    assert train[0].words[:3] == ["EU", "rejects", "German"] and train[0].tags[:3] == ["B-ORG", "O", "B-MISC"]
    assert all(not t.startswith("I-") or prev[2:] == t[2:]
               for s in train for prev, t in zip(["O"] + s.tags, s.tags))  # valid IOB2
    assert token_label_list(train) == ["O", "B-LOC", "I-LOC", "B-MISC", "I-MISC", "B-ORG", "I-ORG", "B-PER", "I-PER"]
    assert len(read_conll(data_dir / "conll2003/eng.testa", limit=5)) == 5


def test_glue_presets_read_sst2_cola_and_mrpc(data_dir):
    sst2 = read_text_examples(data_dir / "glue/SST-2/dev.tsv", fmt="tsv", text_column="sentence",
                              label_column="label")
    assert len(sst2) == 872 and {e.label for e in sst2} == {"0", "1"} and sst2[0].line == 2
    cola = read_text_examples(data_dir / "glue/CoLA/dev.tsv", fmt="tsv", text_column=3, label_column=1, header=False)
    assert len(cola) == 1043
    mrpc = read_text_examples(data_dir / "glue/MRPC/dev.tsv", fmt="tsv", **{k: PRESETS["mrpc"][k] for k in (
        "text_column", "text_pair_column", "label_column")})
    assert len(mrpc) == 408 and mrpc[0].text_pair and mrpc[0].label in ("0", "1")  # header behind a UTF-8 BOM


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
