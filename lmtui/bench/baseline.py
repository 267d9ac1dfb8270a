"""The run_mlm.py baseline: masked-LM pretraining the way transformers' example script does it.

    python -m lmtui.bench.baseline --train_file T --validation_file V --tokenizer_name DIR \\
        [--line_by_line [--pad_to_max_length]] [--learning_rate 5e-4 --warmup_steps 0.06 ...] \\
        [--output_dir MODEL_DIR]

The steps of ``examples/pytorch/language-modeling/run_mlm.py`` (Hugging Face transformers),
written here with the public APIs of datasets and transformers, so that ``lmtui bench`` and the
scripts in ``bench/`` compare lmtui with what a user of that script runs:

1. ``datasets.load_dataset("text", data_files={"train": ..., "validation": ...})``: one example
   per line of each file (empty lines included).
2. ``.map(batched=True)`` tokenization with ``return_special_tokens_mask=True``, then either
   - ``group_texts`` (the default): each map batch of 1,000 tokenized lines is concatenated and
     cut into blocks of ``max_seq_length`` tokens, the remainder of each batch dropped
     (:func:`group_texts`); or
   - ``--line_by_line``: empty and whitespace-only lines removed, every other line one sequence,
     truncated to ``max_seq_length``, padded to it with ``--pad_to_max_length`` or else padded
     per batch by the collator (:func:`tokenize_line_by_line`).
3. a model from a config: ``CONFIG_MAPPING[--model_type]`` with ``--config_overrides``
   (``update_from_string``) or ``--config_name`` (a config.json or its folder), its vocabulary
   the tokenizer's length; ``AutoModelForMaskedLM.from_config``.
4. ``DataCollatorForLanguageModeling(mlm_probability=0.15)``: BERT's 80/10/10 masking drawn per
   batch.
5. ``Trainer`` with ``TrainingArguments``: the options a tuned user sets (learning rate,
   warmup, scheduler, weight decay, seed, bf16, torch_compile) and nothing saved mid-run.
   transformers 5 has no ``warmup_ratio``: ``--warmup_steps`` below 1 is the ratio of the
   total steps (``TrainingArguments.get_warmup_steps``); ``--warmup_ratio`` is accepted and
   passed that way.
6. evaluation of the first ``--max_eval_samples`` validation sequences with a collator seeded by
   ``--eval_seed`` (the same masks on every run), loss and masked-token accuracy as
   run_mlm.py's ``compute_metrics``; ``--output_dir`` saves the final model and tokenizer
   (``Trainer.save_model``: safetensors + tokenizer files) for one evaluator
   (``bench/cross_eval.py``).

Prints one JSON line, first key ``tool``: params, preprocess_s (load_dataset + map, from a fresh
datasets cache), train_s (``Trainer.train``), steps, samples, real_tokens (the non-padding
tokens of the batches trained on), real_tokens_per_s, eval_loss, eval_accuracy, perplexity and
the recipe. Runs on the CPU when there is no CUDA device (``use_cpu``); progress bars off.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import sys
import tempfile
import time
from itertools import chain
from pathlib import Path

TOOL = "run_mlm.py baseline"
MAP_BATCH = 1000  # datasets.map's default batch size: group_texts drops one remainder per batch


def group_texts(examples: dict[str, list[list[int]]], block_size: int) -> dict[str, list[list[int]]]:
    """run_mlm.py's ``group_texts``: concatenate every column of a batch, cut it into blocks.

    Args:
        examples: columns (input_ids, attention_mask, special_tokens_mask, ...) of one map
            batch, each a list of per-line token lists.
        block_size: tokens per block (``max_seq_length``).

    Returns:
        The same columns as lists of ``total // block_size`` blocks of ``block_size`` tokens; the
        ``total % block_size`` tokens at the end of the batch are dropped.
    """
    joined = {k: list(chain.from_iterable(v)) for k, v in examples.items()}
    total = len(next(iter(joined.values()), []))
    total -= total % block_size
    return {k: [v[i:i + block_size] for i in range(0, total, block_size)] for k, v in joined.items()}


def tokenize_line_by_line(tokenizer, lines: list[str], max_length: int, pad_to_max_length: bool) -> dict:
    """run_mlm.py's line_by_line tokenization: non-blank lines, each truncated to ``max_length``
    tokens (special tokens included), padded to it when ``pad_to_max_length``; with the special
    tokens mask for the collator."""
    kept = [line for line in lines if len(line) > 0 and not line.isspace()]
    return tokenizer(kept, padding="max_length" if pad_to_max_length else False, truncation=True,
                     max_length=max_length, return_special_tokens_mask=True)


def preprocess(train_file: str, validation_file: str | None, tokenizer, max_seq_length: int, *,
               line_by_line: bool = False, pad_to_max_length: bool = False, num_proc: int | None = None,
               cache_dir: str | None = None):
    """Steps 1 and 2: the tokenized train and validation splits (a ``datasets.DatasetDict``).

    Columns: input_ids, attention_mask, special_tokens_mask (and token_type_ids when the
    tokenizer makes them); group_texts rows are ``max_seq_length`` long, line_by_line rows at
    most that. Without ``validation_file``, the train split only.
    """
    import datasets

    files = {"train": train_file, **({"validation": validation_file} if validation_file else {})}
    raw = datasets.load_dataset("text", data_files=files, cache_dir=cache_dir)
    if line_by_line:
        return raw.map(lambda ex: tokenize_line_by_line(tokenizer, ex["text"], max_seq_length, pad_to_max_length),
                       batched=True, batch_size=MAP_BATCH, num_proc=num_proc, remove_columns=["text"])
    tokenized = raw.map(lambda ex: tokenizer(ex["text"], return_special_tokens_mask=True), batched=True,
                        batch_size=MAP_BATCH, num_proc=num_proc, remove_columns=["text"])
    return tokenized.map(group_texts, fn_kwargs={"block_size": max_seq_length}, batched=True, batch_size=MAP_BATCH,
                         num_proc=num_proc)


def build_config(model_type: str, config_overrides: str, config_name: str, vocab_size: int, pad_token_id: int):
    """Step 3: the model config, ``--config_name`` or ``CONFIG_MAPPING[model_type]`` + overrides,
    with the tokenizer's vocabulary size and pad id."""
    from transformers import CONFIG_MAPPING, AutoConfig

    config = AutoConfig.from_pretrained(config_name) if config_name else CONFIG_MAPPING[model_type]()
    if config_overrides:
        config.update_from_string(config_overrides)
    config.vocab_size = vocab_size
    config.pad_token_id = pad_token_id
    return config


