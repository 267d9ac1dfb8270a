#!/usr/bin/env python3
"""Data pipeline scaling: `lmtui prepare` against the run_mlm.py way, on corpora of growing size.

For each size (MB) a corpus is built from the English text in ../shared/data (WikiText-2,
WikiText-2 raw, Tiny Shakespeare: their lines shuffled with a fixed seed and repeated until the
size is reached), then timed, with the peak resident memory of the process tree (psutil, summed
over children, sampled every 0.1 s):

- ``lmtui prepare``: byte-level BPE trained on the streamed corpus, then the token cache;
  again for the cached start;
- the run_mlm.py way (as /work/shared/bench/baseline_mlm.py does it): the same `tokenizers`
  BPE trainer on the files, ``datasets.load_dataset("text")`` + ``map`` tokenization +
  ``group_texts``, ``num_proc`` = cores.

Usage: python bench/data_scaling.py --sizes 50 500 [--work /tmp/lmtui-data-scaling] [--skip-baseline]
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

import psutil

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data"
SOURCES = [DATA / "wikitext-2" / "valid.txt", DATA / "wikitext-2" / "test.txt",
           DATA / "wikitext-2-raw" / "wiki.test.raw", DATA / "tiny-shakespeare" / "input.txt"]
VOCAB = 8000

BASELINE = textwrap.dedent("""
    import os, sys, time
    from itertools import chain
    import datasets
    from tokenizers import ByteLevelBPETokenizer
    from transformers import PreTrainedTokenizerFast
    corpus, out, L, procs = sys.argv[1], sys.argv[2], 128, os.cpu_count()
    datasets.disable_caching()
    t0 = time.perf_counter()
    bpe = ByteLevelBPETokenizer()
    bpe.train([corpus], vocab_size=%d, min_frequency=2, special_tokens=["<s>", "<pad>", "</s>", "<unk>", "<mask>"],
              show_progress=False)
    tok = PreTrainedTokenizerFast(tokenizer_object=bpe._tokenizer, bos_token="<s>", eos_token="</s>",
                                  pad_token="<pad>", unk_token="<unk>", mask_token="<mask>")
    t1 = time.perf_counter()
    raw = datasets.load_dataset("text", data_files={"train": corpus}, cache_dir=out)
    ds = raw.map(lambda ex: tok(ex["text"], return_special_tokens_mask=True), batched=True, num_proc=procs,
                 remove_columns=["text"])
    def group(ex):
        cat = {k: list(chain(*ex[k])) for k in ex.keys()}
        n = (len(cat[list(ex.keys())[0]]) // L) * L
        return {k: [t[i:i + L] for i in range(0, n, L)] for k, t in cat.items()}
    ds = ds.map(group, batched=True, num_proc=procs)
    print("tokenizer_s", round(t1 - t0, 2), "tokenize_s", round(time.perf_counter() - t1, 2),
          "blocks", len(ds["train"]))
""" % VOCAB)


def build_corpus(path: Path, megabytes: int) -> None:
    """Write ``megabytes`` MB of shuffled, repeated English lines to ``path`` (once)."""
    if path.is_file() and path.stat().st_size >= megabytes * 1e6:
        return
    lines = [line for p in SOURCES for line in p.read_text(encoding="utf-8").splitlines() if line.strip()]
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


def run_size(megabytes: int, work: Path, baseline: bool) -> dict:
    folder = work / f"{megabytes}MB"
    folder.mkdir(parents=True, exist_ok=True)
    corpus = work / f"corpus-{megabytes}MB.txt"
    build_corpus(corpus, megabytes)
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
        out = folder / "hf"
        subprocess.run(["rm", "-rf", str(out)], check=True)
        base = measure([sys.executable, "-c", BASELINE, str(corpus), str(out)], folder,
                       env={"TOKENIZERS_PARALLELISM": "true"})
        subprocess.run(["rm", "-rf", str(out)], check=True)
        row.update(baseline_s=base["seconds"], baseline_peak_mb=base["peak_rss_mb"],
                   baseline_log=base["output"].strip().splitlines()[-1:],
                   speedup=round(base["seconds"] / cold["seconds"], 2))
    return row


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sizes", type=int, nargs="+", default=[50, 500], help="corpus sizes in MB")
    p.add_argument("--work", default="/tmp/lmtui-data-scaling", help="folder for the corpora and caches")
    p.add_argument("--skip-baseline", action="store_true", help="time lmtui prepare only")
    a = p.parse_args()
    work = Path(a.work)
    work.mkdir(parents=True, exist_ok=True)
    rows = []
    print(json.dumps({"nproc": os.cpu_count(), "load": os.getloadavg()}), flush=True)
    for size in a.sizes:
        rows.append(run_size(size, work, not a.skip_baseline))
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
