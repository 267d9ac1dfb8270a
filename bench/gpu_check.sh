#!/usr/bin/env bash
# One-shot GPU check: run it whenever a GPU is at hand (never a test dependency).
#
#   bash bench/gpu_check.sh [OUT_DIR]        (default OUT_DIR: gpu-check)
#
# With CUDA (one H100/H200, inside 10 minutes, nothing installed):
#   1. the GPU tests: document packing (FlexAttention on CUDA against each document run alone),
#      recipes and the device check;
#   2. `lmtui bench --shape bert-base`: BERT-base, sequence 128, bf16, against the run_mlm.py
#      baseline in bf16 too (group_texts);
#   3. a ModernBERT-base run at sequence 1024 with packing = "document" (bf16; FlexAttention
#      chosen automatically);
# then writes OUT_DIR/results.md: real tokens/s, MFU, peak memory and the attention kernel.
# Without CUDA it runs the CPU fallback: the same steps at the seed shape (hidden 128, 2 layers),
# a few steps each, so the script and its table are checked on any machine.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=$(mkdir -p "${1:-gpu-check}" && cd "${1:-gpu-check}" && pwd)
DATA=$(cd .. && pwd)/shared/data
PY=${PYTHON:-python3}

if "$PY" -c "import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)"; then
    MODE=cuda
    nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader > "$OUT/gpu.txt" || true
    TESTS=(tests/unit/test_document_packing.py tests/unit/test_recipes.py tests/unit/test_project_checks.py)
    MARKS="not long"
    BENCH=(--shape bert-base --precision bf16 --modes group_texts)
    MB=(modernbert base 1024 32 16 80 bf16 cuda)   # architecture size seq batch micro steps precision device
    LIMIT=(150 270 180)                            # seconds for steps 1, 2, 3: 10 minutes in all
else
    MODE=cpu
    echo "no CUDA device: CPU fallback (seed shape, a few steps; GPU figures stay open)" | tee "$OUT/gpu.txt"
    TESTS=(tests/unit/test_document_packing.py tests/unit/test_recipes.py)
    MARKS="not long"
    BENCH=(--shape seed --steps 10 --max-lines 600 --max-eval-samples 64 --modes group_texts)
    MB=(modernbert tiny 128 16 16 10 no cpu)
    LIMIT=(900 900 900)                            # a shared CPU can be slow: only hangs are cut
fi
echo "gpu_check: $MODE, results in $OUT"

echo "== 1/3 tests"
fail() { echo "gpu_check: $1 failed (exit code $2; 124: over its ${3}s limit); log: $4" >&2; tail -20 "$4" >&2; exit 1; }

timeout "${LIMIT[0]}" "$PY" -m pytest -q -p no:cacheprovider -m "$MARKS" "${TESTS[@]}" > "$OUT/tests.log" 2>&1 \
    || fail "the tests" $? "${LIMIT[0]}" "$OUT/tests.log"
tail -1 "$OUT/tests.log"

echo "== 2/3 lmtui bench ${BENCH[*]}"
timeout "${LIMIT[1]}" "$PY" -m lmtui bench "${BENCH[@]}" --work-dir "$OUT/bench" > "$OUT/bench.log" 2>&1 \
    || fail "lmtui bench" $? "${LIMIT[1]}" "$OUT/bench.log"
tail -6 "$OUT/bench.log"

echo "== 3/3 ${MB[0]}-${MB[1]} at sequence ${MB[2]}, packing = document"
rm -rf "$OUT/modernbert"
mkdir -p "$OUT/modernbert"
cat > "$OUT/modernbert/mb.toml" <<EOF
[project]
name = "mb-document"
output_dir = "runs"

[corpus]
train_files = ["$DATA/wikitext-2/test.txt"]
validation_files = ["$DATA/wikitext-2/valid.txt"]

[tokenizer]
kind = "byte_level_bpe"
vocab_size = 16000

[model]
architecture = "${MB[0]}"
size = "${MB[1]}"

[training]
max_seq_length = ${MB[2]}
packing = "document"
recipe = "modernbert"
batch_size = ${MB[3]}
micro_batch_size = ${MB[4]}
max_steps = ${MB[5]}
learning_rate = 8e-4
logging_steps = 10
eval_steps = ${MB[5]}
save_steps = ${MB[5]}
max_eval_samples = 64

[eval]
after_pretraining = false

[hardware]
device = "${MB[7]}"
mixed_precision = "${MB[6]}"
dataloader_num_workers = 2
EOF
timeout "${LIMIT[2]}" "$PY" -m lmtui run "$OUT/modernbert/mb.toml" > "$OUT/modernbert.log" 2>&1 \
    || fail "the ModernBERT run" $? "${LIMIT[2]}" "$OUT/modernbert.log"

"$PY" - "$OUT" "$MODE" <<'EOF'
"""The results table: bench rows from results.json, the ModernBERT row from its events."""
import json
import sys
from pathlib import Path

out, mode = Path(sys.argv[1]), sys.argv[2]
def events(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "events.jsonl").read_text().splitlines() if line.strip()]


rows = []
bench = json.loads((out / "bench" / "results.json").read_text())
for r in bench["results"]:
    if r["tool"] == "lmtui":  # its run directory holds train.log and events.jsonl
        kernel = next(e for e in events(Path(r["log"]).parent) if e["type"] == "train_start").get("attention")
    else:
        kernel = "transformers default (sdpa)"
    rows.append((f"{r['tool']} {r['mode']}", r["tokens_per_s"], r.get("mfu"), r.get("peak_gpu_mb") or r.get("peak_rss_mb"),
                 kernel))
run = next(p for p in (out / "modernbert" / "runs").iterdir() if (p / "events.jsonl").is_file())
events = events(run)
start = next(e for e in events if e["type"] == "train_start")
train = [e for e in events if e["type"] == "train"]
end = next(e for e in events if e["type"] == "train_end")
steady = train[1:] or train  # the first interval holds compilation and warm-up
tps = sum(e["tokens_per_s"] for e in steady) / len(steady)
mfu = [e["mfu"] for e in steady if "mfu" in e]
rows.append((f"lmtui modernbert seq {start['tokens_per_step'] // start['batch_size']} packing=document", tps,
             sum(mfu) / len(mfu) if mfu else None, end.get("peak_gpu_memory_mb") or end.get("peak_rss_mb"),
             start.get("attention")))
lines = [f"gpu_check ({mode}): {(out / 'gpu.txt').read_text().strip()}", "",
         "| run | real tokens/s | MFU | peak memory (MiB) | attention kernel |", "|---|---:|---:|---:|---|"]
for name, t, m, mem, kernel in rows:
    lines.append(f"| {name} | {t:,.0f} | {'-' if m is None else f'{m:.1%}'} | {'-' if mem is None else f'{mem:,.0f}'} | {kernel} |")
base = next((r for r in bench["results"] if r["tool"] != "lmtui"), None)
ours = next((r for r in bench["results"] if r["tool"] == "lmtui"), None)
if base and ours:
    lines += ["", f"lmtui / baseline real tokens/s: {ours['tokens_per_s'] / base['tokens_per_s']:.2f}x"]
(out / "results.md").write_text("\n".join(lines) + "\n")
print("\n".join(lines))
EOF