class CountingCollator:
    """A collator that records each batch's non-padding tokens (``attention_mask`` sum), in the
    order the batches are made. The Trainer consumes batches in that order; a loader that reads
    ahead makes batches it never trains on, so the count of a run is ``sum(counts[:steps])``."""

    def __init__(self, inner):
        self.inner = inner
        self.counts: list[int] = []

    def __call__(self, features):
        batch = self.inner(features)
        self.counts.append(int(batch["attention_mask"].sum()))
        return batch


def _masked_accuracy(eval_pred) -> dict:
    """run_mlm.py's compute_metrics: accuracy of the argmax predictions at the masked positions."""
    preds, labels = eval_pred
    mask = labels != -100
    return {"accuracy": float((preds[mask] == labels[mask]).mean()) if mask.any() else 0.0}


def _argmax(logits, labels):
    return (logits[0] if isinstance(logits, tuple) else logits).argmax(dim=-1)


def _option(parser, name: str, **kw) -> None:
    """``--name_with_underscores`` (run_mlm.py's spelling) and ``--name-with-dashes`` alike."""
    names = [f"--{name}"] + ([f"--{name.replace('_', '-')}"] if "_" in name else [])
    parser.add_argument(*names, dest=name, **kw)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m lmtui.bench.baseline", description=__doc__.split("\n\n")[0])
    _option(p, "train_file", required=True, help="text file, one example per line")
    _option(p, "validation_file", default="", help="text file, one example per line (none: no evaluation)")
    _option(p, "tokenizer_name", required=True, help="a folder AutoTokenizer loads (e.g. from lmtui.bench.tokenizer)")
    _option(p, "model_type", default="roberta", help="CONFIG_MAPPING key (default: %(default)s)")
    _option(p, "config_overrides", default="", help="e.g. hidden_size=128,num_hidden_layers=2 (update_from_string)")
    _option(p, "config_name", default="", help="a config.json (or its folder) instead of --model_type")
    _option(p, "max_seq_length", type=int, default=128)
    _option(p, "line_by_line", action="store_true", help="one sequence per non-blank line instead of group_texts")
    _option(p, "pad_to_max_length", action="store_true", help="line_by_line: pad every line to max_seq_length")
    _option(p, "preprocessing_num_workers", type=int, default=0, help="datasets.map num_proc (0: in process)")
    _option(p, "per_device_train_batch_size", type=int, default=8, help="sequences per step")
    _option(p, "max_steps", type=int, default=100)
    _option(p, "learning_rate", type=float, default=5e-5, help="peak learning rate (Trainer's default 5e-5)")
    _option(p, "warmup_steps", type=float, default=0.0, help="steps, or below 1 the ratio of max_steps")
    _option(p, "warmup_ratio", type=float, default=None, help="the ratio of max_steps (passed as warmup_steps)")
    _option(p, "lr_scheduler_type", default="linear", help="linear, cosine, constant_with_warmup, ...")
    _option(p, "weight_decay", type=float, default=0.0)
    _option(p, "mlm_probability", type=float, default=0.15)
    _option(p, "seed", type=int, default=42, help="model initialisation, data order and training masks")
    _option(p, "bf16", action="store_true", help="bf16 mixed precision (CPU autocast without CUDA)")
    _option(p, "torch_compile", action="store_true", help="torch.compile the model (TrainingArguments.torch_compile)")
    _option(p, "max_eval_samples", type=int, default=200, help="validation sequences scored after training")
    _option(p, "eval_seed", type=int, default=42, help="the evaluation collator's masking seed")
    _option(p, "logging_steps", type=int, default=0, help="default: max_steps / 10")
    _option(p, "output_dir", default="", help="save the final model and tokenizer here (safetensors)")
    _option(p, "preprocess_only", action="store_true", help="stop after tokenization (times steps 1-2 only)")
    a = p.parse_args(argv)
    if a.warmup_ratio is not None:
        if not 0 <= a.warmup_ratio < 1:
            p.error("--warmup_ratio must be in [0, 1)")
        a.warmup_steps = a.warmup_ratio
    if a.pad_to_max_length and not a.line_by_line:
        p.error("--pad_to_max_length needs --line_by_line (group_texts blocks are full)")
    return a


