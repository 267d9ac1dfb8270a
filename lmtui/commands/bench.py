"""`lmtui bench`: train the same model with the run_mlm.py baseline and with lmtui, side by side."""

from __future__ import annotations

import shlex
import sys

from lmtui.bench.compare import DEFAULT_CORPUS, MODES, SHAPES


def cmd_bench(args) -> int:
    from lmtui.bench.compare import run_benchmark

    args.command_line = "lmtui " + shlex.join(sys.argv[1:]) if "bench" in sys.argv[1:2] else "lmtui bench"
    report = run_benchmark(args, log=lambda m: print(m, flush=True))
    env = report["environment"]
    print(f"\n{report['command']}\n{env['cpu']} ({env['cpu_cores']} cores, {env['torch_threads']} torch threads)"
          f"{', ' + env['gpu'] if env['gpu'] else ''}; torch {env['torch']}, transformers {env['transformers']}; "
          f"shape {args.shape}, {report['steps']} steps x {report['batch']} sequences, {report['precision']}\n")
    print(report["table"])
    print()
    for r in report.get("ratios", []):
        loss = "n/a (no validation sequence)" if r["eval_loss_difference"] is None else \
            f"{r['eval_loss_difference']:+.4f} (lmtui - baseline)"
        print(f"{r['mode']}: lmtui {r['tokens_per_s']:.2f}x the baseline's real tokens/s, preprocessing "
              f"{r['preprocess']:.2f}x faster, eval loss {loss}")
    print(f"\nfull results: {args.work_dir}/{'levers' if args.levers else 'results'}.json")
    return 0


def register(sub) -> None:
    p = sub.add_parser("bench", help="benchmark lmtui against the Hugging Face run_mlm.py pipeline (same corpus, "
                                     "tokenizer and model shape, in one run)")
    p.add_argument("--shape", choices=list(SHAPES), default="seed",
                   help="seed: hidden 128, 2 layers (CPU); bert-base: 12 x 768, vocab 32k (GPU)")
    p.add_argument("--corpus", default=DEFAULT_CORPUS,
                   help=f"{DEFAULT_CORPUS} (the Python Language Reference, on every machine; 5%% of its documents "
                        "held out), or TRAIN.txt[,VALIDATION.txt]: text files, one document per line (TRAIN alone: "
                        "every 20th line held out) (default: %(default)s)")
    p.add_argument("--modes", default="group_texts,line_by_line_padded",
                   help=f"comma-separated data modes: {', '.join(MODES)} (default: %(default)s)")
    p.add_argument("--repeat", type=int, default=1,
                   help="run each tool N times, interleaved, and keep each one's fastest run (for a busy machine)")
    p.add_argument("--steps", type=int, default=0, help="optimizer steps per run (default: the shape's)")
    p.add_argument("--batch", type=int, default=0, help="sequences per step (default: the shape's)")
    p.add_argument("--micro-batch", type=int, default=0, help="lmtui micro-batch (default: the batch)")
    p.add_argument("--precision", choices=("auto", "fp32", "bf16"), default="auto",
                   help="both tools' precision; auto: the shape's (fp32 for seed, bf16 for bert-base)")
    p.add_argument("--vocab-size", type=int, default=0,
                   help="tokenizer vocabulary (default: the shape's); the standard library's docstrings are added "
                        "to the tokenizer's text when the training file gives fewer pieces")
    p.add_argument("--max-eval-samples", type=int, default=2000,
                   help="validation sequences scored by each tool (2000: the loss is known to about 0.01)")
    p.add_argument("--max-lines", type=int, default=0, help="use only the first N lines of each file (smoke tests)")
    p.add_argument("--workers", type=int, default=1, help="lmtui data-loader workers")
    p.add_argument("--processes", type=int, default=1,
                   help="lmtui data-parallel processes (torchrun + gloo on a CPU, one per GPU on CUDA)")
    p.add_argument("--compile", action="store_true",
                   help="both tools: torch.compile (lmtui's encoder; the baseline's TrainingArguments.torch_compile)")
    p.add_argument("--levers", action="store_true",
                   help="instead: time lmtui's training step with one speed lever changed at a time (in process)")
    p.add_argument("--threads", type=int, default=1, help="--levers: torch threads (default: 1)")
    p.add_argument("--work-dir", default="bench-work", help="folder for tokenizers, runs, logs and results.json")
    p.set_defaults(func=cmd_bench)
