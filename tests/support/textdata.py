"""Test data made from text every Python installation ships, in every format lmtui reads.

Nothing here is downloaded or copied into the repository: the files are generated, once per
Python version and generator version, into a folder under the system's temporary directory
(``DATA``), from two sources of real English prose:

- the **Python Language Reference** (``pydoc_data.topics.topics``, about 460k characters), the
  demo's corpus;
- the **standard library's docstrings** (module, class and function docstrings read with
  ``ast.get_docstring`` from the ``.py`` files of the standard library, tests and tools left
  out): several megabytes of prose written by many authors.

The layout (paths relative to ``DATA``):

``prose/train.txt``, ``prose/valid.txt``
    docstring paragraphs, one per line, a blank line between modules (the WikiText layout:
    a line is a document, ``document_delimiter = "blank_line"`` joins a module's paragraphs).
    Modules go to one file or the other by a hash of their path, so the two never share text.
``prose/crlf.txt``
    other modules' paragraphs with Windows line ends (``\\r\\n``) and a blank line between
    paragraphs.
``reference/topics.txt``
    the Language Reference, one topic after another, as plain text.
``glue/SST-2/{train,dev}.tsv`` (``sentence<TAB>label`` with a header), ``test.tsv``
    (``index<TAB>sentence``): the **source task**: label 1 when the sentence comes from the
    Language Reference, 0 when it comes from a library docstring. Learnable from the words
    (the reference speaks of grammar, the docstrings of arguments and return values).
``glue/CoLA/{train,dev}.tsv`` (no header: ``source, label, mark, sentence``): the same
    source task in CoLA's layout (mark ``*`` on label 0, source the module or ``reference``).
``glue/MRPC/{train,dev}.tsv`` (header behind a UTF-8 byte-order mark, as the MRPC files are
    published): the **neighbour task**: label 1 when the two sentences follow each other in
    one docstring paragraph, 0 when the second comes from another module.
``conll2003/eng.{train,testa,testb}`` (``word POS chunk tag``, ``-DOCSTART-`` lines, IOB1 tags as
    in the original CoNLL-2003 files): the **word-class task**. Each maximal run of words of one
    class is an entity: MISC for Python keywords (``None``, ``not``, ``is``), LOC for
    identifiers with a dot or an underscore (``os.path``, ``max_size``), PER for numbers, ORG
    for capitalised words that do not start a sentence. A run that directly follows a run of
    the same class starts with ``B-``, as IOB1 requires.
``csv/semicolon.csv``: the 10kGNAD layout (``label;'text'``, no header, ``'`` quotes, CRLF):
    one docstring per row, labelled by its top-level package.
``conllu/docstrings.conllu``: CoNLL-U with ``# newdoc``, ``# sent_id`` and ``# text =`` lines and
    token rows, a document per module.

The generated files are a pure function of the Python installation: the same Python gives the
same bytes, so tests may compare against counts they compute from the files themselves (with
the standard library's ``csv``), never against numbers written into the test.
"""

from __future__ import annotations

import hashlib
import keyword
import os
import random
import re
import sys
import sysconfig
import tempfile
from pathlib import Path

GENERATOR_VERSION = 1
SKIP_DIRS = {"test", "tests", "idlelib", "lib2to3", "site-packages", "turtledemo", "ensurepip", "pydoc_data",
             "__pycache__", "dist-packages", "config-3.11-x86_64-linux-gnu"}
TRAIN_BYTES = 2_000_000  # caps; the standard library has about 0.95 MB of docstring prose in all
VALID_BYTES = 1_000_000
CRLF_BYTES = 1_000_000
WORD = re.compile(r"[A-Za-z_][\w]*(?:[.'][\w]+)*|\d+(?:\.\d+)?|[^\w\s]")
SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z])")


# --------------------------------------------------------------------------- sources

def _prose_paragraph(paragraph: str) -> str | None:
    """The paragraph as one line when it reads as prose (no code, doctest or table), else None."""
    if ">>>" in paragraph or "::" in paragraph or "|" in paragraph:
        return None
    lines = paragraph.splitlines()
    if any(line.startswith((" ", "\t", "*", "-", ":", "..")) for line in lines):
        return None
    text = " ".join(" ".join(lines).split())
    words = text.split()
    if len(words) < 8:
        return None
    letters = sum(c.isalpha() or c.isspace() for c in text)
    if letters < 0.8 * len(text) or text.count("(") > len(words) / 8 or not text[0].isupper():
        return None
    return text


