"""The results table of bench/gpu_check.sh: OUT_DIR/results.md from what its steps left behind.

    python bench/gpu_results.py OUT_DIR MODE        (MODE: cuda or cpu)

Reads OUT_DIR/steps.tsv (one row per step), OUT_DIR/work/environment.json, the ``results.json``
of each ``lmtui bench`` step and the ``events.jsonl`` of each ModernBERT run. Standard library
only, and every part is read on its own: a step that failed leaves its row (with why) and
"open" figures, never a missing table.

Figures: real tokens/s as each tool counts them (docs/performance.md); a ModernBERT run's rate is
the mean of its ``train`` events after the first (which holds compilation and warm-up); MFU as
lmtui computes it (:mod:`lmtui.train.flops`: dense bf16 peak, 989 TFLOP/s on H100/H200).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

# The GPU targets of the issue (one H100 or H200): name, row the figure comes from, threshold.
TARGETS = [
    ("BERT-base seq 128, lmtui real tokens/s >= 500,000 (stretch 700,000)", "lmtui bert-base", 500_000),
    ("BERT-base seq 128, lmtui MFU about 35%", "lmtui bert-base", None),
    ("BERT-base seq 128, lmtui >= 3x the run_mlm.py baseline in bf16", "ratio", 3.0),
    ("ModernBERT-base seq 1024, packing = document, > 312,000 real tokens/s", "lmtui modernbert-document", 312_000),
]


def read_json(path: Path):
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def events(run: Path) -> list[dict]:
    out = []
    for line in (run / "events.jsonl").read_text(encoding="utf-8").splitlines():
        try:
            out.append(json.loads(line))
        except ValueError:
            pass  # a torn last line of a killed run
    return out


def steps(out: Path) -> list[dict]:
    rows = []
    for line in (out / "steps.tsv").read_text(encoding="utf-8").splitlines():
        name, status, code, seconds, limit, note = (line.split("\t") + [""] * 6)[:6]
        if status == "failed":
            note = f"over its {limit} s limit" if code in ("124", "137") else f"exit code {code}"
            last = last_line(out / f"{name}.log")
            note += f": {last}" if last else ""
        rows.append(dict(name=name, status=status, seconds=seconds, limit=limit, note=note))
    return rows


def last_line(log: Path) -> str:
    """The log's last error-looking line, else its last line (cut to 200 characters)."""
    try:
        lines = [l.strip() for l in log.read_text(encoding="utf-8", errors="replace").splitlines()
                 if l.strip() and not l.startswith("# gpu_check")]  # the lines the check itself wrote
    except OSError:
        return ""
    for l in reversed(lines):
        if "rror" in l or l.startswith(("FAILED", "E ")) or " failed" in l:
            return l[:200].replace("|", "/")
    return lines[-1][:200].replace("|", "/") if lines else ""


def bench_rows(work: Path, step: str) -> list[dict]:
    report = read_json(work / step / "results.json")
    if not report:
        return []
    rows = []
    for r in report["results"]:
        tool = "lmtui" if r["tool"] == "lmtui" else "baseline"
        kernel = "run_mlm.py: transformers default (sdpa)"
        if tool == "lmtui":
            start = next((e for e in events(Path(r["log"]).parent) if e["type"] == "train_start"), {})
            kernel = start.get("attention", "?")
        shape = report.get("shape", {}).get("name", "?")
        rows.append(dict(name=f"{tool} {step.removeprefix('bench-')}", step=step, tokens_per_s=r["tokens_per_s"],
                         shown=f"{tool} {step} (shape {shape})", mfu=r.get("mfu"),
                         memory=r.get("peak_gpu_mb") or r.get("peak_rss_mb"), kernel=kernel,
                         precision=report.get("precision")))
    return rows


def run_row(work: Path, step: str) -> dict | None:
    runs = sorted(p for p in (work / step / "runs").glob("*") if (p / "events.jsonl").is_file())
    if not runs:
        return None
    ev = events(runs[-1])
    start = next((e for e in ev if e["type"] == "train_start"), None)
    train = [e for e in ev if e["type"] == "train"]
    if not start or not train:
        return None
    end = next((e for e in ev if e["type"] == "train_end"), {})
    steady = train[1:] or train
    mfu = [e["mfu"] for e in steady if "mfu" in e]
    size = f"{start.get('params', 0) / 1e6:.0f}M parameters, sequence {start['tokens_per_step'] // start['batch_size']}"
    return dict(name=f"lmtui {step}", shown=f"lmtui {step} ({size})", step=step,
                tokens_per_s=sum(e["tokens_per_s"] for e in steady) / len(steady),
                mfu=sum(mfu) / len(mfu) if mfu else None,
                memory=end.get("peak_gpu_memory_mb") or end.get("peak_rss_mb"), kernel=start.get("attention", "?"),
                precision={"no": "fp32"}.get(start.get("mixed_precision"), start.get("mixed_precision")))


