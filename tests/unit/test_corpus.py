"""Corpus files in every supported form, read from real prose generated in each form (tests/support/textdata.py)."""

from __future__ import annotations

import csv
import gzip
import json
import shutil

import pytest
from support.cli import DATA

from lmtui.data.corpus import CorpusStats, read_documents, resolve_files, split_documents
from lmtui.errors import CorpusError

WIKI = DATA / "prose" / "valid.txt"


def _docs(paths, **kw):
    stats = CorpusStats()
    return list(read_documents(paths, stats=stats, **kw)), stats


def test_text_one_document_per_line_skips_empty_lines():
    docs, stats = _docs([WIKI])
    raw = WIKI.read_text(encoding="utf-8").split("\n")
    assert docs == [line.strip() for line in raw if line.strip()]
    assert stats.documents == len(docs) and stats.bytes == WIKI.stat().st_size


def test_crlf_raw_file_and_blank_line_paragraphs():
    raw = DATA / "prose" / "crlf.txt"
    docs, _ = _docs([raw])
    assert docs and not any("\r" in d for d in docs)
    tokens = DATA / "prose" / "train.txt"
    paragraphs, _ = _docs([tokens], delimiter="blank_line")
    lines, _ = _docs([tokens])
    assert len(paragraphs) < len(lines)
    assert " ".join(paragraphs).split() == " ".join(lines).split()


def test_any_extension_gzip_and_folders(tmp_path):
    folder = tmp_path / "corpus"
    folder.mkdir()
    shutil.copy(WIKI, folder / "valid.tokens")
    shutil.copy(DATA / "reference" / "topics.txt", folder / "shakespeare")  # no extension
    with gzip.open(folder / "more.txt.gz", "wb") as fh:
        fh.write(WIKI.read_bytes())
    (folder / ".hidden").write_text("skip me\n")
    files = resolve_files([str(folder)], tmp_path)
    assert [p.name for p in files] == ["more.txt.gz", "shakespeare", "valid.tokens"]
    docs, _ = _docs(files)
    wiki, _ = _docs([WIKI])
    assert docs[: len(wiki)] == wiki and docs[-len(wiki):] == wiki
    assert resolve_files(["corpus/*.tokens"], tmp_path) == [folder / "valid.tokens"]


def test_jsonl_csv_tsv_and_parquet_read_the_text_column(tmp_path):
    sst = DATA / "glue" / "SST-2" / "dev.tsv"
    from_tsv, _ = _docs([sst], text_column="sentence")
    with open(sst, newline="", encoding="utf-8") as fh:
        assert from_tsv == [row["sentence"] for row in csv.DictReader(fh, delimiter="\t")] and len(from_tsv) > 200
    rows = [{"sentence": s, "n": i} for i, s in enumerate(from_tsv)]
    (tmp_path / "a.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    with open(tmp_path / "a.csv", "w", newline="") as fh:
        w = csv.DictWriter(fh, ["n", "sentence"])
        w.writeheader()
        w.writerows(rows)
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"sentence": from_tsv}), tmp_path / "a.parquet")
    for name in ("a.jsonl", "a.csv", "a.parquet"):
        docs, _ = _docs([tmp_path / name], text_column="sentence")
        assert docs == from_tsv, name


def test_missing_text_column_names_the_file_and_the_key(tmp_path):
    sst = DATA / "glue" / "SST-2" / "dev.tsv"
    with pytest.raises(CorpusError) as info:
        list(read_documents([sst], text_column="text"))
    message = info.value.format()
    assert str(sst) in message and "corpus.text_column" in message and "'sentence'" in message


def test_invalid_utf8_is_replaced_and_counted_not_fatal(tmp_path):
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"good line\nbad \xff\xfe line\nanother good one\n")
    docs, stats = _docs([bad])
    assert docs == ["good line", "bad \ufffd\ufffd line", "another good one"]
    assert stats.invalid_utf8_lines == 1


def test_validation_split_is_random_and_seeded_not_the_first_documents():
    docs, _ = _docs([WIKI])
    train, valid = split_documents(docs, 0.05, seed=42)
    assert len(train) + len(valid) == len(docs)
    assert 0.03 * len(docs) < len(valid) < 0.07 * len(docs)
    first = docs[: len(valid)]
    assert valid != first
    assert split_documents(docs, 0.05, seed=42) == (train, valid)
    assert split_documents(docs, 0.05, seed=7)[1] != valid


def test_python_format_reads_string_literals_of_the_stdlib_reference():
    import pydoc_data.topics as topics

    files = resolve_files(["{stdlib}/pydoc_data/topics.py"], "/")
    docs, _ = _docs(files, delimiter="blank_line")
    assert len(docs) > 1000
    text = " ".join(docs)
    assert "The \"assert\" statement" in text or 'The "assert" statement' in text
    assert sum(len(v) for v in topics.topics.values()) > len(text) * 0.8


@pytest.mark.parametrize("suffix", [".txt", ".jsonl", ".txt.gz"])
def test_a_utf8_byte_order_mark_is_not_part_of_the_first_document(tmp_path, suffix):
    body = '{"text": "hello world"}\n{"text": "second"}\n' if suffix == ".jsonl" else "hello world\nsecond\n"
    data = b"\xef\xbb\xbf" + body.encode()
    path = tmp_path / f"bom{suffix}"
    path.write_bytes(gzip.compress(data) if suffix.endswith(".gz") else data)
    assert list(read_documents([path])) == ["hello world", "second"]