def _quiet() -> None:
    import datasets
    import transformers

    datasets.disable_progress_bars()
    datasets.logging.set_verbosity_error()
    transformers.logging.set_verbosity_warning()
    transformers.logging.disable_progress_bar()


def run(a: argparse.Namespace, scratch: Path) -> dict:
    """Steps 1-6 with ``scratch`` as the datasets cache and the Trainer's folder; returns the result."""
    import datasets
    import torch
    from transformers import (AutoModelForMaskedLM, AutoTokenizer, DataCollatorForLanguageModeling, Trainer,
                              TrainingArguments, set_seed)

    from lmtui.fsutil import atomic_folder

    _quiet()
    datasets.disable_caching()  # map results in temporary files: every run preprocesses from scratch
    set_seed(a.seed)
    t0 = time.perf_counter()
    tokenizer = AutoTokenizer.from_pretrained(a.tokenizer_name)
    max_len = min(a.max_seq_length, tokenizer.model_max_length)
    data = preprocess(a.train_file, a.validation_file or None, tokenizer, max_len, line_by_line=a.line_by_line,
                      pad_to_max_length=a.pad_to_max_length, num_proc=a.preprocessing_num_workers or None,
                      cache_dir=str(scratch / "datasets"))
    prep = time.perf_counter() - t0
    result = {"tool": TOOL, "mode": "line_by_line" if a.line_by_line else "group_texts",
              "pad_to_max_length": a.pad_to_max_length, "preprocess_s": round(prep, 3),
              "train_sequences": len(data["train"]),
              "validation_sequences": len(data["validation"]) if "validation" in data else 0}
    if a.preprocess_only:
        return result
    if len(data["train"]) == 0:
        print(f"error: {a.train_file}: no training sequence of {max_len} tokens (a longer file, or --line_by_line)",
              file=sys.stderr)
        raise SystemExit(2)

    model = AutoModelForMaskedLM.from_config(build_config(a.model_type, a.config_overrides, a.config_name,
                                                          len(tokenizer), tokenizer.pad_token_id))
    train_collator = CountingCollator(DataCollatorForLanguageModeling(tokenizer, mlm_probability=a.mlm_probability))
    cuda = torch.cuda.is_available()
    args = TrainingArguments(
        output_dir=str(scratch / "trainer"), per_device_train_batch_size=a.per_device_train_batch_size,
        per_device_eval_batch_size=a.per_device_train_batch_size, max_steps=a.max_steps,
        learning_rate=a.learning_rate, warmup_steps=a.warmup_steps, lr_scheduler_type=a.lr_scheduler_type,
        weight_decay=a.weight_decay, seed=a.seed, bf16=a.bf16, torch_compile=a.torch_compile, use_cpu=not cuda,
        logging_steps=a.logging_steps or max(1, a.max_steps // 10), save_strategy="no", eval_strategy="no",
        report_to="none", disable_tqdm=True, dataloader_num_workers=0)
    evaluation = None
    if "validation" in data:
        evaluation = data["validation"].select(range(min(a.max_eval_samples, len(data["validation"]))))
    trainer = Trainer(model=model, args=args, train_dataset=data["train"], eval_dataset=evaluation,
                      data_collator=train_collator, processing_class=tokenizer, compute_metrics=_masked_accuracy,
                      preprocess_logits_for_metrics=_argmax)
    t1 = time.perf_counter()
    trainer.train()
    if cuda:
        torch.cuda.synchronize()
    train_s = time.perf_counter() - t1
    steps = trainer.state.global_step
    real = sum(train_collator.counts[:steps * args.gradient_accumulation_steps])
    trainer.data_collator = DataCollatorForLanguageModeling(tokenizer, mlm_probability=a.mlm_probability,
                                                           seed=a.eval_seed)
    metrics = trainer.evaluate() if evaluation is not None and len(evaluation) else {}
    if a.output_dir:
        with atomic_folder(Path(a.output_dir).resolve()) as tmp:
            trainer.save_model(str(tmp))
    loss = metrics.get("eval_loss")
    result.update(
        params=sum(p.numel() for p in model.parameters()), train_s=round(train_s, 3), steps=steps,
        samples=steps * a.per_device_train_batch_size, real_tokens=real, real_tokens_per_s=round(real / train_s, 1),
        eval_sequences=len(evaluation) if evaluation is not None else 0,
        eval_loss=None if loss is None else round(loss, 4),
        eval_accuracy=None if loss is None else round(metrics["eval_accuracy"], 4),
        perplexity=None if loss is None else round(math.exp(min(loss, 700)), 2),
        learning_rate=a.learning_rate, warmup_steps=a.warmup_steps, lr_scheduler_type=a.lr_scheduler_type,
        weight_decay=a.weight_decay, seed=a.seed, bf16=a.bf16, torch_compile=a.torch_compile,
        device="cuda" if cuda else "cpu", model=str(Path(a.output_dir).resolve()) if a.output_dir else None)
    return result


def main(argv: list[str] | None = None) -> int:
    a = parse_args(argv)
    for option in ("train_file", "validation_file"):
        if getattr(a, option) and not Path(getattr(a, option)).is_file():
            print(f"error: --{option}: no such file: {getattr(a, option)}", file=sys.stderr)
            return 2
    if not (Path(a.tokenizer_name) / "tokenizer_config.json").is_file():
        print(f"error: --tokenizer_name: not a tokenizer folder (no tokenizer_config.json): {a.tokenizer_name}",
              file=sys.stderr)
        return 2
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false" if a.preprocessing_num_workers > 1 else "true")
    scratch = Path(tempfile.mkdtemp(prefix="lmtui-baseline-"))
    try:
        result = run(a, scratch)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