def stdlib_docstrings() -> list[tuple[str, list[str]]]:
    """The standard library's docstrings as prose: ``[(module path, [paragraph, ...]), ...]``.

    The paragraphs of :func:`lmtui.bench.corpora.docstring_paragraphs` (modules sorted by path,
    the folders of ``SKIP_DIRS`` left out) that read as prose (:func:`_prose_paragraph`), each
    once. Modules without prose are left out.
    """
    from lmtui.bench.corpora import docstring_paragraphs

    out = []
    for rel, raw in docstring_paragraphs(skip=SKIP_DIRS):
        paragraphs = [p for p in map(_prose_paragraph, raw) if p]
        if paragraphs:
            out.append((rel, list(dict.fromkeys(paragraphs))))
    return out


def reference_topics() -> list[tuple[str, str]]:
    """The Python Language Reference: ``[(topic, text), ...]`` sorted by topic name."""
    from pydoc_data.topics import topics

    return sorted(topics.items())


def _bucket(name: str) -> int:
    """A stable 0..99 bucket of a name (BLAKE2b), for splits that do not depend on the order."""
    return int.from_bytes(hashlib.blake2b(name.encode(), digest_size=2).digest(), "big") % 100


def sentences(paragraph: str) -> list[str]:
    """The sentences of a prose paragraph that have 6 to 60 words."""
    return [s for s in SENTENCE_END.split(paragraph) if 6 <= len(s.split()) <= 60]


def reference_sentences() -> list[str]:
    """Prose sentences of the Language Reference (its code examples left out)."""
    out = []
    for _, text in reference_topics():
        for paragraph in text.split("\n\n"):
            line = _prose_paragraph(paragraph)
            if line:
                out += sentences(line)
    return list(dict.fromkeys(out))


# --------------------------------------------------------------------------- writers

def _take(modules, limit: int, blank_between: bool = True, newline: str = "\n") -> str:
    parts, size = [], 0
    for _, paragraphs in modules:
        block = newline.join(paragraphs) + newline
        parts.append(block)
        size += len(block.encode())
        if size >= limit:
            break
    return (newline if blank_between else "").join(parts)


def _write(path: Path, text: str, newline: str = "\n") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8", newline=newline) as fh:
        fh.write(text)


def _word_class(word: str, first: bool) -> str:
    if keyword.iskeyword(word) or keyword.issoftkeyword(word):
        return "MISC"
    if re.fullmatch(r"[A-Za-z_]\w*(?:\.\w+)+|\w*_\w*", word) and any(c.isalpha() for c in word):
        return "LOC"
    if re.fullmatch(r"\d+(?:\.\d+)?", word):
        return "PER"
    if word[:1].isupper() and word[1:].islower() and not first:
        return "ORG"
    return "O"


def iob1_tags(words: list[str]) -> list[str]:
    """IOB1 tags of a sentence by the word-class rule of the module docstring: every word of a
    maximal run of one class is ``I-CLASS`` (runs are maximal, so none starts with ``B-``)."""
    return [cls if cls == "O" else f"I-{cls}" for cls in (_word_class(w, i == 0) for i, w in enumerate(words))]


def _conll(sentences_: list[str]) -> str:
    rows = ["-DOCSTART- -X- -X- O", ""]
    for n, sentence in enumerate(sentences_):
        words = WORD.findall(sentence)
        tags = iob1_tags(words)
        if n % 5 == 4:  # adjacent entities of one class: the second starts with B- in IOB1
            for i in range(1, len(tags)):
                if tags[i].startswith("I-") and tags[i - 1] != "O" and tags[i - 1][2:] == tags[i][2:]:
                    tags[i] = "B-" + tags[i][2:]
                    break
        for word, tag in zip(words, tags):
            pos = "CD" if tag.endswith("PER") else "NNP" if word[:1].isupper() else "NN" if word.isalpha() else "."
            rows.append(f"{word} {pos} {'I-NP' if word.isalnum() else 'O'} {tag}")
        rows.append("")
    return "\n".join(rows) + "\n"


def _tsv_field(text: str) -> str:
    return " ".join(text.replace("\t", " ").split())


