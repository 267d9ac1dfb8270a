"""Early stopping in sweeps: ASHA-pruned TPE against a full random search, on the demo shape.

    python bench/sweep_search.py [--trials 12] [--steps 300] [--eval-steps 25] [--seed 0] [--work-dir DIR] [--docs docs]

Both searches run through `lmtui sweep` as a user runs them, over the same three axes, on
projects/demo.toml (tiny RoBERTa, byte-level BPE of 6,000 pieces, the Python Language Reference
from pydoc_data/topics.py) with ``training.max_steps`` = ``--steps`` and ``eval_steps`` =
``--eval-steps``:

- ``training.learning_rate`` log-uniform in 1e-4..3e-3,
- ``training.warmup_ratio`` uniform in 0..0.2,
- ``training.mlm_probability`` uniform in 0.1..0.4;

the full search is ``--search random --prune none`` (every trial trains ``--steps`` steps), the
pruned one ``--search tpe --prune asha`` (Optuna's TPESampler and SuccessiveHalvingPruner on the
held-out loss at every evaluation), both with ``--trials`` trials and seed ``--seed``, one at a
time on this machine's slot.

Measured per search: the optimizer steps all its trials took (a pruned trial's steps up to the
checkpoint it stopped at: its last ``train`` or ``checkpoint`` event), and the best final held-out
loss among its complete trials. The target (issue 26): the pruned search's best within 0.02 nats
of the full search's best, with at most 40 % of its steps. Writes ``results.json``,
``sweep_search.md`` (the table and the command) and ``sweep_search.png`` (best loss so far against
cumulative optimizer steps, both searches) to ``--work-dir``, and the last two to ``--docs`` too
when given. Not a test: the full size takes about an hour on a CPU.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from lmtui.runs.rundir import RunDir  # noqa: E402

AXES = ["training.learning_rate=1e-4:3e-3:log", "training.warmup_ratio=0:0.2", "training.mlm_probability=0.1:0.4"]
SEARCHES = {"full random search": ("random", "none"), "ASHA-pruned TPE": ("tpe", "asha")}
TARGET_GAP, TARGET_SHARE = 0.02, 0.40


def sweep_command(args, search: str, prune: str) -> list[str]:
    out = [sys.executable, "-m", "lmtui", "sweep", str(REPO / "projects" / "demo.toml"), "--search", search,
           "--prune", prune, "--trials", str(args.trials), "--seed", str(args.seed), "--parallel", "1"]
    for axis in AXES:
        out += ["--range", axis]
    for item in (f"training.max_steps={args.steps}", f"training.eval_steps={args.eval_steps}",
                 f"training.save_steps={args.steps}", 'hardware.device="cpu"',
                 f'project.output_dir="{Path(args.work_dir).resolve() / "runs"}"'):
        out += ["--set", item]
    return out


def run_search(args, search: str, prune: str) -> dict:
    """Start one sweep, wait for its controller to finish, return its record."""
    cmd = sweep_command(args, search, prune)
    print("$", " ".join(shlex.quote(c) for c in cmd[2:]), flush=True)
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=args.work_dir)
    if proc.returncode:
        raise SystemExit(f"lmtui sweep failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    print(proc.stdout, end="", flush=True)
    study = Path(proc.stdout.split("the study is ")[1].split()[0])
    record_file = study.with_suffix(".json")
    while True:
        record = json.loads(record_file.read_text())
        state = (record.get("controller") or {}).get("state")
        if state in ("finished", "failed", "stopped"):
            break
        time.sleep(2)
    if state != "finished":
        raise SystemExit(f"the controller of {record['sweep_id']} {state}: see {record_file.with_suffix('.log')}")
    return record


def steps_taken(run: RunDir) -> int:
    """Optimizer steps a trial's run took: its last ``train`` or ``checkpoint`` event's step."""
    steps = [e.get("step", 0) for e in run.events(("train", "checkpoint")) if isinstance(e.get("step"), int)]
    return max(steps, default=0)


def summarize(record: dict) -> dict:
    """Per trial (in the order they ended): steps, state, final loss; the best-so-far curve."""
    trials = []
    for point in record["points"]:
        run = RunDir(point["run"])
        trials.append({"trial": point["trial"], "state": point["state"], "values": point["values"],
                       "steps": steps_taken(run) if run.exists() else 0,
                       "loss": point["value"] if point["state"] == "complete" else None,
                       "pruned_step": point.get("pruned_step"), "ended": run.read_state().get("ended") or 0})
    trials.sort(key=lambda t: t["ended"])
    curve, total, best = [], 0, None
    for t in trials:
        total += t["steps"]
        if t["loss"] is not None:
            best = t["loss"] if best is None else min(best, t["loss"])
        curve.append((total, best))
    return {"sweep_id": record["sweep_id"], "trials": trials, "steps": total, "best": best, "curve": curve,
            "complete": sum(t["state"] == "complete" for t in trials),
            "pruned": sum(t["state"] == "pruned" for t in trials), "importance": record.get("importance", {})}


def write_png(results: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4), dpi=120)
    for label, r in results.items():
        xs = [0] + [x for x, y in r["curve"] if y is not None]
        ys = [None] + [y for x, y in r["curve"] if y is not None]
        if len(xs) > 1:
            ax.step(xs[1:], ys[1:], where="post", marker="o", label=f"{label} ({r['steps']:,} steps)")
    ax.set_xlabel("cumulative optimizer steps (all trials)")
    ax.set_ylabel("best final held-out MLM loss so far (nats)")
    ax.set_title("Sweep over learning rate, warmup ratio and mlm_probability\n(demo shape, CPU)", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def table(results: dict, args, command: str) -> str:
    full, pruned = results["full random search"], results["ASHA-pruned TPE"]
    lines = ["| search | trials | complete | pruned | optimizer steps | share of full | best held-out loss | gap |",
             "|---|---|---|---|---|---|---|---|"]
    for label, r in results.items():
        share = f"{r['steps'] / full['steps']:.0%}" if full["steps"] else "-"
        best = f"{r['best']:.4f}" if r["best"] is not None else "-"
        gap = f"{r['best'] - full['best']:+.4f}" if r["best"] is not None and full["best"] is not None else "-"
        lines.append(f"| {label} | {len(r['trials'])} | {r['complete']} | {r['pruned']} | {r['steps']:,} | {share} | "
                     f"{best} | {gap} |")
    ok = (pruned["best"] is not None and full["best"] is not None and pruned["best"] - full["best"] <= TARGET_GAP
          and full["steps"] and pruned["steps"] / full["steps"] <= TARGET_SHARE)
    lines += ["", f"Target (issue 26): the pruned search within {TARGET_GAP} nats of the full search's best with at "
              f"most {TARGET_SHARE:.0%} of its optimizer steps: **{'met' if ok else 'not met'}** "
              f"({args.trials} trials x {args.steps} steps, evaluation every {args.eval_steps}, seed {args.seed}).",
              "", f"Command: `{command}`"]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--trials", type=int, default=12)
    p.add_argument("--steps", type=int, default=300, help="max_steps of every trial")
    p.add_argument("--eval-steps", type=int, default=25, help="held-out evaluation (and pruner report) every N steps")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--work-dir", default="bench-out/sweep_search")
    p.add_argument("--docs", help="also write sweep_search.md and sweep_search.png to this folder (e.g. docs)")
    args = p.parse_args(argv)
    work = Path(args.work_dir)
    work.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("LMTUI_STATE_DIR", str(work.resolve() / "state"))  # its own queue: one slot
    results = {}
    for label, (search, prune) in SEARCHES.items():
        results[label] = summarize(run_search(args, search, prune))
        r = results[label]
        print(f"{label}: {r['steps']:,} steps, best {r['best']}, {r['pruned']} pruned", flush=True)
    (work / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    command = "python bench/sweep_search.py " + " ".join(
        f"--{k.replace('_', '-')} {v}" for k, v in (("trials", args.trials), ("steps", args.steps),
                                                    ("eval_steps", args.eval_steps), ("seed", args.seed)))
    text = table(results, args, command)
    for folder in [work] + ([Path(args.docs)] if args.docs else []):
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "sweep_search.md").write_text(text)
        write_png(results, folder / "sweep_search.png")
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
