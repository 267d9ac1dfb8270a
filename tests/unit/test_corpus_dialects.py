"""Corpora as people have them (issue 16): CSV/TSV dialects through [corpus] csv_* keys, and
CoNLL-U `# text = ` sentences, read from files generated in those layouts (tests/support/textdata.py):
a 10kGNAD-style `label;'text'` CSV and a CoNLL-U file of standard-library docstrings."""

from __future__ import annotations

import csv

import pytest
from support.cli import DATA

from lmtui.data.corpus import CsvDialect, file_format, read_documents
from lmtui.errors import CorpusError
from lmtui.project.load import parse_project

GNAD = DATA / "csv" / "semicolon.csv"  # the 10kGNAD layout: label;'article', no header, CRLF
GSD = DATA / "conllu" / "docstrings.conllu"  # a UD-style treebank: # newdoc, # sent_id, # text =


def _project(tmp_path, corpus: str):
    path = tmp_path / "p.toml"
    path.write_text(f'[corpus]\ntrain_files = ["{GNAD}"]\n{corpus}\n')
    return parse_project(path.read_text(), str(path), str(path))


def test_10kgnad_with_csv_keys_reads_the_article_column(tmp_path):
    project = _project(tmp_path, 'csv_delimiter = ";"\ncsv_quotechar = "\'"\ncsv_header = false\ncsv_column = 1')
    docs = list(read_documents([GNAD], csv_dialect=CsvDialect.of(project.corpus)))
    raw = GNAD.read_bytes()
    assert b"\r\n" in raw  # CRLF line ends, as published
    with open(GNAD, newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh, delimiter=";", quotechar="'"))
    assert len(docs) == len(rows) > 300
    assert docs == [r[1].strip() for r in rows]
    assert any("'" in d for d in docs)  # a doubled quote inside an article reads as one
    labels = {r[0] for r in rows}
    assert not any(d.startswith(tuple(f"{label};" for label in labels)) or d.startswith("'") for d in docs)


def test_10kgnad_as_a_new_user_tries_it_names_the_keys_that_read_it(tmp_path):
    project = _project(tmp_path, "")
    with pytest.raises(CorpusError) as err:
        list(read_documents([GNAD], csv_dialect=CsvDialect.of(project.corpus)))
    message = err.value.format()
    assert "[corpus.text_column] no column 'text'" in message
    assert "csv_delimiter" in message and "csv_quotechar" in message and "csv_header = false" in message
    assert len(message) < 1000  # the article text in the would-be header is cut short


def test_a_header_names_the_column_and_a_short_row_is_an_error_with_its_line(tmp_path):
    path = tmp_path / "reviews.csv"
    path.write_text("stars|review\n5|'great, really'\n1|'bad | worse'\n3\n")
    dialect = CsvDialect(delimiter="|", quotechar="'")
    with pytest.raises(CorpusError) as err:
        list(read_documents([path], text_column="review", csv_dialect=dialect))
    assert (err.value.line, err.value.key) == (4, "corpus.text_column")
    path.write_text("stars|review\n5|'great, really'\n1|'bad | worse\nand worse'\n")
    assert list(read_documents([path], text_column="review", csv_dialect=dialect)) == \
        ["great, really", "bad | worse\nand worse"]


def test_a_separator_longer_than_one_character_names_its_key(tmp_path):
    path = tmp_path / "a.csv"
    path.write_text("text\nhello\n")
    with pytest.raises(CorpusError) as err:
        list(read_documents([path], csv_dialect=CsvDialect(delimiter=";;")))
    assert err.value.key == "corpus.csv_delimiter"


def test_conllu_reads_the_text_comments_of_a_ud_treebank():
    assert file_format(GSD, "auto") == "conllu"
    docs = list(read_documents([GSD]))
    expected = [line[len("# text = "):].strip() for line in GSD.read_text(encoding="utf-8").splitlines()
                if line.startswith("# text = ")]
    assert docs == expected and len(docs) > 300
    assert not any("\t" in d for d in docs)  # no token rows


def test_conllu_blank_line_joins_the_sentences_of_each_document(tmp_path):
    path = tmp_path / "two.conllu"
    path.write_text("# newdoc id = a\n# text = One.\n1\tOne\n\n# text = Two.\n1\tTwo\n\n"
                    "# newdoc id = b\n# text = Three.\n1\tThree\n\n")
    assert list(read_documents([path], delimiter="blank_line")) == ["One. Two.", "Three."]
    assert list(read_documents([path], delimiter="line")) == ["One.", "Two.", "Three."]
