"""The benchmarks' tokenizer: one RoBERTa-style byte-level BPE that every tool of a comparison loads.

    python -m lmtui.bench.tokenizer FILE[,FILE...] OUT_DIR VOCAB_SIZE

Trained with lmtui's byte-level BPE (:func:`lmtui.data.tokenizer.train_tokenizer`: the
`tokenizers` BPE trainer, min_frequency 2, ``<s> <pad> </s> <unk> <mask>``, RobertaProcessing)
on the lines of the files, and saved with ``save_pretrained`` so that
``AutoTokenizer.from_pretrained(OUT_DIR)`` loads it in the baseline, in lmtui
(``[tokenizer] path``) and in ``bench/cross_eval.py``.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Iterator

from lmtui.fsutil import atomic_folder


def _lines(files: list[Path]) -> Iterator[str]:
    for path in files:
        with open(path, encoding="utf-8") as fh:
            for line in fh:
                if line.strip():
                    yield line.rstrip("\n")


def train_bpe(files: list[Path], vocab_size: int, out: Path) -> int:
    """Train a byte-level BPE of at most ``vocab_size`` pieces on the non-empty lines of ``files``
    and save it to ``out`` (atomically: a complete folder or none). Returns its size (``len``),
    which is below ``vocab_size`` when the text has too few pairs seen twice."""
    from lmtui.data.tokenizer import train_tokenizer

    tok = train_tokenizer(_lines(files), "byte_level_bpe", vocab_size=vocab_size, min_frequency=2)
    with atomic_folder(out) as tmp:
        tok.save_pretrained(str(tmp))
    return len(tok)


def main(argv: list[str] | None = None) -> int:
    import argparse

    p = argparse.ArgumentParser(prog="python -m lmtui.bench.tokenizer", description=__doc__.split("\n\n")[0])
    p.add_argument("files", help="comma-separated text files, one document per line")
    p.add_argument("out", help="the tokenizer folder to write")
    p.add_argument("vocab_size", type=int)
    a = p.parse_args(argv)
    size = train_bpe([Path(f) for f in a.files.split(",")], a.vocab_size, Path(a.out))
    print(f"saved {a.out}: {size} tokens")
    return 0


if __name__ == "__main__":
    sys.exit(main())
