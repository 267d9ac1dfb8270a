"""The benchmarks' tokenizer: one RoBERTa-style byte-level BPE that every tool of a comparison loads.

    python -m lmtui.bench.tokenizer FILE[,FILE...] OUT_DIR VOCAB_SIZE

Trained the way the `tokenizers` documentation trains RoBERTa's tokenizer, as a user of
run_mlm.py does before pretraining: ``ByteLevelBPETokenizer().train(files, vocab_size,
min_frequency=2, special_tokens=["<s>", "<pad>", "</s>", "<unk>", "<mask>"])`` (the files read
by the library's own multi-threaded reader), ``RobertaProcessing`` for ``<s> X </s>``; then
wrapped as lmtui wraps its byte-level BPE (:func:`lmtui.data.tokenizer.wrap_fast`: ``<mask>``
absorbs the space before it, as in roberta-base) and saved with ``save_pretrained``, so that
``AutoTokenizer.from_pretrained(OUT_DIR)`` loads it in the baseline, in lmtui
(``[tokenizer] path``) and in ``bench/cross_eval.py``.
"""

from __future__ import annotations

import sys
from pathlib import Path

from lmtui.fsutil import atomic_folder

SPECIAL_TOKENS = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]  # ids 0-4, as roberta-base


def train_bpe(files: list[Path], vocab_size: int, out: Path) -> int:
    """Train a byte-level BPE of at most ``vocab_size`` pieces on the lines of ``files`` and save it to
    ``out`` (atomically: a complete folder or none). Returns its size (``len``), which is below
    ``vocab_size`` when the text has too few pairs seen twice."""
    from tokenizers import AddedToken, ByteLevelBPETokenizer
    from tokenizers.processors import RobertaProcessing

    from lmtui.data.tokenizer import wrap_fast

    bpe = ByteLevelBPETokenizer()
    specials = [AddedToken(t, lstrip=t == "<mask>", rstrip=False, normalized=False, special=True)
                for t in SPECIAL_TOKENS]
    bpe.train([str(f) for f in files], vocab_size=vocab_size, min_frequency=2, special_tokens=specials,
              show_progress=False)
    bpe.post_processor = RobertaProcessing(("</s>", bpe.token_to_id("</s>")), ("<s>", bpe.token_to_id("<s>")))
    tok = wrap_fast(bpe._tokenizer, "byte_level_bpe", model_max_length=512)
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