def build(root: Path) -> None:
    """Write every file of the module docstring's layout under ``root`` (which must not exist)."""
    modules = stdlib_docstrings()
    train_mods = [m for m in modules if _bucket(m[0]) < 60]
    valid_mods = [m for m in modules if 60 <= _bucket(m[0]) < 80]
    other_mods = [m for m in modules if _bucket(m[0]) >= 80]
    _write(root / "prose" / "train.txt", _take(train_mods, TRAIN_BYTES))
    _write(root / "prose" / "valid.txt", _take(valid_mods, VALID_BYTES))
    crlf = [(name, [p + "\n" for p in paragraphs]) for name, paragraphs in other_mods]
    _write(root / "prose" / "crlf.txt", _take(crlf, CRLF_BYTES, blank_between=False), newline="\r\n")
    _write(root / "reference" / "topics.txt", "\n\n".join(text.strip() for _, text in reference_topics()) + "\n")

    rng = random.Random(20261208)
    positive = reference_sentences()
    negative = [(name, s) for name, paragraphs in other_mods for p in paragraphs for s in sentences(p)]
    rng.shuffle(positive)
    rng.shuffle(negative)
    n = min(len(positive), len(negative))
    examples = [(1, "reference", s) for s in positive[:n]] + [(0, name, s) for name, s in negative[:n]]
    rng.shuffle(examples)
    dev_n = max(200, len(examples) // 8)
    splits = {"dev": examples[:dev_n], "train": examples[dev_n:]}
    for split, rows in splits.items():
        _write(root / "glue" / "SST-2" / f"{split}.tsv",
               "sentence\tlabel\n" + "".join(f"{_tsv_field(s)}\t{label}\n" for label, _, s in rows))
        _write(root / "glue" / "CoLA" / f"{split}.tsv",
               "".join(f"{src}\t{label}\t{'' if label else '*'}\t{_tsv_field(s)}\n" for label, src, s in rows))
    _write(root / "glue" / "SST-2" / "test.tsv",
           "index\tsentence\n" + "".join(f"{i}\t{_tsv_field(s)}\n" for i, (_, _, s) in enumerate(splits["dev"])))

    pairs = []
    flat = [(name, sentences(p)) for name, paragraphs in train_mods + other_mods for p in paragraphs]
    flat = [(name, ss) for name, ss in flat if len(ss) >= 2]
    for i, (name, ss) in enumerate(flat):
        if i % 2 == 0:
            pairs.append(("1", ss[0], ss[1]))
        else:
            other = flat[(i * 7919) % len(flat)]
            if other[0] != name:
                pairs.append(("0", ss[0], other[1][-1]))
    rng.shuffle(pairs)
    mrpc_dev = pairs[: len(pairs) // 6]
    for split, rows in (("dev", mrpc_dev), ("train", pairs[len(mrpc_dev):])):
        body = "".join(f"{q}\t{2 * i}\t{2 * i + 1}\t{_tsv_field(a)}\t{_tsv_field(b)}\n"
                       for i, (q, a, b) in enumerate(rows))
        _write(root / "glue" / "MRPC" / f"{split}.tsv", "\ufeffQuality\t#1 ID\t#2 ID\t#1 String\t#2 String\n" + body)

    ner = [s for _, paragraphs in modules for p in paragraphs for s in sentences(p)]
    rng.shuffle(ner)
    for name, (lo, hi) in {"eng.train": (0, 4000), "eng.testa": (4000, 4800), "eng.testb": (4800, 5600)}.items():
        _write(root / "conll2003" / name, _conll(ner[lo:hi]))

    csv_rows = []
    for name, paragraphs in modules[:1200]:
        text = " ".join(paragraphs[:3]).replace("'", "''")
        csv_rows.append(f"{name.split('/')[0].removesuffix('.py')};'{text}'")
    _write(root / "csv" / "semicolon.csv", "\n".join(csv_rows) + "\n", newline="\r\n")

    conllu, sent_id = [], 0
    for name, paragraphs in valid_mods[:60]:
        conllu.append(f"# newdoc id = {name}")
        for s in [s for p in paragraphs for s in sentences(p)][:12]:
            sent_id += 1
            conllu += [f"# sent_id = {sent_id}", f"# text = {s}"]
            conllu += [f"{i}\t{w}\t{w.lower()}\t_\t_\t_\t{max(i - 1, 0)}\t_\t_\t_"
                       for i, w in enumerate(WORD.findall(s), 1)]
            conllu.append("")
    _write(root / "conllu" / "docstrings.conllu", "\n".join(conllu) + "\n")


def data_root() -> Path:
    """The generated data folder: built on first use (atomically: a temporary folder renamed into
    place, so parallel test workers never see half of it), then reused."""
    key = hashlib.blake2b(f"{GENERATOR_VERSION} {sys.version} {sysconfig.get_paths()['stdlib']} "
                          f"{Path(__file__).read_bytes()!r}".encode(), digest_size=6).hexdigest()
    root = Path(tempfile.gettempdir()) / f"lmtui-test-data-{key}"
    if not (root / "conllu" / "docstrings.conllu").is_file():
        tmp = Path(tempfile.mkdtemp(prefix=f".{root.name}-", dir=root.parent))
        build(tmp)
        try:
            os.rename(tmp, root)
        except OSError:  # another worker finished first: its copy is the same bytes
            import shutil

            shutil.rmtree(tmp, ignore_errors=True)
    return root


DATA = data_root()
