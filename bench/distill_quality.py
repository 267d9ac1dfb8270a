"""Distillation against training from scratch: a teacher, its distilled student, the same student from scratch.

    python bench/distill_quality.py [--work-dir /tmp/distill-bench] [--steps 300]
                                    [--corpus TRAIN.txt,VALIDATION.txt] [--tasks sst2=DIR,conll2003=DIR]

1. Pretrain a teacher with lmtui: BERT, 4 layers, hidden 256 (size "mini"), WordPiece 8,000,
   on ``--corpus``: the Python Language Reference by default (on every machine, 5% of its
   documents held out; :mod:`lmtui.bench.corpora`), or the text files named.
2. Distil a 2-layer student from it (``[distill] init = "teacher_layers"``: layers 0 and 2, the
   DistilBERT loss with its defaults) and train the same 2-layer student from scratch (the
   teacher's tokenizer, the same ``[training]``: same steps, batches and tokens).
3. Score the three models with one evaluator (``bench/cross_eval.py``: the same blocks and masks),
   measure their inference throughput (:func:`lmtui.evaluation.throughput.measure_throughput`,
   same batch, length and device) and, with ``--tasks``, fine-tune each on the tasks through
   lmtui's ``[eval]`` (the same recipe and seeds; the teacher is evaluated by the distillation
   run's evaluate stage, label ``teacher``): each task names its data folder (``sst2=DIR``:
   GLUE's SST-2 TSV files; ``conll2003=DIR``: the CoNLL-2003 files).

Prints a markdown table and writes it with the numbers to ``--work-dir``/distill_quality.{md,json}.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(Path(__file__).resolve().parent))

TASKS = ("sst2", "conll2003")  # [eval] presets; each given its data folder on the command line


def task_table(name: str, data_dir: Path) -> str:
    return f"""
[eval.tasks.{name}]
preset = "{name}"
data_dir = {json.dumps(str(data_dir))}
"""


def training(args) -> str:
    return f"""
[training]
max_seq_length = {args.seq_len}
batch_size = {args.batch}
micro_batch_size = {args.batch}
max_steps = {args.steps}
learning_rate = {args.lr}
warmup_ratio = 0.06
logging_steps = 10
eval_steps = {args.steps}
save_steps = {args.steps}
max_eval_samples = 256

[hardware]
device = "cpu"
"""


def evaluation(args) -> str:
    if not args.tasks:
        return ""
    return f"""
[eval]
after_pretraining = true
perplexity = false
epochs = {args.ft_epochs}
max_train_examples = {args.ft_examples}
max_eval_examples = {args.ft_eval_examples}
seeds = {args.seeds}
""" + "".join(task_table(t, d) for t, d in args.tasks.items())


def corpus_table(files) -> str:
    return f"""
[corpus]
train_files = [{json.dumps(str(files.train))}]
validation_files = [{json.dumps(str(files.validation))}]
format = "text"
"""


def projects(work: Path, args, files) -> dict[str, Path]:
    """The three project files: teacher, distilled student, scratch student, on the corpus ``files``."""
    (work / "projects").mkdir(parents=True, exist_ok=True)
    head = '[project]\nname = "{}"\noutput_dir = "../runs"\ncache_dir = "../cache"\n'
    texts = {
        "teacher": head.format("teacher") + corpus_table(files) + """
[tokenizer]
kind = "wordpiece"
vocab_size = 8000
lowercase = true

[model]
architecture = "bert"
size = "mini"
""" + training(args),
        "distilled": head.format("distilled") + corpus_table(files) + f"""
[model]
architecture = "bert"

[distill]
teacher = "{work / 'runs' / 'TEACHER' / 'model'}"
init = "teacher_layers"
layers = [0, 2]
""" + training(args) + evaluation(args),
        "scratch": head.format("scratch") + corpus_table(files) + f"""
[tokenizer]
path = "{work / 'runs' / 'TEACHER' / 'model'}"

