#!/usr/bin/env python3
"""Data pipeline scaling: `lmtui prepare` against the run_mlm.py way, on corpora of growing size.

For each size (MB) a corpus is built from English text files (``--sources``; default the text
every Python has: the Language Reference and the standard library's docstrings,
:mod:`lmtui.bench.corpora`), their non-empty lines shuffled with a fixed seed and repeated until
the size is reached, then timed, with the peak resident memory of the process tree (psutil,
summed over children, sampled every 0.1 s):

- ``lmtui prepare``: byte-level BPE trained on the streamed corpus, then the token cache;
  again for the cached start;
- the run_mlm.py way, in one process: the benchmarks' byte-level BPE trained on the file
  (:mod:`lmtui.bench.tokenizer`: the `tokenizers` trainer reading the file), then the in-repo
  baseline's preprocessing (:mod:`lmtui.bench.baseline` ``--preprocess_only``:
  ``datasets.load_dataset("text")`` + ``map`` tokenization + ``group_texts``, ``num_proc`` =
  cores).

Usage: python bench/data_scaling.py --sizes 50 500 [--work /tmp/lmtui-data-scaling] [--skip-baseline]
                                    [--sources FILE ...]
Prints one JSON line per size and a Markdown table at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import textwrap
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
VOCAB = 8000

# The run_mlm.py way in one process (one interpreter start, as `lmtui prepare`): the benchmarks'
# tokenizer trained on the file, then the baseline's load_dataset + map + group_texts.
BASELINE = """
import sys, time
from lmtui.bench import baseline, tokenizer
t0 = time.perf_counter()
tokenizer.main(sys.argv[1:4])
print("tokenizer_s", round(time.perf_counter() - t0, 2))
sys.exit(baseline.main(sys.argv[4:]))
"""


def default_sources(work: Path) -> list[Path]:
    """The Language Reference (both splits) and the stdlib docstrings, written to ``work``."""
    from lmtui.bench.corpora import language_reference, stdlib_docstrings

    return [*language_reference(work), stdlib_docstrings(work)]


def build_corpus(path: Path, megabytes: int, sources: list[Path]) -> None:
    """Write ``megabytes`` MB of the shuffled, repeated lines of ``sources`` to ``path`` (once)."""
    if path.is_file() and path.stat().st_size >= megabytes * 1e6:
        return
    lines = [line for p in sources for line in p.read_text(encoding="utf-8").splitlines() if line.strip()]
    rng = random.Random(0)
    written = 0
    with open(path, "w", encoding="utf-8") as out:
        while written < megabytes * 1e6:
            rng.shuffle(lines)
            block = "\n".join(lines) + "\n"
            block = block[: int(megabytes * 1e6 - written) + 1]
            out.write(block)
            written += len(block.encode("utf-8"))


def measure(cmd: list[str], cwd: Path, env: dict | None = None) -> dict:
    """Wall seconds and peak RSS (MB, summed over the process tree) of ``cmd``."""
    import psutil

    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env=dict(os.environ, **(env or {})))
    root = psutil.Process(proc.pid)
    peak = 0
    while proc.poll() is None:
        try:
            rss = sum(p.memory_info().rss for p in [root, *root.children(recursive=True)])
        except psutil.Error:
            rss = 0
        peak = max(peak, rss)
        time.sleep(0.1)
    output = proc.stdout.read()
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{output[-3000:]}")
    return {"seconds": round(time.perf_counter() - t0, 1), "peak_rss_mb": round(peak / 1e6), "output": output}


def run_size(megabytes: int, work: Path, baseline: bool, sources: list[Path]) -> dict:
    folder = work / f"{megabytes}MB"
    folder.mkdir(parents=True, exist_ok=True)
    corpus = work / f"corpus-{megabytes}MB.txt"
    build_corpus(corpus, megabytes, sources)
    project = folder / "scaling.toml"
    project.write_text(textwrap.dedent(f"""
        [corpus]
        train_files = ["{corpus}"]
        [tokenizer]
        kind = "byte_level_bpe"
        vocab_size = {VOCAB}
        [model]
        size = "tiny"
    """))
    subprocess.run(["rm", "-rf", str(folder / "runs")], check=True)
    cold = measure([sys.executable, "-m", "lmtui", "prepare", str(project)], folder)
    warm = measure([sys.executable, "-m", "lmtui", "prepare", str(project)], folder)
    in_process = warm["output"].strip().splitlines()[-1].rsplit(";", 1)[-1].strip()
    row = {"size_mb": megabytes, "lmtui_s": cold["seconds"], "lmtui_peak_mb": cold["peak_rss_mb"],
           "lmtui_cached_s": warm["seconds"], "lmtui_cached_in_process": in_process,
           "lmtui_log": cold["output"].strip().splitlines()[-4:]}
    if baseline:
        out = folder / "hf-tokenizer"
        subprocess.run(["rm", "-rf", str(out)], check=True)
        base = measure([sys.executable, "-c", BASELINE, str(corpus), str(out), str(VOCAB), "--train_file", str(corpus),
                        "--tokenizer_name", str(out), "--max_seq_length", "128",
                        "--preprocessing_num_workers", str(os.cpu_count() or 1), "--preprocess_only"], folder,
                       env={"TOKENIZERS_PARALLELISM": "true"})
        subprocess.run(["rm", "-rf", str(out)], check=True)
        lines = base["output"].strip().splitlines()
        result = json.loads(lines[-1])
        row.update(baseline_s=base["seconds"], baseline_peak_mb=base["peak_rss_mb"],
                   baseline_log=[f"{lines[-2]}, preprocess_s {result['preprocess_s']}, "
                                 f"blocks {result['train_sequences']}"],
                   speedup=round(base["seconds"] / cold["seconds"], 2))
    return row


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sizes", type=int, nargs="+", default=[50, 500], help="corpus sizes in MB")
    p.add_argument("--work", default="/tmp/lmtui-data-scaling", help="folder for the corpora and caches")
    p.add_argument("--skip-baseline", action="store_true", help="time lmtui prepare only")
    p.add_argument("--sources", nargs="+", type=Path, default=None,
                   help="text files the corpora are built from (default: the Python Language Reference and the "
                        "standard library's docstrings)")
    a = p.parse_args()
    work = Path(a.work).resolve()
    work.mkdir(parents=True, exist_ok=True)
    sources = [s.resolve() for s in a.sources] if a.sources else default_sources(work)
    missing = [str(s) for s in sources if not s.is_file()]
    if missing:
        raise SystemExit(f"error: --sources: no such file: {', '.join(missing)}")
    rows = []
    print(json.dumps({"nproc": os.cpu_count(), "load": os.getloadavg()}), flush=True)
    for size in a.sizes:
        rows.append(run_size(size, work, not a.skip_baseline, sources))
        print(json.dumps(rows[-1]), flush=True)
    print("\n| corpus | lmtui prepare | peak RSS | cached start | run_mlm.py way | peak RSS | speed-up |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['size_mb']} MB | {r['lmtui_s']} s | {r['lmtui_peak_mb']} MB | {r['lmtui_cached_s']} s "
              f"({r['lmtui_cached_in_process']}) | {r.get('baseline_s', '-')} s | {r.get('baseline_peak_mb', '-')} MB "
              f"| {r.get('speedup', '-')}x |")
    print(f"\nnproc {os.cpu_count()}, load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