def environment_line(work: Path) -> str:
    env = read_json(work / "environment.json") or {}
    if not env:
        return "environment: unknown (the environment step failed)"
    gpu = f"{env['gpu']} ({env['gpu_memory_mib']:,} MiB, sm {env['capability']})" if env.get("gpu") else "no CUDA device"
    versions = ", ".join(f"{k} {env.get(k)}" for k in ("transformers", "accelerate", "tokenizers", "datasets"))
    return (f"{gpu}; Python {env['python']}, torch {env['torch']} (CUDA {env.get('cuda')}), {versions}; "
            f"lmtui modules that failed to import: {len(env.get('lmtui_modules_broken', []))}")


def fmt(x, spec: str) -> str:
    return "-" if x is None else format(x, spec)


def main(argv: list[str]) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="gpu_results.py", description="Write OUT_DIR/results.md, the table of "
                                     "bench/gpu_check.sh, from what its steps left in OUT_DIR.")
    parser.add_argument("out_dir", metavar="OUT_DIR", help="the folder gpu_check.sh wrote")
    parser.add_argument("mode", choices=("cuda", "cpu"), help="which path the check ran")
    args = parser.parse_args(argv[1:])
    out, mode = Path(args.out_dir), args.mode
    work = out / "work"
    lines = [f"# GPU check ({mode})", "", environment_line(work), ""]
    log = out / "environment.log"
    driver = [l for l in log.read_text(errors="replace").splitlines() if l.startswith("nvidia-smi: ")] if log.is_file() else []
    if driver:
        lines += [driver[0], ""]
    lines += ["| step | status | seconds | limit s | why |", "| --- | --- | ---: | ---: | --- |"]
    for s in steps(out):
        lines.append(f"| {s['name']} | {s['status']} | {s['seconds']} | {s['limit']} | {s['note']} |")

    measured = [r for step in ("bench-bert-base", "bench-bert-base-compile") for r in bench_rows(work, step)]
    measured += [r for r in (run_row(work, s) for s in ("modernbert-document", "modernbert-concat")) if r]
    lines += ["", "| run | precision | real tokens/s | MFU | peak memory MiB | attention kernel |",
              "| --- | --- | ---: | ---: | ---: | --- |"]
    for r in measured:
        lines.append(f"| {r['shown']} | {r['precision']} | {r['tokens_per_s']:,.0f} | {fmt(r['mfu'], '.1%')} | "
                     f"{fmt(r['memory'], ',.0f')} | {r['kernel']} |")
    if not measured:
        lines.append("| (no step measured anything) | | | | | |")

    by_name = {r["name"]: r for r in measured}
    best = max((by_name[n] for n in ("lmtui bert-base", "lmtui bert-base-compile") if n in by_name),
               key=lambda r: r["tokens_per_s"], default=None)
    base = by_name.get("baseline bert-base") or by_name.get("baseline bert-base-compile")
    ratio = best["tokens_per_s"] / base["tokens_per_s"] if best and base else None
    lines += ["", "| target | measured | verdict |", "| --- | --- | --- |"]
    for text, source, threshold in TARGETS:
        if source == "ratio":
            value, shown = ratio, fmt(ratio, ".2f") + ("x" if ratio else "")
        elif source == "lmtui bert-base":
            row = best
            value = None if row is None else (row["mfu"] if threshold is None else row["tokens_per_s"])
            shown = "-" if row is None else (fmt(row["mfu"], ".1%") if threshold is None
                                             else f"{row['tokens_per_s']:,.0f} ({row['name']})")
        else:
            row = by_name.get(source)
            value = row and row["tokens_per_s"]
            shown = "-" if row is None else f"{row['tokens_per_s']:,.0f}"
        if mode != "cuda":
            verdict = "open (no GPU here: CPU path, figures are not the target's)"
        elif value is None:
            verdict = "open (not measured)"
        elif threshold is None:
            verdict = "met" if value >= 0.35 else "below"
        else:
            verdict = "met" if value >= threshold else "below"
            if source == "lmtui bert-base" and value >= 700_000:
                verdict = "met, stretch too"
        lines.append(f"| {text} | {shown} | {verdict} |")
    text = "\n".join(lines) + "\n"
    (out / "results.md").write_text(text, encoding="utf-8")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
