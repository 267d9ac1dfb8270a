"""Time-to-quality: held-out MLM loss reached in an equal wall-clock budget, lmtui against run_mlm.py.

    python bench/quality.py [--budget 150] [--configs baseline,concat,document,document+modernbert,...]
                            [--corpus TRAIN.txt,VALIDATION.txt] [--baseline-lr 2e-4,5e-4,1e-3,2e-3]

Every run trains the seed shape (RoBERTa, hidden 128, 2 layers, 4 heads, intermediate 512,
sequences of 128 tokens, batch 32) on one corpus: the Python Language Reference by default (on
every machine; 5% of its documents held out, :mod:`lmtui.bench.corpora`) or the text files
``--corpus`` names; one byte-level BPE tokenizer of ``--vocab-size`` pieces
(:mod:`lmtui.bench.tokenizer`) serves all of them.

- ``baseline``: :mod:`lmtui.bench.baseline` (the pipeline of transformers' run_mlm.py:
  group_texts, DataCollatorForLanguageModeling, Trainer) with the recipe a careful user tunes:
  one run per ``--baseline-lr`` (default the sweep 2e-4, 5e-4, 1e-3, 2e-3), each with
  ``--baseline-warmup`` (6% of the steps), ``--baseline-scheduler`` (linear) and
  ``--baseline-weight-decay`` (0.01, RoBERTa's); every run saves its model, and the best of
  them (lowest cross_eval loss) is the baseline the lmtui runs are timed against.
- ``PACKING[+RECIPE]``: lmtui with ``[training] packing`` = concat or document and ``recipe`` =
  none (lmtui's defaults), bert, roberta, cramming or modernbert, at ``--lr`` (presets leave
  the learning rate to the project).

Equal budget: an 8-step calibration run of each tool measures its seconds per step; each run
then gets ``budget / seconds per step`` steps, so its schedule ends at the budget (the measured
training time of every run is reported beside it). lmtui runs evaluate 6 times along the way
(loss against training time, evaluation excluded); every saved model, baseline and lmtui, is
then scored by ``bench/cross_eval.py`` (the same blocks and masks for all). Writes
``results.json``, ``quality.md`` (the table) and ``quality.png`` (loss against wall time) to
``--work-dir``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

DEFAULT_CORPUS = "language-reference"  # lmtui.bench.compare.DEFAULT_CORPUS (imported in main: --help stays light)

SHAPE = dict(hidden_size=128, intermediate_size=512, num_attention_heads=4, num_hidden_layers=2, max_seq_length=128)
CALIBRATION_STEPS = 8
EVALS_PER_RUN = 6


def project_text(name: str, corpus, tokenizer: Path, packing: str, recipe: str, steps: int, args) -> str:
    """An lmtui project of the benchmark's shape, corpus and tokenizer with ``packing`` and ``recipe``."""
    every = max(1, steps // EVALS_PER_RUN)
    return f"""# written by bench/quality.py
[project]
name = "{name}"
output_dir = "runs"
cache_dir = "../cache"

[corpus]
train_files = [{json.dumps(str(corpus.train))}]
validation_files = [{json.dumps(str(corpus.validation))}]
format = "text"

[tokenizer]
path = {json.dumps(str(tokenizer))}

[model]
architecture = "roberta"
size = "tiny"
config_overrides = {{ intermediate_size = {SHAPE['intermediate_size']}, \
num_attention_heads = {SHAPE['num_attention_heads']} }}

[training]
max_seq_length = {SHAPE['max_seq_length']}
packing = "{packing}"
recipe = "{recipe}"
batch_size = {args.batch}
micro_batch_size = {args.batch}
max_steps = {steps}
learning_rate = {args.lr}
logging_steps = {every}
eval_steps = {every}
save_steps = {steps}
max_eval_samples = {args.max_eval_samples}

[eval]
after_pretraining = false

[hardware]
device = "cpu"
"""


def run_lmtui(name: str, corpus, tokenizer: Path, packing: str, recipe: str, steps: int, args, work: Path) -> dict:
    """Train one lmtui configuration through its driver; its curve, final loss and model folder."""
    from lmtui.bench.compare import run_measured
    from lmtui.project.load import load_project
    from lmtui.runs import launcher

    folder = work / name
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.toml"
    path.write_text(project_text(name, corpus, tokenizer, packing, recipe, steps, args))
    run, _ = launcher.prepare_run(load_project(str(path)), fresh=True)
    code, wall, _, _ = run_measured([sys.executable, "-m", "lmtui.driver", str(run.path)], run.log_file, run.path,
                                    env={"PYTHONUNBUFFERED": "1"})
    events = list(run.events())
    if code != 0 or not (run.path / "model").is_dir():
        raise SystemExit(f"{name}: the lmtui run failed (exit code {code}); see {run.log_file}")
    elapsed = {e["step"]: e["elapsed_s"] for e in events if e["type"] == "train"}
    curve = [(elapsed.get(e["step"], 0.0), e["loss"]) for e in events if e["type"] == "eval"]
    start = next(e for e in events if e["type"] == "train_start")
    return {"name": name, "tool": "lmtui", "packing": packing, "recipe": recipe, "steps": steps,
            "train_s": curve[-1][0], "wall_s": round(wall, 1), "eval_loss": curve[-1][1], "curve": curve,
            "attention": start.get("attention"), "model": str(run.path / "model"),
            "load_average": round(os.getloadavg()[0], 2)}


def baseline(corpus, tokenizer: Path, steps: int, lr: float, args, work: Path, name: str = "baseline",
             save: bool = True) -> dict:
    """One run of the in-repo baseline: ``steps`` steps (group_texts, fp32) at peak learning rate
    ``lr`` with the careful recipe of ``args``; with ``save``, its model saved for cross_eval."""
    from lmtui.bench.compare import Recipe, run_baseline

    options = argparse.Namespace(batch=args.batch, steps=steps, max_eval_samples=args.max_eval_samples,
                                 precision="fp32", compile=False)
    recipe = Recipe(learning_rate=lr, warmup_steps=args.baseline_warmup, lr_scheduler_type=args.baseline_scheduler,
                    weight_decay=args.baseline_weight_decay)
    r = run_baseline(corpus, tokenizer, dict(SHAPE), "group_texts", options, work, recipe=recipe, name=name,
                     save=save)
    return {"name": name, "tool": "run_mlm.py baseline", "packing": "concat",
            "recipe": f"lr {lr:g}, warmup {args.baseline_warmup:g}, {args.baseline_scheduler}, "
                      f"wd {args.baseline_weight_decay:g}", "lr": lr,
            "steps": steps, "train_s": r.train_s, "wall_s": r.wall_s, "eval_loss": r.eval_loss,
            "curve": [(r.train_s, r.eval_loss)], "model": r.model, "load_average": r.load_average}


def best_baseline(results: list[dict]) -> dict | None:
    """The baseline run of the lowest cross_eval loss (its own eval loss where not cross-evaluated)."""
    runs = [r for r in results if r["tool"] != "lmtui"]
    return min(runs, key=lambda r: r.get("cross_eval", r["eval_loss"]), default=None)


def cross_eval(tokenizer: Path, validation: Path, models: list[str], blocks: int) -> dict[str, float]:
    """Mean masked-token loss of each model folder under bench/cross_eval.py's fixed masks (2 seeds)."""
    proc = subprocess.run([sys.executable, str(REPO / "bench" / "cross_eval.py"), "--tokenizer", str(tokenizer),
                           "--validation", str(validation), "--seq-len", str(SHAPE["max_seq_length"]),
                           "--blocks", str(blocks), "--seeds", "2", *models], capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"cross_eval.py failed: {proc.stderr[-800:]}")
    return {m.group(1): float(m.group(2)) for m in re.finditer(r"^(.+): mean ([0-9.]+)", proc.stdout, re.M)}


def table(results: list[dict]) -> str:
    """The markdown table of the results, best cross-evaluated loss first."""
    rows = ["| run | packing | recipe | steps | train s | own eval loss | cross_eval loss | time to baseline's loss |",
            "|---|---|---|---:|---:|---:|---:|---:|"]
    base = best_baseline(results)
    for r in sorted(results, key=lambda r: r.get("cross_eval", r["eval_loss"])):
        reach = "-"
        if base and r["tool"] == "lmtui":
            t = next((t for t, loss in r["curve"] if loss <= base["eval_loss"]), None)
            reach = "not reached" if t is None else f"{t:.0f} s ({t / base['train_s']:.0%})"
        score = f"{r['cross_eval']:.3f}" if "cross_eval" in r else "- (model not saved)"
        name = r["name"] + (" (best baseline)" if r is base and len(
            [x for x in results if x["tool"] != "lmtui"]) > 1 else "")
        rows.append(f"| {name} | {r['packing']} | {r['recipe']} | {r['steps']} | {r['train_s']:.0f} | "
                    f"{r['eval_loss']:.3f} | {score} | {reach} |")
    return "\n".join(rows)


def plot(results: list[dict], out: Path, title: str) -> None:
    """Held-out loss (each tool's own evaluation) against training seconds, one line per run."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 5))
    for r in results:
        xs, ys = zip(*r["curve"])
        style = dict(marker="*", markersize=14, linestyle="none") if r["tool"] != "lmtui" else dict(marker=".")
        ax.plot(xs, ys, label=r["name"], **style)
    ax.set_xlabel("training time (s, evaluation excluded), 2 shared CPU cores")
    ax.set_ylabel("held-out MLM loss (nats)")
    ax.set_title(f"{title}, RoBERTa hidden 128 / 2 layers, equal wall-clock budget")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out, dpi=120)


def _floats(text: str) -> list[float]:
    try:
        values = [float(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a comma-separated list of numbers: {text!r}") from None
    if not values or any(v <= 0 for v in values):
        raise argparse.ArgumentTypeError(f"learning rates must be positive: {text!r}")
    return values


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--budget", type=float, default=150, help="training seconds per run")
    p.add_argument("--configs", default="baseline,concat,document,document+bert,document+roberta,document+cramming,"
                   "document+modernbert", help="baseline and/or PACKING[+RECIPE], comma-separated")
    p.add_argument("--corpus", default=DEFAULT_CORPUS,
                   help="language-reference (on every machine) or TRAIN.txt[,VALIDATION.txt] (default: %(default)s)")
    p.add_argument("--vocab-size", type=int, default=8000, help="tokenizer pieces (default: %(default)s)")
    p.add_argument("--lr", type=float, default=1e-3, help="lmtui's peak learning rate")
    p.add_argument("--baseline-lr", type=_floats, default=[2e-4, 5e-4, 1e-3, 2e-3],
                   help="the baseline's peak learning rates, comma-separated: one run each, the best reported "
                        "(default: 2e-4,5e-4,1e-3,2e-3)")
    p.add_argument("--baseline-warmup", type=float, default=0.06,
                   help="the baseline's warmup: a ratio of the steps below 1, else steps (default: %(default)s)")
    p.add_argument("--baseline-scheduler", default="linear", help="the baseline's lr_scheduler_type (default: linear)")
    p.add_argument("--baseline-weight-decay", type=float, default=0.01, help="the baseline's weight decay (0.01)")
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--max-eval-samples", type=int, default=200)
    p.add_argument("--blocks", type=int, default=500, help="cross_eval.py blocks")
    p.add_argument("--work-dir", default="bench-quality")
    a = p.parse_args()
    from lmtui.bench.compare import make_tokenizer, resolve_corpus
    from lmtui.errors import LmtuiError

    work = Path(a.work_dir).resolve()
    work.mkdir(parents=True, exist_ok=True)
    try:
        corpus = resolve_corpus(a.corpus, work)
        tokenizer, _ = make_tokenizer(corpus, a.vocab_size, work / f"tokenizer-{a.vocab_size}", print)
    except LmtuiError as exc:
        raise SystemExit(f"error: {exc}") from None
    configs = [c.strip() for c in a.configs.split(",") if c.strip()]
    results = []
    t0 = time.perf_counter()
    if "baseline" in configs:
        cal = baseline(corpus, tokenizer, CALIBRATION_STEPS, a.baseline_lr[0], a, work, name="baseline-calibration",
                       save=False)
        steps = max(CALIBRATION_STEPS, int(a.budget * CALIBRATION_STEPS / cal["train_s"]))
        print(f"baseline: {cal['train_s'] / CALIBRATION_STEPS:.3f} s/step -> {steps} steps", flush=True)
        for lr in a.baseline_lr:
            name = "baseline" if len(a.baseline_lr) == 1 else f"baseline-lr{lr:g}"
            results.append(baseline(corpus, tokenizer, steps, lr, a, work, name=name))
            print(json.dumps({k: v for k, v in results[-1].items() if k != "curve"}), flush=True)
    ours = [c for c in configs if c != "baseline"]
    if ours:
        cal = run_lmtui("calibration", corpus, tokenizer, "concat", "none", CALIBRATION_STEPS, a, work)
        steps = max(CALIBRATION_STEPS, int(a.budget * CALIBRATION_STEPS / cal["train_s"]))
        print(f"lmtui: {cal['train_s'] / CALIBRATION_STEPS:.3f} s/step -> {steps} steps", flush=True)
        for config in ours:
            packing, _, recipe = config.partition("+")
            results.append(run_lmtui(config.replace("+", "-"), corpus, tokenizer, packing, recipe or "none", steps,
                                     a, work))
            print(json.dumps({k: v for k, v in results[-1].items() if k != "curve"}), flush=True)
    models = [r["model"] for r in results if r["model"]]
    if models:
        scores = cross_eval(tokenizer, corpus.validation, models, a.blocks)
        for r in results:
            if r["model"]:
                r["cross_eval"] = scores[r["model"]]
    best = best_baseline(results)
    (work / "results.json").write_text(json.dumps({
        "budget_s": a.budget, "lr": a.lr, "corpus": {"train": str(corpus.train), "validation": str(corpus.validation)},
        "baseline_lr": a.baseline_lr, "baseline_warmup": a.baseline_warmup,
        "baseline_scheduler": a.baseline_scheduler, "baseline_weight_decay": a.baseline_weight_decay,
        "best_baseline": best and best["name"], "results": results,
        "total_s": round(time.perf_counter() - t0)}, indent=1))
    (work / "quality.md").write_text(table(results) + "\n")
    title = "Python Language Reference" if a.corpus == DEFAULT_CORPUS else corpus.train.name
    plot(results, work / "quality.png", title)
    print(table(results))
    if best is not None:
        print(f"\nbest baseline: {best['name']} ({best['recipe']})")


if __name__ == "__main__":
    main()
