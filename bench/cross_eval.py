"""Score several saved masked language models with one evaluator: the same blocks, the same masks.

    python bench/cross_eval.py --tokenizer TOKENIZER_DIR --validation FILE MODEL_DIR [MODEL_DIR ...]

`lmtui bench` reports each tool's held-out loss as the tool itself computes it (its own packing
of the validation file, its own masks). This script takes that difference out: it packs the
validation file once (non-empty lines, each with its special tokens, cut into blocks of
``--seq-len`` tokens), masks the first ``--blocks`` blocks once per ``--seeds`` seed with BERT's
15% / 80-10-10 recipe (Devlin et al. 2019) over non-special tokens, and prints every model's
mean cross-entropy over the masked tokens (nats) for each seed and on average.
"""

from __future__ import annotations

import argparse


def masked_blocks(tokenizer, path: str, seq_len: int, blocks: int, seed: int):
    """(input_ids, labels), each (blocks, seq_len) int64; labels are -100 where not masked."""
    import torch

    ids: list[int] = []
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                ids += tokenizer(line.rstrip("\n"))["input_ids"]
    n = min(blocks, len(ids) // seq_len)
    tokens = torch.tensor(ids[:n * seq_len]).view(n, seq_len)
    g = torch.Generator().manual_seed(seed)
    selected = (torch.rand(tokens.shape, generator=g) < 0.15) & ~torch.isin(tokens, torch.tensor(tokenizer.all_special_ids))
    roll = torch.rand(tokens.shape, generator=g)
    inputs = tokens.clone()
    inputs[selected & (roll < 0.8)] = tokenizer.mask_token_id
    random = selected & (roll >= 0.8) & (roll < 0.9)
    inputs[random] = torch.randint(len(tokenizer), (int(random.sum()),), generator=g)
    return inputs, torch.where(selected, tokens, torch.tensor(-100))


def masked_loss(model, inputs, labels, batch: int = 64) -> float:
    """Mean cross-entropy (nats) over the masked positions."""
    import torch

    total, count = 0.0, 0
    with torch.no_grad():
        for i in range(0, len(inputs), batch):
            n = int((labels[i:i + batch] != -100).sum())
            total += model(input_ids=inputs[i:i + batch], labels=labels[i:i + batch]).loss.item() * n
            count += n
    return total / count


def main() -> None:
    """Parse the arguments, then load torch and transformers (so that ``--help`` answers at once)."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("models", nargs="+", help="folders saved with save_pretrained")
    p.add_argument("--tokenizer", required=True, help="the tokenizer both models were trained with")
    p.add_argument("--validation", required=True, help="a text file, one document per line")
    p.add_argument("--seq-len", type=int, default=128)
    p.add_argument("--blocks", type=int, default=2000)
    p.add_argument("--seeds", type=int, default=4, help="masking seeds 0..N-1")
    a = p.parse_args()
    from transformers import AutoModelForMaskedLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(a.tokenizer)
    masks = [masked_blocks(tokenizer, a.validation, a.seq_len, a.blocks, s) for s in range(a.seeds)]
    for path in a.models:
        model = AutoModelForMaskedLM.from_pretrained(path).eval()
        losses = [masked_loss(model, *m) for m in masks]
        print(f"{path}: mean {sum(losses) / len(losses):.4f}  per seed " + " ".join(f"{x:.4f}" for x in losses))


if __name__ == "__main__":
    main()