[model]
architecture = "bert"
size = "mini"
config_overrides = {{ num_hidden_layers = 2 }}
""" + training(args) + evaluation(args),
    }
    out = {}
    for name, text in texts.items():
        out[name] = work / "projects" / f"{name}.toml"
        out[name].write_text(text)
    return out


def lmtui(*argv: str, cwd: Path) -> None:
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "lmtui", *argv], cwd=cwd)
    if proc.returncode:
        raise SystemExit(f"lmtui {' '.join(argv)} exited {proc.returncode}")
    print(f"lmtui {' '.join(argv)}: {time.perf_counter() - t0:.0f} s", flush=True)


def latest_run(work: Path, name: str) -> Path:
    runs = sorted(p for p in (work / "runs").glob(f"{name}-*") if (p / "run.json").is_file())
    return runs[-1]


def task_scores(run: Path, label: str) -> dict[str, dict]:
    """{task: {"metric", "mean", "std", "values"}} of a results entry (the validation split)."""
    from lmtui.evaluation.results import load_results

    entry = load_results(run)["models"].get(label, {})
    out = {}
    for name, task in (entry.get("tasks") or {}).items():
        metric = task["main_metric"]
        out[name] = {"metric": metric, **task["splits"]["validation"][metric]}
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--work-dir", default="/tmp/distill-bench")
    p.add_argument("--steps", type=int, default=300, help="optimizer steps of each of the three runs")
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--seq-len", type=int, default=64)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--corpus", default="language-reference",
                   help="language-reference (on every machine) or TRAIN.txt[,VALIDATION.txt] (default: %(default)s)")
    p.add_argument("--tasks", default="",
                   help="comma-separated NAME=DATA_DIR, NAME one of sst2, conll2003 (fine-tuning through [eval])")
    p.add_argument("--seeds", type=int, default=2)
    p.add_argument("--ft-examples", type=int, default=1000, help="[eval] max_train_examples")
    p.add_argument("--ft-eval-examples", type=int, default=400, help="[eval] max_eval_examples")
    p.add_argument("--ft-epochs", type=float, default=1.0)
    p.add_argument("--blocks", type=int, default=300, help="held-out blocks scored by cross_eval")
    p.add_argument("--mask-seeds", type=int, default=2)
    args = p.parse_args()
    tasks = {}
    for item in (t.strip() for t in args.tasks.split(",") if t.strip()):
        name, _, folder = item.partition("=")
        if name not in TASKS or not folder or not Path(folder).is_dir():
            p.error(f"--tasks {item!r}: NAME=DATA_DIR with NAME one of {', '.join(TASKS)} and an existing folder")
        tasks[name] = Path(folder).resolve()
    args.tasks = tasks
    from lmtui.bench.compare import resolve_corpus
    from lmtui.errors import LmtuiError

    work = Path(args.work_dir).resolve()
    work.mkdir(parents=True, exist_ok=True)
    try:
        corpus = resolve_corpus(args.corpus, work)
    except LmtuiError as exc:
        raise SystemExit(f"error: {exc}") from None
    files = projects(work, args, corpus)

    lmtui("run", str(files["teacher"]), cwd=work)
    teacher = latest_run(work, "teacher")
    for name in ("distilled", "scratch"):
        files[name].write_text(files[name].read_text().replace("TEACHER", teacher.name))
        lmtui("run", str(files[name]), "--fresh", cwd=work)
    distilled, scratch = latest_run(work, "distilled"), latest_run(work, "scratch")

    import torch
    from cross_eval import masked_blocks, masked_loss
    from transformers import AutoModelForMaskedLM, AutoTokenizer

    from lmtui.evaluation.throughput import measure_throughput

    torch.set_num_threads(2)
    tokenizer = AutoTokenizer.from_pretrained(teacher / "model")
    masks = [masked_blocks(tokenizer, str(corpus.validation), args.seq_len, args.blocks, s)
             for s in range(args.mask_seeds)]
    rows = {}
    for name, run, label in (("teacher", distilled, "teacher"), ("distilled student", distilled, "final"),
                             ("scratch student", scratch, "final")):
        folder = teacher / "model" if name == "teacher" else run / "model"
        model = AutoModelForMaskedLM.from_pretrained(folder).eval()
        losses = [masked_loss(model, *m) for m in masks]
        speed = measure_throughput(model, batch_size=32, seq_length=args.seq_len, device="cpu", min_seconds=5.0)
        rows[name] = {"model": str(folder), "held_out_loss": sum(losses) / len(losses), "per_seed": losses,
                      "sequences_per_s": speed["sequences_per_s"], "params": speed["params"],
                      "tasks": task_scores(run, label) if args.tasks else {}}
    t_speed = rows["teacher"]["sequences_per_s"]
    lines = ["| model | params | held-out MLM loss | sequences/s | speed-up |"
             + "".join(f" {t} |" for t in args.tasks), "|---|---:|---:|---:|---:|" + "---:|" * len(args.tasks)]
    for name, r in rows.items():
        cells = [name, f"{r['params'] / 1e6:.2f}M", f"{r['held_out_loss']:.4f}", f"{r['sequences_per_s']:.1f}",
                 f"{r['sequences_per_s'] / t_speed:.2f}x"]
        for t in args.tasks:
            s = r["tasks"].get(t)
            cells.append(f"{s['mean'] * 100:.2f} ± {s['std'] * 100:.2f} ({s['metric']})" if s else "-")
        lines.append("| " + " | ".join(cells) + " |")
    table = "\n".join(lines)
    print(table)
    (work / "distill_quality.md").write_text(table + "\n")
    (work / "distill_quality.json").write_text(json.dumps({"args": vars(args), "rows": rows}, indent=2, default=str))


if __name__ == "__main__":
    main()
